/// A pickle disassembled as Python's `pickletools.dis` prints it: offset,
/// opcode bytes, indentation by open MARKs, name, argument, MARK origins.
///
/// With `memoReferences`, each `GET` also says where the memo entry it reads
/// was stored and by which opcode, so a reader can follow shared objects.
public enum Disassembler {
    /// The disassembly of the pickle at `offset` of `bytes`. A malformed
    /// pickle is disassembled up to the error, which ends the text.
    public static func disassemble(_ bytes: UnsafeRawBufferPointer, at offset: Int = 0, memoReferences: Bool = false) -> String {
        let (operations, error) = PickleOperations(bytes, at: offset).collect()
        var lines: [String] = []
        var marks: [Int] = []
        // A crude emulation of the unpickler's stack, as pickletools keeps one:
        // true for a MARK, false for anything else.
        var stack: [Bool] = []
        var memo: [Int: (offset: Int, producer: String)] = [:]
        var previous: PickleOperation?
        var maxProtocol = -1
        for op in operations {
            maxProtocol = max(maxProtocol, op.opcode.introducedIn)
            // Indented by the MARKs open before this opcode, as pickletools does.
            var line = pad(escapedCode(op.opcode.rawValue), 4) + " " + String(repeating: " ", count: 4 * marks.count) + op.opcode.name
            var markMessage: String?
            var poppedMark = false
            if op.opcode.popsMark || (op.opcode == .pop && stack.last == true) {
                if let m = marks.popLast() {
                    markMessage = "(MARK at \(m))"
                    while let top = stack.popLast(), !top {}
                    poppedMark = true
                } else {
                    markMessage = "no MARK exists on stack"
                }
            }
            var argumentText = op.argument.map(repr)
            switch op.opcode {
            case .memoize:
                markMessage = "(as \(memo.count))"
                memo[memo.count] = (op.offset, previous.map { $0.opcode.name } ?? "?")
            case .put, .binPut, .longBinPut:
                if case .int(let i)? = op.argument { memo[i] = (op.offset, previous.map { $0.opcode.name } ?? "?") }
            case .get, .binGet, .longBinGet:
                if memoReferences, case .int(let i)? = op.argument {
                    if let stored = memo[i] {
                        argumentText = (argumentText ?? "") + "  ← memo \(i), stored at byte \(stored.offset) after \(stored.producer)"
                    } else {
                        argumentText = (argumentText ?? "") + "  ← memo \(i), never stored"
                    }
                }
            default:
                break
            }
            if argumentText != nil || markMessage != nil {
                line += String(repeating: " ", count: max(0, 10 - op.opcode.name.count))
                if let argumentText { line += " " + argumentText }
                if let markMessage { line += " " + markMessage }
            }
            lines.append(leftPad(String(op.offset), 5) + ": " + line)
            if op.opcode == .mark {
                marks.append(op.offset)
                stack.append(true)
            } else {
                let (pops, pushes) = stackEffect(op.opcode, afterMark: poppedMark)
                stack.removeLast(min(pops, stack.count))
                stack.append(contentsOf: repeatElement(false, count: pushes))
            }
            previous = op
        }
        if let error {
            lines.append("error: \(error.description)")
        } else {
            lines.append("highest protocol among opcodes = \(maxProtocol)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Items an opcode pops (besides a MARK and what lies above it) and pushes.
    static func stackEffect(_ opcode: Opcode, afterMark: Bool) -> (pops: Int, pushes: Int) {
        switch opcode {
        case .appends, .setItems, .addItems, .popMark: return (0, 0)
        case .dict, .list, .tuple, .frozenSet, .inst, .obj: return (0, 1)
        case .pop: return afterMark ? (0, 0) : (1, 0)
        case .stop: return (1, 0)
        case .dup: return (0, 1)
        case .proto, .frame, .put, .binPut, .longBinPut, .memoize: return (0, 0)
        case .binPersID, .tuple1, .readonlyBuffer: return (1, 1)
        case .reduce, .build, .stackGlobal, .append, .newObj, .tuple2: return (2, 1)
        case .setItem, .newObjEx, .tuple3: return (3, 1)
        default: return (0, 1)
        }
    }

    /// `repr(opcode.code)[1:-1]`: printable ASCII as is, others as `\xNN`.
    static func escapedCode(_ byte: UInt8) -> String {
        switch byte {
        case 0x5C: return "\\\\"
        case 0x27: return "'"
        case 0x20..<0x7F: return String(UnicodeScalar(byte))
        default: return "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }
    }

    static func repr(_ argument: PickleArgument) -> String {
        switch argument {
        case .int(let i): String(i)
        case .bigInt(let b): b.description
        case .bool(let b): b ? "True" : "False"
        case .float(let d): PythonRepr.float(d)
        case .string(let s): PythonRepr.string(s)
        case .bytes(let b): "b" + PythonRepr.bytes(b)
        case .byteArray(let b): "bytearray(b" + PythonRepr.bytes(b) + ")"
        }
    }

    static func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
    static func leftPad(_ s: String, _ width: Int) -> String { s.count >= width ? s : String(repeating: " ", count: width - s.count) + s }
}

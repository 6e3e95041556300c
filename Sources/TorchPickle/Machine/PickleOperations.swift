/// The argument an opcode carries, decoded as `pickletools.genops` decodes it.
public enum PickleArgument: Sendable {
    case int(Int)
    case bigInt(PythonInt)
    case bool(Bool)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case byteArray([UInt8])
}

/// One opcode of a pickle, with its byte offset and argument.
public struct PickleOperation: Sendable {
    /// The opcode.
    public let opcode: Opcode
    /// Its argument, if it has one.
    public let argument: PickleArgument?
    /// The byte offset of the opcode.
    public let offset: Int
}

extension Opcode {
    /// Whether the opcode takes the items above the topmost MARK (`APPENDS`, `TUPLE`, …).
    public var popsMark: Bool {
        switch self {
        case .appends, .dict, .list, .tuple, .setItems, .popMark, .obj, .inst, .frozenSet, .addItems: true
        default: false
        }
    }
}

/// Walks a pickle's opcodes without building anything (`pickletools.genops`):
/// for disassembly and inspection of hostile files. Every read is
/// bounds-checked; a malformed pickle ends with a ``PickleError``.
public struct PickleOperations: Sequence {
    let bytes: UnsafeRawBufferPointer
    let start: Int
    let checksFrames: Bool
    let lenient: Bool

    /// Walks the pickle that starts at `offset`.
    public init(_ bytes: UnsafeRawBufferPointer, at offset: Int = 0) {
        self.init(bytes, at: offset, checkingFrames: true, lenient: false)
    }

    /// Walks the pickle that starts at `offset`, for scanners that must see
    /// everything a pickle names: without `checkingFrames`, an opcode that
    /// straddles a FRAME boundary is read on (as CPython's C unpickler reads
    /// it); `lenient`ly, a string that is not UTF-8 (a lone surrogate, which
    /// Python reads) or a number that does not parse does not end the walk.
    package init(_ bytes: UnsafeRawBufferPointer, at offset: Int = 0, checkingFrames: Bool, lenient: Bool = false) {
        self.bytes = bytes
        self.start = offset
        self.checksFrames = checkingFrames
        self.lenient = lenient
    }

    /// Every operation up to and including `STOP`, or the error that ended the walk.
    public func collect() -> (operations: [PickleOperation], error: PickleError?) {
        var ops: [PickleOperation] = []
        var iterator = makeIterator()
        do {
            while let op = try iterator.nextOperation() { ops.append(op) }
            return (ops, nil)
        } catch {
            return (ops, error)
        }
    }

    public func makeIterator() -> Iterator {
        Iterator(reader: Machine(input: bytes, position: start, options: .init(), persistentLoad: nil), checksFrames: checksFrames,
                 lenient: lenient)
    }

    /// Yields operations; stops (returns nil) after `STOP` or at an error (see ``collect()``).
    public struct Iterator: IteratorProtocol {
        var reader: Machine
        let checksFrames: Bool
        let lenient: Bool
        var done = false

        public mutating func next() -> PickleOperation? { try? nextOperation() }

        package mutating func nextOperation() throws(PickleError) -> PickleOperation? {
            guard !done else { return nil }
            let offset = reader.position
            reader.opcodeOffset = offset
            reader.opcode = nil
            guard offset < reader.input.count else {
                done = true
                throw reader.fail(.truncated, "the pickle ends without STOP")
            }
            let byte = reader.input[offset]
            reader.position += 1
            guard let op = Opcode(rawValue: byte) else {
                done = true
                throw reader.fail(.unknownOpcode, "byte 0x\(String(byte, radix: 16)) is not a pickle opcode")
            }
            reader.opcode = op
            if op == .stop { done = true }
            do throws(PickleError) {
                if checksFrames, op == .frame, reader.frameEnd >= 0 {
                    throw reader.fail(.invalidArgument, "a FRAME begins before the end of the FRAME at byte "
                                      + "\(reader.frameStart), which ends at byte \(reader.frameEnd)")
                }
                let operation = PickleOperation(opcode: op, argument: try argument(op), offset: offset)
                if checksFrames, op == .frame, case .int(let length)? = operation.argument {
                    reader.frameStart = offset
                    // A frame claiming more than is left covers the rest (no overflow).
                    reader.frameEnd = reader.position + Swift.min(Swift.max(length, 0), reader.input.count - reader.position)
                }
                try reader.checkFrame()
                return operation
            } catch {
                done = true
                throw error
            }
        }

        mutating func argument(_ op: Opcode) throws(PickleError) -> PickleArgument? {
            func text() throws(PickleError) -> String { try reader.readLineText() }
            func utf8(_ n: UInt64) throws(PickleError) -> PickleArgument {
                let bytes = try reader.readBytes(n)
                // Python reads lone surrogates ('surrogatepass'): shown here as U+FFFD.
                if !lenient, let text = String(validating: bytes, as: UTF8.self) { return .string(text) }
                if lenient || Machine.isUTF8WithSurrogates(bytes) { return .string(reader.lenientString(bytes)) }
                return .string(try reader.utf8String(bytes))
            }
            func number(_ text: String) throws(PickleError) -> PickleArgument {
                do {
                    return Self.integer(try reader.pythonInteger(text))
                } catch {
                    if lenient { return .int(0) }
                    throw error
                }
            }
            func latin1(_ n: UInt64) throws(PickleError) -> PickleArgument {
                var scalars = String.UnicodeScalarView()
                scalars.append(contentsOf: try reader.readBytes(n).map { Unicode.Scalar($0) })
                return .string(String(scalars))
            }
            switch op {
            case .proto, .binInt1, .binPut, .binGet, .ext1: return .int(Int(try reader.readByte()))
            case .binInt2, .ext2: return .int(Int(try reader.readInteger(UInt16.self)))
            case .binInt, .ext4: return .int(Int(try reader.readInteger(Int32.self)))
            case .longBinPut, .longBinGet: return .int(Int(try reader.readInteger(UInt32.self)))
            case .frame: return .int(Int(clamping: try reader.readInteger(UInt64.self)))
            case .int:
                let t = try text()
                if t == "00" { return .bool(false) }
                if t == "01" { return .bool(true) }
                return try number(t)
            case .long: return try number(try text())
            case .long1: return Self.integer(.integer(PythonInt(twosComplement: try reader.readBytes(UInt64(try reader.readByte())))))
            case .long4:
                let n = try reader.readInteger(Int32.self)
                guard n >= 0 else { throw reader.fail(.invalidArgument, "negative LONG4 length \(n)") }
                return Self.integer(.integer(PythonInt(twosComplement: try reader.readBytes(UInt64(n)))))
            case .float:
                let t = try text()
                guard let d = Double(t.trimmingSpaces) else {
                    if lenient { return .float(0) }
                    throw reader.fail(.invalidArgument, "\(t.debugDescription) is not a float")
                }
                return .float(d)
            case .binFloat: return .float(Double(bitPattern: UInt64(bigEndian: try reader.readBytes(8).loadUnaligned(as: UInt64.self))))
            case .binUnicode: return try utf8(UInt64(try reader.readInteger(UInt32.self)))
            case .shortBinUnicode: return try utf8(UInt64(try reader.readByte()))
            case .binUnicode8: return try utf8(try reader.readInteger(UInt64.self))
            case .unicode: return .string(try reader.rawUnicodeEscape(try reader.readLine()))
            case .binString:
                let n = try reader.readInteger(Int32.self)
                guard n >= 0 else { throw reader.fail(.invalidArgument, "negative BINSTRING length \(n)") }
                return try latin1(UInt64(n))
            case .shortBinString: return try latin1(UInt64(try reader.readByte()))
            case .string:
                var scalars = String.UnicodeScalarView()
                scalars.append(contentsOf: try reader.escapedStringLiteral(try reader.readLine()).map { Unicode.Scalar($0) })
                return .string(String(scalars))
            case .binBytes: return .bytes(Array(try reader.readBytes(UInt64(try reader.readInteger(UInt32.self)))))
            case .shortBinBytes: return .bytes(Array(try reader.readBytes(UInt64(try reader.readByte()))))
            case .binBytes8: return .bytes(Array(try reader.readBytes(try reader.readInteger(UInt64.self))))
            case .byteArray8: return .byteArray(Array(try reader.readBytes(try reader.readInteger(UInt64.self))))
            case .global, .inst: return .string(try text() + " " + (try text()))
            case .persID: return .string(try text())
            case .get, .put: return .int(try reader.decimal(try reader.readLine(), what: "memo index"))
            default: return nil
            }
        }

        static func integer(_ v: Value) -> PickleArgument {
            switch v {
            case .int(let i): .int(i)
            case .bigInt(let b): .bigInt(b)
            default: .int(0)
            }
        }
    }
}

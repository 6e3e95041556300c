/// What `pth verify` found: whether the file is whole, and whether
/// `torch.load(weights_only=True)` would accept it.
public struct VerificationReport: Sendable {
    /// Damage: a CRC that does not match, a record missing or shorter than
    /// declared, a view outside its storage, libzip's objections.
    public internal(set) var problems: [String] = []
    /// Things that load but deserve a look (records longer than declared, records nothing refers to).
    public internal(set) var warnings: [String] = []
    /// Every global the pickles name, as `module.name`, in order of first use.
    public internal(set) var globals: [String] = []
    /// The globals outside `weights_only`'s allowlist.
    public internal(set) var unsafeGlobals: [String] = []
    /// Opcodes `weights_only`'s unpickler refuses, with the byte of their first use.
    public internal(set) var refusedOpcodes: [(name: String, offset: Int)] = []
    /// Why `weights_only` refuses the file as a whole (a TorchScript archive, a tar file), if it does.
    public internal(set) var refusedFormat: String?

    /// Whether the file is whole.
    public var isIntact: Bool { problems.isEmpty }
    /// Whether `torch.load(weights_only=True)` would accept it (PyTorch 2.15).
    public var weightsOnlyAccepts: Bool { refusedFormat == nil && unsafeGlobals.isEmpty && refusedOpcodes.isEmpty }
}

/// Checks a checkpoint file without trusting it.
public enum Verification {
    /// Verifies the file at `path`: integrity and safety.
    ///
    /// `progress` is told, record by record, how many bytes of the zip
    /// records have had their CRC-32 checked, of all of them.
    public static func verify(path: String, progress: ProgressHandler? = nil) -> VerificationReport {
        var report = VerificationReport()
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            report.problems.append("cannot open: \(error.message)")
            return report
        }

        // Integrity: the whole decode (records, sizes, views), then every CRC and libzip's opinion.
        var checkpoint: Checkpoint?
        do {
            // CRCs are checked one by one below; decode regardless, to find what else is wrong.
            var options = LoadOptions()
            options.verifyPickleCRC = false
            checkpoint = try Checkpoint(path: path, options: options)
        } catch CheckpointError.pickle(_, _, let error) where error.code == .referenceCycle {
            // Whole, and torch.load takes it; this library only refuses it by default.
            report.warnings.append("\(error)")
        } catch {
            report.problems.append("\(error)")
        }
        var pickles: [(name: String, bytes: RawBytesView)] = []
        if let archive = try? ZipArchive(file: file) {
            let meter = ProgressMeter(total: archive.entries.reduce(0) { $0 + Int64(clamping: $1.uncompressedSize) }, handler: progress)
            for entry in archive.entries {
                do { try archive.verifyCRC(of: entry) } catch { report.problems.append(error.message) }
                meter.advance(by: Int(clamping: entry.uncompressedSize))
            }
            do { try archive.checkConsistencyWithLibzip() } catch { report.problems.append("libzip: \(error.message)") }
            for name in ["data.pkl", "constants.pkl"] {
                if let entry = archive.record(name), let bytes = try? archive.bytes(of: entry) {
                    pickles.append((entry.name, RawBytesView(bytes.copyBytes())))
                }
            }
            if archive.record("constants.pkl") != nil || archive.recordNames.contains(where: { $0.hasPrefix("code/") }) {
                report.refusedFormat = "a TorchScript archive: torch.load(weights_only=True) refuses those (use torch.jit.load)"
            }
            // PyTorch's zip reader (miniz) inflates only deflate; this library reads whatever libzip does.
            if let entry = archive.entries.first(where: { $0.compressionMethod != 0 && $0.compressionMethod != 8 }) {
                report.refusedFormat = "record '\(entry.name)' is compressed with \(compressionName(entry.compressionMethod)): "
                    + "torch.load reads only stored and deflated records (miniz: \"unsupported method\"); pth rewrite writes them stored"
            }
            if let checkpoint { report.warnings += unusedRecords(checkpoint, archive) }
        } else {
            switch FormatSniffer.sniff(file.bytes) {
            case .tar:
                report.refusedFormat = "the tar format of PyTorch 0.1: torch.load(weights_only=True) refuses it"
            case .legacyPickle:
                // A legacy file: its pickles back to back from the first byte.
                pickles.append(("(file)", RawBytesView(Array(file.bytes))))
            case .zip:
                // A zip archive too damaged to open: there is no pickle to judge.
                report.refusedFormat = "a zip archive that cannot be opened: torch.load fails on it too"
            case .unknown(let looksLike):
                do {
                    _ = try SafetensorsFile(file: file)
                    // Whole, but not torch.load's: the open failure above is no damage.
                    report.problems.removeAll()
                    report.refusedFormat = "a safetensors file: torch.load refuses it (safetensors.torch.load_file reads it)"
                } catch {
                    if looksLike.hasPrefix("a safetensors file") { report.problems = ["\(error)"] }
                    report.refusedFormat = "not a checkpoint (\(looksLike)): torch.load fails on it"
                }
            }
        }

        // Safety: every global and opcode of every pickle.
        var seen = Set<String>()
        var refused = Set<String>()
        for (name, view) in pickles {
            view.bytes.withUnsafeBytes { raw in
                var offset = 0
                repeat {
                    let (globals, opcodes, end) = scan(raw, at: offset)
                    for g in globals where seen.insert(g).inserted {
                        report.globals.append(g)
                        if !WeightsOnlyAllowlist.globals.contains(g) { report.unsafeGlobals.append(g) }
                    }
                    for (op, at) in opcodes where refused.insert(op).inserted {
                        report.refusedOpcodes.append((op, at))
                    }
                    guard let end, name == "(file)" else { break }
                    offset = end
                } while offset < raw.count && raw[offset] == 0x80
            }
        }
        return report
    }

    /// A zip compression method's name.
    static func compressionName(_ method: UInt16) -> String {
        switch method {
        case 9: "deflate64 (method 9)"
        case 12: "bzip2 (method 12)"
        case 14: "LZMA (method 14)"
        case 93: "zstd (method 93)"
        case 95: "xz (method 95)"
        case 98: "PPMd (method 98)"
        default: "method \(method)"
        }
    }

    /// Records that no storage refers to, and storages declared shorter than their record.
    static func unusedRecords(_ checkpoint: Checkpoint, _ archive: ZipArchive) -> [String] {
        var warnings: [String] = []
        let used = Set(checkpoint.storages.map { "data/\($0.key)" })
        for name in archive.recordNames where name.hasPrefix("data/") && !used.contains(name) {
            warnings.append("record '\(archive.prefix)/\(name)' is not referenced by the pickle")
        }
        for storage in checkpoint.storages {
            if let entry = archive.record("data/\(storage.key)"), entry.uncompressedSize > UInt64(storage.byteCount) {
                warnings.append("record '\(entry.name)' holds \(entry.uncompressedSize) bytes, the pickle declares \(storage.byteCount)")
            }
        }
        return warnings
    }

    enum Item { case mark, text(String), other }

    /// The globals (`GLOBAL`, `INST`, `STACK_GLOBAL`) and refused opcodes of one pickle, and where it ends.
    static func scan(_ raw: UnsafeRawBufferPointer, at offset: Int) -> (globals: [String], refused: [(String, Int)], end: Int?) {
        let (operations, error) = PickleOperations(raw, at: offset).collect()
        var globals: [String] = []
        var refused: [(String, Int)] = []
        var stack: [Item] = []
        var memo: [Int: Item] = [:]
        for op in operations {
            if !WeightsOnlyAllowlist.opcodes.contains(op.opcode.name) { refused.append((op.opcode.name, op.offset)) }
            switch op.opcode {
            case .global, .inst:
                if case .string(let s)? = op.argument {
                    let parts = s.split(separator: " ", maxSplits: 1).map(String.init)
                    if parts.count == 2 { globals.append(qualified(parts[0], parts[1])) }
                }
            case .stackGlobal:
                if stack.count >= 2, case .text(let name) = stack[stack.count - 1], case .text(let module) = stack[stack.count - 2] {
                    globals.append(qualified(module, name))
                }
            default:
                break
            }
            switch op.opcode {
            case .mark: stack.append(.mark)
            case .shortBinUnicode, .binUnicode, .binUnicode8, .unicode, .string, .binString, .shortBinString:
                if case .string(let s)? = op.argument { stack.append(.text(s)) } else { stack.append(.other) }
            case .put, .binPut, .longBinPut:
                if case .int(let i)? = op.argument, let top = stack.last { memo[i] = top }
            case .memoize:
                if let top = stack.last { memo[memo.count] = top }
            case .get, .binGet, .longBinGet:
                if case .int(let i)? = op.argument { stack.append(memo[i] ?? .other) } else { stack.append(.other) }
            default:
                var afterMark = false
                if op.opcode.popsMark || (op.opcode == .pop && { if case .mark? = stack.last { true } else { false } }()) {
                    while let top = stack.popLast() { if case .mark = top { break } }
                    afterMark = true
                }
                let (pops, pushes) = Disassembler.stackEffect(op.opcode, afterMark: afterMark)
                stack.removeLast(min(pops, stack.count))
                stack.append(contentsOf: repeatElement(.other, count: pushes))
            }
        }
        let end = error == nil ? operations.last.map { $0.offset + 1 } : nil
        return (globals, refused, end)
    }

    /// `module.name`, with Python 2 module names as Python 3 names them (as torch does).
    static func qualified(_ module: String, _ name: String) -> String {
        GlobalRegistry.python3Module(module) + "." + name
    }
}

/// Bytes held for scanning.
struct RawBytesView {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

extension VerificationReport {
    /// The report for people.
    public func text(for path: String) -> String {
        var lines = ["\(path): " + (isIntact ? "intact" : "DAMAGED")]
        lines += problems.map { "  problem: \($0)" }
        lines += warnings.map { "  warning: \($0)" }
        lines.append("  globals: \(globals.isEmpty ? "none" : globals.joined(separator: ", "))")
        if weightsOnlyAccepts {
            lines.append("  torch.load(weights_only=True): accepts")
        } else {
            lines.append("  torch.load(weights_only=True): refuses")
            if let refusedFormat { lines.append("    format: \(refusedFormat)") }
            if !unsafeGlobals.isEmpty { lines.append("    globals outside its allowlist: \(unsafeGlobals.joined(separator: ", "))") }
            for (name, offset) in refusedOpcodes { lines.append("    opcode \(name) (first at byte \(offset))") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The report as JSON.
    public var json: String {
        func list(_ items: [String]) -> String { "[" + items.map(JSON.string).joined(separator: ", ") + "]" }
        let opcodes = "[" + refusedOpcodes.map { "{\"opcode\": \(JSON.string($0.name)), \"offset\": \($0.offset)}" }.joined(separator: ", ") + "]"
        return """
            {"intact": \(isIntact), "problems": \(list(problems)), "warnings": \(list(warnings)), \
            "globals": \(list(globals)), "weights_only_accepts": \(weightsOnlyAccepts), \
            "unsafe_globals": \(list(unsafeGlobals)), "refused_opcodes": \(opcodes), \
            "refused_format": \(refusedFormat.map(JSON.string) ?? "null")}
            """
    }
}

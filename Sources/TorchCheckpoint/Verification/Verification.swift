/// What `pth verify` found: whether the file is whole, and whether
/// `torch.load(weights_only=True)` would accept it.
public struct VerificationReport: Sendable {
    /// Damage: a CRC that does not match, a record missing or shorter than
    /// declared, a view outside its storage, libzip's objections.
    public internal(set) var problems: [String] = []
    /// Things that load but deserve a look (records longer than declared, records nothing refers to).
    public internal(set) var warnings: [String] = []
    /// Every global the file's pickles name (all of them, see ``pickles``), as `module.name`, in order of first use.
    public internal(set) var globals: [String] = []
    /// The globals outside `weights_only`'s allowlist, in any of the file's pickles.
    public internal(set) var unsafeGlobals: [String] = []
    /// Opcodes `weights_only`'s unpickler refuses, in any of the file's
    /// pickles, with the byte of their first use within their pickle's location.
    public internal(set) var refusedOpcodes: [(name: String, offset: Int)] = []
    /// Why `weights_only` refuses the file as a whole (a TorchScript archive,
    /// a tar file, damage that makes `torch.load` fail), if it does.
    public internal(set) var refusedFormat: String?
    /// Every pickle found in the file: those `torch.load` reads, and any
    /// other (another record, a pickle after the ones torch reads, a tar
    /// member, a pickle in front of a zip), each with what it names.
    public internal(set) var pickles: [ScannedPickle] = []

    /// Whether the file is whole.
    public var isIntact: Bool { problems.isEmpty }
    /// Whether `torch.load(weights_only=True)` would accept it (PyTorch 2.15):
    /// judged from the pickles it reads only.
    public var weightsOnlyAccepts: Bool {
        refusedFormat == nil && pickles.allSatisfy { !$0.isReadByTorch || ($0.unsafeGlobals.isEmpty && $0.refusedOpcodes.isEmpty && $0.error == nil) }
    }
}

extension VerificationReport {
    /// Fills ``globals``, ``unsafeGlobals`` and ``refusedOpcodes`` from ``pickles``, each once, in order.
    mutating func summarizePickles() {
        var seen = Set<String>()
        var unsafe = Set<String>()
        var refused = Set<String>()
        for pickle in pickles {
            for g in pickle.globals where seen.insert(g).inserted { globals.append(g) }
            for g in pickle.unsafeGlobals where unsafe.insert(g).inserted { unsafeGlobals.append(g) }
            for op in pickle.refusedOpcodes where refused.insert(op.name).inserted { refusedOpcodes.append(op) }
        }
    }
}

/// Checks a checkpoint file without trusting it.
public enum Verification {
    /// Verifies the file at `path`: integrity and safety. A directory holding a
    /// distributed checkpoint, or a sharded set (its directory or index), is
    /// verified as a whole, every file it names included.
    ///
    /// `progress` is told, record by record, how many bytes of the zip
    /// records have had their CRC-32 checked, of all of them.
    public static func verify(path: String, progress: ProgressHandler? = nil) -> VerificationReport {
        if FileKind.isDirectory(path), DistributedCheckpoint.isDistributedCheckpoint(directory: path) {
            return verifyDistributed(directory: path, progress: progress)
        }
        if FileKind.isDirectory(path) ? ShardedCheckpoint.isShardedSet(directory: path) : path.hasSuffix(".index.json") {
            return verifySharded(path: path, progress: progress)
        }
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            var report = VerificationReport()
            report.problems.append("cannot open: \(error.message)")
            return report
        }
        defer { file.closeDescriptor() }
        return verify(file: file, progress: progress)
    }

    /// Verifies a mapped file, or bytes in memory that a `MappedFile` copied:
    /// integrity and safety, as ``verify(path:progress:)``.
    public static func verify(file: MappedFile, progress: ProgressHandler? = nil) -> VerificationReport {
        var report = VerificationReport()

        // Integrity: the whole decode (records, sizes, views), then every CRC and libzip's opinion.
        var checkpoint: Checkpoint?
        var damage: String?
        do {
            // CRCs are checked one by one below; decode regardless, to find what else is wrong.
            var options = LoadOptions()
            options.verifyPickleCRC = false
            checkpoint = try Checkpoint(file: file, options: options)
        } catch CheckpointError.pickle(_, _, let error) where error.code == .referenceCycle {
            // Whole, and torch.load takes it; this library only refuses it by default.
            report.warnings.append("\(error)")
        } catch {
            if isOwnRefusal(error) {
                // Not damage: torch.load reads such a file; this library declines to.
                report.warnings.append("this library does not read it, though torch.load does: \(error)")
            } else if case .container(_, let e) = error, e.code == .overlappingRecords {
                // A zip bomb's layout: damage, but not one torch.load's reader checks for (the prediction says so below).
                report.problems.append("\(error)")
            } else {
                report.problems.append("\(error)")
                damage = "\(error)"
            }
        }
        let kind = FormatSniffer.sniff(file.bytes)
        var torchReadsRecordAt: Int?
        var zipRefusal: ZipError?
        if case .zip = kind {
            do { _ = try ZipArchive(file: file) } catch { zipRefusal = error }
        }
        if case .zip = kind, zipRefusal == nil, let archive = try? ZipArchive(file: file) {
            let meter = ProgressMeter(total: archive.entries.reduce(0) { $0 + Int64(clamping: $1.uncompressedSize) }, handler: progress)
            for entry in archive.entries {
                do { try archive.verifyCRC(of: entry) } catch { report.problems.append(error.message) }
                meter.advance(by: Int(clamping: entry.uncompressedSize))
            }
            do { try archive.checkConsistencyWithLibzip() } catch { report.problems.append("libzip: \(error.message)") }
            torchReadsRecordAt = archive.record("data.pkl").map { Int(clamping: $0.localHeaderOffset) }
            if let data = archive.record("data.pkl"), archive.hasDuplicateName(data) {
                report.warnings.append("several records are named '\(data.name)': torch.load reads the one at byte "
                                       + "\(data.localHeaderOffset) (PyTorch's zip reader finds it by binary search), "
                                       + "the others are scanned below")
            }
            if archive.record("constants.pkl") != nil || archive.containsRecord(under: "code/") {
                report.refusedFormat = "a TorchScript archive: torch.load(weights_only=True) refuses those (use torch.jit.load)"
            }
            // PyTorch's zip reader (miniz) inflates only deflate; this library reads whatever libzip does.
            if let entry = archive.entries.first(where: { $0.compressionMethod != 0 && $0.compressionMethod != 8 }) {
                report.refusedFormat = "record '\(entry.name)' is compressed with \(compressionName(entry.compressionMethod)): "
                    + "torch.load reads only stored and deflated records (miniz: \"unsupported method\"); pth rewrite writes them stored"
            }
            if let checkpoint { report.warnings += unusedRecords(checkpoint, archive) }
        } else {
            switch kind {
            case .tar:
                report.refusedFormat = "the tar format of PyTorch 0.1: torch.load(weights_only=True) refuses it"
            case .legacyPickle:
                break
            case .zip where zipRefusal?.code == .overlappingRecords:
                // A zip bomb's layout: not opened here; PyTorch's reader does not check for it.
                report.refusedFormat = "records that share or overlap their data (a zip bomb's construction), which this "
                    + "library does not open; torch.load may read such a file, inflating each record"
            case .zip:
                // A zip archive too damaged to open: there is no pickle torch would read.
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
        // What cannot be decoded here fails in torch.load too (this library's own limits aside).
        if report.refusedFormat == nil, let damage {
            report.refusedFormat = "the file is damaged, and torch.load(weights_only=True) fails on it too: \(damage)"
        }

        // Safety: every pickle anywhere in the file, its globals and opcodes.
        report.pickles = PickleScan.pickles(in: file.bytes, torchReadsRecordAt: torchReadsRecordAt)
        report.summarizePickles()
        return report
    }

    /// Whether decoding failed on a limit or a refusal of this library's own,
    /// which torch.load does not share: its limits against hostile input,
    /// records that share a name (torch.load reads one of them; which one, it
    /// does not say, so the reader refuses such a file), what Swift cannot
    /// represent (a lone surrogate in a str) and pickle protocols past 5
    /// (weights_only only warns).
    static func isOwnRefusal(_ error: CheckpointError) -> Bool {
        switch error {
        case .pickle(_, _, let e): e.code == .limitExceeded || e.code == .unsupported || e.code == .unsupportedProtocol
        case .container(_, let e): e.code == .tooManyEntries || e.code == .tooLarge || e.code == .duplicateRecord
        default: false
        }
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

    /// The globals (`GLOBAL`, `INST`, `STACK_GLOBAL`) and refused opcodes of
    /// one pickle (each once, in order of first use), where it ends, and the
    /// error that makes it damaged, if any.
    ///
    /// The pickle is walked as Python's unpickler reads it; if that walk ends
    /// in an error, it is walked again as leniently as CPython's C unpickler
    /// reads (across FRAME boundaries, past a string that is not UTF-8), and
    /// what that walk finds is reported, with its end, so a damaged pickle that
    /// still runs somewhere hides nothing. Memory stays bounded whatever the
    /// pickle's length: operations are not kept, and the model of the stack
    /// and memo (for `STACK_GLOBAL`'s names) is capped.
    static func scan(_ raw: UnsafeRawBufferPointer, at offset: Int)
        -> (globals: [String], refused: [(String, Int)], end: Int?, error: PickleError?, walked: Int, ranOut: Bool) {
        let strict = names(PickleOperations(raw, at: offset).makeIterator())
        guard let error = strict.error else { return (strict.globals, strict.refused, strict.end, nil, strict.walked, false) }
        let lenient = names(PickleOperations(raw, at: offset, checkingFrames: false, lenient: true).makeIterator())
        let best = lenient.error == nil || lenient.walked > strict.walked ? lenient : strict
        return (best.globals, best.refused, best.end, error, best.walked, best.error?.code == .truncated)
    }

    /// The names one walk finds.
    static func names(_ iterator: PickleOperations.Iterator) -> (globals: [String], refused: [(String, Int)], end: Int?, error: PickleError?, walked: Int) {
        var iterator = iterator
        var globals: [String] = []
        var seenGlobals = Set<String>()
        var refused: [(String, Int)] = []
        var seenRefused = Set<String>()
        var stack: [Item] = []
        var memo: [Int: Item] = [:]
        let stackCap = 1 << 16, memoCap = 1 << 20
        var last: Int?
        var walked = 0
        func note(_ global: String) { if seenGlobals.insert(global).inserted { globals.append(global) } }
        do {
            while let op = try iterator.nextOperation() {
                walked += 1
                last = op.offset
                if !WeightsOnlyAllowlist.opcodes.contains(op.opcode.name), seenRefused.insert(op.opcode.name).inserted {
                    refused.append((op.opcode.name, op.offset))
                }
                switch op.opcode {
                case .global, .inst:
                    if case .string(let s)? = op.argument {
                        let parts = s.split(separator: " ", maxSplits: 1).map(String.init)
                        if parts.count == 2 { note(qualified(parts[0], parts[1])) }
                    }
                case .stackGlobal:
                    if stack.count >= 2, case .text(let name) = stack[stack.count - 1], case .text(let module) = stack[stack.count - 2] {
                        note(qualified(module, name))
                    }
                default:
                    break
                }
                switch op.opcode {
                case .mark: stack.append(.mark)
                case .shortBinUnicode, .binUnicode, .binUnicode8, .unicode, .string, .binString, .shortBinString:
                    if case .string(let s)? = op.argument { stack.append(.text(s)) } else { stack.append(.other) }
                case .put, .binPut, .longBinPut:
                    if case .int(let i)? = op.argument, let top = stack.last, memo.count < memoCap || memo[i] != nil { memo[i] = top }
                case .memoize:
                    if let top = stack.last, memo.count < memoCap { memo[memo.count] = top }
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
                // Only the top of the stack names globals: a pickle that pushes without end keeps its last items.
                if stack.count > 2 * stackCap { stack.removeFirst(stack.count - stackCap) }
            }
        } catch {
            return (globals, refused, nil, error, walked)
        }
        return (globals, refused, last.map { $0 + 1 }, nil, walked)
    }

    /// `module.name`, with Python 2 module names as Python 3 names them (as torch does).
    static func qualified(_ module: String, _ name: String) -> String {
        GlobalRegistry.python3Name(module: module, name: name)
    }
}

extension VerificationReport {
    /// The pickles `torch.load` reads.
    var picklesTorchReads: [ScannedPickle] { pickles.filter(\.isReadByTorch) }

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
            var seen = Set<String>()
            let read = picklesTorchReads
            let unsafe = read.flatMap(\.unsafeGlobals).filter { seen.insert($0).inserted }
            if !unsafe.isEmpty { lines.append("    globals outside its allowlist: \(unsafe.joined(separator: ", "))") }
            var seenOps = Set<String>()
            for (name, offset) in read.flatMap(\.refusedOpcodes) where seenOps.insert(name).inserted {
                lines.append("    opcode \(name) (first at byte \(offset))")
            }
            if refusedFormat == nil, let broken = read.first(where: { $0.error != nil }), let error = broken.error {
                lines.append("    the pickle in \(broken.location) at byte \(broken.offset) is damaged: \(error)")
            }
        }
        // Pickles torch.load does not read, that other tools might run.
        let others = pickles.filter { !$0.isReadByTorch && (!$0.unsafeGlobals.isEmpty || !$0.refusedOpcodes.isEmpty) }
        if !others.isEmpty {
            lines.append("  pickles torch.load does not read (pickle.load would run them):")
            for pickle in others {
                var parts: [String] = []
                if !pickle.unsafeGlobals.isEmpty { parts.append("globals outside weights_only's allowlist: \(pickle.unsafeGlobals.joined(separator: ", "))") }
                if !pickle.refusedOpcodes.isEmpty { parts.append("opcodes \(pickle.refusedOpcodes.map(\.name).joined(separator: ", "))") }
                lines.append("    \(pickle.location) at byte \(pickle.offset): \(parts.joined(separator: "; "))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The report as JSON.
    public var json: String {
        func list(_ items: [String]) -> String { "[" + items.map(JSON.string).joined(separator: ", ") + "]" }
        func opcodes(_ ops: [(name: String, offset: Int)]) -> String {
            "[" + ops.map { "{\"opcode\": \(JSON.string($0.name)), \"offset\": \($0.offset)}" }.joined(separator: ", ") + "]"
        }
        let scanned = "[" + pickles.map { p in
            "{\"location\": \(JSON.string(p.location)), \"offset\": \(p.offset), \"read_by_torch\": \(p.isReadByTorch), "
                + "\"globals\": \(list(p.globals)), \"unsafe_globals\": \(list(p.unsafeGlobals)), "
                + "\"refused_opcodes\": \(opcodes(p.refusedOpcodes)), \"error\": \(p.error.map(JSON.string) ?? "null")}"
        }.joined(separator: ", ") + "]"
        return """
            {"intact": \(isIntact), "problems": \(list(problems)), "warnings": \(list(warnings)), \
            "globals": \(list(globals)), "weights_only_accepts": \(weightsOnlyAccepts), \
            "unsafe_globals": \(list(unsafeGlobals)), "refused_opcodes": \(opcodes(refusedOpcodes)), \
            "refused_format": \(refusedFormat.map(JSON.string) ?? "null"), "pickles": \(scanned)}
            """
    }
}

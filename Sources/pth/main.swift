import ArgumentParser
import TorchCheckpoint

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct Pth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pth",
        abstract: "Read, check and convert PyTorch checkpoints without Python.",
        subcommands: [Inspect.self, Rewrite.self, Convert.self, Verify.self, Dis.self]
    )
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a checkpoint holds.",
        discussion: """
            Prints a tree of the checkpoint's contents: every tensor with its dtype, shape, \
            element count and size, every other value, and totals by dtype. Reads no tensor data.

            With --json, prints the canonical listing (one entry per tensor and plain value, \
            with the SHA-256 of each tensor's elements), the same listing PyTorch's \
            torch-listing.py prints, so the two can be compared.

            Examples:
              pth inspect model.pth
              pth inspect --filter 'encoder.*' --depth 2 checkpoint.ckpt
              pth inspect --json pytorch_model.bin > listing.json
            """
    )

    @Argument(help: "The checkpoint file (.pth, .pt, .ckpt, .bin).")
    var file: String

    @Flag(help: "Print the canonical JSON listing instead of the tree.")
    var json = false

    @Option(help: "Show only entries whose path contains this text (or matches it, with * wildcards).")
    var filter: String?

    @Option(help: "Show containers and values down to this depth.")
    var depth: Int?

    func run() throws {
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint(path: file)
        } catch {
            fail("\(error)")
        }
        if json {
            do {
                var entries = try Listing.entries(of: checkpoint)
                if let filter {
                    entries = entries.filter { PathFilter.matches(filter, $0.path) }
                }
                print(Listing.json(entries), terminator: "")
            } catch {
                fail("\(file): \(error)")
            }
        } else {
            print(Inspection(checkpoint, options: .init(filter: filter, maxDepth: depth)).render(), terminator: "")
        }
    }
}

struct Rewrite: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a checkpoint and write it back from the decoded objects.",
        discussion: """
            Decodes IN completely (pickle, tensors, storages) and encodes OUT from the decoded \
            objects. For a file PyTorch wrote in the zip format, OUT is identical to IN, byte for \
            byte: record order, prefix, alignment and serialization id included. A difference \
            means this library misread something, so this doubles as a fidelity check.

            OUT is written atomically: on any error an existing OUT is left unchanged.

            Examples:
              pth rewrite model.pth /tmp/model.pth && cmp model.pth /tmp/model.pth
            """
    )

    @Argument(help: "The checkpoint to read.")
    var input: String

    @Argument(help: "Where to write it.")
    var output: String

    func run() throws {
        do {
            try Checkpoint(path: input).write(to: output)
        } catch {
            fail("\(error)")
        }
    }
}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert between safetensors and PyTorch checkpoints, both ways.",
        discussion: """
            The direction follows IN's content. From safetensors, OUT is exactly what \
            torch.save(safetensors.torch.load_file(IN), OUT) writes: a plain dict, one storage per \
            tensor (the file's __metadata__ is not carried, as load_file drops it). From a \
            checkpoint, tensors are named by their path (a state dict's keys as they are, nested \
            values joined with '.'), plain values go to __metadata__, and tensors that share a \
            storage are refused unless --duplicate-shared writes each as its own copy.

            Examples:
              pth convert model.safetensors pytorch_model.bin
              pth convert model.pth model.safetensors --duplicate-shared
            """
    )

    @Argument(help: "The file to convert (.safetensors, or a checkpoint).")
    var input: String

    @Argument(help: "Where to write the result (written atomically).")
    var output: String

    @Flag(help: "Write tensors that share a storage (tied weights, views) as separate copies, and say which.")
    var duplicateShared = false

    func run() throws {
        do {
            if let source = try? SafetensorsFile(path: input) {
                try Conversion.checkpoint(from: source, to: output)
            } else {
                let checkpoint = try Checkpoint(path: input)
                // A TorchScript archive converts its module's state_dict.
                let value = checkpoint.torchScript?.stateDictValue ?? checkpoint.root
                let report = try Conversion.safetensors(from: value, to: output, duplicateSharedTensors: duplicateShared)
                var stderr = StandardError()
                for group in report.duplicatedTensors {
                    print("pth: note: \(group.joined(separator: ", ")) shared a storage; each was written as its own copy", to: &stderr)
                }
            }
        } catch {
            fail("\(error)")
        }
    }
}

struct Dis: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Disassemble a checkpoint's pickle, as Python's pickletools.dis prints it.",
        discussion: """
            Prints every opcode with its byte offset, argument and nesting, the same text \\
            pickletools.dis prints. For a zip checkpoint the pickle is data.pkl unless --record \\
            names another record (constants.pkl of a TorchScript archive, for instance). Any other \\
            file is read as a pickle stream from its first byte; with --all, the pickles that follow \\
            it are disassembled too (a legacy checkpoint is five pickles, then its storages). \\
            Nothing is executed; a damaged pickle is disassembled up to the damage, which is named.

            Examples:
              pth dis model.pth
              pth dis --memo model.pth | grep BINGET
              pth dis --record constants.pkl scripted.pt
              pth dis --all legacy.pth
            """
    )

    @Argument(help: "The checkpoint (or pickle file).")
    var file: String

    @Option(help: "The record of a zip checkpoint to disassemble (default: data.pkl).")
    var record = "data.pkl"

    @Flag(help: "Say, for each memo GET, where the object it reads was stored.")
    var memo = false

    @Flag(help: "For a pickle stream, also disassemble the pickles that follow the first.")
    var all = false

    func run() throws {
        let mapped: MappedFile
        do {
            mapped = try MappedFile(path: file)
        } catch {
            fail("\(file): cannot open: \(error.message)")
        }
        let bytes = mapped.bytes
        if bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B {
            do {
                let archive = try ZipArchive(file: mapped)
                guard let entry = archive.record(record) else {
                    fail("\(file): no record '\(archive.prefix)/\(record)'; records: \(archive.recordNames.joined(separator: ", "))")
                }
                let text = try archive.bytes(of: entry).withUnsafeBytes { Disassembler.disassemble($0, memoReferences: memo) }
                print(text, terminator: "")
            } catch {
                fail("\(file): \(error)")
            }
            return
        }
        var offset = 0
        var index = 0
        repeat {
            if all { print("pickle \(index) at byte \(offset):") }
            print(Disassembler.disassemble(bytes, at: offset, memoReferences: memo), terminator: "")
            let (operations, error) = PickleOperations(bytes, at: offset).collect()
            guard error == nil, let stop = operations.last else { break }
            offset = stop.offset + 1
            index += 1
        } while all && offset < bytes.count && bytes[offset] == 0x80
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a checkpoint's integrity, and whether torch.load(weights_only=True) would accept it.",
        discussion: """
            Integrity: every record's CRC-32, every record present and as long as its persistent id \\
            says, every tensor view inside its storage (a full decode), and libzip's own consistency \\
            check of the archive as an independent second opinion. Safety: every global the pickles \\
            name, and those outside torch 2.15's weights_only allowlist, and opcodes its unpickler \\
            refuses. Nothing in the file is executed.

            Exit status: 0 when the file is intact and weights_only would accept it; 1 when it is \\
            damaged; 2 when it is intact but weights_only would refuse it.

            Examples:
              pth verify model.pth
              pth verify --json checkpoint.ckpt | jq .unsafe_globals
            """
    )

    @Argument(help: "The checkpoint to check.")
    var file: String

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let report = Verification.verify(path: file)
        if json {
            print(report.json)
        } else {
            print(report.text(for: file), terminator: "")
        }
        if !report.isIntact { throw ExitCode(1) }
        if !report.weightsOnlyAccepts { throw ExitCode(2) }
    }
}

func fail(_ message: String) -> Never {
    var stderr = StandardError()
    print("pth: error: \(message)", to: &stderr)
    exit(1)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var bytes = Array(string.utf8)
        _ = bytes.withUnsafeMutableBytes { raw in
            #if canImport(Glibc)
            Glibc.write(2, raw.baseAddress, raw.count)
            #else
            Darwin.write(2, raw.baseAddress, raw.count)
            #endif
        }
    }
}

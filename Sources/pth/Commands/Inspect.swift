import ArgumentParser
import TorchCheckpoint

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a checkpoint holds.",
        discussion: """
            Prints the file's format, then a tree of its contents: every tensor with its dtype, \
            shape, element count and size (and what sets it apart: Parameter, stride and offset \
            of a view, device, requires_grad, conj/neg bits, quantization, sparse layout, tensor \
            subclass), every other value, and totals by dtype. Reads no tensor data, so it is \
            quick on a file of any size.

            The format is recognised by content, never by extension: the zip format of \
            torch.save, the legacy format of PyTorch before 1.6, the tar format of PyTorch 0.1, \
            TorchScript archives (their modules with parameters and buffers by dotted name, \
            then the constants), files from big-endian machines and archives other tools \
            re-zipped. Nothing in the file is executed: objects of unknown classes are shown with \
            their class and arguments.

            With --json, prints the canonical listing (one entry per tensor and plain value, \
            with the SHA-256 of each tensor's elements), the same listing PyTorch's \
            tools/torch_listing.py prints, so the two can be compared. A view larger than its \
            storage (expand's stride 0, an overlapping as_strided: a few bytes in the file can \
            stand for terabytes) is hashed while such views add up to at most \
            --expanded-view-limit logical bytes (1GiB by default); past it, an entry has \
            "unhashed" with the reason instead of "sha256", and stderr says so. --filter keeps the entries \
            whose path (keys joined with '/' or '.') contains the text, or matches it as a whole \
            when it has * or ? wildcards; --depth stops the tree (totals still count everything).

            A pickle is a program, and torch.load(weights_only=False) runs every call it makes. \
            After the tree, every call of a callable outside torch.load(weights_only=True)'s \
            allowlist is listed as callee(arguments), with its byte and where its result went \
            (calls whose results the pickle drops, leaves on the stack, keeps only in its memo or \
            passes to another call are listed too); nothing is ever called here.

            Exit status: 0; 1 when the file cannot be read (the error names the record, byte \
            offset and opcode); 2 when it was shown but its pickles call something outside \
            weights_only's allowlist (as pth verify's 2: torch.load(weights_only=True) refuses \
            it, and weights_only=False would run those calls). The tree or listing is printed \
            either way, and stderr names the callees.

            Examples:
              pth inspect model.pth
              pth inspect --filter 'encoder.*' --depth 2 checkpoint.ckpt
              pth inspect --filter exp_avg training.ckpt
              pth inspect --json pytorch_model.bin > listing.json
            """
    )

    @Argument(help: "The checkpoint file (.pth, .pt, .ckpt, .bin), or a .safetensors file.")
    var file: String

    @Flag(help: "Print the canonical JSON listing instead of the tree.")
    var json = false

    @Option(help: "Show only entries whose path contains this text (or matches it, with * wildcards).")
    var filter: String?

    @Option(help: "Show containers and values down to this depth.")
    var depth: Int?

    @Option(help: ByteSize.expandedViewLimitHelp)
    var expandedViewLimit = ByteSize(Tensor.defaultExpandedViewLimit)

    func run() throws {
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint(path: file)
        } catch {
            // Not a PyTorch format: a safetensors file is listed as load_file's dict.
            if case .unrecognizedFormat = error, let safetensors = try? SafetensorsFile(path: file) {
                return inspect(safetensors)
            }
            // A bare pickle (pickle.dump output, a DCP .metadata) is read as pickle.load would, running nothing.
            guard case .unrecognizedFormat = error, let pickle = try? Checkpoint(picklePath: file) else { fail("\(error)") }
            checkpoint = pickle
        }
        if json {
            do {
                var entries = try Listing.entries(of: checkpoint, expandedViewLimit: expandedViewLimit.bytes)
                if let filter {
                    entries = entries.filter { PathFilter.matches(filter, $0.path) }
                }
                print(Listing.json(entries), terminator: "")
                warnUnhashed(entries)
            } catch {
                fail("\(file): \(error)")
            }
        } else {
            print(Inspection(checkpoint, options: .init(filter: filter, maxDepth: depth)).render(), terminator: "")
        }
        let calls = checkpoint.unsafeCalls
        let globals = checkpoint.unsafeGlobals
        if !calls.isEmpty || !globals.isEmpty {
            var names: [String] = []
            var named = Set<String>()
            for call in calls {
                let name = PickleCallDescription.callee(of: call.object)
                if named.insert(name).inserted { names.append(name) }
            }
            for name in globals where named.insert(name).inserted { names.append(name) }
            var stderr = StandardError()
            let shown = names.prefix(8).joined(separator: ", ") + (names.count > 8 ? ", …" : "")
            let what = calls.isEmpty ? "name globals" : "make \(calls.count) call\(calls.count == 1 ? "" : "s") and name globals"
            print("pth: warning: \(file): its pickles \(what) outside torch.load(weights_only=True)'s allowlist "
                  + "(\(shown)); torch.load(weights_only=False) would import and run them. Nothing was run here.", to: &stderr)
            throw ExitCode(2)
        }
    }

    /// Says on stderr which entries the listing could not hash within the limit.
    func warnUnhashed(_ entries: [Listing.Entry]) {
        var stderr = StandardError()
        for entry in entries {
            guard case .tensor(let record) = entry.content, let why = record.unhashed else { continue }
            print("pth: warning: \(file): \(entry.path.displayPath): \(why); raise the limit with --expanded-view-limit",
                  to: &stderr)
        }
    }

    /// A safetensors file: the dict `safetensors.torch.load_file` returns, as a tree or as its listing.
    func inspect(_ safetensors: SafetensorsFile) {
        if json {
            do {
                var entries = try Listing.entries(of: .dict(Conversion.stateDict(of: safetensors)),
                                                  expandedViewLimit: expandedViewLimit.bytes)
                if let filter { entries = entries.filter { PathFilter.matches(filter, $0.path) } }
                print(Listing.json(entries), terminator: "")
                warnUnhashed(entries)
            } catch {
                fail("\(file): \(error)")
            }
        } else {
            print(Inspection.render(safetensors: safetensors, options: .init(filter: filter, maxDepth: depth)), terminator: "")
        }
    }
}

import ArgumentParser
import TorchCheckpoint

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

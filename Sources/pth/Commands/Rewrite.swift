import ArgumentParser
import TorchCheckpoint

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

import ArgumentParser
import TorchCheckpoint

struct Rewrite: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a checkpoint and write it back from the decoded objects.",
        discussion: """
            Decodes IN completely (pickle, tensors, storages) and encodes OUT from the decoded \
            objects. For a file PyTorch wrote, OUT is identical to IN, byte for byte: record \
            order, prefix, alignment, byte order and serialization id included. That holds for \
            the zip format of torch.save, the legacy format (PyTorch before 1.6), TorchScript \
            archives and files from big-endian machines. A difference means this library misread \
            something, so this doubles as a fidelity check.

            An archive another tool re-zipped (deflated, unaligned or reordered records) is \
            written in PyTorch's own layout instead, which torch.load reads: the same records \
            and contents, not the re-zipped bytes. A file this library reads but cannot write \
            back (the tar format of PyTorch 0.1; a legacy or zip file pickled at protocol 0 or 1) \
            is refused with the reason.

            OUT is written atomically: on any error an existing OUT is left unchanged. With \
            --durable, OUT is also synced to the disk (fsync of the file and its directory) \
            before pth exits, so it survives a power loss.

            Exit status: 0 when OUT was written; 1 when IN cannot be read or written back (the \
            error says why).

            Examples:
              pth rewrite model.pth /tmp/model.pth && cmp model.pth /tmp/model.pth
              pth rewrite rezipped.pth pytorch_layout.pth
              for f in *.pt; do pth rewrite "$f" /tmp/x.pt && cmp "$f" /tmp/x.pt; done
            """
    )

    @Argument(help: "The checkpoint to read.")
    var input: String

    @Argument(help: "Where to write it.")
    var output: String

    @Flag(help: "Sync OUT to the disk before exiting (fsync of the file and its directory).")
    var durable = false

    func run() throws {
        do {
            try Checkpoint(path: input).write(to: output, durability: durable ? .durable : .atomic)
        } catch {
            fail("\(error)")
        }
    }
}

import ArgumentParser
import TorchCheckpoint

@main
struct Pth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pth",
        abstract: "Read, check and convert PyTorch checkpoints without Python.",
        discussion: """
            Reads every format torch.save and torch.jit.save ever wrote (zip, the legacy pickle \
            format of PyTorch before 1.6, the tar format of 0.1, TorchScript archives, big-endian \
            and re-zipped files) and safetensors, without running anything from the file. \
            Writes what torch.save writes, byte for byte.

            Examples:
              pth inspect model.pth
              pth verify downloaded.bin
              pth diff exported.pth expected.pth --atol 1e-6
              pth convert model.pth model.safetensors
              pth dis model.pth | less
            """,
        subcommands: [Inspect.self, Rewrite.self, Convert.self, Verify.self, Diff.self, Dis.self]
    )
}

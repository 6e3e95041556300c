import ArgumentParser
import TorchCheckpoint

@main
struct Pth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pth",
        abstract: "Read, check and convert PyTorch checkpoints without Python.",
        subcommands: [Inspect.self, Rewrite.self, Convert.self, Verify.self, Diff.self, Dis.self]
    )
}

import ArgumentParser
import TorchCheckpoint

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a checkpoint's integrity, and whether torch.load(weights_only=True) would accept it.",
        discussion: """
            Integrity: every record's CRC-32, every record present and as long as its persistent id \
            says, every tensor view inside its storage (a full decode), and libzip's own consistency \
            check of the archive as an independent second opinion. Safety: every global the pickles \
            name, and those outside torch 2.15's weights_only allowlist, and opcodes its unpickler \
            refuses. Nothing in the file is executed.

            Every pickle in the file is scanned, not only the ones torch.load reads: the pickles \
            at its start back to back (a bare or text pickle, a second pickle, a pickle in front of \
            a zip), every record of a zip structure (read leniently: no prefix folder, a false \
            encryption flag or a central directory that lies hides nothing), every tar member, a \
            .npy object array. The weights_only prediction comes from the pickles torch.load reads \
            (a zip's data.pkl, the copy PyTorch's reader finds when names repeat; a legacy file's \
            first five); the others are listed under "pickles torch.load does not read", since \
            pickle.load or another tool might run them. A file damaged so that this library cannot \
            decode it is predicted refused: torch.load(weights_only=True) fails on it too. What \
            this library declines to read but torch.load reads (a pickle past its limits, records \
            that share a name, a string with a lone surrogate) is a warning, not damage.

            A progress bar shows on stderr while CRCs are checked, when stderr is a terminal \
            (PTH_PROGRESS=always|never overrides).

            Exit status: 0 when the file is intact and weights_only would accept it; 1 when it is \
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
        let bar = ProgressBar(label: "verifying")
        let report = Verification.verify(path: file, progress: bar?.handler)
        bar?.finish()
        if json {
            print(report.json)
        } else {
            print(report.text(for: file), terminator: "")
        }
        if !report.isIntact { throw ExitCode(1) }
        if !report.weightsOnlyAccepts { throw ExitCode(2) }
    }
}

import ArgumentParser
import TorchCheckpoint
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two checkpoints: keys, dtypes, shapes and values.",
        discussion: """
            Matches entries by path (the paths of pth inspect --json; for a TorchScript archive, \
            its state_dict names) and prints one line per difference: '-' a key only A has, '+' a \
            key only B has, '~' a change (dtype, shape, layout, quantization, a value or type \
            change, or tensor elements that differ, with the largest absolute and relative \
            differences, how many elements and the first one), then a summary line.

            Tensors are compared element by element as torch.allclose(a, b, rtol, atol, \
            equal_nan=True) does: |a - b| <= atol + rtol * |b|, with B as the reference. The \
            defaults are rtol=0 and atol=0, exact equality (NaN equals NaN, 0.0 equals -0.0), \
            because a CI check should fail on any change unless told what is acceptable; pass \
            --rtol 1e-05 --atol 1e-08 for torch.allclose's defaults. Integers are compared \
            exactly, at any size; quantized tensors by their quantization and int_repr(). \
            Tensors are read in blocks, never whole, and not at all when dtype or shape differ. \
            Dimensions both tensors repeat (expand's stride 0) are compared once, exactly; a pair \
            of views larger than their storage still over --expanded-view-limit logical bytes \
            (1GiB by default) is reported as not compared, a difference.

            Exit status, as for diff and cmp: 0 when equal (within the tolerance), 1 when \
            different, 2 when a file cannot be read or a tolerance is negative or not finite (options that do \
            not parse exit 64, as for every pth command).

            Examples:
              pth diff before.pth after.pth
              pth diff --rtol 1e-05 --atol 1e-08 model.pth exported.pt
              pth diff --filter 'model_state_dict/*' --quiet a.ckpt b.ckpt || echo changed
              pth diff --json a.pth b.pth | jq '.differences[].path'
            """
    )

    @Argument(help: "The first checkpoint (A).")
    var a: String

    @Argument(help: "The second checkpoint (B), the reference for relative differences.")
    var b: String

    @Option(help: "Relative tolerance: elements may differ by rtol * |b| (plus atol).")
    var rtol = 0.0

    @Option(help: "Absolute tolerance: elements may differ by atol (plus rtol * |b|).")
    var atol = 0.0

    @Option(help: "Compare only entries whose path contains this text (or matches it, with * wildcards).")
    var filter: String?

    @Option(help: ByteSize.expandedViewLimitHelp)
    var expandedViewLimit = ByteSize(Tensor.defaultExpandedViewLimit)

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Flag(name: .shortAndLong, help: "Print nothing; only the exit status tells.")
    var quiet = false

    func run() throws {
        let tolerance: CheckpointDiff.Tolerance
        do {
            tolerance = try CheckpointDiff.Tolerance(rtol: rtol, atol: atol)
        } catch {
            trouble("\(error)")
        }
        let report: DiffReport
        do {
            report = try CheckpointDiff.compare(try Checkpoint(path: a), try Checkpoint(path: b), tolerance: tolerance,
                                                options: .init(filter: filter, expandedViewLimit: expandedViewLimit.bytes))
        } catch {
            trouble("\(error)")
        }
        if !quiet { print(json ? report.json : report.text, terminator: "") }
        if !report.isEqual { throw ExitCode(1) }
    }
}

/// Says what went wrong and exits with status 2, as diff and cmp do for
/// trouble (`fail` exits 1, which for diff means "different").
private func trouble(_ message: String) -> Never {
    var stderr = StandardError()
    print("pth: error: \(message)", to: &stderr)
    exit(2)
}

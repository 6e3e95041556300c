import Foundation
import Testing
import TorchCheckpoint

/// `CheckpointDiff` finds between pairs of checkpoints exactly what PyTorch
/// finds between them (tools/make_diff_fixtures.py: torch ops, torch.isclose,
/// torch.allclose), at every tolerance.
@Suite("Diff: pairs PyTorch wrote, as PyTorch compares them")
struct DiffFixtureTests {
    typealias F = DiffFixtures

    @Test("the fixtures are present", arguments: ["identical", "keys", "metadata", "noise", "nonfinite", "integers",
                                                    "half", "complex", "values", "training", "quantized", "sparse_meta"])
    func present(_ pair: String) throws {
        #expect(F.expected[pair] != nil)
        #expect(F.tolerances.count >= 3)
    }

    @Test("keys added and removed, dtype, shape, type and value changes are the ones PyTorch sees", arguments: F.pairs)
    func structure(_ pair: String) throws {
        let want = try #require(F.expected[pair])
        let (a, b) = try F.open(pair)
        let report = try CheckpointDiff.compare(a, b)
        func paths(_ match: (DiffEntry.Kind) -> Bool) -> [[PathKey]] { report.entries.filter { match($0.kind) }.map(\.path) }
        #expect(paths { if case .added = $0 { true } else { false } } == F.paths(want["added"]))
        #expect(paths { if case .removed = $0 { true } else { false } } == F.paths(want["removed"]))
        #expect(paths { if case .dtypeChanged = $0 { true } else { false } } == F.paths(want["dtype_changed"]))
        #expect(paths { if case .shapeChanged = $0 { true } else { false } } == F.paths(want["shape_changed"]))
        #expect(paths { if case .typeChanged = $0 { true } else { false } } == F.paths(want["type_changed"]))
        #expect(paths { if case .notCompared = $0 { true } else { false } } == F.paths(want["not_compared"]))
        #expect(paths { if case .quantizationChanged = $0 { true } else { false } } == F.paths(want["quantization_changed"]))

        let changed = report.entries.compactMap { entry -> [String]? in
            guard case .valueChanged(.value(_, let x), .value(_, let y)) = entry.kind else { return nil }
            return [entry.path.displayPath, x, y]
        }
        let expectedChanged = (want["values_changed"] as? [[Any]] ?? []).map { item in
            [F.path(item[0]).displayPath, item[1] as? String ?? "", item[2] as? String ?? ""]
        }
        #expect(changed == expectedChanged, "Python's repr of each side")
    }

    @Test("max abs and max rel differences per tensor are PyTorch's", arguments: F.pairs)
    func statistics(_ pair: String) throws {
        let want = try #require(F.expected[pair])
        let (a, b) = try F.open(pair)
        let report = try CheckpointDiff.compare(a, b)
        let expectedTensors = want["tensors"] as? [[String: Any]] ?? []
        #expect(report.tensors.map(\.path) == expectedTensors.map { F.path($0["path"]) })
        for (ours, theirs) in zip(report.tensors, expectedTensors) {
            let label = Comment(rawValue: "\(pair): \(ours.path.displayPath)")
            #expect(ours.dtype.name == theirs["dtype"] as? String, label)
            #expect(F.close(ours.maxAbsoluteDifference, F.number(theirs["max_abs"])), "max abs \(ours.maxAbsoluteDifference) \(label)")
            #expect(F.close(ours.maxRelativeDifference, F.number(theirs["max_rel"])), "max rel \(ours.maxRelativeDifference) \(label)")
        }
    }

    @Test("elements outside each tolerance, and the first of them, are the ones torch.isclose finds", arguments: F.pairs)
    func tolerances(_ pair: String) throws {
        let want = try #require(F.expected[pair])
        let (a, b) = try F.open(pair)
        let expectedTensors = want["tensors"] as? [[String: Any]] ?? []
        for (i, (rtol, atol)) in F.tolerances.enumerated() {
            let report = try CheckpointDiff.compare(a, b, tolerance: try .init(rtol: rtol, atol: atol))
            for (ours, theirs) in zip(report.tensors, expectedTensors) {
                let check = try #require((theirs["checks"] as? [[String: Any]])?[i])
                let label = Comment(rawValue: "\(pair): \(ours.path.displayPath) rtol=\(rtol) atol=\(atol)")
                #expect(ours.isWithinTolerance == (check["allclose"] as? Bool), label)
                #expect(ours.mismatchCount == (check["mismatched"] as? Int), label)
                #expect(ours.firstMismatch == (check["first"] as? [Int]), label)
            }
            let equal = try #require((want["equal"] as? [[String: Any]])?[i]["equal"] as? Bool)
            #expect(report.isEqual == equal, "\(pair) rtol=\(rtol) atol=\(atol): \(report.summary)")
        }
    }

    @Test("streaming in blocks of any size gives the same result as one block", arguments: [1, 2, 3, 5, 7, 64])
    func blocks(_ size: Int) throws {
        for pair in ["noise", "integers", "complex", "half", "training", "quantized", "nonfinite"] {
            let (a, b) = try F.open(pair)
            let whole = try CheckpointDiff.compare(a, b, tolerance: .allclose)
            let pieces = try CheckpointDiff.compare(a, b, tolerance: .allclose, options: .init(blockElements: size))
            #expect(whole.tensors.count == pieces.tensors.count)
            for (x, y) in zip(whole.tensors, pieces.tensors) {
                let label = Comment(rawValue: "\(pair): \(x.path.displayPath), blocks of \(size)")
                #expect(x.mismatchCount == y.mismatchCount, label)
                #expect(x.firstMismatch == y.firstMismatch, label)
                #expect(x.maxAbsoluteDifference == y.maxAbsoluteDifference, label)
                #expect(x.maxRelativeDifference == y.maxRelativeDifference, label)
            }
        }
    }
}

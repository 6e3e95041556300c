import Foundation
import TorchCheckpoint

/// The pairs of checkpoints PyTorch wrote for `pth diff`
/// (tools/make_diff_fixtures.py) and what PyTorch says about each pair.
enum DiffFixtures {
    static func path(_ pair: String, _ side: String) -> String { Fixtures.path("diff/\(pair).\(side).pth") }

    static func open(_ pair: String) throws -> (Checkpoint, Checkpoint) {
        (try Checkpoint(path: path(pair, "a")), try Checkpoint(path: path(pair, "b")))
    }

    nonisolated(unsafe) static let expected: [String: [String: Any]] =
        (try? Fixtures.json("diff/expected.json") as? [String: [String: Any]]) ?? [:]

    static let pairs: [String] = expected.keys.sorted()

    /// The tolerances expected.json was computed for.
    static let tolerances: [(rtol: Double, atol: Double)] = {
        guard let first = expected.values.first, let equal = first["equal"] as? [[String: Any]] else { return [] }
        return equal.map { (number($0["rtol"]), number($0["atol"])) }
    }()

    /// A listing path from JSON: strings are keys, integers indices.
    static func path(_ json: Any?) -> [PathKey] {
        (json as? [Any] ?? []).map { step in
            if let s = step as? String { return .key(s) }
            return .index((step as? NSNumber)?.intValue ?? -1)
        }
    }

    static func paths(_ json: Any?) -> [[PathKey]] { (json as? [Any] ?? []).map(path) }

    /// A number written as Python's repr text ("inf", "1e-05").
    static func number(_ json: Any?) -> Double { (json as? String).flatMap(Double.init) ?? .nan }

    /// Whether two statistics agree: equal, both infinite, or within 1e-12 relative.
    static func close(_ x: Double, _ y: Double) -> Bool {
        x == y || abs(x - y) <= 1e-12 * max(abs(x), abs(y))
    }
}

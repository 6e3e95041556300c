import Foundation
import ListingComparison
import TorchCheckpoint

/// The committed fixtures written by real PyTorch (tools/make_fixtures.py),
/// and what PyTorch says about them.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Every checkpoint fixture, relative to the fixtures folder.
    static let checkpoints: [String] = {
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        var names: [String] = []
        while let name = enumerator?.nextObject() as? String {
            if FileManager.default.fileExists(atPath: path(name + ".listing.json")) { names.append(name) }
        }
        return names.sorted()
    }()

    static func json(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent(name)), options: [.fragmentsAllowed])
    }

    /// PyTorch's facts beyond the listing (tools/make_expectations.py).
    nonisolated(unsafe) static let expectations: [String: Any] = (try? json("expectations.json") as? [String: Any]) ?? [:]

    static func open(_ name: String) throws -> Checkpoint { try Checkpoint(path: path(name)) }
}

/// Bytes from hexadecimal text, as the fixture scripts write them.
func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(hex.count / 2)
    var i = hex.startIndex
    while i < hex.endIndex, let j = hex.index(i, offsetBy: 2, limitedBy: hex.endIndex) {
        out.append(UInt8(hex[i..<j], radix: 16) ?? 0)
        i = j
    }
    return out
}


extension Checkpoint {
    /// Our listing, as parsed JSON (for a TorchScript archive, of its state_dict).
    func listingJSON(digests: Bool = true) throws -> Any {
        let text = Listing.json(try Listing.entries(of: self, digests: digests))
        return try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    /// The tensor at a listing path, as JSON path values.
    func tensor(at path: [Any]) -> Tensor? {
        let key = ListingComparison.pathKey(path)
        for leaf in Listing.walk(root) {
            let p: [Any] = leaf.path.map { k -> Any in
                switch k {
                case .key(let s): s
                case .index(let i): i
                }
            }
            if ListingComparison.pathKey(p) == key, case .tensor(let t) = leaf.value { return t }
        }
        return nil
    }
}

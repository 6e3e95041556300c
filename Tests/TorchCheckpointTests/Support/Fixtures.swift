import Foundation
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

/// LISTING.md's comparison rule: every entry PyTorch lists must be present in
/// ours with the same path and the same content (floats compared as numbers,
/// nan equal to nan); extra entries of ours are allowed.
enum ListingComparison {
    static func mismatches(torch: Any, ours: Any) -> [String] {
        guard let torchEntries = torch as? [[String: Any]], let ourEntries = ours as? [[String: Any]] else {
            return ["a listing is not an array of objects"]
        }
        var byPath: [String: [String: Any]] = [:]
        for e in ourEntries { byPath[pathKey(e["path"])] = e }
        var problems: [String] = []
        for e in torchEntries {
            let key = pathKey(e["path"])
            guard let mine = byPath[key] else {
                problems.append("missing \(key)")
                continue
            }
            var a = e, b = mine
            a["path"] = nil
            b["path"] = nil
            if !equal(a as Any, b as Any) { problems.append("\(key): torch \(a) ours \(b)") }
        }
        return problems
    }

    static func pathKey(_ path: Any?) -> String {
        guard let path, let data = try? JSONSerialization.data(withJSONObject: path, options: [.sortedKeys, .fragmentsAllowed]) else { return "?" }
        return String(decoding: data, as: UTF8.self)
    }

    static func equal(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case (let x as [String: Any], let y as [String: Any]):
            guard Set(x.keys) == Set(y.keys) else { return false }
            return x.allSatisfy { k, v in
                if k == "float", let s = v as? String, let t = y[k] as? String { return floatEqual(s, t) }
                return equal(v, y[k]!)
            }
        case (let x as [Any], let y as [Any]):
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (let x as String, let y as String): return x == y
        case (let x as NSNumber, let y as NSNumber): return x == y
        default: return false
        }
    }

    static func floatEqual(_ a: String, _ b: String) -> Bool {
        guard let x = Double(a), let y = Double(b) else { return a == b }
        return x == y || (x.isNaN && y.isNaN)
    }
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

import Foundation

/// LISTING.md's comparison rule, shared by the library's tests and the
/// command-line tests: every entry PyTorch lists must be present in
/// ours with the same path and the same content (floats compared as numbers,
/// nan equal to nan); extra entries of ours are allowed. As
/// tools/compare_listing.py: where PyTorch's tensor entry has no `sha256` (a
/// listing of views of terabytes, made without hashing them), ours is compared
/// without its `sha256` or `unhashed`; where ours says `unhashed` (a view over
/// the expanded-view limit) and PyTorch's has a hash, that is a mismatch
/// unless `allowingUnhashed`, and then compared without the hash.
public enum ListingComparison {
    public static func mismatches(torch: Any, ours: Any, allowingUnhashed: Bool = false) -> [String] {
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
            if var x = a["tensor"] as? [String: Any], var y = b["tensor"] as? [String: Any] {
                let unhashed = y["unhashed"] != nil && y["sha256"] == nil
                if x["sha256"] == nil || (unhashed && allowingUnhashed) {
                    x["sha256"] = nil
                    y["sha256"] = nil
                    y["unhashed"] = nil
                    a["tensor"] = x
                    b["tensor"] = y
                }
            }
            if !equal(a as Any, b as Any) { problems.append("\(key): torch \(a) ours \(b)") }
        }
        return problems
    }

    public static func pathKey(_ path: Any?) -> String {
        guard let path, let data = try? JSONSerialization.data(withJSONObject: path, options: [.sortedKeys, .fragmentsAllowed]) else { return "?" }
        return String(decoding: data, as: UTF8.self)
    }

    public static func equal(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case (let x as [String: Any], let y as [String: Any]):
            guard Set(x.keys) == Set(y.keys) else { return false }
            return x.allSatisfy { k, v in
                if k == "float", let s = v as? String, let t = y[k] as? String { return floatEqual(s, t) }
                guard let w = y[k] else { return false }
                return equal(v, w)
            }
        case (let x as [Any], let y as [Any]):
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (let x as String, let y as String): return x == y
        case (let x as NSNumber, let y as NSNumber): return x == y
        default: return false
        }
    }

    public static func floatEqual(_ a: String, _ b: String) -> Bool {
        guard let x = Double(a), let y = Double(b) else { return a == b }
        return x == y || (x.isNaN && y.isNaN)
    }
}

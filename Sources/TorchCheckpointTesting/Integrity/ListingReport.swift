import Foundation
import TorchCheckpoint

/// How a checkpoint's listing (`pth inspect --json`) compares with a listing
/// PyTorch wrote for it (tools/torch_listing.py), by the project's rule
/// (tools/compare_listing.py): every entry of PyTorch's must have one of
/// ours with the same path and equal content; entries only ours has are allowed.
public struct ListingReport: Sendable, CustomStringConvertible {
    /// One entry of PyTorch's listing that ours does not answer.
    public struct Mismatch: Sendable, CustomStringConvertible {
        /// The entry's path, as JSON: `["model", "fc.weight"]`.
        public let path: String
        /// PyTorch's content, as JSON with sorted keys.
        public let torch: String
        /// Our content at that path, or nil when we list nothing there.
        public let ours: String?

        /// compare_listing.py's lines for it.
        public var description: String {
            "mismatch at \(path)\n  torch: \(torch)\n  ours:  \(ours ?? "(missing)")"
        }
    }

    /// The entries of PyTorch's listing that ours answers.
    public let matchedCount: Int
    /// How many of those were compared without their hash (views over the
    /// expanded-view limit, which our listing leaves unhashed).
    public let unhashedCount: Int
    /// The entries ours does not answer.
    public let mismatches: [Mismatch]
    /// Why nothing could be compared (a file that does not load, a listing that is not JSON), or nil.
    public let error: String?

    /// Whether the listings match.
    public var matches: Bool { mismatches.isEmpty && error == nil }

    /// compare_listing.py's output: each mismatch, then `N entries matched`.
    public var description: String {
        if let error { return error }
        let note = unhashedCount > 0 ? ", \(unhashedCount) of them without a hash (views over the expanded-view limit)" : ""
        let tally = "\(matchedCount) entries matched\(note)" + (mismatches.isEmpty ? "" : ", \(mismatches.count) mismatched")
        return (mismatches.map(\.description) + [tally]).joined(separator: "\n")
    }
}

extension TorchTesting {
    /// Compares the listing of the checkpoint at `path` (what `pth inspect
    /// --json` prints: `Listing.entries(of:digests:expandedViewLimit:)`)
    /// with the listing PyTorch wrote for it, the JSON file at `listingPath`.
    ///
    /// The rule is tools/compare_listing.py's: floats compared as numbers
    /// (`1e-05` equals `1e-5`, nan equals nan), bools never equal to numbers,
    /// an entry of ours marked `unhashed` compared without its hash (and
    /// counted apart), an entry of PyTorch's without `sha256` compared without ours.
    public static func checkListing(ofCheckpointAt path: String, matchesListingAt listingPath: String,
                                    expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) -> ListingReport {
        let ours: [ListingJSON], torch: [ListingJSON]
        do {
            let checkpoint = try Checkpoint(path: path)
            let text = Listing.json(try Listing.entries(of: checkpoint, expandedViewLimit: expandedViewLimit))
            ours = try JSONDecoder().decode([ListingJSON].self, from: Data(text.utf8))
        } catch {
            return ListingReport(matchedCount: 0, unhashedCount: 0, mismatches: [], error: "cannot list '\(path)': \(error)")
        }
        do {
            torch = try JSONDecoder().decode([ListingJSON].self, from: Data(contentsOf: URL(fileURLWithPath: listingPath)))
        } catch {
            return ListingReport(matchedCount: 0, unhashedCount: 0, mismatches: [],
                                 error: "cannot read the listing '\(listingPath)': \(error)")
        }
        return compareListings(torch: torch, ours: ours)
    }

    /// compare_listing.py's `compare`.
    static func compareListings(torch: [ListingJSON], ours: [ListingJSON]) -> ListingReport {
        func path(_ entry: ListingJSON) -> ListingJSON {
            if case .object(let o) = entry { return o["path"] ?? .null }
            return .null
        }
        func content(_ entry: ListingJSON) -> [String: ListingJSON] {
            guard case .object(var o) = entry else { return [:] }
            o["path"] = nil
            return o
        }
        // Candidates by path; a path's keys keep their types (1 and "1" differ).
        var byPath: [String: [[String: ListingJSON]]] = [:]
        for entry in ours { byPath[path(entry).pythonText, default: []].append(content(entry)) }
        var matched = 0, unhashed = 0
        var mismatches: [ListingReport.Mismatch] = []
        for entry in torch {
            let key = path(entry).pythonText
            let expected = content(entry)
            var candidates = byPath[key] ?? []
            if let i = candidates.firstIndex(where: { matches(expected, $0).equal }) {
                // Each of our entries answers one of PyTorch's at most.
                unhashed += matches(expected, candidates[i]).withoutHash ? 1 : 0
                candidates.remove(at: i)
                byPath[key] = candidates
                matched += 1
            } else {
                mismatches.append(.init(path: key, torch: ListingJSON.object(expected).pythonText,
                                        ours: candidates.first.map { ListingJSON.object($0).pythonText }))
            }
        }
        return ListingReport(matchedCount: matched, unhashedCount: unhashed, mismatches: mismatches, error: nil)
    }

    /// compare_listing.py's `_matches`: whether our content answers PyTorch's,
    /// and whether it did so without a hash.
    private static func matches(_ expected: [String: ListingJSON], _ found: [String: ListingJSON]) -> (equal: Bool, withoutHash: Bool) {
        func withoutHash(_ c: [String: ListingJSON]) -> ListingJSON {
            guard case .object(var t)? = c["tensor"] else { return .object(c) }
            t["sha256"] = nil
            t["unhashed"] = nil
            var out = c
            out["tensor"] = .object(t)
            return .object(out)
        }
        if case .object(let tensor)? = expected["tensor"], case .object(let ours)? = found["tensor"] {
            if tensor["sha256"] == nil { return (ListingJSON.equal(.object(expected), withoutHash(found)), false) }
            if ours["unhashed"] != nil && ours["sha256"] == nil {
                return (ListingJSON.equal(withoutHash(expected), withoutHash(found)), true)
            }
        }
        return (ListingJSON.equal(.object(expected), .object(found)), false)
    }
}

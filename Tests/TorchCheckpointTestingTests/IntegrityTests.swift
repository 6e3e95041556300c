import Foundation
import Testing
import TorchCheckpoint
@testable import TorchCheckpointTesting

/// Integrity and safety: the file is whole, weights_only would load it, and
/// its listing is PyTorch's.
@Suite("Integrity, weights_only and listings")
struct IntegrityTests {
    @Test("a whole, safe file whose listing is PyTorch's records nothing")
    func good() {
        let path = Fixtures.path("state_dict.pth")
        #expect(expectIntact(path).isIntact)
        #expect(expectWeightsOnlyLoadable(path).weightsOnlyAccepts)
        let report = expectListing(of: path, matches: path + ".listing.json")
        #expect(report.matches && report.matchedCount > 10 && report.unhashedCount == 0)
        #expect(report.description == "\(report.matchedCount) entries matched")
    }

    @Test("a damaged file: each problem an issue")
    func damaged() {
        let path = Fixtures.path("malformed/short_record.pth")
        withKnownIssue {
            let report = expectIntact(path)
            #expect(!report.isIntact)
        } matching: { issue in
            let text = issue.comments.first?.rawValue ?? ""
            return text.hasPrefix("'\(path)' is damaged: ") && text.contains("holds 24 bytes but the pickle declares 1000 float32 elements")
        }
    }

    @Test("a file that calls os.system: weights_only would refuse it, naming the global")
    func unsafe() {
        let path = Fixtures.path("malformed/code_execution.pth")
        expectIntact(path)
        withKnownIssue {
            expectWeightsOnlyLoadable(path, "exported by the training job")
        } matching: { issue in
            issue.comments.map(\.rawValue) == [
                "torch.load('\(path)', weights_only=True) would refuse the file: the pickle in record 'archive/data.pkl' names "
                    + "os.system, outside weights_only's allowlist\n\nexported by the training job",
            ]
        }
    }

    @Test("a listing that differs: one issue per entry, in compare_listing.py's words")
    func listingMismatch() throws {
        let path = Fixtures.path("state_dict.pth")
        var entries = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path + ".listing.json"))) as! [[String: Any]]
        var tensor = entries[0]["tensor"] as! [String: Any]
        tensor["shape"] = [99]
        entries[0]["tensor"] = tensor
        entries.append(["path": ["no.such.key"], "value": ["int": "3"]])
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("listing-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: entries).write(to: scratch)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let firstPath = (entries[0]["path"] as! [String])[0]
        withKnownIssue {
            let report = expectListing(of: path, matches: scratch.path)
            #expect(report.mismatches.count == 2)
            #expect(report.mismatches[1].description == "mismatch at [\"no.such.key\"]\n  torch: {\"value\": {\"int\": \"3\"}}\n  ours:  (missing)")
            #expect(report.description.hasSuffix("\(report.matchedCount) entries matched, 2 mismatched"))
        } matching: { issue in
            let text = issue.comments.first?.rawValue ?? ""
            return text.hasPrefix("The listing of '\(path)' does not match '\(scratch.path)': mismatch at [\"\(firstPath)\"]\n  torch: {\"tensor\": {")
                || text.hasSuffix("mismatch at [\"no.such.key\"]\n  torch: {\"value\": {\"int\": \"3\"}}\n  ours:  (missing)")
        }
    }

    @Test("compare_listing.py's rule: floats as numbers, bools only with bools, hashes of unhashed views")
    func listingRule() throws {
        func json(_ text: String) throws -> [ListingJSON] { try JSONDecoder().decode([ListingJSON].self, from: Data(text.utf8)) }
        func compare(_ torch: String, _ ours: String) throws -> ListingReport {
            TorchTesting.compareListings(torch: try json(torch), ours: try json(ours))
        }
        #expect(try compare(#"[{"path": ["a"], "value": {"float": "1e-05"}}]"#, #"[{"path": ["a"], "value": {"float": "1e-5"}}]"#).matches)
        #expect(try compare(#"[{"path": ["a"], "value": {"float": "nan"}}]"#, #"[{"path": ["a"], "value": {"float": "nan"}}]"#).matches)
        #expect(try compare(#"[{"path": ["a"], "value": {"float": "-0.0"}}]"#, #"[{"path": ["a"], "value": {"float": "0.0"}}]"#).matches)
        #expect(try !compare(#"[{"path": ["a"], "value": {"bool": true}}]"#, #"[{"path": ["a"], "value": {"bool": 1}}]"#).matches)
        #expect(try compare(#"[{"path": ["a"], "tensor": {"shape": [2]}}]"#, #"[{"path": ["a"], "tensor": {"shape": [2.0]}}]"#).matches)
        // 1 and "1" are different paths; entries only ours has are allowed.
        #expect(try !compare(#"[{"path": [1], "value": {"none": true}}]"#, #"[{"path": ["1"], "value": {"none": true}}]"#).matches)
        #expect(try compare(#"[]"#, #"[{"path": ["x"], "value": {"none": true}}]"#).matches)
        // Ours unhashed (a view over the limit): compared without the hash, counted apart.
        let unhashed = try compare(#"[{"path": ["v"], "tensor": {"dtype": "float32", "sha256": "ab"}}]"#,
                                   #"[{"path": ["v"], "tensor": {"dtype": "float32", "unhashed": "over the limit"}}]"#)
        #expect(unhashed.matches && unhashed.unhashedCount == 1)
        #expect(unhashed.description == "1 entries matched, 1 of them without a hash (views over the expanded-view limit)")
        // PyTorch's without a hash: ours is compared without its own.
        #expect(try compare(#"[{"path": ["v"], "tensor": {"dtype": "float32"}}]"#,
                            #"[{"path": ["v"], "tensor": {"dtype": "float32", "sha256": "cd"}}]"#).matches)
        #expect(try !compare(#"[{"path": ["v"], "tensor": {"dtype": "float32", "sha256": "ab"}}]"#,
                             #"[{"path": ["v"], "tensor": {"dtype": "float32", "sha256": "cd"}}]"#).matches)
    }

    @Test("a listing that cannot be read is an issue")
    func unreadable() {
        withKnownIssue {
            expectListing(of: Fixtures.path("state_dict.pth"), matches: "/nonexistent/listing.json")
        } matching: { issue in
            issue.comments.first?.rawValue.hasPrefix("cannot read the listing '/nonexistent/listing.json'") == true
        }
    }
}

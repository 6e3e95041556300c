import Foundation
import ListingComparison
import Testing
import TorchCheckpoint

/// For every fixture, our listing matches the one real PyTorch printed for it
/// (fixtures/*.listing.json, written by tools/torch_listing.py).
@Suite("Listing matches PyTorch")
struct ListingConformanceTests {
    @Test("every entry PyTorch lists is present and equal", arguments: Fixtures.checkpoints)
    func matchesPyTorch(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        let torch = try Fixtures.json(name + ".listing.json")
        let problems = ListingComparison.mismatches(torch: torch, ours: try checkpoint.listingJSON())
        #expect(problems.isEmpty, "\(problems.prefix(5).joined(separator: "\n"))")
        #expect(((torch as? [Any])?.count ?? 0) > 0)
    }

    @Test("a listing without digests reads no tensor data and agrees on everything else")
    func withoutDigests() throws {
        let checkpoint = try Fixtures.open("training_checkpoint.ckpt")
        let entries = try Listing.entries(of: checkpoint.root, digests: false)
        let full = try Listing.entries(of: checkpoint.root)
        #expect(entries.count == full.count)
        for case .tensor(let r) in entries.map(\.content) { #expect(r.sha256 == nil) }
    }
}

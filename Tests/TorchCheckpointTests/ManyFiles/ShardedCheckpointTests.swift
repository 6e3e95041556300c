import Foundation
import ListingComparison
import Testing
import TorchCheckpoint

/// Hugging Face sharded sets written by huggingface_hub.save_torch_state_dict
/// (fixtures/sharded/, from tools/make_multifile_fixtures.py).
@Suite("Sharded sets (Hugging Face), read as one state dict")
struct ShardedCheckpointTests {
    @Test("the directory, or its index, lists as the merged state dict PyTorch lists", arguments: ["bin", "safetensors"])
    func listing(_ name: String) throws {
        let torch = try Fixtures.json("sharded/\(name).listing.json")
        for path in [Fixtures.path("sharded/\(name)"), try indexPath(name)] {
            let checkpoint = try Checkpoint(path: path)
            guard case .sharded = checkpoint.format else { Issue.record("format \(checkpoint.format)"); return }
            let problems = ListingComparison.mismatches(torch: torch, ours: try checkpoint.listingJSON())
            #expect(problems.isEmpty, "\(problems.prefix(5))")
        }
    }

    func indexPath(_ name: String) throws -> String {
        let dir = Fixtures.path("sharded/\(name)")
        let index = try #require(try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasSuffix(".index.json") })
        return dir + "/" + index
    }

    @Test("a tensor is read from its shard alone; the index's total size is the tensors' bytes")
    func oneShard() throws {
        let set = try ShardedCheckpoint(path: Fixtures.path("sharded/safetensors"))
        #expect(set.shards.count >= 2 && set.shardFormat == .safetensors)
        let first = try #require(set.weightMap.first)
        #expect(set.openShards.isEmpty)
        #expect(try set.tensor(first.name).elementCount > 0)
        #expect(set.openShards == [first.shard])
        var total = 0
        for (name, _) in set.weightMap { total += try set.tensor(name).byteCount }
        #expect(set.totalSize == total)
        #expect(set.openShards == set.shards)
    }

    @Test("a missing shard and a key its shard lacks are typed errors naming file and key",
          arguments: [("missing_shard", false), ("key_not_in_shard", true)])
    func damaged(_ name: String, _ namesKey: Bool) {
        do {
            _ = try Checkpoint(path: Fixtures.path("sharded/damaged/\(name)"))
            Issue.record("opened")
        } catch {
            guard case .damagedSet(_, let file, let key, _) = error else { Issue.record("\(error)"); return }
            #expect(file != nil && (key != nil) == namesKey, "\(error)")
        }
    }
}

import Foundation
import ListingComparison
import Testing
import TorchCheckpoint

/// Writing distributed checkpoints, against what torch writes from the same state dict:
/// fixtures/dcp/resaved/ is torch_save_to_dcp("single.pth", "resaved"), and
/// fixtures/dcp/resaved_zstd/ the state of zstd_bf16.pth saved with the ZStandard
/// extension (both with storage_meta.save_id fixed to the value below).
@Suite("Distributed checkpoints written as torch_save_to_dcp writes them")
struct DistributedWritingTests {
    static let fixedSaveID = "00000000-0000-4000-8000-000000000000"

    /// Writes `source`'s root as a DCP named `name` (the path torch recorded), in a scratch directory.
    func write(_ source: String, as name: String, compressed: Bool, in scratch: ScratchDirectory) throws -> String {
        var options = DistributedCheckpoint.WriteOptions()
        options.compressed = compressed
        options.saveID = Self.fixedSaveID
        options.checkpointID = name   // the relative name torch was given
        try DistributedCheckpoint.save(try Fixtures.open(source).root, to: scratch.path(name), options: options)
        return scratch.path(name)
    }

    @Test("every file is byte-identical to torch's, .metadata included once the save id is the same",
          arguments: [("dcp/single.pth", "resaved", false), ("dcp/zstd_bf16.pth", "resaved_zstd", true)])
    func bytes(_ source: String, _ name: String, _ compressed: Bool) throws {
        let scratch = try ScratchDirectory()
        let dir = try write(source, as: name, compressed: compressed, in: scratch)
        let theirs = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("dcp/\(name)")).sorted()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == theirs)
        for file in theirs {
            let ours = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + file))
            let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("dcp/\(name)/\(file)")))
            #expect(ours == original, "\(file): \(ours.count) bytes, torch's \(original.count)")
        }
    }

    @Test("what is written reads back as the state dict it came from")
    func roundTrip() throws {
        let scratch = try ScratchDirectory()
        let dir = try write("dcp/single.pth", as: "back", compressed: false, in: scratch)
        let back = try Checkpoint(path: dir)
        let problems = ListingComparison.mismatches(torch: try Fixtures.json("dcp/single.pth.listing.json"), ours: try back.listingJSON())
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        try Checkpoint.save(back.root, to: scratch.path("single.pth"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.path("single.pth")))
                == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("dcp/single.pth"))))
    }

    @Test("a view of part of a storage is saved as torch clones it; a transposed whole storage keeps its strides")
    func views() throws {
        let base = try Tensor((0..<12).map(Float.init)).reshaped([3, 4])
        let part = Tensor(dtype: .float32, shape: [2, 2], stride: [4, 1], storageOffset: 5, storage: base.storage)
        let state: Value = ["t": .tensor(try base.transposed(0, 1)), "part": .tensor(part), "n": 3]
        let scratch = try ScratchDirectory()
        try DistributedCheckpoint.save(state, to: scratch.path("views"))
        let back = try DistributedCheckpoint(directory: scratch.path("views"))
        #expect(try back.tensor("t").scalars(as: Float.self) == base.transposed(0, 1).scalars(as: Float.self))
        #expect(try back.tensor("part").scalars(as: Float.self) == [5, 6, 9, 10])
        #expect(try back.object("n") == 3)
        guard case .tensor(let t) = back.metadata.items.first(where: { $0.key == "t" })?.kind else { Issue.record("no t"); return }
        #expect(t.strides == [1, 4])
    }

    @Test("a failed write leaves an earlier checkpoint as it was")
    func failure() throws {
        let scratch = try ScratchDirectory()
        let dir = try write("dcp/single.pth", as: "kept", compressed: false, in: scratch)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/.metadata"))
        // Two keys that flatten to the same name: DCP refuses them ("duplicated flatten key").
        let clash: Value = ["a.b": 1, "a": ["b": 2]]
        #expect(throws: CheckpointError.self) { try DistributedCheckpoint.save(clash, to: dir) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/.metadata")) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["kept"])
    }
}

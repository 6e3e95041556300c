import Foundation
import ListingComparison
import Testing
import TorchCheckpoint

/// Distributed checkpoints written by torch.distributed.checkpoint (fixtures/dcp/, from
/// tools/make_multifile_fixtures.py): each directory beside NAME.pth, what
/// dcp_to_torch_save wrote from it, and that file's listing by PyTorch.
@Suite("Distributed checkpoints (DCP), read as dcp_to_torch_save reads them")
struct DistributedCheckpointTests {
    static let good = ["single", "threads", "zstd_bf16", "two_ranks"]

    @Test("the directory's listing is the listing of what dcp_to_torch_save writes", arguments: good)
    func listing(_ name: String) throws {
        let checkpoint = try Fixtures.open("dcp/\(name)")
        guard case .distributed = checkpoint.format else { Issue.record("format \(checkpoint.format)"); return }
        let problems = ListingComparison.mismatches(torch: try Fixtures.json("dcp/\(name).pth.listing.json"), ours: try checkpoint.listingJSON())
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }

    @Test("converting to .pth writes dcp_to_torch_save's bytes", arguments: good)
    func convertsByteForByte(_ name: String) throws {
        let scratch = try ScratchDirectory()
        let out = scratch.path("\(name).pth")   // the same file name, so the same zip prefix
        try Checkpoint.save(try Fixtures.open("dcp/\(name)").root, to: out)
        let ours = try Data(contentsOf: URL(fileURLWithPath: out))
        let torch = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("dcp/\(name).pth")))
        #expect(ours == torch)
    }

    @Test("a tensor sharded along dim 0 and dim 1 across two ranks is assembled whole")
    func shardedAcrossRanks() throws {
        let dcp = try DistributedCheckpoint(directory: Fixtures.path("dcp/two_ranks"))
        let torch = try Checkpoint(path: Fixtures.path("dcp/two_ranks.pth"))
        var multiChunk = 0
        for item in dcp.metadata.items {
            guard case .tensor(let t) = item.kind else { continue }
            if t.chunks.count > 1 { multiChunk += 1 }
            let ours = try dcp.tensor(item.key)
            let theirs = try #require(torch.root[path: item.path]?.tensor, "\(item.key)")
            #expect(ours.shape == theirs.shape && ours.dtype == theirs.dtype)
            #expect(try ours.contiguousBytes() == theirs.contiguousBytes(), "\(item.key)")
        }
        #expect(multiChunk >= 2, "the fixture should hold tensors split across ranks")
        #expect(Set(dcp.metadata.files).count >= 2)
    }

    @Test("a single-chunk uncompressed tensor is read in place from the mapped file; a sharded one is assembled afresh")
    func inPlace() throws {
        let single = try DistributedCheckpoint(directory: Fixtures.path("dcp/single"))
        let whole = try #require(single.metadata.items.first { if case .tensor(let t) = $0.kind { t.shape.count == 2 } else { false } })
        let storage = try #require(try single.tensor(whole.key).storage)
        // Read twice: the same pages of the one mapping, not two copies.
        #expect(try storage.bytes().baseAddress == storage.bytes().baseAddress)

        let ranks = try DistributedCheckpoint(directory: Fixtures.path("dcp/two_ranks"))
        let split = try #require(ranks.metadata.items.first { if case .tensor(let t) = $0.kind { t.chunks.count > 1 } else { false } })
        let assembled = try #require(try ranks.tensor(split.key).storage)
        let first = try assembled.bytes()
        let second = try assembled.bytes()
        #expect(first.withUnsafeBytes { Array($0) } == second.withUnsafeBytes { Array($0) })
        #expect(first.baseAddress != second.baseAddress, "each read assembles its own buffer, released after use")
    }

    @Test("objects saved as bytes come back as torch.load gives them")
    func objects() throws {
        let checkpoint = try Fixtures.open("dcp/single")
        let torch = try Fixtures.open("dcp/single.pth")
        for (key, value) in try #require(torch.root.dict).items where value.tensor == nil {
            #expect(checkpoint.root.dict?[key]?.pythonRepr == value.pythonRepr, "\(key)")
        }
    }

    @Test("pth verify finds every file whole, and names what dcp.load would import")
    func verify() {
        let report = Verification.verify(path: Fixtures.path("dcp/two_ranks"))
        #expect(report.isIntact, "\(report.problems)")
        #expect(report.globals.contains("torch.distributed.checkpoint.metadata.Metadata"))
        #expect(!report.weightsOnlyAccepts)
    }

    static let damaged: [(String, String?, String)] = [
        ("overlap", ".metadata", "overlap"),
        ("missing_chunk", ".metadata", "cover"),
        ("traversal", ".metadata", "leaves the checkpoint's directory"),
        ("unknown_transform", ".metadata", "stream.lz4/1"),
    ]

    @Test("a damaged .metadata is refused on opening, naming the key", arguments: damaged)
    func damagedMetadata(_ name: String, _ file: String?, _ words: String) {
        do {
            _ = try Checkpoint(path: Fixtures.path("dcp/damaged/\(name)"))
            Issue.record("opened")
        } catch {
            guard case .damagedSet(_, let f, let key, let reason) = error else { Issue.record("\(error)"); return }
            #expect(f == file && key != nil && reason.contains(words), "\(error)")
        }
    }

    @Test("a truncated or missing .distcp fails when its tensors are read, naming file and key; no output is left", arguments: ["truncated", "missing_file"])
    func damagedData(_ name: String) throws {
        let scratch = try ScratchDirectory()
        let out = scratch.path("out.pth")
        do {
            try Checkpoint.save(try Fixtures.open("dcp/damaged/\(name)").root, to: out)
            Issue.record("converted")
        } catch let error as CheckpointError {
            switch error {
            case .damagedSet(_, let file, let key, _):
                #expect(file?.hasSuffix(".distcp") == true && key != nil, "\(error)")
            case .cannotWrite(_, let reason):
                #expect(reason.contains(".distcp") && reason.contains("key"), "\(error)")
            default:
                Issue.record("\(error)")
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)
    }
}

@Suite("Multi-file checkpoints read from many tasks at once")
struct ManyFilesConcurrencyTests {
    @Test("tensors of one distributed checkpoint and one sharded set, read from eight tasks, come out the same")
    func concurrentReads() async throws {
        let dcp = try DistributedCheckpoint(directory: Fixtures.path("dcp/two_ranks"))
        let set = try ShardedCheckpoint(path: Fixtures.path("sharded/bin"))
        let keys = dcp.metadata.items.compactMap { if case .tensor = $0.kind { $0.key } else { nil } }
        let names = set.weightMap.map(\.name)
        let expected = try keys.map { try dcp.tensor($0).contiguousBytes() } + names.map { try set.tensor($0).contiguousBytes() }
        try await withThrowingTaskGroup(of: [[UInt8]].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try keys.map { try dcp.tensor($0).contiguousBytes() } + names.map { try set.tensor($0).contiguousBytes() }
                }
            }
            for try await result in group { #expect(result == expected) }
        }
    }
}

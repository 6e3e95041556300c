import Foundation
import Testing
import TorchCheckpoint

/// Writing Hugging Face sharded sets, against huggingface_hub 2.5.0's own output
/// (fixtures/sharded/split.json: split_torch_state_dict_into_shards and the index
/// save_torch_state_dict writes, for one state dict and several max_shard_size values;
/// fixtures/sharded/{bin,safetensors}: its files at max_shard_size=150).
@Suite("Sharded sets written as huggingface_hub writes them")
struct ShardedWritingTests {
    nonisolated(unsafe) static let split = (try? Fixtures.json("sharded/split.json") as? [String: Any]) ?? [:]

    /// The state dict split.json describes, rebuilt in Swift: tied weights share one tensor.
    static func stateDict() throws -> [(name: String, tensor: Tensor)] {
        let description = try #require(split["state_dict"] as? [String: Any])
        var byName: [String: Tensor] = [:]
        var out: [(String, Tensor)] = []
        for entry in try #require(description["tensors"] as? [[String: Any]]) {
            let name = try #require(entry["name"] as? String)
            if let same = entry["same_tensor_as"] as? String {
                out.append((name, try #require(byName[same])))
                continue
            }
            // "(arange(N, float64) * S + O).to(DTYPE).reshape([..])" with an optional ".t()".
            let text = try #require(entry["values"] as? String)
            let numbers = text.split(whereSeparator: { !"0123456789.-".contains($0) }).compactMap { Double($0) }
            let (count, scale, offset) = (Int(numbers[0]), numbers[2], numbers[3])
            let dtypeName = try #require(entry["dtype"] as? String)
            let dtype = try #require(DType(torchName: dtypeName))
            let values = (0..<count).map { Double($0) * scale + offset }
            var tensor = try Tensor(values).to(dtype)
            if let from = entry["transposed_from"] as? [Int] {
                tensor = try tensor.reshaped(from).transposed(0, 1)
            } else {
                tensor = try tensor.reshaped(try #require(entry["shape"] as? [Int]))
            }
            byName[name] = tensor
            out.append((name, tensor))
        }
        return out
    }

    static var cases: [Int] {
        ((split["cases"] as? [[String: Any]]) ?? []).indices.filter { i in
            let c = (split["cases"] as! [[String: Any]])[i]
            return (c["save_torch_state_dict"] as? [String: Any])?["raised"] == nil
        }
    }

    @Test("the split, the shard names and the index text are huggingface_hub's, for every max_shard_size", arguments: cases)
    func splits(_ index: Int) throws {
        let c = try #require((Self.split["cases"] as? [[String: Any]])?[index])
        let pattern = try #require(c["filename_pattern"] as? String)
        let format: ShardedCheckpoint.ShardFormat = pattern.hasSuffix(".safetensors") ? .safetensors : .torchSave
        let sizeText = c["max_shard_size"] as? String ?? ""
        let maxSize = try #require(c["max_shard_size"] as? Int ?? ShardedCheckpoint.parseSize(sizeText))
        let scratch = try ScratchDirectory()
        let written = try ShardedCheckpoint.save(try Self.stateDict(), to: scratch.path("set"), format: format, maxShardSize: maxSize)
        // split_torch_state_dict_into_shards on the whole state dict (save_torch_state_dict splits
        // the safetensors case after dropping shared names: its files are checked below).
        let expected = try #require(c["split"] as? [String: Any])
        let split = ShardedCheckpoint.split(try Self.stateDict(), maxShardSize: maxSize, filenamePattern: pattern)
        #expect(split.isSharded == (expected["is_sharded"] as? Bool))
        #expect(split.totalSize == (expected["metadata"] as? [String: Any])?["total_size"] as? Int)
        let theirs = expected["filename_to_tensors"] as? [String: [String]]
        #expect(Dictionary(uniqueKeysWithValues: split.filenameToTensors.map { ($0.file, $0.tensors) }) == theirs)
        let order = (expected["tensor_to_filename"] as? [String: String]).map { _ in split.tensorToFilename.map(\.name) }
        #expect(order.map(Set.init) == (expected["tensor_to_filename"] as? [String: String]).map { Set($0.keys) })
        let save = try #require(c["save_torch_state_dict"] as? [String: Any])
        if let indexName = save["index_name"] as? String, let text = save["index_text"] as? String {
            #expect(try String(contentsOfFile: scratch.path("set/\(indexName)"), encoding: .utf8) == text)
        } else {
            #expect(!written.isSharded)
        }
        // Every shard is on disk, and nothing else but the index.
        let files = try FileManager.default.contentsOfDirectory(atPath: scratch.path("set")).sorted()
        let index = (save["index_name"] as? String).map { [$0] } ?? []
        #expect(files == (written.filenameToTensors.map(\.file) + index).sorted())
    }

    @Test("at max_shard_size=150 every file is byte-identical to save_torch_state_dict's", arguments: ["bin", "safetensors"])
    func bytes(_ name: String) throws {
        let scratch = try ScratchDirectory()
        try ShardedCheckpoint.save(try Self.stateDict(), to: scratch.path("set"), format: name == "bin" ? .torchSave : .safetensors,
                                   maxShardSize: 150)
        let theirs = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("sharded/\(name)")).sorted()
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path("set")).sorted() == theirs)
        for file in theirs {
            let ours = try Data(contentsOf: URL(fileURLWithPath: scratch.path("set/\(file)")))
            let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("sharded/\(name)/\(file)")))
            #expect(ours == original, "\(file)")
        }
    }

    @Test("writing over an earlier set replaces its files; a set that cannot be written leaves the directory as it was")
    func replaces() throws {
        let scratch = try ScratchDirectory()
        let dir = scratch.path("set")
        try ShardedCheckpoint.save(try Self.stateDict(), to: dir, format: .torchSave, maxShardSize: 0)   // 7 shards
        try ShardedCheckpoint.save(try Self.stateDict(), to: dir, format: .torchSave, maxShardSize: 150)  // 3 shards
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).count == 4)
        let before = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        // A view that covers part of a storage shared with another name: safetensors refuses the pair.
        let base = try Tensor([Float](repeating: 1, count: 8)).reshaped([8])
        let part = Tensor(dtype: .float32, shape: [4], stride: [1], storageOffset: 2, storage: base.storage)
        let other = Tensor(dtype: .float32, shape: [4], stride: [1], storageOffset: 0, storage: base.storage)
        #expect(throws: CheckpointError.self) {
            try ShardedCheckpoint.save([("a", part), ("b", other)], to: dir, format: .safetensors, maxShardSize: 150)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == before)
        // What was written reads back as the same state dict.
        let back = try Checkpoint(path: dir)
        #expect(back.root.dict?.count == 8)
    }

    @Test("sizes are read as huggingface_hub's parse_size_to_int reads them")
    func sizes() {
        #expect(ShardedCheckpoint.parseSize("5GB") == 5_000_000_000)
        #expect(ShardedCheckpoint.parseSize(" 0.2kb ") == 200)
        #expect(ShardedCheckpoint.parseSize("0.15KB") == 150)
        #expect(ShardedCheckpoint.parseSize("10MiB") == nil)
        #expect(ShardedCheckpoint.parseSize("1024") == 1024)   // bytes, for the command line
    }
}

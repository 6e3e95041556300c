/// Conversions between checkpoints and safetensors files.
public enum Conversion {
    /// Writes the tensors of a safetensors file as a `.pth` checkpoint, byte
    /// for byte what `torch.save(safetensors.torch.load_file(source), path)`
    /// writes: a plain dict in `load_file`'s order (by data offset), one
    /// storage per tensor. The file's `__metadata__` has no place in that dict
    /// and is not written (`load_file` drops it too).
    ///
    /// Tensor data streams from the mapped source to the new file.
    public static func checkpoint(from source: SafetensorsFile, to path: String, options: SaveOptions = .init()) throws {
        try Checkpoint.save(.dict(stateDict(of: source)), to: path, options: options)
    }

    /// The dict `safetensors.torch.load_file(source)` returns: the tensors in
    /// the order of their data, each viewing its bytes in the mapped file.
    public static func stateDict(of source: SafetensorsFile) -> PyDict {
        let order = source.header.entries.sorted { $0.dataOffsets.lowerBound < $1.dataOffsets.lowerBound }
        let dict = PyDict()
        for entry in order {
            guard let tensor = source.tensor(named: entry.name) else { continue }
            dict[entry.name] = .tensor(tensor)
        }
        return dict
    }

    /// What a conversion to safetensors did that the caller should know.
    public struct SafetensorsReport: Sendable {
        /// The tensors written, by name, in file order.
        public let tensorNames: [String]
        /// Groups of tensors that shared a storage and were written as separate copies.
        public let duplicatedTensors: [[String]]
        /// The plain values kept as `__metadata__`, by name.
        public let metadataKeys: [String]
    }

    /// Writes the tensors of a checkpoint (or of one of its values) as a
    /// safetensors file. Tensors are named by their path, steps joined with
    /// `.` (a state dict's keys stay as they are); plain values (str, int,
    /// float, bool, None) become `__metadata__` entries, as text. Tensors that
    /// share a storage are refused, as safetensors refuses them, unless
    /// `duplicateSharedTensors` is set: then each is written as its own copy
    /// and the report says which.
    public static func safetensors(from value: Value, to path: String, duplicateSharedTensors: Bool = false,
                                   expandedViewLimit: Int = Tensor.defaultExpandedViewLimit,
                                   durability: AtomicFileSink.Durability = .atomic) throws -> SafetensorsReport {
        var tensors: [(name: String, tensor: Tensor)] = []
        var metadata: [(key: String, value: String)] = []
        // By bytes: "é" and "e\u{301}" are two names, as in Python.
        var seen = Set<[UInt8]>()
        for leaf in Listing.walk(value) {
            let name = leaf.path.map(\.description).joined(separator: ".")
            guard seen.insert(Array(name.utf8)).inserted else {
                throw CheckpointError.cannotWrite(path: path, reason: "two entries would both be named '\(name)' in the safetensors file")
            }
            switch leaf.value {
            case .tensor(let t): tensors.append((name, t))
            case .string(let s): metadata.append((name, s))
            case .None, .bool, .int, .bigInt, .float: metadata.append((name, leaf.value.pythonRepr))
            default: continue
            }
        }
        let writer = try SafetensorsWriter(tensors: tensors, metadata: metadata.isEmpty ? nil : metadata,
                                           options: .init(duplicateSharedTensors: duplicateSharedTensors,
                                                          expandedViewLimit: expandedViewLimit))
        try writer.write(to: path, durability: durability)
        return SafetensorsReport(tensorNames: writer.items.map(\.name), duplicatedTensors: writer.duplicatedTensors,
                                 metadataKeys: metadata.map(\.key))
    }
}

extension Conversion {
    /// What a conversion to a sharded set wrote.
    public struct ShardedReport: Sendable {
        /// The split: shard files, the names in each, the total size.
        public let split: ShardedCheckpoint.Split
        /// Values that are not tensors, by name, which a sharded set cannot hold and were left out.
        public let skippedValues: [String]
    }

    /// Writes the tensors of a checkpoint (or of one of its values) as a Hugging
    /// Face sharded set in `directory`, as `huggingface_hub.save_torch_state_dict`
    /// writes it (see ``ShardedCheckpoint/save(_:to:format:maxShardSize:)``).
    /// Tensors are named by their path, steps joined with `.`; other values are left out.
    public static func sharded(from value: Value, to directory: String, format: ShardedCheckpoint.ShardFormat,
                               maxShardSize: Int) throws -> ShardedReport {
        var tensors: [(name: String, tensor: Tensor)] = []
        var skipped: [String] = []
        var seen = Set<[UInt8]>()
        for leaf in Listing.walk(value) {
            let name = leaf.path.map(\.description).joined(separator: ".")
            switch leaf.value {
            case .tensor(let t):
                guard seen.insert(Array(name.utf8)).inserted else {
                    throw CheckpointError.cannotWrite(path: directory, reason: "two tensors would both be named '\(name)'")
                }
                tensors.append((name, t))
            case .list, .tuple, .dict, .set, .object: continue
            default: skipped.append(name)
            }
        }
        let split = try ShardedCheckpoint.save(tensors, to: directory, format: format, maxShardSize: maxShardSize)
        return ShardedReport(split: split, skippedValues: skipped)
    }
}

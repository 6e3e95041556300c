import TorchPickle
import TorchZip

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ShardedCheckpoint {
    /// How a state dict is split into shards, as
    /// `huggingface_hub.split_torch_state_dict_into_shards` splits it.
    public struct Split: Sendable, Equatable {
        /// Whether there is more than one shard (then an index is written).
        public let isSharded: Bool
        /// The bytes counted: each storage once, whole (`untyped_storage().nbytes()`).
        public let totalSize: Int
        /// Each shard's file name and the names it holds, in order.
        public let filenameToTensors: [ShardFile]
        /// Each name's shard, in the order of the shards (the index's `weight_map`).
        public var tensorToFilename: [(name: String, file: String)] {
            filenameToTensors.flatMap { shard in shard.tensors.map { ($0, shard.file) } }
        }

        /// One shard.
        public struct ShardFile: Sendable, Equatable {
            /// The file name (`model-00001-of-00003.safetensors`).
            public let file: String
            /// The tensors' names, in order.
            public let tensors: [String]
        }
    }

    /// The file-name patterns `save_torch_state_dict` uses, with `{suffix}` where the shard numbering goes.
    public static func filenamePattern(for format: ShardFormat) -> String {
        format == .safetensors ? "model{suffix}.safetensors" : "pytorch_model{suffix}.bin"
    }

    /// Splits tensors into shards of at most `maxShardSize` bytes, as
    /// `split_torch_state_dict_into_shards` does: in order, a new shard when the
    /// next tensor would overflow the current one, a tensor larger than the
    /// limit alone in a shard of its own (placed before the current one closes),
    /// tensors that share a storage counted once and placed with the first of
    /// them. Sizes are whole storages.
    public static func split(_ tensors: [(name: String, tensor: Tensor)], maxShardSize: Int,
                             filenamePattern: String) -> Split {
        var groups: [ObjectIdentifier: [String]] = [:]
        var groupOrder: [ObjectIdentifier] = []
        var shards: [[String]] = []
        var current: [String] = []
        var currentSize = 0
        var total = 0
        for (name, tensor) in tensors {
            if let storage = tensor.storage {
                let id = ObjectIdentifier(storage)
                if groups[id] != nil {
                    groups[id]!.append(name)
                    continue
                }
                groups[id] = [name]
                groupOrder.append(id)
            }
            let size = tensor.storage?.byteCount ?? 0
            if size > maxShardSize {
                total += size
                shards.append([name])
                continue
            }
            if currentSize + size > maxShardSize {
                shards.append(current)
                current = []
                currentSize = 0
            }
            current.append(name)
            currentSize += size
            total += size
        }
        if !current.isEmpty { shards.append(current) }
        for id in groupOrder {
            guard let names = groups[id], names.count > 1 else { continue }
            if let s = shards.firstIndex(where: { $0.contains(names[0]) }) {
                shards[s] += names.dropFirst()
            }
        }
        func name(_ suffix: String) -> String { filenamePattern.replacing("{suffix}", with: suffix, maxReplacements: 1) }
        if shards.count == 1 {
            return Split(isSharded: false, totalSize: total, filenameToTensors: [.init(file: name(""), tensors: shards[0])])
        }
        let count = shards.count
        let files = shards.enumerated().map { i, names in
            Split.ShardFile(file: name("-\(fiveDigits(i + 1))-of-\(fiveDigits(count))"), tensors: names)
        }
        return Split(isSharded: count > 1, totalSize: total, filenameToTensors: files)
    }

    private static func fiveDigits(_ n: Int) -> String {
        let text = String(n)
        return text.count >= 5 ? text : String(repeating: "0", count: 5 - text.count) + text
    }

    /// A size as `huggingface_hub`'s `parse_size_to_int` reads it: `"5GB"`,
    /// `"500MB"`, `" 0.2kb "` (units TB, GB, MB, KB, powers of 1000), or plain bytes as an integer.
    public static func parseSize(_ text: String) -> Int? {
        if let n = Int(text) { return n }
        let trimmed: String = text.trimmingCharacters(in: " \t\n\r")
        guard trimmed.count > 2 else { return nil }
        let unit = trimmed.suffix(2).uppercased()
        let scale: Double
        switch unit {
        case "TB": scale = 1e12
        case "GB": scale = 1e9
        case "MB": scale = 1e6
        case "KB": scale = 1e3
        default: return nil
        }
        let number: String = String(trimmed.dropLast(2)).trimmingCharacters(in: " \t\n\r")
        guard let value = Double(number), value.isFinite, value >= 0,
              value * scale < 9e18 else { return nil }
        return Int(value * scale)
    }

    /// Writes a state dict as a Hugging Face sharded set into `directory`, as
    /// `huggingface_hub.save_torch_state_dict(state_dict, directory,
    /// max_shard_size=…, safe_serialization=…)` writes it: the same split,
    /// shard names and index text; `.bin` shards are `torch.save` of each
    /// shard's dict, safetensors shards `save_file` with `{"format": "pt"}`
    /// after tensors that share memory are reduced to one name (the others
    /// recorded in the index's metadata, as `lm_head.weight: embed.weight`).
    ///
    /// Files are written beside the directory's others under temporary names
    /// and renamed into place only when every shard is written; then files of
    /// an earlier set with the same pattern are removed, as `save_torch_state_dict`
    /// removes them. On any error the directory is as it was.
    ///
    /// - Returns: The split that was written.
    @discardableResult
    public static func save(_ tensors: [(name: String, tensor: Tensor)], to directory: String, format: ShardFormat,
                            maxShardSize: Int = 5_000_000_000) throws(CheckpointError) -> Split {
        var state = tensors
        var metadata: [(String, String)] = []
        if format == .safetensors {
            (state, metadata) = try removeSharedNames(tensors, directory: directory)
        }
        let pattern = filenamePattern(for: format)
        let split = split(format == .safetensors ? state.map { ($0.name, contiguousForSplit($0.tensor)) } : state,
                          maxShardSize: maxShardSize, filenamePattern: pattern)
        if !FileKind.isDirectory(directory) {
            guard mkdir(directory, 0o755) == 0 || FileKind.isDirectory(directory) else {
                throw .cannotWrite(path: directory, reason: "cannot create the directory (errno \(errno))")
            }
        }
        let staging = directory + "/.pth-sharded-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(staging, 0o755) == 0 else {
            throw .cannotWrite(path: directory, reason: "cannot create a staging directory (errno \(errno))")
        }
        defer { FileKind.removeTree(staging) }
        let byName = Dictionary(state.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        var written: [String] = []
        for shard in split.filenameToTensors {
            let items = shard.tensors.map { ($0, byName[$0]!) }
            let path = staging + "/" + shard.file
            switch format {
            case .safetensors:
                do {
                    try SafetensorsWriter(tensors: items, metadata: [("format", "pt")]).write(to: path)
                } catch {
                    throw .cannotWrite(path: directory + "/" + shard.file, reason: "\(error)")
                }
            case .torchSave:
                let dict = PyDict()
                for (name, tensor) in items {
                    do { try dict.set(.tensor(tensor), for: .string(name)) } catch {
                        throw .cannotWrite(path: directory + "/" + shard.file, reason: "\(error)")
                    }
                }
                try Checkpoint.save(.dict(dict), to: path)
            }
            written.append(shard.file)
        }
        var indexName: String?
        if split.isSharded {
            let name = pattern.replacing("{suffix}", with: "", maxReplacements: 1) + ".index.json"
            let text = indexJSON(totalSize: split.totalSize, metadata: metadata, weightMap: split.tensorToFilename)
            do {
                let sink = try AtomicFileSink(destination: staging + "/" + name)
                let result = Array(text.utf8).withUnsafeBytes { raw in
                    Result { () throws(ZipError) in try sink.write(raw) }
                }
                try result.get()
                try sink.commit()
            } catch {
                throw .cannotWrite(path: directory + "/" + name, reason: error.message)
            }
            indexName = name
        }
        // Every file is written: replace the old set.
        removeEarlierSet(in: directory, pattern: pattern)
        for file in written + (indexName.map { [$0] } ?? []) {
            guard rename(staging + "/" + file, directory + "/" + file) == 0 else {
                throw .cannotWrite(path: directory + "/" + file, reason: "cannot move it into place (errno \(errno))")
            }
        }
        return split
    }

    /// `save_torch_state_dict`'s `json.dump(index, f, indent=2)`: insertion order, ASCII with `\uXXXX` escapes.
    public static func indexJSON(totalSize: Int, metadata: [(String, String)], weightMap: [(name: String, file: String)]) -> String {
        var out = "{\n  \"metadata\": {\n    \"total_size\": \(totalSize)"
        for (key, value) in metadata { out += ",\n    \(pythonJSONString(key)): \(pythonJSONString(value))" }
        out += "\n  },\n  \"weight_map\": {"
        for (i, entry) in weightMap.enumerated() {
            out += (i == 0 ? "\n" : ",\n") + "    \(pythonJSONString(entry.name)): \(pythonJSONString(entry.file))"
        }
        out += weightMap.isEmpty ? "}\n}" : "\n  }\n}"
        return out
    }

    /// A string as Python's `json.dumps` writes it with `ensure_ascii=True`.
    static func pythonJSONString(_ text: String) -> String { JSON.string(text) }

    /// safetensors' `_remove_duplicate_names`: of tensors sharing memory, the first
    /// name (sorted) among those covering the whole storage is kept.
    private static func removeSharedNames(_ tensors: [(name: String, tensor: Tensor)], directory: String)
        throws(CheckpointError) -> ([(name: String, tensor: Tensor)], [(String, String)]) {
        var groups: [ObjectIdentifier: [String]] = [:]
        var order: [ObjectIdentifier] = []
        var byName: [String: Tensor] = [:]
        for (name, tensor) in tensors {
            byName[name] = tensor
            guard let storage = tensor.storage else { continue }
            let id = ObjectIdentifier(storage)
            if groups[id] == nil { order.append(id) }
            groups[id, default: []].append(name)
        }
        var removed = Set<String>()
        var metadata: [(String, String)] = []
        for id in order {
            guard let names = groups[id], names.count > 1 else { continue }
            let complete = names.filter { name in
                let t = byName[name]!
                return t.storageOffset == 0 && t.isContiguous && t.byteCount == t.storage!.byteCount
            }.sorted()
            guard let keep = complete.first else {
                throw .cannotWrite(path: directory, reason: """
                    \(names.sorted().joined(separator: ", ")) share a storage and none covers all of it; \
                    safetensors refuses to save them (clone them first)
                    """)
            }
            for name in names.sorted() where name != keep {
                removed.insert(name)
                metadata.append((name, keep))
            }
        }
        return (tensors.filter { !removed.contains($0.name) }, metadata)
    }

    /// The size `split` counts for a tensor after `.contiguous()`: its storage when it is
    /// contiguous already, otherwise a new storage of its own bytes.
    private static func contiguousForSplit(_ tensor: Tensor) -> Tensor {
        if tensor.isContiguous { return tensor }
        return Tensor(dtype: tensor.dtype, shape: tensor.shape, stride: Tensor.contiguousStrides(tensor.shape),
                      storage: Storage(key: "0", dtype: tensor.dtype, isUntyped: false, location: "cpu",
                                       elementCount: tensor.elementCount, loader: { RawBytes.empty }))
    }

    /// Removes the files of an earlier set written with `pattern` (shards and index).
    private static func removeEarlierSet(in directory: String, pattern: String) {
        guard let brace = pattern.firstRange(of: "{suffix}") else { return }
        let prefix = String(pattern[..<brace.lowerBound])
        let suffix = String(pattern[brace.upperBound...])
        for name in DirectoryListing.names(in: directory) {
            var rest = Substring(name)
            guard rest.hasPrefix(prefix) else { continue }
            rest = rest.dropFirst(prefix.count)
            if rest.hasSuffix(".index.json") { rest = rest.dropLast(".index.json".count) }
            guard rest.hasSuffix(suffix) else { continue }
            rest = rest.dropLast(suffix.count)
            let numbered = rest.count == 15 && rest.hasPrefix("-") && rest.dropFirst(6).hasPrefix("-of-")
                && rest.dropFirst().prefix(5).allSatisfy(\.isNumber) && rest.suffix(5).allSatisfy(\.isNumber)
            if rest.isEmpty || numbered { unlink(directory + "/" + name) }
        }
    }

}

import Synchronization
import TorchPickle
import TorchZip

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Hugging Face sharded checkpoint: `model-0000K-of-0000N.safetensors` or
/// `pytorch_model-0000K-of-0000N.bin` files with the `*.index.json` that maps
/// each tensor to its shard (`weight_map`) and gives their total size.
///
/// ```swift
/// let set = try ShardedCheckpoint(path: "Llama-3-8B/model.safetensors.index.json")   // or the directory
/// let embed = try set.tensor("model.embed_tokens.weight")    // opens one shard
/// ```
///
/// Each shard is opened (mapped, its header or pickle read) when a tensor in
/// it is first asked for; tensor bytes are read in place when used.
/// ``Checkpoint/init(path:options:)`` opens the same directory or index as one
/// state dict, the shards merged in the order `transformers` loads them.
public final class ShardedCheckpoint: Sendable {
    /// What the shards are.
    public enum ShardFormat: String, Sendable {
        /// `torch.save` files (`pytorch_model-…bin`).
        case torchSave = "torch.save"
        /// safetensors files.
        case safetensors
    }

    /// The path it was opened from: the directory, or the index.
    public let path: String
    /// The index file.
    public let indexPath: String
    /// The directory the shard names are relative to.
    public let directory: String
    /// The shards' format, from their names.
    public let shardFormat: ShardFormat
    /// Each tensor's shard, in the index's order.
    public let weightMap: [(name: String, shard: String)]
    /// The index's `metadata.total_size`, when present.
    public let totalSize: Int?
    /// The index's `metadata`, other entries included, as text in file order.
    public let metadata: [(key: String, value: String)]
    /// The shard files, sorted by name (the order `transformers` loads them in).
    public let shards: [String]
    let options: LoadOptions
    private let opened = Mutex<[String: Shard]>([:])
    /// Each name's shard.
    private let shardOf: [String: String]
    /// Each shard's names, in the index's order.
    private let namesByShard: [String: [String]]

    /// One opened shard's tensors, by name, in the shard's own order.
    struct Shard: Sendable {
        let tensors: [(name: String, tensor: Tensor)]
        let checkpoint: Checkpoint?
        let byName: [String: Tensor]

        init(tensors: [(name: String, tensor: Tensor)], checkpoint: Checkpoint?) {
            self.tensors = tensors
            self.checkpoint = checkpoint
            byName = Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        }
    }

    /// Opens a sharded set from its directory (which must hold one `*.index.json`,
    /// or `model.safetensors.index.json` beside `pytorch_model.bin.index.json`,
    /// which is preferred as `transformers` prefers it) or from its index file.
    ///
    /// - Throws: ``CheckpointError/cannotOpen(path:reason:)`` when there is no
    ///   index; ``CheckpointError/damagedSet(path:file:key:reason:)`` when the
    ///   index is not JSON of the expected shape, names a file outside the
    ///   directory, or mixes shard formats.
    public init(path: String, options: LoadOptions = .init()) throws(CheckpointError) {
        let indexPath: String
        if FileKind.isDirectory(path) {
            guard let found = try Self.findIndex(in: path) else {
                throw .cannotOpen(path: path, reason: "a directory without a *.index.json (a Hugging Face sharded set has one)")
            }
            indexPath = found
        } else {
            indexPath = path
        }
        self.path = path
        self.indexPath = indexPath
        self.options = options
        let slash = indexPath.lastIndex(of: "/")
        directory = slash.map { String(indexPath[..<$0]) } ?? "."
        let indexName = slash.map { String(indexPath[indexPath.index(after: $0)...]) } ?? indexPath
        func fail(_ reason: String, key: String? = nil) -> CheckpointError {
            .damagedSet(path: indexPath, file: indexName, key: key, reason: reason)
        }
        let file: MappedFile
        do { file = try MappedFile(path: indexPath) } catch { throw .cannotOpen(path: indexPath, reason: error.message) }
        let json: HeaderJSON
        if let bad = firstInvalidUTF8(file.bytes) { throw fail("the index is not UTF-8 text (byte \(bad.index))") }
        do {
            json = try HeaderJSONParser.parse(file.bytes, base: 0)
        } catch {
            throw fail("the index is not JSON: \(error.message) at byte \(error.offset.map(String.init) ?? "?")")
        }
        guard case .object(let members) = json.kind else { throw fail("the index is not a JSON object") }
        var weightMap: [(String, String)] = []
        var seen = Set<String>()
        var totalSize: Int?
        var metadata: [(String, String)] = []
        var sawWeightMap = false
        for member in members {
            switch (member.key, member.value.kind) {
            case ("weight_map", .object(let entries)):
                sawWeightMap = true
                for entry in entries {
                    guard case .string(let shard) = entry.value.kind else {
                        throw fail("weight_map maps it to \(entry.value.serdeDescription), not a file name", key: entry.key)
                    }
                    try DistributedCheckpointMetadata.checkRelativePath(shard) { reason throws(CheckpointError) in
                        throw fail("weight_map's shard for it: \(reason)", key: entry.key)
                    }
                    guard !shard.hasSuffix(".index.json"), shard != ".", !shard.hasSuffix("/.") else {
                        throw fail("weight_map names '\(shard)' as its shard, which is no shard file", key: entry.key)
                    }
                    guard seen.insert(entry.key).inserted else { throw fail("weight_map names it twice", key: entry.key) }
                    weightMap.append((entry.key, shard))
                }
            case ("weight_map", _):
                throw fail("weight_map is \(member.value.serdeDescription), not an object")
            case ("metadata", .object(let entries)):
                for entry in entries {
                    switch entry.value.kind {
                    case .unsigned(let n): metadata.append((entry.key, String(n)))
                        if entry.key == "total_size" { totalSize = Int(exactly: n) }
                    case .string(let s): metadata.append((entry.key, s))
                    case .float(let d): metadata.append((entry.key, String(d)))
                        if entry.key == "total_size", let n = Int(exactly: d) { totalSize = n }
                    default: metadata.append((entry.key, entry.value.serdeDescription))
                    }
                }
            default:
                break
            }
        }
        guard sawWeightMap else { throw fail("the index has no weight_map") }
        self.weightMap = weightMap
        shardOf = Dictionary(weightMap.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        namesByShard = Dictionary(grouping: weightMap.map { ($0.1, $0.0) }, by: \.0).mapValues { $0.map(\.1) }
        self.totalSize = totalSize
        self.metadata = metadata
        shards = Set(weightMap.map(\.1)).sorted()
        let formats = Set(shards.map { $0.hasSuffix(".safetensors") ? ShardFormat.safetensors : .torchSave })
        guard formats.count <= 1 else { throw fail("the shards mix safetensors and torch.save files") }
        shardFormat = formats.first ?? (indexName.contains("safetensors") ? .safetensors : .torchSave)
    }

    /// The index in a directory: the only `*.index.json`, or safetensors' before torch.save's.
    static func findIndex(in directory: String) throws(CheckpointError) -> String? {
        let names = DirectoryListing.names(in: directory).filter { $0.hasSuffix(".index.json") }.sorted()
        if names.isEmpty { return nil }
        if names.count == 1 { return directory + "/" + names[0] }
        for preferred in ["model.safetensors.index.json", "pytorch_model.bin.index.json"] where names.contains(preferred) {
            return directory + "/" + preferred
        }
        throw .cannotOpen(path: directory, reason: "several indexes (\(names.joined(separator: ", "))): open one of them")
    }

    /// Whether a directory holds a `*.index.json`.
    static func isShardedSet(directory: String) -> Bool {
        DirectoryListing.names(in: directory).contains { $0.hasSuffix(".index.json") }
    }

    /// The shards opened so far (each when a tensor in it was first asked for), sorted.
    public var openShards: [String] { opened.withLock { $0.keys.sorted() } }

    /// The tensor the index maps `name` to, from its shard (opened if it was not).
    public func tensor(_ name: String) throws(CheckpointError) -> Tensor {
        guard let shard = shardOf[name] else {
            throw .damagedSet(path: indexPath, file: nil, key: name, reason: "the index's weight_map has no such tensor")
        }
        let opened = try open(shard)
        guard let tensor = opened.byName[name] else {
            throw .damagedSet(path: indexPath, file: shard, key: name, reason: "the index maps the tensor to this shard, which lacks it")
        }
        return tensor
    }

    /// Opens a shard (once) and checks it holds exactly what the index maps to it.
    func open(_ shard: String) throws(CheckpointError) -> Shard {
        if let done = opened.withLock({ $0[shard] }) { return done }
        let path = directory + "/" + shard
        guard FileKind.isInside(path, directory: directory) else {
            throw .damagedSet(path: indexPath, file: shard, key: nil,
                              reason: "the shard resolves (through a symbolic link) to a place outside the set's directory")
        }
        // Only a regular file is a shard (never a directory or another index).
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch {
            throw .damagedSet(path: indexPath, file: shard, key: nil, reason: "cannot open the shard: \(error.message)")
        }
        file.closeDescriptor()
        let shardValue: Shard
        switch shardFormat {
        case .safetensors:
            do {
                shardValue = Shard(tensors: try SafetensorsFile(file: file).tensors, checkpoint: nil)
            } catch {
                throw .damagedSet(path: indexPath, file: shard, key: nil, reason: "\(error)")
            }
        case .torchSave:
            let checkpoint: Checkpoint
            do { checkpoint = try Checkpoint(file: file, options: options) } catch {
                throw .damagedSet(path: indexPath, file: shard, key: nil, reason: "\(error)")
            }
            guard let dict = checkpoint.root.dict else {
                throw .damagedSet(path: indexPath, file: shard, key: nil, reason: "the shard holds \(checkpoint.root.typeName), not a state dict")
            }
            var tensors: [(name: String, tensor: Tensor)] = []
            for (key, value) in dict.items {
                guard let name = key.string, let tensor = value.tensor else {
                    throw .damagedSet(path: indexPath, file: shard, key: key.string, reason: "the shard holds \(value.typeName) under \(key.pythonRepr), not a tensor under a str")
                }
                tensors.append((name, tensor))
            }
            shardValue = Shard(tensors: tensors, checkpoint: checkpoint)
        }
        let names = namesByShard[shard] ?? []
        let expected = Set(names)
        if let missing = names.first(where: { shardValue.byName[$0] == nil }) {
            throw .damagedSet(path: indexPath, file: shard, key: missing, reason: "the index maps the tensor to this shard, which lacks it")
        }
        if let extra = shardValue.tensors.first(where: { !expected.contains($0.name) }) {
            throw .damagedSet(path: indexPath, file: shard, key: extra.name, reason: "the shard holds a tensor the index does not map to it")
        }
        return opened.withLock { cache in
            if let existing = cache[shard] { return existing }
            cache[shard] = shardValue
            return shardValue
        }
    }

    /// The merged state dict: every shard's tensors, shards in name order
    /// and each in its own order, as `transformers` loads them one shard after another.
    public func stateDict() throws(CheckpointError) -> Value {
        let dict = PyDict(kind: .orderedDict)
        for shard in shards {
            for (name, tensor) in try open(shard).tensors {
                do { try dict.set(.tensor(tensor), for: .string(name)) } catch {
                    throw .damagedSet(path: indexPath, file: shard, key: name, reason: "\(error)")
                }
            }
        }
        return .dict(dict)
    }
}

/// File names in a directory.
enum DirectoryListing {
    static func names(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var out: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }
}

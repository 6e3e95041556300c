import TorchPickle

/// The `.metadata` of a PyTorch distributed checkpoint (`torch.distributed.checkpoint`,
/// DCP), decoded: what each flattened key holds and where its bytes are.
///
/// `dcp.save` flattens the state dict to dotted keys (`model.fc.weight`,
/// `optim.state.0.exp_avg`). Each key is a tensor, split into chunks (one per
/// rank that held a shard of it, or one), or a Python object saved as bytes.
/// ``items`` keeps them in the file's order, with the path that rebuilds the
/// nesting (`planner_data`); the storage table says in which `.distcp` file,
/// at which offset and length, each chunk or object lies.
public struct DistributedCheckpointMetadata: Sendable {
    /// One part of a tensor: the box at `offsets` of extent `sizes` (as `ChunkStorageMetadata`).
    public struct Chunk: Sendable, Hashable, CustomStringConvertible {
        /// Where the chunk starts, per dimension.
        public let offsets: [Int]
        /// The chunk's extent, per dimension.
        public let sizes: [Int]

        /// The number of elements (0 when any size is 0; otherwise saturating at `Int.max`).
        public var elementCount: Int { DistributedCheckpointMetadata.product(sizes) ?? .max }

        public var description: String { "chunk at offsets \(offsets) of sizes \(sizes)" }
    }

    /// A tensor's description (`TensorStorageMetadata` with its `TensorProperties`).
    public struct TensorItem: Sendable {
        /// The element type.
        public let dtype: DType
        /// The whole tensor's shape.
        public let shape: [Int]
        /// Whether the saved tensor required grad (`dcp_to_torch_save` does not keep it).
        public let requiresGrad: Bool
        /// The strides the saved tensor had (torch 2.9 and later record them), if recorded.
        public let strides: [Int]?
        /// The chunks, in the file's order; together they cover the tensor exactly once.
        public let chunks: [Chunk]
        /// The number of elements (checked: their bytes fit in memory's address range).
        public let elementCount: Int
        /// The number of bytes, contiguous.
        public var byteCount: Int { dtype.byteCount(forElements: elementCount) }
    }

    /// What a key holds.
    public enum Kind: Sendable {
        /// A tensor.
        case tensor(TensorItem)
        /// A Python object, `torch.save`d on its own (`BytesStorageMetadata`).
        case object
    }

    /// One flattened key.
    public struct Item: Sendable {
        /// The flattened key (`model.fc.weight`).
        public let key: String
        /// The path that rebuilds the nesting (`["model", "fc.weight"]`), from `planner_data`;
        /// the key alone when there is none.
        public let path: [PathKey]
        /// Identity tokens of the path's strings, for writing the rebuilt dict as `torch.save` does.
        let pathTokens: [Int32?]
        /// A tensor or an object.
        public let kind: Kind
    }

    /// Where a chunk's or an object's bytes are (`_StorageInfo`).
    public struct Location: Sendable, Hashable {
        /// The file, relative to the checkpoint's directory (`__0_0.distcp`).
        public let relativePath: String
        /// The first byte, in that file.
        public let offset: Int
        /// The number of bytes.
        public let length: Int
        /// The stream transforms applied on saving, in order (`stream.zstd/1`); empty when none.
        public let transforms: [String]
    }

    /// The keys, in the order of the file's `state_dict_metadata`.
    public let items: [Item]
    /// The metadata's `version` (`1.0.0`), when it has one.
    public let version: String?
    /// The protocol `.metadata` was pickled with.
    public let pickleProtocol: Int
    /// Where each tensor chunk is: by key, then by the chunk's offsets.
    let chunkLocations: [String: [[Int]: Location]]
    /// Where each object is, by key.
    let objectLocations: [String: Location]
    /// Each key's position in ``items``.
    private let itemIndex: [String: Int]

    /// The transforms this library undoes when reading (name, and major version), as torch's
    /// `ExtensionRegistry` recognises them: `stream.zstd/1`, or `stream.zstd/1.x`.
    static func isKnownTransform(_ descriptor: String) -> Bool {
        let (name, version) = descriptor.firstIndex(of: "/").map { (descriptor[..<$0], descriptor[descriptor.index(after: $0)...]) }
            ?? (Substring(descriptor), Substring(""))
        return name == "stream.zstd" && version.split(separator: ".", omittingEmptySubsequences: false).first == "1"
    }

    /// The product of sizes, nil when it overflows (0 as soon as a size is 0).
    static func product(_ sizes: [Int]) -> Int? {
        if sizes.contains(0) { return 0 }
        var count = 1
        for n in sizes {
            let (p, overflow) = count.multipliedReportingOverflow(by: n)
            if overflow { return nil }
            count = p
        }
        return count
    }

    /// The item under a flattened key.
    public func item(_ key: String) -> Item? { itemIndex[key].map { items[$0] } }

    /// Where the bytes of a tensor's chunk are, if the storage table has them.
    public func location(of chunk: Chunk, in key: String) -> Location? { chunkLocations[key]?[chunk.offsets] }

    /// Where the bytes of an object item are, if the storage table has them.
    public func location(ofObject key: String) -> Location? { objectLocations[key] }

    /// Every file the storage table names, in order of first mention.
    public var files: [String] {
        var seen = Set<String>()
        var out: [String] = []
        for item in items {
            switch item.kind {
            case .tensor(let t):
                for c in t.chunks { if let l = location(of: c, in: item.key), seen.insert(l.relativePath).inserted { out.append(l.relativePath) } }
            case .object:
                if let l = objectLocations[item.key], seen.insert(l.relativePath).inserted { out.append(l.relativePath) }
            }
        }
        return out
    }
}

extension DistributedCheckpointMetadata {
    /// Decodes the unpickled `Metadata` object, checking everything the reader relies on:
    /// each tensor's chunks lie inside it, do not overlap and cover it; each chunk and object
    /// has a storage entry whose path stays inside the directory and whose transforms are known.
    init(_ root: Value, pickleProtocol: Int, path: String) throws(CheckpointError) {
        func fail(_ key: String?, _ reason: String) -> CheckpointError {
            .damagedSet(path: path, file: ".metadata", key: key, reason: reason)
        }
        guard case .object(let metadata) = root, Self.className(metadata.callable) == "Metadata" else {
            throw fail(nil, "holds \(Self.describe(root)), not torch.distributed.checkpoint.metadata.Metadata")
        }
        guard let stateDictMetadata = metadata.attribute("state_dict_metadata")?.dict else {
            throw fail(nil, "Metadata has no state_dict_metadata dict")
        }
        let plannerData = metadata.attribute("planner_data")?.dict
        self.version = metadata.attribute("version")?.string
        self.pickleProtocol = pickleProtocol

        // The storage table: MetadataIndex(fqn, offset, index) -> _StorageInfo(relative_path, offset, length[, transform_descriptors]).
        var chunkLocations: [String: [[Int]: Location]] = [:]
        var objectLocations: [String: Location] = [:]
        if let storage = metadata.attribute("storage_data") {
            guard let table = storage.dict else { throw fail(nil, "storage_data is \(Self.describe(storage)), not a dict") }
            for (indexValue, infoValue) in table.items {
                guard case .object(let index) = indexValue, let fqn = index.attribute("fqn")?.string else {
                    throw fail(nil, "a storage_data key is \(Self.describe(indexValue)), not a MetadataIndex")
                }
                guard case .object(let info) = infoValue,
                      let relativePath = info.attribute("relative_path")?.string,
                      let offset = info.attribute("offset")?.int, let length = info.attribute("length")?.int else {
                    throw fail(fqn, "its storage entry is \(Self.describe(infoValue)), not a _StorageInfo(relative_path, offset, length)")
                }
                guard offset >= 0, length >= 0, offset <= Int.max - length else {
                    throw fail(fqn, "its storage entry has offset \(offset) and length \(length)")
                }
                try Self.checkRelativePath(relativePath) { reason throws(CheckpointError) in throw fail(fqn, reason) }
                var transforms: [String] = []
                if let descriptors = info.attribute("transform_descriptors"), descriptors != .None {
                    guard let list = descriptors.items, let names = Optional(list.compactMap(\.string)), names.count == list.count else {
                        throw fail(fqn, "its transform_descriptors are \(Self.describe(descriptors)), not a list of str")
                    }
                    for name in names where !Self.isKnownTransform(name) {
                        throw fail(fqn, "its bytes went through the transform '\(name)', which this library does not know (it reads stream.zstd/1)")
                    }
                    transforms = names
                }
                let location = Location(relativePath: relativePath, offset: offset, length: length, transforms: transforms)
                if let offsetValue = index.attribute("offset"), offsetValue != .None {
                    guard let offsets = Self.integers(offsetValue) else {
                        throw fail(fqn, "its MetadataIndex offset is \(Self.describe(offsetValue))")
                    }
                    chunkLocations[fqn, default: [:]][offsets] = location
                } else {
                    objectLocations[fqn] = location
                }
            }
        }
        self.chunkLocations = chunkLocations
        self.objectLocations = objectLocations

        var items: [Item] = []
        items.reserveCapacity(stateDictMetadata.count)
        for (keyValue, entry) in stateDictMetadata.items {
            guard let key = keyValue.string else { throw fail(nil, "a state_dict_metadata key is \(Self.describe(keyValue)), not a str") }
            var path: [PathKey] = [.key(key)]
            var tokens: [Int32?] = [nil]
            if let plannerData, let planned = plannerData[key] {
                guard case .tuple(let tuple) = planned, !tuple.items.isEmpty else {
                    throw fail(key, "its planner_data is \(Self.describe(planned)), not a tuple of str and int")
                }
                path = []
                tokens = []
                for (i, element) in tuple.items.enumerated() {
                    switch element {
                    case .string(let s): path.append(.key(s))
                    // A list index: lists are rebuilt dense, so no index reaches past the number of keys.
                    case .int(let n) where n >= 0 && n < stateDictMetadata.count: path.append(.index(n))
                    default: throw fail(key, "its planner_data holds \(Self.describe(element)), not a str or a list index")
                    }
                    tokens.append(tuple.itemToken(at: i))
                }
            }
            guard case .object(let storage) = entry else { throw fail(key, "its metadata is \(Self.describe(entry))") }
            switch Self.className(storage.callable) {
            case "BytesStorageMetadata":
                guard objectLocations[key] != nil else { throw fail(key, "the object has no entry in storage_data") }
                items.append(Item(key: key, path: path, pathTokens: tokens, kind: .object))
            case "TensorStorageMetadata":
                let tensor = try Self.tensorItem(storage, key: key, fail: fail)
                for chunk in tensor.chunks where chunkLocations[key]?[chunk.offsets] == nil {
                    throw fail(key, "its \(chunk) has no entry in storage_data")
                }
                items.append(Item(key: key, path: path, pathTokens: tokens, kind: .tensor(tensor)))
            default:
                throw fail(key, "its metadata is a \(Self.className(storage.callable) ?? "?"), not TensorStorageMetadata or BytesStorageMetadata")
            }
        }
        self.items = items
        itemIndex = Dictionary(items.enumerated().map { ($0.element.key, $0.offset) }, uniquingKeysWith: { a, _ in a })
    }

    private static func tensorItem(_ storage: PyObject, key: String,
                                   fail: (String?, String) -> CheckpointError) throws(CheckpointError) -> TensorItem {
        guard let sizeValue = storage.attribute("size"), let shape = integers(sizeValue), shape.allSatisfy({ $0 >= 0 }) else {
            throw fail(key, "its size is \(describe(storage.attribute("size") ?? .None)), not a torch.Size")
        }
        guard case .object(let properties)? = storage.attribute("properties"),
              case .tuple(let state)? = properties.state, state.count == 5 || state.count == 6 else {
            throw fail(key, "its TensorProperties are not the (dtype, layout, requires_grad, memory_format, pin_memory[, strides]) that torch pickles")
        }
        guard case .dtype(let dtype) = state.items[0] else { throw fail(key, "its dtype is \(describe(state.items[0]))") }
        if case .global(let layout) = state.items[1], layout.name != "strided" {
            throw fail(key, "its layout is torch.\(layout.name); distributed checkpoints hold strided tensors")
        }
        let requiresGrad = state.items[2] == .bool(true)
        var strides: [Int]?
        if state.count == 6, state.items[5] != .None { strides = integers(state.items[5]) }
        guard let chunkList = storage.attribute("chunks")?.items else { throw fail(key, "it has no list of chunks") }
        var chunks: [Chunk] = []
        chunks.reserveCapacity(chunkList.count)
        for value in chunkList {
            guard case .object(let c) = value, let offsets = c.attribute("offsets").flatMap(integers),
                  let sizes = c.attribute("sizes").flatMap(integers) else {
                throw fail(key, "a chunk is \(describe(value)), not a ChunkStorageMetadata(offsets, sizes)")
            }
            let chunk = Chunk(offsets: offsets, sizes: sizes)
            guard offsets.count == shape.count, sizes.count == shape.count else {
                throw fail(key, "its \(chunk) has not the \(shape.count) dimensions of shape \(shape)")
            }
            for d in shape.indices where offsets[d] < 0 || sizes[d] < 0 || offsets[d] > shape[d] || sizes[d] > shape[d] - offsets[d] {
                throw fail(key, "its \(chunk) lies outside the tensor's shape \(shape)")
            }
            chunks.append(chunk)
        }
        // The tensor's size must be addressable, zero dimensions or not.
        guard let nonZero = product(shape.filter { $0 != 0 }), nonZero <= Int.max / max(dtype.itemSize, 1) else {
            throw fail(key, "its shape \(shape) has more \(dtype.name) elements than this machine can address")
        }
        let elementCount = shape.contains(0) ? 0 : nonZero
        // The chunks must cover the tensor once: no two overlap, and their elements add up. Chunks
        // are swept in order of their start in the first dimension, each compared only with those
        // still open there (a grid of shards compares each with its neighbours, not all).
        var covered = 0
        let sorted = chunks.indices.filter { chunks[$0].elementCount > 0 }
            .sorted { (chunks[$0].offsets.first ?? 0, $0) < (chunks[$1].offsets.first ?? 0, $1) }
        var open: [Int] = []
        for i in sorted {
            let a = chunks[i]
            covered = covered &+ a.elementCount
            let start = a.offsets.first ?? 0
            open.removeAll { j in (chunks[j].offsets.first ?? 0) + (chunks[j].sizes.first ?? 1) <= start && !shape.isEmpty }
            for j in open {
                let b = chunks[j]
                var overlaps = true
                for d in a.offsets.indices {
                    let aStart = a.offsets[d], aEnd = a.offsets[d] + a.sizes[d]
                    let bStart = b.offsets[d], bEnd = b.offsets[d] + b.sizes[d]
                    if !(aStart < bEnd && bStart < aEnd) { overlaps = false; break }
                }
                if overlaps { throw fail(key, "its \(b) and \(a) overlap") }
            }
            open.append(i)
        }
        guard covered == elementCount else {
            throw fail(key, "its chunks cover \(covered) of the \(elementCount) elements of shape \(shape)")
        }
        return TensorItem(dtype: dtype, shape: shape, requiresGrad: requiresGrad, strides: strides, chunks: chunks,
                          elementCount: elementCount)
    }

    /// A `relative_path` must name a file in the checkpoint's directory or below it.
    static func checkRelativePath(_ path: String, fail: (String) throws(CheckpointError) -> Never) throws(CheckpointError) {
        if path.isEmpty { try fail("its relative_path is empty") }
        if path.hasPrefix("/") { try fail("its relative_path '\(path)' is absolute") }
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        if components.contains(where: { $0 == ".." }) {
            try fail("its relative_path '\(path)' leaves the checkpoint's directory")
        }
        if let last = components.last, last == "." || last.isEmpty {
            try fail("its relative_path '\(path)' names a directory, not a file")
        }
        if path.utf8.contains(0) { try fail("its relative_path contains a NUL byte") }
    }

    /// `torch.Size`, a tuple or a list of ints.
    static func integers(_ value: Value) -> [Int]? {
        guard let items = value.items else { return nil }
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let n = item.int else { return nil }
            out.append(n)
        }
        return out
    }

    static func className(_ callable: Value) -> String? {
        if case .global(let g) = callable { g.name } else { nil }
    }

    static func describe(_ value: Value) -> String {
        let text = value.pythonRepr
        return text.count > 80 ? String(text.prefix(77)) + "…" : text
    }
}

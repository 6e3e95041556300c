import Synchronization
import TorchPickle
import TorchZip

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A PyTorch distributed checkpoint (`torch.distributed.checkpoint`, DCP): a
/// directory with a `.metadata` file and the `.distcp` files the ranks wrote.
///
/// ```swift
/// let dcp = try DistributedCheckpoint(directory: "checkpoints/step-1000")
/// let weight = try dcp.tensor("model.layers.0.attention.wq.weight")   // assembled from its shards
/// let step = try dcp.object("train.step")
/// ```
///
/// Opening reads `.metadata` only. A tensor is assembled from its chunks —
/// across ranks and files, decompressing zstd streams — when its bytes are
/// read, and not kept: reading a whole checkpoint needs memory for one tensor
/// at a time. ``Checkpoint/init(path:options:)`` opens such a directory as
/// the state dict `dcp_to_torch_save` builds, so that listing, verifying,
/// diffing and converting work on it as on one file.
public final class DistributedCheckpoint: Sendable {
    /// The checkpoint's directory.
    public let directory: String
    /// The decoded `.metadata`.
    public let metadata: DistributedCheckpointMetadata
    /// Every call the `.metadata` pickle makes (it names the metadata's dataclasses; nothing is executed).
    public let calls: [PickleCall]
    /// Every global the `.metadata` pickle names.
    public let globals: [String]
    let options: LoadOptions
    private let files = Mutex<[String: MappedFile]>([:])

    /// Opens the distributed checkpoint in `directory`, reading its `.metadata`.
    ///
    /// - Throws: ``CheckpointError/cannotOpen(path:reason:)`` when there is no
    ///   `.metadata`, ``CheckpointError/pickle(path:record:_:)`` when it is not a
    ///   valid pickle, ``CheckpointError/damagedSet(path:file:key:reason:)``
    ///   when it describes chunks that overlap or leave part of a tensor
    ///   uncovered, a file outside the directory or an unknown stream transform.
    public init(directory: String, options: LoadOptions = .init()) throws(CheckpointError) {
        let trimmed = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        self.directory = trimmed
        self.options = options
        let metadataPath = trimmed + "/.metadata"
        let file: MappedFile
        do { file = try MappedFile(path: metadataPath) } catch {
            throw .cannotOpen(path: trimmed, reason: "no distributed checkpoint here: \(error.message)")
        }
        let decoded: Unpickler.Decoded
        do {
            decoded = try Unpickler(options: options.unpickler).decode(file.bytes)
        } catch {
            throw .pickle(path: trimmed, record: ".metadata", error)
        }
        metadata = try DistributedCheckpointMetadata(decoded.value, pickleProtocol: decoded.protocolVersion, path: trimmed)
        calls = decoded.calls
        globals = decoded.globals
    }

    /// Whether `directory` holds a `.metadata` file (a distributed checkpoint, or the start of one).
    public static func isDistributedCheckpoint(directory: String) -> Bool {
        var info = stat()
        return stat(directory + "/.metadata", &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    // MARK: Items

    /// The tensor under a flattened key, its bytes assembled from its chunks
    /// when read. Its storage is its own, contiguous and little-endian, as
    /// `dcp_to_torch_save` makes it (`torch.empty(size, dtype)` filled from the chunks).
    public func tensor(_ key: String) throws(CheckpointError) -> Tensor {
        guard let item = metadata.item(key) else {
            throw .damagedSet(path: directory, file: nil, key: key, reason: "the checkpoint has no such key")
        }
        guard case .tensor(let t) = item.kind else {
            throw .damagedSet(path: directory, file: nil, key: key, reason: "the key holds an object, not a tensor (use object(_:))")
        }
        return tensor(key: key, t, storageKey: "0")
    }

    /// The object saved under a flattened key (a number, a string, a list, …),
    /// as `torch.load` of its bytes gives it.
    public func object(_ key: String) throws(CheckpointError) -> Value {
        guard let location = metadata.location(ofObject: key) else {
            throw .damagedSet(path: directory, file: nil, key: key, reason: "the checkpoint has no object under this key")
        }
        return try loadObject(key: key, at: location).root
    }

    func tensor(key: String, _ item: DistributedCheckpointMetadata.TensorItem, storageKey: String) -> Tensor {
        let dtype = item.dtype
        let elementCount = item.elementCount
        let typed = dtype.storageClassName != nil
        let byteCount = item.byteCount
        let storage = Storage(
            key: storageKey, dtype: typed ? dtype : .uint8, isUntyped: !typed, location: "cpu",
            elementCount: typed ? elementCount : byteCount, byteOrder: .little,
            loader: { [self] () throws(CheckpointError) -> RawBytes in try assemble(key: key, item) })
        return Tensor(dtype: dtype, shape: item.shape, stride: Tensor.contiguousStrides(item.shape), storage: storage)
    }

    // MARK: Reading bytes

    /// The bytes of one chunk or object: a slice of its file, in place, or its decompressed stream.
    func stream(_ location: DistributedCheckpointMetadata.Location, key: String,
                expectedBytes: Int? = nil) throws(CheckpointError) -> MappedFile {
        let file = try mapped(location.relativePath, key: key)
        let end = location.offset + location.length
        guard end <= file.count else {
            throw .damagedSet(path: directory, file: location.relativePath, key: key, reason: """
                the file has \(file.count) bytes, but the key's bytes are at \(location.offset)..<\(end) (the file is truncated)
                """)
        }
        var bytes: MappedFile
        do {
            bytes = try MappedFile(slice: location.offset..<end, of: file,
                                   path: "\(directory)/\(location.relativePath)[\(location.offset)..<\(end)]")
        } catch {
            throw .damagedSet(path: directory, file: location.relativePath, key: key, reason: error.message)
        }
        // In the list's order: torch records them in the order that undoes them.
        for transform in location.transforms {
            switch transform {
            case _ where DistributedCheckpointMetadata.isKnownTransform(transform):
                do {
                    let limit = expectedBytes.map { $0 + (1 << 20) } ?? options.maxDecompressedObjectBytes
                    bytes = try Zstd.decompress(bytes.bytes, limit: limit, path: bytes.path)
                } catch {
                    throw .damagedSet(path: directory, file: location.relativePath, key: key, reason: error.message)
                }
            default:
                throw .damagedSet(path: directory, file: location.relativePath, key: key, reason: "unknown transform '\(transform)'")
            }
        }
        return bytes
    }

    /// The `torch.save` archive at a location, opened.
    func loadArchive(key: String, at location: DistributedCheckpointMetadata.Location,
                     expectedBytes: Int? = nil) throws(CheckpointError) -> Checkpoint {
        let bytes = try stream(location, key: key, expectedBytes: expectedBytes)
        do {
            return try Checkpoint(file: bytes, options: options)
        } catch {
            throw .damagedSet(path: directory, file: location.relativePath, key: key,
                              reason: "the bytes at \(location.offset)..<\(location.offset + location.length) are no torch.save archive: \(error)")
        }
    }

    func loadObject(key: String, at location: DistributedCheckpointMetadata.Location) throws(CheckpointError) -> Checkpoint {
        try loadArchive(key: key, at: location)
    }

    private func mapped(_ relativePath: String, key: String) throws(CheckpointError) -> MappedFile {
        if let file = files.withLock({ $0[relativePath] }) { return file }
        let path = directory + "/" + relativePath
        guard FileKind.isInside(path, directory: directory) else {
            throw .damagedSet(path: directory, file: relativePath, key: key,
                              reason: "the file resolves (through a symbolic link) to a place outside the checkpoint's directory")
        }
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw .damagedSet(path: directory, file: relativePath, key: key, reason: "cannot open the file: \(error.message)")
        }
        file.closeDescriptor()
        return files.withLock { cache in
            if let existing = cache[relativePath] { return existing }
            cache[relativePath] = file
            return file
        }
    }

    /// One chunk's tensor, checked against what the metadata says of it.
    func chunkTensor(key: String, _ chunk: DistributedCheckpointMetadata.Chunk,
                             dtype: DType) throws(CheckpointError) -> (tensor: Tensor, file: MappedFile?) {
        guard let location = metadata.location(of: chunk, in: key) else {
            throw .damagedSet(path: directory, file: nil, key: key, reason: "its \(chunk) has no storage entry")
        }
        let archive = try loadArchive(key: key, at: location, expectedBytes: dtype.byteCount(forElements: chunk.elementCount))
        guard case .tensor(let tensor) = archive.root else {
            throw .damagedSet(path: directory, file: location.relativePath, key: key,
                              reason: "the bytes of its \(chunk) hold \(DistributedCheckpointMetadata.describe(archive.root)), not a tensor")
        }
        guard tensor.dtype == dtype, tensor.shape == chunk.sizes, tensor.layout == .strided,
              tensor.quantization == nil, tensor.storage != nil else {
            throw .damagedSet(path: directory, file: location.relativePath, key: key, reason: """
                its \(chunk) holds a \(tensor.dtype.name) tensor of shape \(tensor.shape), not \(dtype.name) of shape \(chunk.sizes)
                """)
        }
        return (tensor, archive.archive?.file)
    }

    /// The tensor's bytes, contiguous and little-endian: the one chunk's own
    /// storage, in place, when it is the whole tensor laid out so; otherwise
    /// every chunk copied to its place.
    func assemble(key: String, _ item: DistributedCheckpointMetadata.TensorItem) throws(CheckpointError) -> RawBytes {
        let dtype = item.dtype
        let byteCount = item.byteCount
        if item.chunks.count == 1 {
            let (tensor, file) = try chunkTensor(key: key, item.chunks[0], dtype: dtype)
            if tensor.isContiguous, tensor.storageOffset == 0, !tensor.isConjugated, !tensor.isNegated,
               let storage = tensor.storage, storage.byteOrder == .little, storage.byteCount >= byteCount {
                do {
                    // In place; once the caller lets the bytes go, their pages are given back.
                    let bytes = try storage.bytes().slice(0..<byteCount)
                    let owner = PagesReleasedAfterUse(bytes, file: file)
                    return RawBytes(baseAddress: bytes.baseAddress, count: byteCount, owner: owner)
                } catch {
                    throw .damagedSet(path: directory, file: nil, key: key, reason: "cannot read its chunk: \(error)")
                }
            }
        }
        guard dtype.elementsPerByte == 1 || item.chunks.count == 1 else {
            throw .damagedSet(path: directory, file: nil, key: key,
                              reason: "a \(dtype.name) tensor in \(item.chunks.count) chunks: elements smaller than a byte cannot be assembled")
        }
        // Every chunk stored as is is checked before memory is taken for the whole (a
        // compressed one is checked as it is decompressed, one at a time).
        // Those opened then are kept for the copy (mapped slices: no memory but the archive's index).
        var checked: [Int: (tensor: Tensor, file: MappedFile?)] = [:]
        for (i, chunk) in item.chunks.enumerated()
        where chunk.elementCount > 0 && metadata.location(of: chunk, in: key)?.transforms.isEmpty == true {
            checked[i] = try chunkTensor(key: key, chunk, dtype: dtype)
        }
        guard let buffer = OwnedBytes(count: byteCount) else {
            throw .damagedSet(path: directory, file: nil, key: key, reason: "cannot allocate the tensor's \(byteCount) bytes")
        }
        for (i, chunk) in item.chunks.enumerated() where chunk.elementCount > 0 {
            let opened: (tensor: Tensor, file: MappedFile?)
            if let earlier = checked.removeValue(forKey: i) { opened = earlier } else { opened = try chunkTensor(key: key, chunk, dtype: dtype) }
            let (tensor, file) = opened
            var placer = ChunkPlacer(shape: item.shape, chunk: chunk, itemSize: dtype.itemSize, destination: buffer.pointer)
            do {
                try tensor.forEachContiguousChunk(byteOrder: .little, expandedViewLimit: Tensor.defaultExpandedViewLimit) { placer.place($0) }
                // The chunk's pages of the mapped file are not needed again.
                file?.releasePages()
            } catch {
                throw .damagedSet(path: directory, file: metadata.location(of: chunk, in: key)?.relativePath, key: key,
                                  reason: "cannot read its \(chunk): \(error)")
            }
        }
        return RawBytes(baseAddress: buffer.pointer, count: byteCount, owner: buffer)
    }
}

/// Keeps bytes read in place alive, and gives their file pages back when they go.
final class PagesReleasedAfterUse: @unchecked Sendable {
    let bytes: RawBytes
    let file: MappedFile?
    init(_ bytes: RawBytes, file: MappedFile?) {
        self.bytes = bytes
        self.file = file
    }
    deinit { file?.releasePages() }
}

/// Bytes this library allocated, freed with their last reference.
final class OwnedBytes: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    /// Nil when the memory cannot be had (`malloc` fails, or more than the
    /// machine's memory is asked for), rather than stopping the process.
    init?(count: Int) {
        guard count <= Self.physicalMemory, let p = malloc(max(count, 1)) else { return nil }
        pointer = p
    }
    /// Zeroed bytes (`calloc`), or nil when the memory cannot be had.
    init?(zeroed count: Int) {
        guard count <= Self.physicalMemory, let p = calloc(max(count, 1), 1) else { return nil }
        pointer = p
    }
    deinit { free(pointer) }

    /// The machine's memory: a hostile file's petabyte tensor is refused
    /// before it is asked of the allocator (which a sanitizer or a fuzzer's
    /// memory limit would stop the process for, where malloc returns nil).
    static let physicalMemory: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return Int.max }
        return pages.multipliedReportingOverflow(by: size).overflow ? Int.max : pages * size
    }()
}

/// Copies a chunk's elements, arriving in row-major order, to their places in
/// the whole tensor: runs of the chunk's innermost extent, joined with every
/// trailing dimension the chunk spans whole.
struct ChunkPlacer {
    private let destination: UnsafeMutableRawPointer
    private let itemSize: Int
    private let runBytes: Int
    /// The chunk's index in the dimensions outside a run, counting through them.
    private var index: [Int]
    private let outerSizes: [Int]
    private let outerOffsets: [Int]
    private let outerStrides: [Int]
    /// Byte offset of the run's start within the dimensions a run spans.
    private let innerOffset: Int
    private var runStart: Int
    private var inRun = 0

    init(shape: [Int], chunk: DistributedCheckpointMetadata.Chunk, itemSize: Int, destination: UnsafeMutableRawPointer) {
        self.destination = destination
        self.itemSize = itemSize
        let strides = Tensor.contiguousStrides(shape)
        // Dimensions from `split` on are covered whole; the one before them is covered in part,
        // but its extent is contiguous too, so it joins the run.
        var split = shape.count
        while split > 0, chunk.sizes[split - 1] == shape[split - 1] { split -= 1 }
        let k = max(split - 1, 0)
        runBytes = chunk.sizes[k...].reduce(1, *) * itemSize
        outerSizes = Array(chunk.sizes[..<k])
        outerOffsets = Array(chunk.offsets[..<k])
        outerStrides = Array(strides[..<k])
        innerOffset = zip(chunk.offsets[k...], strides[k...]).reduce(0) { $0 + $1.0 * $1.1 } * itemSize
        index = Array(repeating: 0, count: k)
        runStart = 0
        runStart = start()
    }

    private func start() -> Int {
        var offset = 0
        for i in index.indices { offset += (outerOffsets[i] + index[i]) * outerStrides[i] }
        return innerOffset + offset * itemSize
    }

    /// Places the next bytes of the chunk.
    mutating func place(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress else { return }
        var consumed = 0
        while consumed < bytes.count, runBytes > 0 {
            let n = min(runBytes - inRun, bytes.count - consumed)
            (destination + runStart + inRun).copyMemory(from: source + consumed, byteCount: n)
            consumed += n
            inRun += n
            if inRun == runBytes { advance() }
        }
    }

    private mutating func advance() {
        inRun = 0
        var d = index.count - 1
        while d >= 0 {
            index[d] += 1
            if index[d] < outerSizes[d] { break }
            index[d] = 0
            d -= 1
        }
        runStart = start()
    }
}

extension DistributedCheckpoint {
    /// What ``Checkpoint/init(distributed:)`` keeps of the rebuilt state dict.
    struct Built {
        var root: Value
        var storages: [Storage]
        var calls: [PickleCall]
        var globals: [String]
    }

    /// The state dict `dcp_to_torch_save` builds: a plain dict nested along
    /// each key's `planner_data` path (a string makes a dict, an int a list
    /// padded with `None`), in `.metadata`'s order; each tensor contiguous
    /// on its own storage, assembled when read; each object loaded.
    public func stateDict() throws(CheckpointError) -> Value { try buildStateDict().root }

    func buildStateDict() throws(CheckpointError) -> Built {
        let root = PyDict()
        var built = Built(root: .dict(root), storages: [], calls: calls, globals: globals)
        var seenGlobals = Set(globals)
        // Each object's tokens move above the metadata's and every earlier object's.
        var tokenBase: Int32 = metadata.items.lazy.flatMap { $0.pathTokens.compactMap { $0 } }.max().map { $0 &+ 1 } ?? 0
        for item in metadata.items {
            let value: Value
            switch item.kind {
            case .tensor(let t):
                let tensor = tensor(key: item.key, t, storageKey: String(built.storages.count))
                if let storage = tensor.storage { built.storages.append(storage) }
                value = .tensor(tensor)
            case .object:
                guard let location = metadata.location(ofObject: item.key) else {
                    throw .damagedSet(path: directory, file: nil, key: item.key, reason: "the object has no storage entry")
                }
                let loaded = try loadObject(key: item.key, at: location)
                if let greatest = loaded.root.rebaseTokens(by: tokenBase) { tokenBase = greatest &+ 1 }
                built.storages += loaded.storages
                built.calls += loaded.calls
                for g in loaded.globals where seenGlobals.insert(g).inserted { built.globals.append(g) }
                value = loaded.root
            }
            try place(value, at: item, in: root)
        }
        return built
    }

    /// `torch.distributed.checkpoint._traverse.set_element`.
    private func place(_ value: Value, at item: DistributedCheckpointMetadata.Item, in root: PyDict) throws(CheckpointError) {
        func fail(_ reason: String) -> CheckpointError {
            .damagedSet(path: directory, file: ".metadata", key: item.key, reason: "its planner_data path \(item.path): \(reason)")
        }
        var container = Value.dict(root)
        let path = item.path
        func keyValue(_ step: PathKey) -> Value {
            switch step {
            case .key(let s): .string(s)
            case .index(let i): .int(i)
            }
        }
        func fresh(for step: PathKey) -> Value {
            if case .key = step { .dict(PyDict()) } else { .list(PyList()) }
        }
        func pad(_ list: PyList, to index: Int) {
            while list.items.count <= index { list.items.append(.None) }
        }
        for i in 1..<max(path.count, 1) where path.count > 1 {
            let previous = path[i - 1]
            switch container {
            case .dict(let d):
                let key = keyValue(previous)
                if let existing = d[key] {
                    container = existing
                } else {
                    let made = fresh(for: path[i])
                    do { try d.set(made, for: key, keyToken: item.pathTokens[i - 1]) } catch { throw fail("\(error)") }
                    container = made
                }
            case .list(let l):
                guard case .index(let index) = previous else { throw fail("a string step into a list") }
                pad(l, to: index)
                if l.items[index] == .None { l.items[index] = fresh(for: path[i]) }
                container = l.items[index]
            default:
                throw fail("a step into \(DistributedCheckpointMetadata.describe(container)), which is no dict or list")
            }
        }
        guard let last = path.last else { throw fail("an empty path") }
        switch (container, last) {
        case (.dict(let d), _):
            do { try d.set(value, for: keyValue(last), keyToken: item.pathTokens.last ?? nil) } catch { throw fail("\(error)") }
        case (.list(let l), .index(let index)):
            pad(l, to: index)
            l.items[index] = value
        default:
            throw fail("it ends in \(DistributedCheckpointMetadata.describe(container)), which cannot hold the value")
        }
    }

    /// Checks every chunk and object: its file is there and long enough, its
    /// stream decompresses, and its `torch.save` archive's records match their CRC-32.
    public func verifyRecords() throws(CheckpointError) {
        for item in metadata.items {
            var locations: [(DistributedCheckpointMetadata.Location, Int?)] = []
            switch item.kind {
            case .tensor(let t):
                locations = t.chunks.compactMap { c in
                    metadata.location(of: c, in: item.key).map { ($0, t.dtype.byteCount(forElements: c.elementCount)) }
                }
            case .object: locations = metadata.location(ofObject: item.key).map { [($0, nil)] } ?? []
            }
            for (location, expected) in locations {
                let archive = try loadArchive(key: item.key, at: location, expectedBytes: expected)
                do { try archive.verifyRecords() } catch {
                    throw .damagedSet(path: directory, file: location.relativePath, key: item.key, reason: "\(error)")
                }
            }
        }
    }
}

/// What a path names on the file system.
enum FileKind {
    /// Whether `path`, every symbolic link resolved, lies inside `directory` (resolved too).
    /// A path that does not exist passes (opening it will fail on its own).
    static func isInside(_ path: String, directory: String) -> Bool {
        guard let resolvedDirectory = realpath(directory, nil) else { return true }
        defer { free(resolvedDirectory) }
        guard let resolved = realpath(path, nil) else { return true }
        defer { free(resolved) }
        let base = String(cString: resolvedDirectory)
        let target = String(cString: resolved)
        return target.hasPrefix(base == "/" ? "/" : base + "/")
    }

    /// Removes a directory and everything in it (symbolic links are removed, not followed).
    static func removeTree(_ path: String) {
        for name in DirectoryListing.names(in: path) {
            let child = path + "/" + name
            var info = stat()
            if lstat(child, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { removeTree(child) } else { unlink(child) }
        }
        rmdir(path)
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}

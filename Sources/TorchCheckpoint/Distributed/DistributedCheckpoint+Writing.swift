import TorchPickle
import TorchZip

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension DistributedCheckpoint {
    /// Choices for writing a distributed checkpoint.
    public struct WriteOptions: Sendable {
        /// Compress every item with zstd, as `FileSystemWriter(_extensions=[ZStandard()])` does
        /// (descriptor `stream.zstd/1`).
        public var compressed = false
        /// The `storage_meta.save_id` to record; nil draws a random UUID, as torch does.
        public var saveID: String?
        /// The path recorded as `storage_meta.checkpoint_id`; nil records the directory as given, as torch does.
        public var checkpointID: String?

        /// The defaults: uncompressed, a fresh save id.
        public init() {}
    }

    /// Writes a state dict as a distributed checkpoint in `directory`, as
    /// `torch.distributed.checkpoint.format_utils.torch_save_to_dcp` (one
    /// process, `FileSystemWriter` with its defaults) writes it: the state dict
    /// flattened as DCP flattens it (dict keys through `str`, lists that hold
    /// tensors or dicts walked by index, tuples and other lists kept whole),
    /// each tensor and each other value `torch.save`d into `__0_0.distcp`
    /// (objects first, then tensors), and the `.metadata` pickle that describes them.
    ///
    /// `__0_0.distcp` is byte for byte what torch writes. `.metadata` is not,
    /// since torch records a random `save_id` and the path as given; it loads
    /// in `dcp.load` and `dcp_to_torch_save` to the same objects.
    ///
    /// The checkpoint is written in a new directory beside `directory` and
    /// swapped in only when complete: on any error, an earlier checkpoint there
    /// is left as it was.
    public static func save(_ stateDict: Value, to directory: String, options: WriteOptions = .init()) throws(CheckpointError) {
        let plan = try Flattening(stateDict, path: directory)
        let trimmed = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let staging = trimmed + ".pth-staging-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(staging, 0o755) == 0 else {
            throw .cannotWrite(path: trimmed, reason: "cannot create \(staging) (errno \(errno))")
        }
        var committed = false
        defer { if !committed { FileKind.removeTree(staging) } }

        // The data file: objects first, then tensors, each a torch.save archive (compressed if asked).
        let dataName = "__0_0.distcp"
        var locations: [(index: Int, offset: Int, length: Int)] = []
        do {
            let sink = try AtomicFileSink(destination: staging + "/" + dataName)
            var offset = 0
            func append(_ bytes: [UInt8]) throws(ZipError) {
                let result = bytes.withUnsafeBytes { raw in Result { () throws(ZipError) in try sink.write(raw) } }
                try result.get()
                offset += bytes.count
            }
            for pass in [false, true] {
                for (i, item) in plan.items.enumerated() where item.isTensor == pass {
                    var bytes: [UInt8]
                    switch item.value {
                    case .tensor(let t): bytes = try Checkpoint.torchSaveBytes(.tensor(try chunk(of: t, key: item.fqn, path: trimmed)))
                    default: bytes = try Checkpoint.torchSaveBytes(item.value)
                    }
                    if options.compressed {
                        do {
                            bytes = try Zstd.compressFrame(bytes) + (item.isTensor ? Zstd.emptyFrame() : [])
                        } catch {
                            throw CheckpointError.cannotWrite(path: trimmed, reason: "key '\(item.fqn)': \(error.message)")
                        }
                    }
                    let start = offset
                    try append(bytes)
                    locations.append((i, start, bytes.count))
                }
            }
            try sink.commit()
        } catch let error as CheckpointError {
            throw error
        } catch let error as ZipError {
            throw .cannotWrite(path: trimmed, reason: error.message)
        } catch {
            throw .cannotWrite(path: trimmed, reason: "\(error)")
        }

        // .metadata
        let metadata = plan.metadata(dataFile: dataName, locations: locations, compressed: options.compressed,
                                     checkpointID: options.checkpointID ?? directory, saveID: options.saveID ?? randomUUID())
        let encoded: [UInt8]
        do {
            encoded = try PickleEncoder(protocolVersion: 4, provenance: PickleProvenance()).encode(metadata)
        } catch {
            throw .cannotWrite(path: trimmed, reason: ".metadata: \(error)")
        }
        do {
            let sink = try AtomicFileSink(destination: staging + "/.metadata")
            let result = encoded.withUnsafeBytes { raw in Result { () throws(ZipError) in try sink.write(raw) } }
            try result.get()
            try sink.commit()
        } catch {
            throw .cannotWrite(path: trimmed, reason: ".metadata: \(error)")
        }

        // Swap the new directory in.
        if FileKind.exists(trimmed) {
            let old = staging + ".old"
            guard rename(trimmed, old) == 0 else {
                throw .cannotWrite(path: trimmed, reason: "cannot move the earlier checkpoint aside (errno \(errno))")
            }
            guard rename(staging, trimmed) == 0 else {
                let code = errno
                _ = rename(old, trimmed)
                throw .cannotWrite(path: trimmed, reason: "cannot move the new checkpoint into place (errno \(code))")
            }
            committed = true
            FileKind.removeTree(old)
        } else {
            guard rename(staging, trimmed) == 0 else {
                throw .cannotWrite(path: trimmed, reason: "cannot move the new checkpoint into place (errno \(errno))")
            }
            committed = true
        }
    }

    /// The tensor `_write_item` saves: detached, and cloned when its storage
    /// holds more than its own bytes (a view of part of a storage), keeping its
    /// strides when they are dense (`torch.preserve_format`), else contiguous.
    static func chunk(of tensor: Tensor, key: String, path: String) throws(CheckpointError) -> Tensor {
        guard tensor.layout == .strided, tensor.quantization == nil, let storage = tensor.storage else {
            throw .cannotWrite(path: path, reason: "key '\(key)': a \(tensor.layout) tensor; distributed checkpoints hold strided tensors")
        }
        let logical = tensor.dtype.byteCount(forElements: tensor.elementCount)
        if storage.byteCount == logical && tensor.storageOffset == 0 {
            return Tensor(dtype: tensor.dtype, shape: tensor.shape, stride: tensor.stride, storage: storage,
                          isConjugated: tensor.isConjugated, isNegated: tensor.isNegated)
        }
        do {
            // Dense strides (a permutation of a contiguous layout) are kept; the bytes are
            // the tensor's elements in memory order.
            let order = tensor.shape.indices.sorted { (tensor.stride[$0], $0) > (tensor.stride[$1], $1) }
            let permuted = order.map { tensor.shape[$0] }
            let dense = Tensor.contiguousStrides(permuted)
            let keeps = tensor.elementCount > 0 && zip(order, dense).allSatisfy { d, s in tensor.shape[d] <= 1 || tensor.stride[d] == s }
            let source = keeps ? try tensor.permuted(order) : tensor
            let bytes = try source.contiguousBytes(byteOrder: .little)
            let copy = Storage(key: "0", dtype: tensor.dtype, bytes: RawBytes(bytes))
            var stride = Tensor.contiguousStrides(tensor.shape)
            if keeps { for (position, d) in order.enumerated() { stride[d] = dense[position] } }
            return Tensor(dtype: tensor.dtype, shape: tensor.shape, stride: stride, storage: copy)
        } catch {
            throw .cannotWrite(path: path, reason: "key '\(key)': \(error)")
        }
    }

    static func randomUUID() -> String {
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let h = Array(hex)
        return [h[0..<8], h[8..<12], h[12..<16], h[16..<20], h[20..<32]].map { String($0) }.joined(separator: "-")
    }
}

/// `DefaultSavePlanner`'s flattening of a state dict (`_traverse.traverse_state_dict`).
struct Flattening {
    struct Item {
        let fqn: String
        let path: [Value]
        let pathTokens: [Int32?]
        let fqnToken: Int32
        let value: Value
        var isTensor: Bool { if case .tensor = value { true } else { false } }
    }

    private(set) var items: [Item] = []
    private var nextToken: Int32 = 0
    private var singletons: [String: Int32] = [:]

    init(_ root: Value, path: String) throws(CheckpointError) {
        guard case .dict(let dict) = root else {
            throw .cannotWrite(path: path, reason: "a distributed checkpoint holds a state dict (a dict), not \(root.typeName)")
        }
        var seen = Set<String>()
        try walkMapping(dict, path: [], tokens: [], seen: &seen, at: path)
    }

    private mutating func token() -> Int32 {
        defer { nextToken += 1 }
        return nextToken
    }

    /// `str(k)` of a dict key, and its identity: a key string keeps one object
    /// across the paths below it; a one-character string is CPython's singleton.
    private mutating func keyStep(_ key: Value) -> (Value, Int32) {
        switch key {
        case .string(let s):
            if s.unicodeScalars.count == 1, s.unicodeScalars.first!.value < 256 {
                if let t = singletons[s] { return (key, t) }
                let t = token()
                singletons[s] = t
                return (key, t)
            }
            return (key, token())
        default:
            return (.string(key.pythonRepr), token())
        }
    }

    private mutating func walkMapping(_ dict: PyDict, path: [Value], tokens: [Int32?], seen: inout Set<String>,
                                      at location: String) throws(CheckpointError) {
        for (key, value) in dict.items {
            let (step, t) = keyStep(key)
            try walk(value, path: path + [step], tokens: tokens + [t], seen: &seen, at: location)
        }
    }

    private static func isTerminal(_ value: Value) -> Bool {
        switch value {
        case .dict: return false
        case .list(let l):
            for entry in l.items {
                switch entry {
                case .dict: return false
                case .list where !isTerminal(entry): return false
                case .tensor: return false
                default: continue
                }
            }
            return true
        default:
            return true
        }
    }

    private mutating func walk(_ value: Value, path: [Value], tokens: [Int32?], seen: inout Set<String>,
                               at location: String) throws(CheckpointError) {
        if case .dict(let d) = value { return try walkMapping(d, path: path, tokens: tokens, seen: &seen, at: location) }
        if Self.isTerminal(value) {
            let parts = path.map { $0.string ?? $0.pythonRepr }
            let fqn = parts.joined(separator: ".")
            guard seen.insert(fqn).inserted else {
                throw .cannotWrite(path: location, reason: "duplicated flatten key \(fqn)")
            }
            // ".".join of one string is that very string.
            let fqnToken = path.count == 1 && path[0].string != nil ? tokens[0]! : token()
            items.append(Item(fqn: fqn, path: path, pathTokens: tokens, fqnToken: fqnToken, value: value))
            return
        }
        if case .list(let l) = value {
            for (i, entry) in l.items.enumerated() {
                try walk(entry, path: path + [.int(i)], tokens: tokens + [nil], seen: &seen, at: location)
            }
        }
    }

    /// The `Metadata` object `_FileSystemWriter.finish` pickles.
    func metadata(dataFile: String, locations: [(index: Int, offset: Int, length: Int)], compressed: Bool,
                  checkpointID: String, saveID: String) -> Value {
        let module = "torch.distributed.checkpoint.metadata"
        func object(_ name: String, in module: String = module, state: PyDict?) -> Value {
            let o = PyObject(callable: .global(PyGlobal(module: module, name: name)), construction: .newObject, arguments: [])
            o.state = state.map { .dict($0) }
            return .object(o)
        }
        func size(_ dims: [Int]) -> Value { .tuple(PyTuple(dims.map { .int($0) }, kind: .torchSize)) }
        let contiguous = PyObject(callable: .global(PyGlobal(module: module, name: "_MEM_FORMAT_ENCODING")),
                                  construction: .reduce, arguments: [.int(0)])

        let stateDictMetadata = PyDict()
        let plannerData = PyDict()
        for item in items {
            let entry: Value
            if case .tensor(let t) = item.value {
                let properties = PyObject(callable: .global(PyGlobal(module: module, name: "TensorProperties")),
                                          construction: .newObject, arguments: [])
                properties.state = .tuple(PyTuple([
                    .dtype(t.dtype), .global(PyGlobal(module: "torch", name: "strided")), .bool(t.requiresGrad),
                    .object(contiguous), .bool(false), .tuple(PyTuple(t.stride.map { .int($0) })),
                ]))
                let chunk = PyDict()
                chunk.set(size(t.shape.map { _ in 0 }), forInternedKey: "offsets")
                chunk.set(size(t.shape), forInternedKey: "sizes")
                let state = PyDict()
                state.set(.object(properties), forInternedKey: "properties")
                state.set(size(t.shape), forInternedKey: "size")
                state.set(.list(PyList([object("ChunkStorageMetadata", state: chunk)])), forInternedKey: "chunks")
                entry = object("TensorStorageMetadata", state: state)
            } else {
                entry = object("BytesStorageMetadata", state: nil)
            }
            try? stateDictMetadata.set(entry, for: .string(item.fqn), keyToken: item.fqnToken)
            try? plannerData.set(.tuple(PyTuple(item.path, tokens: item.pathTokens)), for: .string(item.fqn), keyToken: item.fqnToken)
        }
        let storageData = PyDict()
        for location in locations {
            let item = items[location.index]
            let index = PyDict()
            index.set(.string(item.fqn), forInternedKey: "fqn", valueToken: item.fqnToken)
            if case .tensor(let t) = item.value {
                index.set(.int(0), forInternedKey: "index")
                index.set(size(t.shape.map { _ in 0 }), forInternedKey: "offset")
            } else {
                index.set(.None, forInternedKey: "index")
            }
            let info = PyDict()
            info.set(.string(dataFile), forInternedKey: "relative_path", valueToken: nextToken)
            info.set(.int(location.offset), forInternedKey: "offset")
            info.set(.int(location.length), forInternedKey: "length")
            if compressed {
                info.set(.list(PyList([.string("stream.zstd/1")])), forInternedKey: "transform_descriptors")
            }
            try? storageData.set(object("_StorageInfo", in: "torch.distributed.checkpoint.filesystem", state: info),
                                 for: object("MetadataIndex", state: index), keyToken: nil)
        }
        let storageMeta = PyDict()
        let pathObject = PyObject(callable: .global(PyGlobal(module: "pathlib", name: "PosixPath")), construction: .reduce,
                                  arguments: [.string(checkpointID)])
        storageMeta.set(.object(pathObject), forInternedKey: "checkpoint_id")
        storageMeta.set(.string(saveID), forInternedKey: "save_id")
        storageMeta.set(.None, forInternedKey: "load_id")
        storageMeta.set(.list(PyList()), forInternedKey: "modules")
        let state = PyDict()
        state.set(.dict(stateDictMetadata), forInternedKey: "state_dict_metadata")
        state.set(.dict(plannerData), forInternedKey: "planner_data")
        state.set(.dict(storageData), forInternedKey: "storage_data")
        state.set(object("StorageMeta", state: storageMeta), forInternedKey: "storage_meta")
        state.set(.string("1.0.0"), forInternedKey: "version")
        return object("Metadata", state: state)
    }
}

import TorchZip

/// Reads the tar format of PyTorch 0.1 (FORMAT.md §3), as the tar branch of
/// torch's `_legacy_load` does, in its order:
///
/// - `storages`: a pickled count, then per storage a pickled `(key, location,
///   storage class)`, an int64 element count and the bytes (used in place);
///   then a pickled list of views `(view_key, root_key, offset, numel)`.
/// - `tensors`: a pickled count, then per tensor a pickled `(key, storage_key,
///   tensor class)`, an int32 ndim, 4 bytes to skip (PyTorch 0.1 wrote ndim as
///   a C `long`), ndim int64 sizes, ndim int64 strides, an int64 storage offset.
///   A tensor's dtype is its storage's.
/// - `pickle`: the object, whose persistent ids are the decimal keys of
///   tensors and storages (or, for `nn.Module` classes, `(class, file, source)`).
///
/// `sys_info` is read for ``CheckpointFormat/tar(systemInfo:)`` and otherwise
/// ignored, as PyTorch ignores it.
enum TarCheckpointReader {
    struct Loaded {
        let root: Value
        let systemInfo: LegacySystemInfo
        let storages: [Storage]
        let pickleProtocol: Int
        let provenance: PickleProvenance
        let calls: [PickleCall]
        let globals: [String]
    }

    static func load(file: MappedFile, options: LoadOptions) throws(CheckpointError) -> Loaded {
        let path = file.path
        let archive: TarArchive
        do {
            archive = try TarArchive(file.bytes)
        } catch {
            throw .invalidRecord(path: path, record: "tar header at byte \(error.offset)", reason: error.message)
        }
        func member(_ name: String) throws(CheckpointError) -> MemberReader {
            guard let m = archive.member(name) else { throw .missingRecord(path: path, record: name) }
            return MemberReader(file: file, member: m, options: options.unpickler)
        }

        var systemInfo = LegacySystemInfo()
        if let m = archive.member("sys_info") {
            var reader = MemberReader(file: file, member: m, options: options.unpickler)
            systemInfo = LegacySystemInfo(try reader.pickle())
        }

        // Storages and their views, by key (torch keys them by the pickled key itself, an int).
        var objects: [String: Value] = [:]
        var storages = try member("storages")
        let storageCount = try storages.count("storage count")
        for _ in 0..<storageCount {
            let header = try storages.pickle()
            guard let items = header.items, items.count == 3 else {
                throw storages.invalid("a storage header is a \(header.typeName), not (key, location, storage class)")
            }
            let reference: StorageReference
            do {
                reference = try StorageReference(persistentID: .tuple(PyTuple([.string("storage"), items[2], items[0], items[1], .int(0)])))
            } catch {
                throw storages.invalid("storage header: \(error.message)")
            }
            guard let key = LegacyCheckpointReader.keyText(items[0]) else { throw storages.invalid("a storage key is a \(items[0].typeName)") }
            let count = try storages.int64("element count of storage '\(key)'")
            let elementSize = reference.dtype.itemSize
            let (byteCount, overflow) = Int(count).multipliedReportingOverflow(by: elementSize)
            guard count >= 0, !overflow else { throw storages.invalid("storage '\(key)' has \(count) elements") }
            let data = try storages.take(byteCount, "the \(count) \(reference.dtype.name) elements of storage '\(key)'")
            objects[key] = .storage(Storage(key: key, dtype: reference.dtype, isUntyped: reference.isUntyped,
                                            location: reference.location, elementCount: Int(count), byteOrder: .little) { data })
        }
        let views = try storages.pickle()
        guard let viewList = views.items else { throw storages.invalid("the storage views are a \(views.typeName), not a list") }
        for view in viewList {
            guard let v = view.items, v.count == 4, let viewKey = LegacyCheckpointReader.keyText(v[0]),
                  let rootKey = LegacyCheckpointReader.keyText(v[1]), case .int(let offset) = v[2], case .int(let numel) = v[3] else {
                throw storages.invalid("a storage view is not (view_key, root_key, offset, numel)")
            }
            guard case .storage(let root)? = objects[rootKey] else { throw storages.invalid("storage view '\(viewKey)' names storage '\(rootKey)', which the file does not hold") }
            guard offset >= 0, numel >= 0, offset <= root.elementCount, numel <= root.elementCount - offset else {
                throw storages.invalid("storage view '\(viewKey)' of \(numel) elements from element \(offset) lies outside storage '\(rootKey)' of \(root.elementCount) elements")
            }
            let size = root.dtype.itemSize
            objects[viewKey] = .storage(Storage(key: viewKey, dtype: root.dtype, isUntyped: root.isUntyped, location: root.location,
                                                elementCount: numel, byteOrder: .little) {
                try root.bytes().slice((offset * size)..<((offset + numel) * size))
            })
        }

        // Tensors: geometry over a storage.
        var tensors = try member("tensors")
        let tensorCount = try tensors.count("tensor count")
        for _ in 0..<tensorCount {
            let header = try tensors.pickle()
            guard let items = header.items, items.count == 3, let key = LegacyCheckpointReader.keyText(items[0]) else {
                throw tensors.invalid("a tensor header is a \(header.typeName), not (key, storage_key, tensor class)")
            }
            guard let storageKey = LegacyCheckpointReader.keyText(items[1]), case .storage(let storage)? = objects[storageKey] else {
                throw tensors.invalid("tensor '\(key)' names storage \(items[1].integerDescription ?? items[1].typeName), which the file does not hold")
            }
            let ndim = try tensors.int32("ndim of tensor '\(key)'")
            _ = try tensors.take(4, "the padding after the ndim of tensor '\(key)'")
            guard ndim >= 0, Int(ndim) <= (tensors.remaining - 8) / 16 else {
                throw tensors.invalid("tensor '\(key)' has \(ndim) dimensions, more than the member holds")
            }
            var shape: [Int] = [], stride: [Int] = []
            for _ in 0..<ndim { shape.append(Int(try tensors.int64("size of tensor '\(key)'"))) }
            for _ in 0..<ndim { stride.append(Int(try tensors.int64("stride of tensor '\(key)'"))) }
            let offset = Int(try tensors.int64("storage offset of tensor '\(key)'"))
            let whole = Tensor(dtype: storage.dtype, shape: [storage.elementCount], stride: [1], storage: storage)
            do {
                objects[key] = .tensor(try whole.view(shape: shape, stride: stride, storageOffset: offset))
            } catch {
                throw tensors.invalid("tensor '\(key)' (size \(shape), stride \(stride), offset \(offset)): \(error)")
            }
        }

        // The object: persistent ids are keys, looked up as int(saved_id).
        let table = TarObjectTable(objects: objects)
        var pickle = try member("pickle")
        let decoded = try pickle.decode { pid in try table.resolve(pid) }
        return Loaded(root: decoded.value, systemInfo: systemInfo, storages: table.referenced,
                      pickleProtocol: decoded.protocolVersion, provenance: decoded.provenance, calls: decoded.calls, globals: decoded.globals)
    }
}

/// The tensors and storages of a tar file, handed to the pickle by key.
final class TarObjectTable: @unchecked Sendable {
    let objects: [String: Value]
    private(set) var referenced: [Storage] = []
    private var seen = Set<ObjectIdentifier>()

    init(objects: [String: Value]) { self.objects = objects }

    func resolve(_ pid: Value) throws -> Value {
        if let items = pid.items {
            // ('module' class, source file, source): torch returns the class.
            guard let first = items.first else { throw PickleError(.persistentLoad, "empty persistent id", offset: 0, opcode: nil) }
            return first
        }
        let text: String
        switch pid {
        case .string(let s): text = s
        case .bytes(let b): text = String(decoding: b, as: UTF8.self)
        case .int(let i): text = String(i)
        default: throw PickleError(.persistentLoad, "persistent id is a \(pid.typeName), not a key", offset: 0, opcode: nil)
        }
        // int(saved_id), as torch looks it up.
        guard let key = Int(text.trimmingCharacters(in: " \t\n\r")) else {
            throw PickleError(.persistentLoad, "persistent id \(text.debugDescription) is not an integer key", offset: 0, opcode: nil)
        }
        guard let value = objects[String(key)] else {
            throw PickleError(.persistentLoad, "persistent id \(key) names no tensor or storage of the file", offset: 0, opcode: nil)
        }
        let storage: Storage? = switch value {
        case .tensor(let t): t.storage
        case .storage(let s): s
        default: nil
        }
        if let storage, seen.insert(ObjectIdentifier(storage)).inserted { referenced.append(storage) }
        return value
    }
}

/// Reads a tar member front to back: pickles, and little-endian integers and
/// byte runs between them, every read checked against the member's end.
struct MemberReader {
    let file: MappedFile
    let member: TarArchive.Member
    let options: UnpicklerOptions
    /// The position within the member.
    private(set) var position = 0

    init(file: MappedFile, member: TarArchive.Member, options: UnpicklerOptions) {
        self.file = file
        self.member = member
        self.options = options
    }

    var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[member.dataOffset..<(member.dataOffset + member.size)])
    }
    var remaining: Int { member.size - position }
    var record: String { "\(member.name) (tar member, data from byte \(member.dataOffset))" }

    func invalid(_ reason: String) -> CheckpointError {
        .invalidRecord(path: file.path, record: record, reason: "at byte \(member.dataOffset + position): \(reason)")
    }

    mutating func decode(_ persistentLoad: (@Sendable (Value) throws -> Value)? = nil) throws(CheckpointError) -> Unpickler.Decoded {
        do {
            let d = try Unpickler(options: options, persistentLoad: persistentLoad).decode(bytes, at: position)
            position = d.end
            return d
        } catch {
            var e = error
            e.record = record
            throw .pickle(path: file.path, record: record, e)
        }
    }

    mutating func pickle() throws(CheckpointError) -> Value { try decode().value }

    mutating func count(_ what: String) throws(CheckpointError) -> Int {
        let value = try pickle()
        guard case .int(let n) = value, n >= 0, n <= remaining else {
            throw invalid("the \(what) is \(value.integerDescription ?? value.typeName)")
        }
        return n
    }

    mutating func take(_ count: Int, _ what: String) throws(CheckpointError) -> RawBytes {
        guard count >= 0, count <= remaining else {
            throw invalid("\(what) (\(count) bytes) run past the end of the member (\(remaining) bytes left)")
        }
        let start = member.dataOffset + position
        position += count
        return RawBytes(baseAddress: file.bytes.baseAddress.map { $0 + start }, count: count, owner: file)
    }

    mutating func int64(_ what: String) throws(CheckpointError) -> Int64 {
        let raw = try take(8, what)
        return raw.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
    }

    mutating func int32(_ what: String) throws(CheckpointError) -> Int32 {
        let raw = try take(4, what)
        return raw.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(as: Int32.self)) }
    }
}

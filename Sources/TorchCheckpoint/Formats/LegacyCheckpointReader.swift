import TorchZip

/// Reads the legacy format of `torch.save` (FORMAT.md §3; PyTorch before 1.6,
/// or `_use_new_zipfile_serialization=False`), as torch's `_legacy_load`
/// does: five pickles back to back — the magic number, the protocol version
/// 1001, `sys_info`, the object, the sorted storage keys — then, for each key,
/// an int64 little-endian element count and the storage's bytes, used in
/// place from the mapped file.
///
/// The pickles may be of any protocol (`torch.save`'s `pickle_protocol`), and
/// Python 2's `str` is decoded as ``UnpicklerOptions/stringEncoding`` says,
/// like `torch.load`'s `encoding=`.
enum LegacyCheckpointReader {
    /// torch's `MAGIC_NUMBER`, 0x1950a86a20f9469cfc6c.
    static let magicNumber = PythonInt(twosComplement: FormatSniffer.magicBytes)
    /// torch's `PROTOCOL_VERSION`.
    static let protocolVersion = 1001

    /// The names the five pickles go by in errors.
    static let pickleNames = ["pickle 1 (magic number)", "pickle 2 (protocol version)", "pickle 3 (sys_info)",
                              "pickle 4 (the object)", "pickle 5 (storage keys)"]

    struct Loaded {
        let root: Value
        let systemInfo: LegacySystemInfo
        let storages: [Storage]
        let pickleProtocol: Int
        let provenance: PickleProvenance
        let calls: [PickleCall]
        let globals: [String]
        let layout: LegacyLayout
    }

    static func load(file: MappedFile, options: LoadOptions) throws(CheckpointError) -> Loaded {
        let path = file.path
        let bytes = file.bytes
        var position = 0
        var decoded: [Unpickler.Decoded] = []
        let table = LegacyStorageTable(file: file)
        // Refused: what the pickles built goes nowhere, and cycles kept by the options would leak.
        var succeeded = false
        defer {
            if !succeeded, options.unpickler.referenceCycles == .keep { for d in decoded { d.value.dismantle() } }
        }

        func next(_ persistentLoad: (@Sendable (Value) throws -> Value)? = nil) throws(CheckpointError) -> Unpickler.Decoded {
            let name = pickleNames[decoded.count]
            let unpickler = Unpickler(options: options.unpickler, persistentLoad: persistentLoad)
            do {
                let d = try unpickler.decode(bytes, at: position)
                position = d.end
                decoded.append(d)
                return d
            } catch {
                var e = error
                e.record = name
                throw .pickle(path: path, record: name, e)
            }
        }

        let magic = try next()
        guard case .bigInt(let number) = magic.value, number == magicNumber else {
            throw .invalidRecord(path: path, record: pickleNames[0],
                                 reason: "\(magic.value.integerDescription ?? magic.value.typeName) is not torch's magic number 0x1950a86a20f9469cfc6c (torch.load: \"Invalid magic number; corrupt file?\")")
        }
        let version = try next()
        guard version.value.int == protocolVersion, case .int = version.value else {
            throw .invalidRecord(path: path, record: pickleNames[1],
                                 reason: "protocol version \(version.value.integerDescription ?? version.value.typeName), where torch.load reads only \(protocolVersion)")
        }
        // PyTorch reads sys_info and ignores it; storages are little-endian whatever it says.
        let systemInfo = LegacySystemInfo(try next().value)
        let object = try next { pid in try table.resolve(pid) }
        let keys = try next()

        // The storage section: for each key, as torch's `_set_from_file` reads it.
        guard let keyList = keys.value.items else {
            throw .invalidRecord(path: path, record: pickleNames[4], reason: "the storage keys are a \(keys.value.typeName), not a list")
        }
        var listed = Set<String>()
        for item in keyList {
            guard let key = Self.keyText(item) else {
                throw .invalidRecord(path: path, record: pickleNames[4], reason: "a storage key is a \(item.typeName)")
            }
            let record = "storage '\(key)'"
            guard let root = table.roots[key] else {
                throw .invalidRecord(path: path, record: record,
                                     reason: "listed at byte \(position) but no persistent id of the object names it (torch.load: storage key not found)")
            }
            guard listed.insert(key).inserted else {
                throw .invalidRecord(path: path, record: record, reason: "listed twice in the storage keys")
            }
            guard bytes.count - position >= 8 else {
                throw .invalidRecord(path: path, record: record,
                                     reason: "the file ends at byte \(bytes.count), inside the element count that starts at byte \(position)")
            }
            let count = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: Int64.self))
            guard count == Int64(root.reference.elementCount) else {
                throw .invalidRecord(path: path, record: record,
                                     reason: "the element count at byte \(position) is \(count), but the pickle declares \(root.reference.elementCount) elements (torch.load: storage has wrong byte size)")
            }
            let dataStart = position + 8
            let byteCount = root.reference.byteCount
            guard byteCount <= bytes.count - dataStart else {
                throw .invalidRecord(path: path, record: record,
                                     reason: "\(count) \(root.reference.dtype.name) elements (\(byteCount) bytes) from byte \(dataStart) run past the end of the file at byte \(bytes.count)")
            }
            table.locate(key, at: dataStart)
            position = dataStart + byteCount
        }
        if let missing = table.roots.keys.sorted().first(where: { !listed.contains($0) }) {
            // torch.load would leave the storage uninitialised: garbage, silently.
            throw .invalidRecord(path: path, record: "storage '\(missing)'",
                                 reason: "the object refers to it but the storage keys do not list it, so the file holds no data for it")
        }

        var limitation: String?
        if let old = decoded.map(\.protocolVersion).filter({ $0 < 2 }).max() {
            // The pickles' protocol as pickletools reckons it (a protocol-1 file's
            // magic number uses only protocol-0 opcodes).
            limitation = "its pickles have no PROTO opcode (protocol \(old)), and the encoder writes protocols 2 to 5"
        } else if table.hasUnwritableModuleReference {
            limitation = "a persistent id ('module', cls, file, source) names something other than a class"
        }
        let layout = LegacyLayout(
            header: decoded[0..<3].map { LegacyLayout.Pickle(value: $0.value, protocolVersion: $0.protocolVersion, provenance: $0.provenance) },
            keys: .init(value: keys.value, protocolVersion: keys.protocolVersion, provenance: keys.provenance),
            views: table.encoderViews,
            moduleClasses: table.moduleReferences,
            writeBackLimitation: limitation)
        succeeded = true
        return Loaded(root: object.value, systemInfo: systemInfo, storages: table.referenced,
                      pickleProtocol: object.protocolVersion, provenance: object.provenance,
                      calls: decoded.flatMap(\.calls), globals: Self.unique(decoded.flatMap(\.globals)), layout: layout)
    }

    /// The names in order, each once.
    static func unique(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    /// A storage key as the pickles give it: str, bytes (Python 2 str read as bytes) or int.
    static func keyText(_ value: Value) -> String? {
        switch value {
        case .string(let s): s
        case .bytes(let b): String(decoding: b, as: UTF8.self)
        case .int(let i): String(i)
        default: nil
        }
    }
}

/// What a legacy file holds besides its object, to write it back byte for
/// byte: the other pickles as decoded, with their protocols and string
/// identities, and the storage views of its persistent ids.
struct LegacyLayout: Sendable {
    struct Pickle: Sendable {
        let value: Value
        let protocolVersion: Int
        let provenance: PickleProvenance
    }
    /// The magic number, protocol version and sys_info pickles.
    let header: [Pickle]
    /// The storage keys pickle.
    let keys: Pickle
    /// Storages that are views into another, by view storage.
    let views: [ObjectIdentifier: PickleEncoder.LegacyStorageView]
    /// The persistent ids that named `nn.Module` classes with their source, by class.
    let moduleClasses: [ObjectIdentifier: [Value]]
    /// Why the file cannot be written back, if it cannot.
    let writeBackLimitation: String?
}

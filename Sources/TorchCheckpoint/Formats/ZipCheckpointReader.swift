import TorchZip

/// Reads the zip format of `torch.save` (FORMAT.md §1): the pickle in
/// `data.pkl`, storages in `data/<key>` used in place from the mapped file.
enum ZipCheckpointReader {
    /// The newest `version` record PyTorch 2.15 reads (caffe2's kMaxSupportedFileFormatVersion).
    static let maxSupportedVersion = 10
    /// The oldest (kMinSupportedFileFormatVersion).
    static let minSupportedVersion = 1

    struct Loaded {
        let root: Value
        let format: CheckpointFormat
        let archive: ZipArchive
        let storages: [Storage]
        let pickleProtocol: Int
        let provenance: PickleProvenance
        let calls: [PickleCall]
        let globals: [String]
        /// The module tree, constants and state_dict of a TorchScript archive.
        let torchScript: TorchScriptArchive?
    }

    static func load(file: MappedFile, options: LoadOptions) throws(CheckpointError) -> Loaded {
        let path = file.path
        let archive: ZipArchive
        do {
            archive = try ZipArchive(file: file, options: options.zip)
        } catch {
            throw .container(path: path, error)
        }
        try checkRecordNames(of: archive)
        if ExportArchiveReader.isExportArchive(archive) {
            let exported = try ExportArchiveReader.load(archive, options: options)
            return Loaded(root: exported.root, format: .exportArchive(models: exported.models), archive: archive,
                          storages: exported.storages, pickleProtocol: 0, provenance: PickleProvenance(),
                          calls: exported.calls, globals: exported.globals, torchScript: nil)
        }
        func record(_ name: String) -> ZipEntry? { archive.record(name) }
        func text(_ entry: ZipEntry) throws(CheckpointError) -> String {
            do {
                let bytes = try archive.bytes(of: entry)
                return bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            } catch {
                throw .container(path: path, error)
            }
        }

        // version (or .data/version in TorchScript archives), as PyTorch's reader requires.
        guard let versionEntry = record("version") ?? record(".data/version") else {
            throw .missingRecord(path: path, record: "\(archive.prefix)/version")
        }
        let versionText = try text(versionEntry).trimmingCharacters(in: " \n\r\t")
        guard let version = Int(versionText) else {
            throw .invalidRecord(path: path, record: versionEntry.name, reason: "version \(versionText.debugDescription) is not a number")
        }
        guard (minSupportedVersion...maxSupportedVersion).contains(version) else {
            throw .invalidRecord(path: path, record: versionEntry.name,
                                 reason: "file format version \(version) is outside the versions PyTorch reads (\(minSupportedVersion) to \(maxSupportedVersion))")
        }

        var byteOrder = ByteOrder.little
        if let entry = record("byteorder") {
            let t = try text(entry)
            guard let order = ByteOrder(rawValue: t) else {
                throw .invalidRecord(path: path, record: entry.name, reason: "byte order \(t.debugDescription) is neither 'little' nor 'big'")
            }
            byteOrder = order
        }

        guard let pickleEntry = record("data.pkl") else {
            throw .missingRecord(path: path, record: "\(archive.prefix)/data.pkl")
        }
        let table = StorageTable(archive: archive, byteOrder: byteOrder)
        let decoded = try decodePickle(pickleEntry, in: archive, options: options, storages: table)
        let isTorchScript = record("constants.pkl") != nil || archive.containsRecord(under: "code/")
        let torchScript: TorchScriptArchive?
        do {
            torchScript = isTorchScript ? try TorchScriptLoader.load(archive: archive, root: decoded.value, byteOrder: byteOrder, options: options) : nil
        } catch {
            // Refused: the objects go nowhere, and cycles kept by the options would leak.
            if options.unpickler.referenceCycles == .keep { decoded.value.dismantle() }
            throw error
        }
        return Loaded(root: decoded.value,
                      format: .zip(prefix: archive.prefix, version: version, byteOrder: byteOrder, isTorchScript: isTorchScript),
                      archive: archive, storages: table.ordered, pickleProtocol: decoded.protocolVersion,
                      provenance: decoded.provenance, calls: decoded.calls, globals: decoded.globals, torchScript: torchScript)
    }
}

extension ZipCheckpointReader {
    /// Refuses names no writer of checkpoints makes: a name that appears
    /// twice (which record is the checkpoint would be a guess; torch.load
    /// takes one of them silently), and absolute or `..`-traversing names.
    /// Nothing is ever extracted, but such names only come from a crafted file.
    static func checkRecordNames(of archive: ZipArchive) throws(CheckpointError) {
        // The archive knows whether any name collides with another or is
        // unsafe: only then are the names gone through, to say which.
        guard archive.namesCollide || archive.hasUnsafeNames else { return }
        // As PyTorch's reader compares names: bytes, ASCII case ignored.
        var seen: [[UInt8]: ZipEntry] = [:]
        if archive.namesCollide { seen.reserveCapacity(archive.entries.count) }
        for entry in archive.entries {
            if archive.namesCollide {
                let key = entry.name.utf8.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }
                if let first = seen.updateValue(entry, forKey: key) {
                    throw .container(path: archive.file.path, ZipError(
                        .duplicateRecord,
                        "the record appears twice (local headers at bytes \(first.localHeaderOffset) and \(entry.localHeaderOffset)): which one is the checkpoint is ambiguous",
                        record: entry.name, offset: entry.localHeaderOffset))
                }
            }
            var name = entry.name
            let (absolute, climbs) = name.withUTF8 { (ZipArchive.isAbsolute($0), ZipArchive.climbsOut($0)) }
            if absolute {
                throw .container(path: archive.file.path, ZipError(
                    .badCentralDirectory, "an absolute record name", record: entry.name, offset: entry.localHeaderOffset))
            }
            if climbs {
                throw .container(path: archive.file.path, ZipError(
                    .badCentralDirectory, "a record name that climbs out of the archive with '..'", record: entry.name,
                    offset: entry.localHeaderOffset))
            }
        }
    }

    /// Decodes one pickle record (`data.pkl`, or a TorchScript archive's
    /// `constants.pkl`), its CRC-32 verified first when the options ask.
    static func decodePickle(_ entry: ZipEntry, in archive: ZipArchive, options: LoadOptions,
                             storages table: StorageTable) throws(CheckpointError) -> Unpickler.Decoded {
        let path = archive.file.path
        let bytes: RecordBytes
        do {
            if options.verifyPickleCRC { try archive.verifyCRC(of: entry) }
            bytes = try archive.bytes(of: entry)
        } catch {
            throw .container(path: path, error)
        }
        var unpicklerOptions = options.unpickler
        // The table gives the same storage for the same id: the fast path may resolve them too.
        unpicklerOptions.persistentLoadIsRepeatable = true
        var unpickler = Unpickler(options: unpicklerOptions) { pid in try table.resolve(pid) }
        unpickler.storageLoad = { reference in try table.resolve(reference) }
        do {
            return try bytes.withUnsafeBytes { raw throws(PickleError) in try unpickler.decode(raw) }
        } catch {
            var e = error
            e.record = entry.name
            throw .pickle(path: path, record: entry.name, e)
        }
    }
}

/// The storages of one archive, by key: each record is resolved once, and a
/// key declared twice with different types or sizes is refused, as
/// `torch.save` never writes one.
final class StorageTable: @unchecked Sendable {
    let archive: ZipArchive
    let byteOrder: ByteOrder
    /// The folder of the storage records: `data`, or `constants` for a TorchScript archive's constants.pkl.
    let directory: String
    /// What the table has resolved, mutated in one access per reference.
    private var state = State()

    private struct State {
        /// Every storage resolved, in order of first reference (each keeps its declaration).
        var resolved: [Storage] = []
        /// Position in `resolved` by key: keys that are small decimal numbers
        /// (every key `torch.save` writes) in an array, any other in a dictionary.
        var byNumber: [Int32] = []
        var byKey: [String: Int] = [:]
        /// The entry of `<directory>/<n>` by number n, for names that no other name
        /// collides with (then it is the entry miniz finds); -1 where none.
        var recordByNumber: [Int32] = []
        var recordsIndexed = false

        /// Numbers the records `<directory>/<n>` once: looking each up by its
        /// name is a hash of the whole name per storage.
        mutating func indexRecords(of table: StorageTable) {
            recordsIndexed = true
            let count = table.archive.entries.count
            // A storage per record, at most: the array does not copy itself as it grows.
            resolved.reserveCapacity(count)
            byNumber = Array(repeating: -1, count: count)
            recordByNumber = table.archive.recordsByNumber(in: table.directory, below: count) ?? []
        }

        mutating func resolve(_ reference: StorageReference, in table: StorageTable) throws -> Storage {
            if !recordsIndexed { indexRecords(of: table) }
            let number = StorageTable.number(reference.key, below: byNumber.count)
            let slot = number.map { Int(byNumber[$0]) } ?? byKey[reference.key] ?? -1
            if slot >= 0 {
                let known = resolved[slot]
                try reference.requireSameDeclaration(as: known)
                return known
            }
            let numbered = number.flatMap { recordByNumber.isEmpty ? nil : recordByNumber[$0] }
            let storage = try table.makeStorage(reference, numberedEntry: numbered)
            if let number { byNumber[number] = Int32(resolved.count) } else { byKey[reference.key] = resolved.count }
            resolved.append(storage)
            return storage
        }
    }

    /// What the storages read their records from.
    private let records: ArchiveRecords

    init(archive: ZipArchive, byteOrder: ByteOrder, directory: String = "data") {
        self.archive = archive
        self.records = ArchiveRecords(archive)
        self.byteOrder = byteOrder
        self.directory = directory
    }

    /// The storages, in order of first reference.
    var ordered: [Storage] { state.resolved }

    /// A storage key as a number below `limit`, when it is written as
    /// `torch.save` writes one (as its record's name is).
    static func number(_ key: String, below limit: Int) -> Int? {
        var key = key
        return key.withUTF8 { ZipArchive.number($0, below: limit) }
    }

    func resolve(_ pid: Value) throws -> Value {
        let reference: StorageReference
        do {
            reference = try StorageReference(persistentID: pid)
        } catch {
            throw PickleError(.persistentLoad, error.message, offset: 0, opcode: nil)
        }
        return .storage(try resolve(reference))
    }

    /// The storage of a reference: made at its first reference, the same one after.
    func resolve(_ reference: StorageReference) throws -> Storage {
        try state.resolve(reference, in: self)
    }

    /// Makes a storage; its record is the entry `numberedEntry` when the
    /// table found it by number (-1: there is none), else the one miniz finds by name.
    fileprivate func makeStorage(_ reference: StorageReference, numberedEntry: Int32?) throws -> Storage {
        if reference.location != "cpu", Device(location: reference.location).type == "meta" {
            // Meta storages carry no data and have no record.
            return Storage(key: reference.key, dtype: reference.dtype, isUntyped: reference.isUntyped,
                           location: reference.location, elementCount: reference.elementCount, byteOrder: byteOrder) {
                throw TensorError("storage '\(reference.key)' is on the meta device and has no data")
            }
        }
        let index = numberedEntry.map(Int.init) ?? archive.record("\(directory)/\(reference.key)")?.index ?? -1
        guard index >= 0 else {
            throw PickleError(.persistentLoad, "storage '\(reference.key)' has no record '\(archive.prefix)/\(directory)/\(reference.key)'",
                              offset: 0, opcode: nil)
        }
        // Exactly, as torch.load requires ("record size ... does not match expected size"):
        // a record larger than its storage (a deflate bomb among them) is refused before it is read.
        guard archive.entries[index].uncompressedSize == UInt64(reference.byteCount) else {
            let entry = archive.entries[index]
            throw PickleError(.persistentLoad,
                              "record '\(entry.name)' holds \(entry.uncompressedSize) bytes but the pickle declares \(reference.elementCount) \(reference.dtype.name) elements (\(reference.byteCount) bytes)",
                              offset: 0, opcode: nil)
        }
        return Storage(key: reference.key, dtype: reference.dtype, isUntyped: reference.isUntyped,
                       location: reference.location, elementCount: reference.elementCount, byteOrder: byteOrder,
                       record: index, of: records)
    }
}

/// The records of an archive, by entry index, as storages read them.
final class ArchiveRecords: StorageRecordSource {
    let archive: ZipArchive
    init(_ archive: ZipArchive) { self.archive = archive }

    func bytes(ofRecord record: Int) throws -> RawBytes {
        let bytes = try archive.bytes(of: archive.entries[record])
        let box = RecordBox(bytes)
        return RawBytes(baseAddress: box.baseAddress, count: bytes.count, owner: box)
    }
}

/// Keeps a record's bytes (and so the mapped file or inflated buffer) alive.
final class RecordBox: @unchecked Sendable {
    let bytes: RecordBytes
    let baseAddress: UnsafeRawPointer?
    init(_ bytes: RecordBytes) {
        self.bytes = bytes
        self.baseAddress = bytes.withUnsafeBytes { $0.baseAddress }
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

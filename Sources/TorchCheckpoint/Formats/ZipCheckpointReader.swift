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
    }

    static func load(file: MappedFile, options: LoadOptions) throws(CheckpointError) -> Loaded {
        let path = file.path
        let archive: ZipArchive
        do {
            archive = try ZipArchive(file: file, options: options.zip)
        } catch {
            throw .container(path: path, error)
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
        let pickleBytes: RecordBytes
        do {
            if options.verifyPickleCRC { try archive.verifyCRC(of: pickleEntry) }
            pickleBytes = try archive.bytes(of: pickleEntry)
        } catch {
            throw .container(path: path, error)
        }

        let table = StorageTable(archive: archive, byteOrder: byteOrder)
        let unpickler = Unpickler(options: options.unpickler) { pid in try table.resolve(pid) }
        let decoded: Unpickler.Decoded
        do {
            decoded = try pickleBytes.withUnsafeBytes { bytes throws(PickleError) in try unpickler.decode(bytes) }
        } catch {
            var e = error
            e.record = pickleEntry.name
            throw .pickle(path: path, record: pickleEntry.name, e)
        }
        let isTorchScript = record("constants.pkl") != nil || archive.recordNames.contains { $0.hasPrefix("code/") }
        return Loaded(root: decoded.value,
                      format: .zip(prefix: archive.prefix, version: version, byteOrder: byteOrder, isTorchScript: isTorchScript),
                      archive: archive, storages: table.ordered, pickleProtocol: decoded.protocolVersion,
                      provenance: decoded.provenance)
    }
}

/// The storages of one archive, by key: each record is resolved once, and a
/// key declared twice with different types or sizes is refused, as
/// `torch.save` never writes one.
final class StorageTable: @unchecked Sendable {
    let archive: ZipArchive
    let byteOrder: ByteOrder
    private(set) var byKey: [String: (reference: StorageReference, storage: Storage)] = [:]
    private(set) var ordered: [Storage] = []

    init(archive: ZipArchive, byteOrder: ByteOrder) {
        self.archive = archive
        self.byteOrder = byteOrder
    }

    func resolve(_ pid: Value) throws -> Value {
        let reference: StorageReference
        do {
            reference = try StorageReference(persistentID: pid)
        } catch {
            throw PickleError(.persistentLoad, error.message, offset: 0, opcode: nil)
        }
        if let known = byKey[reference.key] {
            guard known.reference.dtype == reference.dtype, known.reference.isUntyped == reference.isUntyped else {
                throw PickleError(.invalidTensor,
                                  "storage '\(reference.key)' is declared as \(known.reference.dtype.name) and as \(reference.dtype.name); torch.save never shares a storage between types",
                                  offset: 0, opcode: nil)
            }
            guard known.reference.elementCount == reference.elementCount else {
                throw PickleError(.invalidTensor,
                                  "storage '\(reference.key)' is declared with \(known.reference.elementCount) and with \(reference.elementCount) elements",
                                  offset: 0, opcode: nil)
            }
            return .storage(known.storage)
        }
        let storage = try makeStorage(reference)
        byKey[reference.key] = (reference, storage)
        ordered.append(storage)
        return .storage(storage)
    }

    private func makeStorage(_ reference: StorageReference) throws -> Storage {
        let name = "data/\(reference.key)"
        let archive = self.archive
        if Device(location: reference.location).type == "meta" {
            // Meta storages carry no data and have no record.
            return Storage(key: reference.key, dtype: reference.dtype, isUntyped: reference.isUntyped,
                           location: reference.location, elementCount: reference.elementCount, byteOrder: byteOrder) {
                throw TensorError("storage '\(reference.key)' is on the meta device and has no data")
            }
        }
        guard let entry = archive.record(name) else {
            throw PickleError(.persistentLoad, "storage '\(reference.key)' has no record '\(archive.prefix)/\(name)'", offset: 0, opcode: nil)
        }
        guard entry.uncompressedSize >= UInt64(reference.byteCount) else {
            throw PickleError(.persistentLoad,
                              "record '\(entry.name)' holds \(entry.uncompressedSize) bytes but the pickle declares \(reference.elementCount) \(reference.dtype.name) elements (\(reference.byteCount) bytes)",
                              offset: 0, opcode: nil)
        }
        return Storage(key: reference.key, dtype: reference.dtype, isUntyped: reference.isUntyped,
                       location: reference.location, elementCount: reference.elementCount, byteOrder: byteOrder) {
            let bytes = try archive.bytes(of: entry)
            let box = RecordBox(bytes)
            return RawBytes(baseAddress: box.baseAddress, count: bytes.count, owner: box)
        }
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

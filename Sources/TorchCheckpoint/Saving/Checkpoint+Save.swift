import TorchZip

extension Checkpoint {
    /// Writes a value as `torch.save(value, path)` writes it (torch 2.15, on
    /// Linux): the same pickle, the same records in the same order, storages
    /// numbered as first met, 64-byte alignment, and the same
    /// `.data/serialization_id`.
    ///
    /// The write is atomic: a temporary file in the same directory is flushed
    /// and renamed over `path`; on any error the previous file is intact and
    /// no temporary file is left.
    ///
    /// ```swift
    /// let sd = PyDict(kind: .orderedDict)
    /// sd["fc.weight"] = .tensor(try Tensor(float32: weights, shape: [10, 4]))
    /// try Checkpoint.save(.dict(sd), to: "model.pth")
    /// ```
    public static func save(_ value: Value, to path: String, options: SaveOptions = .init()) throws(CheckpointError) {
        var encoder = PickleEncoder(protocolVersion: options.protocolVersion)
        encoder.renumbersStorages = true
        let encoded: PickleEncoder.Encoded
        do {
            encoded = try encoder.encodeWithStorages(value)
        } catch {
            throw .cannotWrite(path: path, reason: error.message)
        }
        try writeArchive(to: path, prefix: PyTorchZipWriter.archiveName(forPath: path), alignment: options.alignment) { writer in
            try writer.writeRecord("data.pkl", bytes: encoded.bytes)
            try writer.writeRecord(".format_version", bytes: Array("1".utf8))
            try writer.writeRecord(".storage_alignment", bytes: Array(String(options.alignment).utf8))
            try writer.writeRecord("byteorder", bytes: Array("little".utf8))
            // torch 2.7+ writes storages in numeric key order; keys are numbered as first met.
            for (key, storage) in encoded.storages where storage.device.type != "meta" {
                try writeStorage(storage, as: "data/\(key)", littleEndian: true, to: writer)
            }
            try writer.writeRecord("version", bytes: Array("3\n".utf8))
            _ = try writer.finish()
        }
    }

    /// Writes this checkpoint back to a file, encoding the pickle from the
    /// value model: for a file PyTorch wrote, the result is the same file,
    /// byte for byte — record order, prefix, alignment and serialization id
    /// included. Storages are streamed from the mapped source without copies.
    ///
    /// The write is atomic, as ``save(_:to:options:)``'s is. To save a changed
    /// object graph with new storages, use ``save(_:to:options:)``.
    public func write(to path: String) throws(CheckpointError) {
        guard let archive else { throw .cannotWrite(path: path, reason: "only zip checkpoints can be written back") }
        let encoded: PickleEncoder.Encoded
        do {
            encoded = try PickleEncoder(protocolVersion: pickleProtocol, provenance: pickleProvenance).encodeWithStorages(root)
        } catch {
            throw .cannotWrite(path: path, reason: error.message)
        }
        var alignment = 64
        if let entry = archive.record(".storage_alignment"), let bytes = try? archive.bytes(of: entry),
           let value = Int(bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }) {
            alignment = value
        }
        let referenced = Set(encoded.storages.map { "data/" + $0.key })
        let sourceID = archive.record(".data/serialization_id").flatMap { try? archive.bytes(of: $0) }
            .map { $0.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
        let known = Set(archive.recordNames)
        for name in referenced where !known.contains(name) {
            throw .cannotWrite(path: path, reason: "storage record '\(name)' is not in the source archive; save the value with Checkpoint.save instead")
        }
        try Self.writeArchive(to: path, prefix: archive.prefix, alignment: alignment) { writer in
            for name in archive.recordNames where name != ".data/serialization_id" {
                guard let entry = archive.record(name) else { continue }
                if name == "data.pkl" {
                    try writer.writeRecord(name, bytes: encoded.bytes)
                } else {
                    // Storages and the other records, as stored: streamed from the map.
                    let bytes = try archive.bytes(of: entry)
                    try bytes.withUnsafeBytes { raw throws(ZipError) in try writer.writeRecord(name, bytes: raw) }
                }
            }
            if let sourceID {
                _ = try writer.finish(serializationID: sourceID)
            } else {
                // A file from before PyTorch 2.1: no id, and no records to add.
                try writer.finishWithoutAddingRecords()
            }
        }
    }

    /// Opens an atomic file, runs `body` with a zip writer, then commits; on
    /// any error the temporary file is removed and the destination untouched.
    static func writeArchive(to path: String, prefix: String, alignment: Int,
                             _ body: (PyTorchZipWriter) throws -> Void) throws(CheckpointError) {
        let sink: AtomicFileSink
        do {
            sink = try AtomicFileSink(destination: path)
        } catch {
            throw .cannotWrite(path: path, reason: error.message)
        }
        do {
            var options = PyTorchZipWriter.Options()
            options.alignment = alignment
            let writer = try PyTorchZipWriter(sink: sink, prefix: prefix, options: options)
            try body(writer)
            try sink.commit()
        } catch {
            sink.abandon()
            if let e = error as? CheckpointError { throw e }
            if let e = error as? ZipError { throw .cannotWrite(path: path, reason: e.message) }
            throw .cannotWrite(path: path, reason: "\(error)")
        }
    }

    /// Streams a storage's bytes into a record, byte-swapping a big-endian
    /// storage when the file is little-endian.
    static func writeStorage(_ storage: Storage, as name: String, littleEndian: Bool, to writer: PyTorchZipWriter) throws {
        let raw = try storage.bytes()
        let unit = storage.dtype.byteSwapUnit
        let swap = (storage.byteOrder == .little) != littleEndian && unit > 1
        try writer.writeRecord(name, size: UInt64(raw.count)) { write in
            try raw.withUnsafeBytes { bytes in
                guard swap else { return try write(bytes) }
                let chunk = 1 << 20
                var buffer = [UInt8](repeating: 0, count: chunk)
                var offset = 0
                while offset < bytes.count {
                    let n = min(chunk, bytes.count - offset)
                    for i in stride(from: 0, to: n, by: unit) {
                        for j in 0..<unit { buffer[i + j] = bytes[offset + i + unit - 1 - j] }
                    }
                    try buffer.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    offset += n
                }
            }
        }
    }
}

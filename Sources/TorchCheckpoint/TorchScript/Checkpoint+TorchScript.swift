extension Checkpoint {
    /// A TorchScript archive's pickles, encoded from the value model as
    /// `torch.jit.save` writes them: `data.pkl` from ``root`` and
    /// `constants.pkl` from the constants table, by record name, with the
    /// storage records they refer to (`data/<key>`, `constants/<key>`).
    ///
    /// Where to memoize is read from the archive's own pickles (see
    /// ``TorchScriptPickler``): each is decoded afresh and encoded against
    /// itself, and the choices it made are followed while writing the model,
    /// so that a value changed in place changes only its own bytes.
    func encodedTorchScriptPickles(_ torchScript: TorchScriptArchive, archive: ZipArchive, path: String)
        throws(CheckpointError) -> (pickles: [String: [UInt8]], storageRecords: Set<String>) {
        var pickles: [String: [UInt8]] = [:]
        var storageRecords = Set<String>()
        let tables: [(record: String, value: Value?, directory: String)] = [
            ("data.pkl", root, "data"), ("constants.pkl", torchScript.constantsTable, "constants"),
        ]
        for (record, value, directory) in tables {
            guard let value else { continue }
            var guide = TorchScriptPickler.Guide.none
            if let entry = archive.record(record), let original = try? archive.bytes(of: entry).copyBytes() {
                // No storage data is read: the byte order does not matter here.
                let table = StorageTable(archive: archive, byteOrder: .little, directory: directory)
                var options = LoadOptions()
                options.verifyPickleCRC = false
                let decoded = try? ZipCheckpointReader.decodePickle(entry, in: archive, options: options, storages: table).value
                guide = decoded.flatMap { TorchScriptPickler.decisions(in: original, decodedValue: $0) }.map { .decisions($0) }
                    ?? .original(original)
            }
            do {
                let encoded = try TorchScriptPickler.encode(value, guide: guide)
                pickles[record] = encoded.bytes
                storageRecords.formUnion(encoded.storages.map { "\(directory)/\($0.key)" })
            } catch {
                throw .cannotWrite(path: path, reason: "\(record): \(error.message)")
            }
        }
        return (pickles, storageRecords)
    }
}

extension Checkpoint {
    /// The raw deflate stream of a record to copy compressed: PyTorch's writer
    /// deflates the `code/` records of a TorchScript archive (miniz, which this
    /// library does not reproduce), so they are written back as they are.
    /// Nil for every other record, which is written stored.
    func deflatedRecordToCopy(_ entry: ZipEntry, named name: String, in archive: ZipArchive) -> UnsafeRawBufferPointer? {
        guard torchScript != nil, name.hasPrefix("code/"), entry.compressionMethod == 8 else { return nil }
        let file = archive.file.bytes
        guard entry.dataOffset <= UInt64(file.count), entry.compressedSize <= UInt64(file.count) - entry.dataOffset else { return nil }
        let start = Int(entry.dataOffset)
        return UnsafeRawBufferPointer(rebasing: file[start..<(start + Int(entry.compressedSize))])
    }
}

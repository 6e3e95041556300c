import TorchZip

/// Writes the legacy format of `torch.save` (`_use_new_zipfile_serialization=False`):
/// the magic number, protocol version and sys_info pickles, the object with
/// 6-tuple persistent ids, the storage keys sorted as strings, then each
/// storage as an int64 little-endian element count and its bytes, little-endian.
enum LegacyCheckpointWriter {
    /// Saves a value as `torch.save(value, path, _use_new_zipfile_serialization=False)`
    /// writes it on Linux, with storage keys from `options.legacyStorageKey`
    /// (`0`, `1`, … in the order first met by default; torch uses memory addresses).
    static func save(_ value: Value, to path: String, options: SaveOptions) throws(CheckpointError) {
        var encoder = PickleEncoder(protocolVersion: options.protocolVersion)
        encoder.persistentIDStyle = .legacy
        encoder.sharesEqualStrings = options.sharesEqualStrings
        encoder.renumbersStorages = true
        encoder.storageKey = options.legacyStorageKey
        let encoded: PickleEncoder.Encoded
        do {
            encoded = try encoder.encodeWithStorages(value)
        } catch {
            throw .cannotWrite(path: path, reason: error.message)
        }
        if let untyped = encoded.storages.first(where: { $0.storage.isUntyped || $0.storage.dtype.storageClassName == nil }) {
            throw .cannotWrite(path: path, reason: """
                storage '\(untyped.key)' would be an UntypedStorage (tensors of dtypes without a storage class, such as \
                uint16 and float8, or a storage saved on its own), which torch.load cannot read in the legacy format \
                ("type object 'torch.storage.UntypedStorage' has no attribute 'dtype'"); save it in the zip format
                """)
        }
        var seen: [String: Storage] = [:]
        for (key, storage) in encoded.storages {
            if let other = seen.updateValue(storage, forKey: key), other !== storage {
                throw .cannotWrite(path: path, reason: "two storages would both have the key '\(key)'; legacyStorageKey must give each storage its own key")
            }
        }
        let info = LegacySystemInfo.written(littleEndian: options.byteOrder == .little)
        let keys = sortedKeys(encoded.storages.map(\.key))
        let header: [Value] = [.integer(LegacyCheckpointReader.magicNumber), .int(LegacyCheckpointReader.protocolVersion), info.value]
        var pickles: [[UInt8]] = []
        do {
            let plain = PickleEncoder(protocolVersion: options.protocolVersion)
            for value in header { pickles.append(try plain.encode(value)) }
            pickles.append(encoded.bytes)
            pickles.append(try plain.encode(.list(PyList(keys.map(Value.string)))))
        } catch {
            throw .cannotWrite(path: path, reason: error.message)
        }
        try write(to: path, pickles: pickles, storages: ordered(encoded.storages, by: keys), durability: options.durability,
                  progress: options.progress)
    }

    /// Writes a loaded legacy checkpoint back: every pickle encoded again from
    /// the value model with the file's string identities, storages streamed
    /// from the mapped file.
    static func writeBack(_ checkpoint: Checkpoint, layout: LegacyLayout, to path: String,
                          durability: AtomicFileSink.Durability) throws(CheckpointError) {
        if let limitation = layout.writeBackLimitation {
            throw .cannotWrite(path: path, reason: "this legacy file cannot be written back: \(limitation)")
        }
        var encoder = PickleEncoder(protocolVersion: checkpoint.pickleProtocol, provenance: checkpoint.pickleProvenance)
        encoder.persistentIDStyle = .legacy
        encoder.legacyViews = layout.views
        encoder.classPersistentIDs = layout.moduleClasses
        var pickles: [[UInt8]] = []
        let encoded: PickleEncoder.Encoded
        do {
            for pickle in layout.header {
                pickles.append(try PickleEncoder(protocolVersion: pickle.protocolVersion, provenance: pickle.provenance).encode(pickle.value))
            }
            encoded = try encoder.encodeWithStorages(checkpoint.root)
            pickles.append(encoded.bytes)
            let keys = sortedKeys(encoded.storages.map(\.key))
            // The file's own list when it still names the storages the object refers to.
            let fileKeys = layout.keys.value.items?.compactMap(LegacyCheckpointReader.keyText)
            if fileKeys == keys {
                pickles.append(try PickleEncoder(protocolVersion: layout.keys.protocolVersion, provenance: layout.keys.provenance)
                    .encode(layout.keys.value))
            } else {
                pickles.append(try PickleEncoder(protocolVersion: layout.keys.protocolVersion).encode(.list(PyList(keys.map(Value.string)))))
            }
            try write(to: path, pickles: pickles, storages: ordered(encoded.storages, by: keys), durability: durability)
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw .cannotWrite(path: path, reason: (error as? PickleError)?.message ?? "\(error)")
        }
    }

    /// Keys in Python's `sorted` order: by Unicode code point.
    static func sortedKeys(_ keys: [String]) -> [String] {
        Array(Set(keys)).sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
    }

    static func ordered(_ storages: [(key: String, storage: Storage)], by keys: [String]) -> [(key: String, storage: Storage)] {
        var byKey: [String: Storage] = [:]
        for (key, storage) in storages where byKey[key] == nil { byKey[key] = storage }
        return keys.compactMap { key in byKey[key].map { (key, $0) } }
    }

    /// Writes the pickles and storages through an atomic file.
    static func write(to path: String, pickles: [[UInt8]], storages: [(key: String, storage: Storage)],
                      durability: AtomicFileSink.Durability, progress: ProgressHandler? = nil) throws(CheckpointError) {
        let meter = ProgressMeter(total: storages.reduce(0) { $0 + Int64($1.storage.byteCount) }, handler: progress)
        try Checkpoint.writeAtomically(to: path, durability: durability) { sink in
            for pickle in pickles {
                try pickle.withUnsafeBytes { raw in try emit(raw, to: sink) }
            }
            for (key, storage) in storages {
                try writeStorage(storage, key: key, to: sink)
                meter.advance(by: storage.byteCount)
            }
        }
    }

    /// The element count as int64 little-endian, then the bytes, little-endian
    /// (as torch's `THPStorage_writeFileRaw` converts them on any machine).
    static func writeStorage(_ storage: Storage, key: String, to sink: AtomicFileSink) throws {
        let raw: RawBytes
        do {
            raw = try storage.bytes()
        } catch {
            throw CheckpointError.cannotWrite(path: sink.destination, reason: "storage '\(key)': \(error)")
        }
        guard raw.count == storage.byteCount else {
            throw CheckpointError.cannotWrite(path: sink.destination,
                                              reason: "storage '\(key)' holds \(raw.count) bytes where it declares \(storage.byteCount)")
        }
        try withUnsafeBytes(of: Int64(storage.elementCount).littleEndian) { try emit($0, to: sink) }
        let unit = storage.dtype.byteSwapUnit
        let swap = storage.byteOrder == .big && unit > 1 && raw.count % unit == 0
        try raw.withUnsafeBytes { bytes in
            try Checkpoint.forEachChunk(of: bytes, swappingElementsOf: swap ? unit : 1) { try emit($0, to: sink) }
        }
    }

    /// Writes through the sink; untyped, as closures of the standard library's
    /// `withUnsafeBytes` rethrow any error.
    static func emit(_ bytes: UnsafeRawBufferPointer, to sink: AtomicFileSink) throws {
        try sink.write(bytes)
    }
}

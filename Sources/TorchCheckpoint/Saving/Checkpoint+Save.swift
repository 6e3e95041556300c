import TorchZip

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Checkpoint {
    /// Writes a value as `torch.save(value, path)` writes it (torch 2.15, on
    /// Linux): the same pickle, the same records in the same order, storages
    /// numbered as first met, 64-byte alignment, and the same
    /// `.data/serialization_id`.
    ///
    /// The write is atomic: a temporary file in the same directory is written
    /// in full and renamed over `path`; on any error, or if the process is
    /// killed, the previous file is intact and no temporary file is left.
    /// ``SaveOptions/durability`` `.durable` also syncs it to the disk.
    ///
    /// ```swift
    /// let sd = PyDict(kind: .orderedDict)
    /// sd["fc.weight"] = .tensor(try Tensor(float32: weights, shape: [10, 4]))
    /// try Checkpoint.save(.dict(sd), to: "model.pth")
    /// ```
    ///
    /// With ``SaveOptions/byteOrder`` `.big`, the file is what `torch.save`
    /// writes on a big-endian machine: the `byteorder` record says `big`
    /// and every storage holds its elements big-endian.
    public static func save(_ value: Value, to path: String, options: SaveOptions = .init()) throws(CheckpointError) {
        if options.format == .legacy { return try LegacyCheckpointWriter.save(value, to: path, options: options) }
        let body = try zipBody(value, path: path, options: options)
        try writeArchive(to: path, prefix: PyTorchZipWriter.archiveName(forPath: path), alignment: options.alignment,
                         durability: options.durability, body)
    }

    /// What `torch.save(value, io.BytesIO())` writes: the zip format in memory,
    /// records under the prefix `archive` (a stream has no file name).
    static func torchSaveBytes(_ value: Value, options: SaveOptions = .init()) throws(CheckpointError) -> [UInt8] {
        let body = try zipBody(value, path: "<memory>", options: options)
        let sink = MemorySink()
        var zipOptions = PyTorchZipWriter.Options()
        zipOptions.alignment = options.alignment
        do {
            try body(try PyTorchZipWriter(sink: sink, prefix: "archive", options: zipOptions))
        } catch let error as CheckpointError {
            throw error
        } catch let error as ZipError {
            throw .cannotWrite(path: "<memory>", reason: error.message)
        } catch {
            throw .cannotWrite(path: "<memory>", reason: "\(error)")
        }
        return sink.bytes
    }

    /// Encodes the pickle and returns what writes `torch.save`'s records to a zip writer.
    private static func zipBody(_ value: Value, path: String, options: SaveOptions)
        throws(CheckpointError) -> (PyTorchZipWriter) throws -> Void {
        let untyped = UntypedElementViews(value)
        if options.byteOrder == .big, let (place, tensor) = untyped.first {
            throw .cannotWrite(path: path, reason: """
                a big-endian file cannot hold the \(tensor.dtype.name) tensor at \(place): \
                torch.save stores \(tensor.dtype.name) as UntypedStorage, which torch.load does not byte-swap, \
                so PyTorch on a little-endian machine would read other values; save it little-endian
                """)
        }
        var encoder = PickleEncoder(protocolVersion: options.protocolVersion)
        encoder.renumbersStorages = true
        encoder.sharesEqualStrings = options.sharesEqualStrings
        let encoded: PickleEncoder.Encoded
        do {
            encoded = try encoder.encodeWithStorages(value)
        } catch {
            throw .cannotWrite(path: path, reason: error.message)
        }
        let written = encoded.storages.filter { $0.storage.device.type != "meta" }
        let meter = ProgressMeter(total: written.reduce(0) { $0 + Int64($1.storage.byteCount) }, handler: options.progress)
        return { writer in
            try writer.writeRecord("data.pkl", bytes: encoded.bytes)
            try writer.writeRecord(".format_version", bytes: Array("1".utf8))
            try writer.writeRecord(".storage_alignment", bytes: Array(String(options.alignment).utf8))
            try writer.writeRecord("byteorder", bytes: Array(options.byteOrder.rawValue.utf8))
            // torch 2.7+ writes storages in numeric key order; keys are numbered as first met.
            let sources = SourceFiles()
            for (key, storage) in written {
                try writeStorage(storage, as: "data/\(key)", littleEndian: options.byteOrder == .little,
                                 swapUnit: untyped.swapUnit(of: storage), to: writer, meter: meter, sources: sources)
            }
            try writer.writeRecord("version", bytes: Array("3\n".utf8))
            _ = try writer.finish()
        }
    }

    /// Writes this checkpoint back to a file, encoding the pickle from the
    /// value model: for a file PyTorch wrote, the result is the same file,
    /// byte for byte — record order, prefix, alignment, byte order and
    /// serialization id included. Storages are streamed from the mapped
    /// source without copies, as stored: a big-endian file stays big-endian.
    ///
    /// A file another tool re-zipped (records deflated, or stored without
    /// PyTorch's alignment and data descriptors) cannot be reproduced that
    /// way, as this library writes only PyTorch's layout: it is written in
    /// PyTorch's layout instead — the same records with the same contents, in
    /// the same order (but `.data/serialization_id`, which PyTorch's writer
    /// always writes last), under the same prefix and keeping its
    /// serialization id, each stored and aligned as `torch.save` stores it,
    /// and without the folder entries zip tools add. When the tool kept the
    /// records in their order, that is the file `torch.save` wrote before it
    /// was re-zipped. ``save(_:to:options:)`` of ``root`` writes what
    /// `torch.save` of the loaded object writes.
    ///
    /// A legacy file (PyTorch before 1.6) is written back in the legacy
    /// format, every pickle encoded again; a file this library only reads
    /// (see ``writeBackLimitation``) throws `cannotWrite` with the reason.
    ///
    /// The write is atomic, as ``save(_:to:options:)``'s is; `durability`
    /// `.durable` also syncs it to the disk. To save a changed object graph
    /// with new storages, use ``save(_:to:options:)``.
    public func write(to path: String, durability: AtomicFileSink.Durability = .atomic) throws(CheckpointError) {
        if let legacyLayout {
            return try LegacyCheckpointWriter.writeBack(self, layout: legacyLayout, to: path, durability: durability)
        }
        if let writeBackLimitation { throw .cannotWrite(path: path, reason: writeBackLimitation) }
        guard let archive else { throw .cannotWrite(path: path, reason: "only zip checkpoints can be written back") }
        // The pickles, encoded from the value model, and the storage records they refer to.
        let pickles: [String: [UInt8]]
        let referenced: Set<String>
        if let torchScript {
            (pickles, referenced) = try encodedTorchScriptPickles(torchScript, archive: archive, path: path)
        } else {
            let encoded: PickleEncoder.Encoded
            do {
                encoded = try PickleEncoder(protocolVersion: pickleProtocol, provenance: pickleProvenance).encodeWithStorages(root)
            } catch {
                throw .cannotWrite(path: path, reason: error.message)
            }
            pickles = ["data.pkl": encoded.bytes]
            referenced = Set(encoded.storages.map { "data/" + $0.key })
        }
        var alignment = 64
        if let entry = archive.record(".storage_alignment"), let bytes = try? archive.bytes(of: entry),
           let value = Int(bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }) {
            alignment = value
        }
        let sourceID = archive.record(".data/serialization_id").flatMap { try? archive.bytes(of: $0) }
            .map { $0.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
        let known = Set(archive.recordNames)
        for name in referenced where !known.contains(name) {
            throw .cannotWrite(path: path, reason: "storage record '\(name)' is not in the source archive; save the value with Checkpoint.save instead")
        }
        let sources = SourceFiles()
        try Self.writeArchive(to: path, prefix: archive.prefix, alignment: alignment, durability: durability) { writer in
            for name in archive.recordNames where name != ".data/serialization_id" {
                guard let entry = archive.record(name) else { continue }
                // Folder entries that zip tools add (`source/`, `source/data/`) are no records.
                if name.isEmpty || (name.hasSuffix("/") && entry.uncompressedSize == 0) { continue }
                writer.dosTimestamp = Self.keptTimestamp(of: entry)
                if let bytes = pickles[name] {
                    try writer.writeRecord(name, bytes: bytes)
                } else if let compressed = deflatedRecordToCopy(entry, named: name, in: archive) {
                    try writer.writeDeflatedRecord(name, compressed: compressed, uncompressedSize: entry.uncompressedSize, crc32: entry.crc32)
                } else {
                    // Storages and the other records, as stored: copied by the kernel from the
                    // source file where it can, streamed from the map otherwise.
                    let bytes = try archive.bytes(of: entry)
                    if let source = sources.source(of: bytes) {
                        try bytes.withUnsafeBytes { raw throws(ZipError) in
                            try writer.writeRecord(name, bytes: raw, copyingFrom: source.descriptor, at: source.offset)
                        }
                    } else {
                        try bytes.withUnsafeBytes { raw throws(ZipError) in try writer.writeRecord(name, bytes: raw) }
                    }
                }
            }
            writer.dosTimestamp = archive.record(".data/serialization_id").map(Self.keptTimestamp(of:)) ?? 0
            if let sourceID {
                _ = try writer.finish(serializationID: sourceID)
            } else {
                // A file from before PyTorch 2.1: no id, and no records to add.
                try writer.finishWithoutAddingRecords()
            }
        }
    }

    /// The time and date a record is written back with: its own when PyTorch's
    /// writer wrote it (data descriptor and UTF-8 flags; early torch 1.x wrote
    /// the clock's time), PyTorch's 0 when another tool re-zipped it.
    static func keptTimestamp(of entry: ZipEntry) -> UInt32 {
        entry.flags == 0x0808 || entry.flags == 0x0800 ? entry.dosTimestamp : 0
    }

    /// Opens an atomic file, runs `body` with a zip writer, then commits; on
    /// any error the temporary file is removed and the destination untouched.
    static func writeArchive(to path: String, prefix: String, alignment: Int, durability: AtomicFileSink.Durability,
                             _ body: (PyTorchZipWriter) throws -> Void) throws(CheckpointError) {
        try writeAtomically(to: path, durability: durability) { sink in
            var options = PyTorchZipWriter.Options()
            options.alignment = alignment
            try body(try PyTorchZipWriter(sink: sink, prefix: prefix, options: options))
        }
    }

    /// Opens an atomic file beside `path`, runs `body` with it, then commits;
    /// on any error the temporary file is removed and the destination untouched.
    static func writeAtomically(to path: String, durability: AtomicFileSink.Durability,
                                _ body: (AtomicFileSink) throws -> Void) throws(CheckpointError) {
        let sink: AtomicFileSink
        do {
            sink = try AtomicFileSink(destination: path, durability: durability)
        } catch {
            throw .cannotWrite(path: path, reason: error.message)
        }
        do {
            try body(sink)
            try sink.commit()
        } catch {
            sink.abandon()
            if let e = error as? CheckpointError { throw e }
            if let e = error as? ZipError { throw .cannotWrite(path: path, reason: e.message) }
            throw .cannotWrite(path: path, reason: "\(error)")
        }
    }

    /// Hands `bytes` to `body`: whole, or with `unit` > 1 in chunks of a
    /// MiB whose whole `unit`-byte elements are byte-swapped (bytes past the
    /// last whole element pass as they are). How storages are written in the
    /// byte order other than their own.
    static func forEachChunk(of bytes: UnsafeRawBufferPointer, swappingElementsOf unit: Int,
                             _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard unit > 1, !bytes.isEmpty else { return try body(bytes) }
        let chunk = (1 << 20) / unit * unit
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var offset = 0
        while offset < bytes.count {
            let n = min(chunk, bytes.count - offset)
            let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
            piece.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
            ByteOrder.swapElements(piece, unit: unit)
            try body(UnsafeRawBufferPointer(piece))
            offset += n
        }
    }

    /// Streams a storage's bytes into a record, byte-swapping them when the
    /// storage's byte order is not the file's: by `swapUnit` when given (the
    /// element of the tensors viewing an untyped storage), else by the
    /// storage's own element (each half of a complex one).
    static func writeStorage(_ storage: Storage, as name: String, littleEndian: Bool, swapUnit: Int? = nil,
                             to writer: PyTorchZipWriter, meter: ProgressMeter? = nil, sources: SourceFiles? = nil) throws {
        let raw = try storage.bytes()
        let unit = swapUnit ?? storage.dtype.byteSwapUnit
        let swap = (storage.byteOrder == .little) != littleEndian && unit > 1
        if !swap, let record = (raw.owner as? RecordBox)?.bytes, let source = sources?.source(of: record) {
            // A stored record of a file read: the kernel copies it, the CRC-32 is computed on the way.
            try raw.withUnsafeBytes { bytes throws(ZipError) in
                try writer.writeRecord(name, bytes: bytes, copyingFrom: source.descriptor, at: source.offset) {
                    meter?.advance(by: $0)
                }
            }
            return
        }
        try writer.writeRecord(name, size: UInt64(raw.count)) { writeAll in
            // In pieces of at most 16 MiB, so that progress moves within a large storage.
            func write(_ bytes: UnsafeRawBufferPointer) throws(ZipError) {
                var offset = 0
                repeat {
                    let end = min(bytes.count, offset + (1 << 24))
                    try writeAll(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
                    meter?.advance(by: end - offset)
                    offset = end
                } while offset < bytes.count
            }
            try raw.withUnsafeBytes { bytes in
                try forEachChunk(of: bytes, swappingElementsOf: swap ? unit : 1) { try write($0) }
            }
        }
    }
}

/// The tensors of a value tree whose elements are wider than a byte but
/// whose storage `torch.save` writes as `UntypedStorage` (uint16, uint32,
/// uint64, complex32, bits16: dtypes without a typed storage class).
///
/// `torch.load` byte-swaps a storage by its storage class, and an
/// `UntypedStorage` as bytes, so it never swaps these; this library reads
/// them by the viewing tensor's element. Writing such a storage in the other
/// byte order therefore swaps it by that element (so it reads back the same
/// here), and a big-endian file cannot hold one at all.
struct UntypedElementViews {
    /// The first such tensor met, depth first, with where it is (`['model']['ids']`).
    private(set) var first: (place: String, tensor: Tensor)?
    /// The widest swap unit of the tensors viewing each such storage.
    private var units: [ObjectIdentifier: Int] = [:]

    init(_ root: Value) {
        var seen = Set<ObjectIdentifier>()
        var stack: [(value: Value, place: String)] = [(root, "")]
        func key(_ k: Value) -> String {
            switch k {
            case .string(let s): "[\(PythonRepr.string(s))]"
            case .int(let i): "[\(i)]"
            default: "[\(k.typeName) key]"
            }
        }
        while let (value, place) = stack.popLast() {
            var children: [(value: Value, place: String)] = []
            func items(_ values: [Value], _ suffix: String = "") {
                children += values.enumerated().map { ($1, place + suffix + "[\($0)]") }
            }
            func dict(_ d: PyDict) {
                for (k, v) in d.items { children += [(k, place + " (a key)"), (v, place + key(k))] }
                children += d.attributes.map { ($1, place + "." + $0) }
                if let state = d.state { children.append((state, place + " (state)")) }
            }
            switch value {
            case .tensor(let t):
                guard seen.insert(ObjectIdentifier(t)).inserted else { continue }
                if let storage = t.storage, !t.isMeta, storage.isUntyped || storage.dtype.storageClassName == nil,
                   t.dtype.byteSwapUnit > 1 {
                    let id = ObjectIdentifier(storage)
                    units[id] = max(units[id] ?? 1, t.dtype.byteSwapUnit)
                    if first == nil { first = (place.isEmpty ? "the root" : place, t) }
                }
                switch t.sparse {
                case .coo(let indices, let values, _)?:
                    children += [(.tensor(indices), place + " (indices)"), (.tensor(values), place + " (values)")]
                case .compressed(let compressed, let plain, let values)?:
                    children += [(.tensor(compressed), place + " (compressed indices)"),
                                 (.tensor(plain), place + " (plain indices)"), (.tensor(values), place + " (values)")]
                case nil:
                    break
                }
                if case .perChannelAffine(let scales, let zeroPoints, _, _)? = t.quantization {
                    children += [(.tensor(scales), place + " (scales)"), (.tensor(zeroPoints), place + " (zero points)")]
                }
                for state in [t.parameterState, t.subclassState, t.walkedBackwardHooks] {
                    if let state { children.append((state, place + " (state)")) }
                }
            case .dict(let d):
                guard seen.insert(ObjectIdentifier(d)).inserted else { continue }
                dict(d)
            case .list(let l):
                guard seen.insert(ObjectIdentifier(l)).inserted else { continue }
                items(l.items)
            case .tuple(let t):
                guard seen.insert(ObjectIdentifier(t)).inserted else { continue }
                items(t.items)
            case .set(let s):
                guard seen.insert(ObjectIdentifier(s)).inserted else { continue }
                items(s.items, " (set)")
            case .object(let o):
                guard seen.insert(ObjectIdentifier(o)).inserted else { continue }
                children.append((o.callable, place + " (callable)"))
                items(o.arguments, " (arguments)")
                if let k = o.keywordArguments { children.append((k, place + " (keyword arguments)")) }
                if let state = o.state { children.append((state, place + " (state)")) }
                items(o.listItems)
                if let d = o.dictItems { dict(d) }
            default:
                continue
            }
            stack.append(contentsOf: children.reversed())
        }
    }

    /// The unit to swap `storage` by, when tensors of wider elements view it as bytes.
    func swapUnit(of storage: Storage) -> Int? { units[ObjectIdentifier(storage)] }
}

/// The files that records are copied from while one file is written: each
/// opened once, for the kernel to copy from (``MappedFile/openForCopying()``),
/// and closed with the writing.
final class SourceFiles {
    private var opened: [ObjectIdentifier: (file: MappedFile, source: (descriptor: Int32, offset: Int)?)] = [:]

    /// A descriptor of the file a stored record lies in, and where the record's
    /// bytes start in it; nil for a record not in place, or a file that cannot be opened again.
    func source(of record: RecordBytes) -> (descriptor: Int32, offset: Int64)? {
        guard let file = record.file, let fileOffset = record.fileOffset else { return nil }
        let id = ObjectIdentifier(file)
        let source: (descriptor: Int32, offset: Int)?
        if let known = opened[id] {
            source = known.source
        } else {
            source = file.openForCopying()
            opened[id] = (file, source)
        }
        return source.map { ($0.descriptor, Int64($0.offset) + Int64(fileOffset)) }
    }

    deinit {
        for (_, entry) in opened { if let source = entry.source { close(source.descriptor) } }
    }
}

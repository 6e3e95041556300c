/// Writes a PyTorch zip archive byte for byte as PyTorch's
/// `caffe2::serialize::PyTorchStreamWriter` (over miniz) does on Linux.
///
/// Records are stored (never compressed: a record PyTorch deflated is copied
/// as it is with ``writeDeflatedRecord(_:compressed:uncompressedSize:crc32:)``)
/// under the ``prefix`` folder, each with its data aligned to
/// ``Options/alignment`` by an `FB` extra field of `Z`s, followed by a data
/// descriptor; ``finish(serializationID:)`` adds the
/// `version` and `byteorder` records when they are missing, then
/// `.data/serialization_id`, the central directory and the zip64 and classic
/// end records. Given the same records in the same order, the output is the
/// file `torch.save` writes, so an archive read with ``ZipArchive`` and
/// written back record by record comes out identical.
///
/// ```swift
/// let sink = try AtomicFileSink(destination: "model.pth")
/// let writer = try PyTorchZipWriter(sink: sink, prefix: PyTorchZipWriter.archiveName(forPath: "model.pth"))
/// try writer.writeRecord("data.pkl", bytes: pickle)
/// try writer.writeRecord(".format_version", bytes: Array("1".utf8))
/// try writer.writeRecord(".storage_alignment", bytes: Array("64".utf8))
/// try writer.writeRecord("byteorder", bytes: Array("little".utf8))
/// try writer.writeRecord("data/0", size: UInt64(storage.count)) { write in
///     try storage.withUnsafeBytes { try write($0) }
/// }
/// try writer.finish()
/// try sink.commit()
/// ```
///
/// The layout, as miniz writes it with PyTorch's padding:
/// - local header: version needed 0, flags 0x0808 (0x0800 for an empty
///   record, which has no descriptor), method 0, time and date 0 (see
///   ``dosTimestamp``), CRC and sizes 0;
///   then the name, a zip64 extra field (id 1) when the record has
///   0xFFFFFFFF bytes or more (its size, then 0 as the compressed size) or
///   starts at offset 0xFFFFFFFF or later (the offset), then the `FB` field;
/// - data descriptor: `PK\x07\x08`, CRC-32, both sizes as `UInt32`, or as
///   `UInt64` when the local header has a zip64 extra field;
/// - central directory: version made by and needed 0, external attributes 0
///   (0x10 for a name ending in `/`), sizes and offset clamped to 0xFFFFFFFF
///   with a zip64 extra field holding the overflowing ones (sizes when the
///   record has 0xFFFFFFFF bytes or more, offset when it is that large);
/// - a zip64 end record (made by 0x031E, needed 45) and locator, always;
///   then the classic end record with 0xFFFF / 0xFFFFFFFF where values overflow.
///
/// The writer is not thread-safe. It folds the CRC-32 of a chunk of 1 MiB or
/// more on a thread of the global dispatch queue while the sink writes the
/// chunk (the CRC goes in the data descriptor, after the data); the fold
/// never reads the chunk after the call that handed it over returns, and the
/// calling thread folds it itself when no such thread has started on it.
/// After an error from the sink, or from a
/// streaming record's body, the archive is incomplete and every later call
/// throws ``ZipError/Code/writerClosed``.
public final class PyTorchZipWriter {
    /// The folder every record is written under (`archive` for a stream in PyTorch).
    public let prefix: String

    /// The layout options.
    public let options: Options

    /// The names of the records written so far, without the prefix, in write order.
    public private(set) var recordsWritten: [String] = []

    /// The text written as `.data/serialization_id`, once ``finish(serializationID:)`` succeeded.
    public private(set) var serializationID: String?

    /// The last-modified time and date, in MS-DOS format (time in the low 16
    /// bits), written in the local header and the central directory entry of
    /// each record written from now on. PyTorch writes 0; early torch 1.x
    /// wrote the time of writing, so a file of theirs is written back with
    /// each record's own ``ZipEntry/dosTimestamp``.
    public var dosTimestamp: UInt32 = 0

    /// Where the bytes go.
    private let sink: any ZipSink
    /// `prefix/` as UTF-8.
    private let folder: [UInt8]
    /// The central directory, built as records are written.
    private var centralDirectory: [UInt8] = []
    /// The number of central directory entries.
    private var entryCount: UInt64 = 0
    /// The names written so far, as bytes (PyTorch compares `std::string`s, not Unicode text).
    private var namesWritten: Set<[UInt8]> = []
    /// The serialization id's running state.
    private var accumulator = SerializationIDAccumulator()
    /// Why the writer refuses further calls, once it does.
    private var closedReason: String?

    /// The name PyTorch gives the prefix folder of the archive it writes to
    /// `path`: the last path component (after the last `/` or `\`) without its
    /// last extension (`model.tar.gz` → `model.tar`, `noext` → `noext`), or
    /// `archive` when the path is not ASCII (`torch.save` then writes through
    /// a Python file object, like any stream).
    ///
    /// - Parameter path: The path given to `torch.save`.
    /// - Returns: The prefix; empty when the path has no file name (PyTorch refuses those).
    public static func archiveName(forPath path: String) -> String {
        let utf8 = Array(path.utf8)
        guard utf8.allSatisfy({ $0 < 0x80 }) else { return "archive" }
        var start = 0
        for (index, byte) in utf8.enumerated() where byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") {
            start = index + 1
        }
        guard start < utf8.count else { return "" }
        var end = utf8.count
        var index = utf8.count
        while index > start {
            if utf8[index - 1] == UInt8(ascii: ".") {
                end = index - 1
                break
            }
            index -= 1
        }
        return String(decoding: utf8[start ..< end], as: UTF8.self)
    }

    /// Creates a writer that sends the archive to `sink`.
    ///
    /// Nothing is written until the first record.
    ///
    /// - Parameters:
    ///   - sink: Where the bytes go; the archive's offsets are the sink's positions.
    ///   - prefix: The folder every record goes under (see ``archiveName(forPath:)``).
    ///   - options: The alignment and CRC options; the defaults are `torch.save`'s.
    /// - Throws: ``ZipError/Code/invalidArgument`` for an empty prefix, one
    ///   holding `/` or a NUL byte, or an alignment outside 1…``Options/maxAlignment``.
    public init(sink: some ZipSink, prefix: String, options: Options = .init()) throws(ZipError) {
        guard !prefix.isEmpty else {
            throw ZipError(.invalidArgument, "the prefix folder name is empty (PyTorch refuses such a file name)")
        }
        guard !prefix.utf8.contains(UInt8(ascii: "/")), !prefix.utf8.contains(0) else {
            throw ZipError(.invalidArgument, "the prefix folder name '\(prefix)' holds a '/' or a NUL byte")
        }
        guard options.alignment >= 1, options.alignment <= Options.maxAlignment else {
            throw ZipError(.invalidArgument, "the alignment \(options.alignment) is outside 1...\(Options.maxAlignment)")
        }
        self.sink = sink
        self.prefix = prefix
        self.options = options
        self.folder = Array((prefix + "/").utf8)
    }

    /// Writes a record whose bytes are all in memory.
    ///
    /// The bytes are read twice (for the CRC-32, then by the sink; at once, on
    /// two threads, when there are 1 MiB or more) and not copied.
    /// Writing `.data/serialization_id` does nothing, as in PyTorch (records
    /// copied from another archive must not carry its id over); pass an id to
    /// keep to ``finish(serializationID:)`` instead.
    ///
    /// - Parameters:
    ///   - name: The record name without the prefix (`data.pkl`, `data/0`).
    ///   - bytes: The record's contents.
    /// - Throws: ``ZipError``: ``ZipError/Code/duplicateRecord``,
    ///   ``ZipError/Code/invalidArgument`` for a bad name,
    ///   ``ZipError/Code/tooLarge`` past the zip limits,
    ///   ``ZipError/Code/writerClosed``, or what the sink throws.
    public func writeRecord(_ name: String, bytes: UnsafeRawBufferPointer) throws(ZipError) {
        try requireNew(name)
        if name == Self.serializationIDRecord { return }
        try writeEntry(name, bytes: bytes)
    }

    /// Writes a record whose bytes are in an array.
    ///
    /// - Parameters:
    ///   - name: The record name without the prefix.
    ///   - bytes: The record's contents.
    /// - Throws: What ``writeRecord(_:bytes:)-(String,UnsafeRawBufferPointer)`` throws.
    public func writeRecord(_ name: String, bytes: [UInt8]) throws(ZipError) {
        try bytes.withZipBytes { (raw: UnsafeRawBufferPointer) throws(ZipError) in try writeRecord(name, bytes: raw) }
    }

    /// Writes a record of a size known up front, whose bytes `produce` hands
    /// over in chunks: each chunk goes to the sink as it is (no copy) while
    /// the CRC-32 is computed on the way.
    ///
    /// ```swift
    /// try writer.writeRecord("data/0", size: total) { write in
    ///     for chunk in chunks { try chunk.withUnsafeBytes { try write($0) } }
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - name: The record name without the prefix.
    ///   - size: The exact number of bytes `produce` will write (the local
    ///     header depends on it: zip64 from 0xFFFFFFFF bytes on).
    ///   - produce: Called once with a `write` function to call with each chunk, in order.
    /// - Throws: What ``writeRecord(_:bytes:)-(String,UnsafeRawBufferPointer)``
    ///   throws; ``ZipError/Code/sizeMismatch`` when `produce` writes more or
    ///   fewer than `size` bytes; or what `produce` throws. Once the header is
    ///   written, any error leaves the archive incomplete and closes the writer.
    public func writeRecord(
        _ name: String, size: UInt64,
        _ produce: (_ write: (UnsafeRawBufferPointer) throws(ZipError) -> Void) throws -> Void
    ) throws {
        try writeRecord(name, size: size, knownCRC32: nil, produce)
    }

    /// ``writeRecord(_:size:_:)`` with the CRC-32 given instead of computed,
    /// so that tests can write multi-gigabyte records without reading them.
    package func writeRecord(
        _ name: String, size: UInt64, knownCRC32: UInt32?,
        _ produce: (_ write: (UnsafeRawBufferPointer) throws(ZipError) -> Void) throws -> Void
    ) throws {
        try requireNew(name)
        if name == Self.serializationIDRecord { return }
        var entry = try beginEntry(name, size: size, knownCRC32: knownCRC32)
        do {
            try produce { (chunk: UnsafeRawBufferPointer) throws(ZipError) in try entry.stream.write(chunk) }
        } catch {
            if closedReason == nil {
                closedReason = "the record '\(fullName(name))' was left incomplete by an error while writing its data (\(error))"
            }
            throw error
        }
        try endEntry(entry)
    }

    /// Writes a stored record whose bytes lie in a file: the kernel copies
    /// them from `source` (``ZipSink/append(copying:of:at:)``, which
    /// ``AtomicFileSink`` does with `copy_file_range(2)`) while the CRC-32 is
    /// computed from `bytes`, the same bytes as mapped; what the kernel cannot
    /// copy is written from `bytes`. The archive is the same as
    /// ``writeRecord(_:bytes:)-(String,UnsafeRawBufferPointer)`` makes.
    ///
    /// - Parameters:
    ///   - name: The record name without the prefix.
    ///   - bytes: The record's contents, mapped from the source file.
    ///   - source: A descriptor of the file `bytes` are mapped from.
    ///   - offset: Where `bytes` start in that file.
    ///   - progress: Called with each piece's size as it is written (pieces of 16 MiB).
    package func writeRecord(_ name: String, bytes: UnsafeRawBufferPointer, copyingFrom source: Int32, at offset: Int64,
                             progress: ((Int) -> Void)? = nil) throws(ZipError) {
        try requireNew(name)
        if name == Self.serializationIDRecord { return }
        var entry = try beginEntry(name, size: UInt64(bytes.count), knownCRC32: nil)
        try guardSink { () throws(ZipError) in
            var start = 0
            repeat {
                let end = min(bytes.count, start + (1 << 24))
                try entry.stream.write(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), copyingFrom: source, at: offset + Int64(start))
                progress?(end - start)
                start = end
            } while start < bytes.count
        }
        try endEntry(entry)
    }

    /// Writes a record whose data is already deflated, copying the compressed
    /// bytes as they are: how PyTorch stores a record it is asked to compress
    /// (`writeRecord(…, compress=true)`, miniz's deflate: the `code/` records
    /// of a TorchScript archive), so that such a record read with
    /// ``ZipArchive`` is written back byte for byte. The layout is a stored
    /// record's but for method 8 and version needed 20 (local header and
    /// central directory), and the compressed size in the data descriptor.
    ///
    /// - Parameters:
    ///   - name: The record name without the prefix.
    ///   - compressed: The raw deflate stream.
    ///   - uncompressedSize: The size of the record's contents.
    ///   - crc32: The CRC-32 of the record's contents.
    /// - Throws: What ``writeRecord(_:bytes:)-(String,UnsafeRawBufferPointer)`` throws.
    public func writeDeflatedRecord(_ name: String, compressed: UnsafeRawBufferPointer, uncompressedSize: UInt64, crc32: UInt32) throws(ZipError) {
        try requireNew(name)
        if name == Self.serializationIDRecord { return }
        var entry = try beginEntry(name, size: uncompressedSize, knownCRC32: crc32, deflatedSize: UInt64(compressed.count))
        try guardSink { () throws(ZipError) in try entry.stream.write(compressed) }
        try endEntry(entry)
    }

    /// Writes `.data/serialization_id`, the central directory and the end
    /// records, after the records PyTorch's `writeEndOfFile` adds when missing:
    /// `version` (``Options/version`` and a newline; `.data/version` from
    /// version 6 on) unless `version` or `.data/version` was written, then
    /// `byteorder` (this machine's: `little`) unless written.
    ///
    /// The id is what PyTorch's Linux builds compute (see ``SerializationID``)
    /// unless `serializationID` is given: then that text is written, as needed
    /// to rewrite a file whose id another C++ runtime computed.
    ///
    /// - Parameter serializationID: The text to write as the id, or `nil` to compute it.
    /// - Returns: The id written.
    /// - Throws: ``ZipError/Code/writerClosed`` when called twice or after an
    ///   error, ``ZipError/Code/tooLarge`` past the zip limits, or what the sink throws.
    @discardableResult
    public func finish(serializationID: String? = nil) throws(ZipError) -> String {
        try requireOpen()
        let versionRecords: Set<[UInt8]> = [Array("version".utf8), Array(".data/version".utf8)]
        if namesWritten.isDisjoint(with: versionRecords) {
            let name = options.version >= 6 ? ".data/version" : "version"
            try writeRecord(name, bytes: Array("\(options.version)\n".utf8))
        }
        if !namesWritten.contains(Array("byteorder".utf8)) {
            let order = 1.littleEndian == 1 ? "little" : "big"
            try writeRecord("byteorder", bytes: Array(order.utf8))
        }
        let id = serializationID ?? accumulator.id.description
        try Array(id.utf8).withZipBytes { (raw: UnsafeRawBufferPointer) throws(ZipError) in
            try writeEntry(Self.serializationIDRecord, bytes: raw)
        }
        try guardSink { () throws(ZipError) in
            try writeEndOfCentralDirectory()
        }
        closedReason = "finish() was called"
        self.serializationID = id
        return id
    }

    /// Writes the central directory and the end records after exactly the
    /// records written, adding none: how files from PyTorch releases before
    /// 2.1 (no `byteorder`, no `.data/serialization_id`) are written back.
    ///
    /// - Throws: ``ZipError/Code/writerClosed`` when called twice or after an
    ///   error, ``ZipError/Code/tooLarge`` past the zip limits, or what the sink throws.
    public func finishWithoutAddingRecords() throws(ZipError) {
        try requireOpen()
        try guardSink { () throws(ZipError) in
            try writeEndOfCentralDirectory()
        }
        closedReason = "finish was called"
    }

    /// The serialization id's record name.
    static let serializationIDRecord = ".data/serialization_id"

    /// The full name of a record, for messages.
    private func fullName(_ name: String) -> String {
        prefix + "/" + name
    }

    /// Throws unless the writer accepts calls.
    private func requireOpen() throws(ZipError) {
        if let closedReason {
            throw ZipError(.writerClosed, "the writer accepts no more records: \(closedReason)")
        }
    }

    /// Runs `body`; an error closes the writer, since the archive is then incomplete.
    private func guardSink<R>(_ body: () throws(ZipError) -> R) throws(ZipError) -> R {
        do {
            return try body()
        } catch {
            if closedReason == nil {
                closedReason = "an earlier error left the archive incomplete (\(error.message))"
            }
            throw error
        }
    }

    /// Throws unless the writer is open and no record named `name` was written.
    private func requireNew(_ name: String) throws(ZipError) {
        try requireOpen()
        guard !namesWritten.contains(Array(name.utf8)) else {
            throw ZipError(.duplicateRecord, "the record was already written (PyTorch: \"Tried to serialize file twice\")", record: fullName(name))
        }
    }

    /// Writes a whole record whose bytes are in memory (no name checks beyond the entry's own).
    private func writeEntry(_ name: String, bytes: UnsafeRawBufferPointer) throws(ZipError) {
        // The CRC goes in the descriptor after the data: the stream folds it while the sink writes.
        var entry = try beginEntry(name, size: UInt64(bytes.count), knownCRC32: nil)
        try guardSink { () throws(ZipError) in try entry.stream.write(bytes) }
        try endEntry(entry)
    }

    /// A record whose local header was written and whose data is on its way.
    private struct PendingEntry {
        /// The name without the prefix.
        var name: String
        /// The full name as written.
        var fullName: [UInt8]
        /// The local header's offset.
        var offset: UInt64
        /// The general purpose flags.
        var flags: UInt16
        /// Whether the local header has a zip64 extra field (and the descriptor 64-bit sizes).
        var isZip64: Bool
        /// Whether the name ends in `/`.
        var isDirectory: Bool
        /// The CRC-32 given by the caller instead of computed.
        var knownCRC32: UInt32?
        /// The size of the contents; the stream's size is the compressed size for a deflated record.
        var uncompressedSize: UInt64
        /// The compression method: 0 (stored) or 8 (deflated).
        var method: UInt16
        /// The MS-DOS time and date.
        var dosTimestamp: UInt32
        /// The data on its way to the sink.
        var stream: RecordStream
    }

    /// Checks the entry against miniz's limits and writes its local header as
    /// miniz's `mz_zip_writer_add_mem_ex_v2` does for PyTorch: the 30 fixed
    /// bytes, the name, the zip64 extra field when needed, the `FB` field.
    ///
    /// The serialization id observes the same blocks PyTorch's write callback
    /// receives from miniz: the 30-byte header, the name, the zip64 extra
    /// field, the `FB` field, then (in ``endEntry(_:)``) the data as one
    /// block and the descriptor.
    private func beginEntry(_ name: String, size: UInt64, knownCRC32: UInt32?, deflatedSize: UInt64? = nil) throws(ZipError) -> PendingEntry {
        let full = folder + Array(name.utf8)
        let fullText = fullName(name)
        guard !name.isEmpty, !full.contains(0) else {
            throw ZipError(.invalidArgument, "a record name must be non-empty and hold no NUL byte", record: fullText)
        }
        guard full.count <= 0xFFFF else {
            throw ZipError(.invalidArgument, "the full record name has \(full.count) bytes, more than a zip entry's 65,535", record: fullText)
        }
        // miniz marks names ending in '/' as directories, which cannot hold data.
        let isDirectory = full.last == UInt8(ascii: "/")
        guard !isDirectory || size == 0 else {
            throw ZipError(.invalidArgument, "a record whose name ends in '/' is a directory and cannot hold \(size) bytes", record: fullText)
        }
        guard entryCount < UInt64(UInt32.max) else {
            throw ZipError(.tooLarge, "the archive already holds \(entryCount) records, the most miniz writes", record: fullText)
        }
        // miniz reserves room for the largest zip64 extra field in this check.
        guard UInt64(centralDirectory.count) + 46 + UInt64(full.count) + 28 < UInt64(UInt32.max) else {
            throw ZipError(.tooLarge, "the central directory would reach 4 GiB, which miniz does not write", record: fullText)
        }

        let offset = sink.position
        let largeSize = size >= 0xFFFF_FFFF
        let largeOffset = offset >= 0xFFFF_FFFF
        var zip64Extra: [UInt8] = []
        if largeSize || largeOffset {
            zip64Extra.appendLittleEndian(ZipSignature.zip64ExtraID)
            zip64Extra.appendLittleEndian(UInt16((largeSize ? 16 : 0) + (largeOffset ? 8 : 0)))
            if largeSize {
                zip64Extra.appendLittleEndian(size)
                zip64Extra.appendLittleEndian(UInt64(0))  // compressed size: not known yet
            }
            if largeOffset {
                zip64Extra.appendLittleEndian(offset)
            }
        }
        let padding = Self.padding(offset: offset, nameCount: full.count, zip64ExtraCount: zip64Extra.count, alignment: options.alignment)
        var alignmentExtra: [UInt8] = [UInt8(ascii: "F"), UInt8(ascii: "B")]
        alignmentExtra.appendLittleEndian(UInt16(padding))
        alignmentExtra.append(contentsOf: repeatElement(UInt8(ascii: "Z"), count: padding))
        let flags: UInt16 = size > 0 ? 0x0808 : 0x0800
        let method: UInt16 = deflatedSize == nil ? 0 : 8

        var header: [UInt8] = []
        header.reserveCapacity(ZipSignature.localHeaderSize + full.count + zip64Extra.count + alignmentExtra.count)
        header.appendLittleEndian(ZipSignature.localHeader)
        header.appendLittleEndian(Self.versionNeeded(method: method))
        header.appendLittleEndian(flags)
        header.appendLittleEndian(method)
        header.appendLittleEndian(dosTimestamp)  // time, date
        header.appendLittleEndian(UInt32(0))  // CRC-32: in the descriptor
        header.appendLittleEndian(UInt32(0))  // compressed size
        header.appendLittleEndian(UInt32(0))  // uncompressed size
        header.appendLittleEndian(UInt16(full.count))
        header.appendLittleEndian(UInt16(zip64Extra.count + alignmentExtra.count))
        accumulator.observeWrite(header)
        header.append(contentsOf: full)
        accumulator.observeWrite(full)
        header.append(contentsOf: zip64Extra)
        accumulator.observeWrite(zip64Extra)
        header.append(contentsOf: alignmentExtra)
        accumulator.observeWrite(alignmentExtra)

        try guardSink { () throws(ZipError) in
            try header.withZipBytes { (raw: UnsafeRawBufferPointer) throws(ZipError) in try sink.write(raw) }
        }
        let stream = RecordStream(size: deflatedSize ?? size, computesCRC: knownCRC32 == nil && options.computeCRC32, record: fullText, sink: sink)
        return PendingEntry(
            name: name, fullName: full, offset: offset, flags: flags, isZip64: !zip64Extra.isEmpty,
            isDirectory: isDirectory, knownCRC32: knownCRC32, uncompressedSize: size, method: method,
            dosTimestamp: dosTimestamp, stream: stream)
    }

    /// Checks that all the data arrived, writes the data descriptor and adds
    /// the central directory entry.
    private func endEntry(_ entry: PendingEntry) throws(ZipError) {
        let size = entry.stream.size
        try guardSink { () throws(ZipError) in
            guard entry.stream.written == size else {
                throw ZipError(
                    .sizeMismatch, "\(entry.stream.written) bytes were written, but the record was declared with \(size)",
                    record: entry.stream.record, offset: entry.offset)
            }
            // miniz hands the whole data over as one block.
            if size >= 8 {
                accumulator.observeWrite(entry.stream.leadingBytes)
            }
            let crc = options.computeCRC32 ? (entry.knownCRC32 ?? entry.stream.crc) : 0
            if size > 0 {
                var descriptor: [UInt8] = []
                descriptor.appendLittleEndian(UInt32(0x0807_4B50))
                descriptor.appendLittleEndian(crc)
                if entry.isZip64 {
                    descriptor.appendLittleEndian(size)
                    descriptor.appendLittleEndian(entry.uncompressedSize)
                } else {
                    descriptor.appendLittleEndian(UInt32(truncatingIfNeeded: size))
                    descriptor.appendLittleEndian(UInt32(truncatingIfNeeded: entry.uncompressedSize))
                }
                accumulator.observeWrite(descriptor)
                try descriptor.withZipBytes { (raw: UnsafeRawBufferPointer) throws(ZipError) in try sink.write(raw) }
            }
            appendCentralEntry(name: entry.fullName, flags: entry.flags, method: entry.method, dosTimestamp: entry.dosTimestamp, crc: crc,
                               compressedSize: size, uncompressedSize: entry.uncompressedSize, offset: entry.offset,
                               isDirectory: entry.isDirectory)
        }
        entryCount += 1
        namesWritten.insert(Array(entry.name.utf8))
        recordsWritten.append(entry.name)
        if entry.name != Self.serializationIDRecord {
            accumulator.insertName(entry.name)
        }
    }

    /// miniz's "version needed to extract": 0 for a stored record, 20 (2.0) for a deflated one.
    static func versionNeeded(method: UInt16) -> UInt16 { method == 0 ? 0 : 20 }

    /// The number of `Z`s in the `FB` field: PyTorch's `getPadding`, which
    /// makes the data start at a multiple of `alignment` after the 30-byte
    /// header, the name, the zip64 extra field and the field's own 4 bytes.
    static func padding(offset: UInt64, nameCount: Int, zip64ExtraCount: Int, alignment: Int) -> Int {
        let start = offset + UInt64(ZipSignature.localHeaderSize + nameCount + zip64ExtraCount + 4)
        let remainder = Int(start % UInt64(alignment))
        return remainder == 0 ? 0 : alignment - remainder
    }

    /// Adds a record's central directory entry, as miniz's `mz_zip_writer_add_to_central_dir`.
    /// Sizes and offset of 0xFFFFFFFF or more go to a zip64 extra field, each only when it overflows.
    private func appendCentralEntry(name: [UInt8], flags: UInt16, method: UInt16, dosTimestamp: UInt32, crc: UInt32,
                                    compressedSize: UInt64, uncompressedSize: UInt64, offset: UInt64, isDirectory: Bool) {
        let overflowing = [uncompressedSize, compressedSize, offset].filter { $0 >= 0xFFFF_FFFF }
        var extra: [UInt8] = []
        if !overflowing.isEmpty {
            extra.appendLittleEndian(ZipSignature.zip64ExtraID)
            extra.appendLittleEndian(UInt16(8 * overflowing.count))
            for value in overflowing { extra.appendLittleEndian(value) }
        }
        centralDirectory.appendLittleEndian(ZipSignature.centralHeader)
        centralDirectory.appendLittleEndian(UInt16(0))  // version made by
        centralDirectory.appendLittleEndian(Self.versionNeeded(method: method))
        centralDirectory.appendLittleEndian(flags)
        centralDirectory.appendLittleEndian(method)
        centralDirectory.appendLittleEndian(dosTimestamp)  // time, date
        centralDirectory.appendLittleEndian(crc)
        centralDirectory.appendLittleEndian(UInt32(clamping: compressedSize))
        centralDirectory.appendLittleEndian(UInt32(clamping: uncompressedSize))
        centralDirectory.appendLittleEndian(UInt16(name.count))
        centralDirectory.appendLittleEndian(UInt16(extra.count))
        centralDirectory.appendLittleEndian(UInt16(0))  // comment length
        centralDirectory.appendLittleEndian(UInt16(0))  // disk number
        centralDirectory.appendLittleEndian(UInt16(0))  // internal attributes
        centralDirectory.appendLittleEndian(UInt32(isDirectory ? 0x10 : 0))  // external attributes
        centralDirectory.appendLittleEndian(UInt32(clamping: offset))
        centralDirectory.append(contentsOf: name)
        centralDirectory.append(contentsOf: extra)
    }

    /// Writes the central directory, the zip64 end record and locator, and
    /// the classic end record, as miniz's `mz_zip_writer_finalize_archive`
    /// does for an archive in zip64 mode (PyTorch always asks for it).
    private func writeEndOfCentralDirectory() throws(ZipError) {
        let directoryOffset = entryCount > 0 ? sink.position : 0
        let directorySize = UInt64(centralDirectory.count)
        if entryCount > 0 {
            try centralDirectory.withZipBytes { (raw: UnsafeRawBufferPointer) throws(ZipError) in try sink.write(raw) }
        }
        let zip64EndOffset = sink.position
        var end: [UInt8] = []
        end.reserveCapacity(ZipSignature.zip64EndRecordSize + ZipSignature.locatorSize + ZipSignature.endRecordSize)
        end.appendLittleEndian(ZipSignature.zip64EndOfCentralDirectory)
        end.appendLittleEndian(UInt64(ZipSignature.zip64EndRecordSize - 12))
        end.appendLittleEndian(UInt16(0x031E))  // made by: Unix, 3.0
        end.appendLittleEndian(UInt16(45))  // needed: 4.5, zip64
        end.appendLittleEndian(UInt32(0))  // this disk
        end.appendLittleEndian(UInt32(0))  // central directory disk
        end.appendLittleEndian(entryCount)
        end.appendLittleEndian(entryCount)
        end.appendLittleEndian(directorySize)
        end.appendLittleEndian(directoryOffset)

        end.appendLittleEndian(ZipSignature.zip64Locator)
        end.appendLittleEndian(UInt32(0))  // disk of the zip64 end record
        end.appendLittleEndian(zip64EndOffset)
        end.appendLittleEndian(UInt32(1))  // total disks

        let clampedCount = UInt16(clamping: entryCount)
        end.appendLittleEndian(ZipSignature.endOfCentralDirectory)
        end.appendLittleEndian(UInt16(0))  // this disk
        end.appendLittleEndian(UInt16(0))  // central directory disk
        end.appendLittleEndian(clampedCount)
        end.appendLittleEndian(clampedCount)
        end.appendLittleEndian(UInt32(clamping: directorySize))
        end.appendLittleEndian(UInt32(clamping: directoryOffset))
        end.appendLittleEndian(UInt16(0))  // comment length
        try end.withZipBytes { (raw: UnsafeRawBufferPointer) throws(ZipError) in try sink.write(raw) }
    }
}

/// The data of one record on its way to the sink: counts, checks the
/// declared size, computes the CRC-32 and keeps the first 8 bytes (for the
/// serialization id), without copying the data.
struct RecordStream {
    /// The declared size.
    let size: UInt64
    /// Whether to compute the CRC-32.
    let computesCRC: Bool
    /// The full record name, for messages.
    let record: String
    /// Where the data goes.
    let sink: any ZipSink
    /// The bytes written so far.
    private(set) var written: UInt64 = 0
    /// The CRC-32 of the bytes written so far.
    private(set) var crc: UInt32 = 0
    /// The first (up to 8) bytes.
    private(set) var leadingBytes: [UInt8] = []

    init(size: UInt64, computesCRC: Bool, record: String, sink: any ZipSink) {
        self.size = size
        self.computesCRC = computesCRC
        self.record = record
        self.sink = sink
    }

    /// Passes one chunk to the sink.
    mutating func write(_ chunk: UnsafeRawBufferPointer) throws(ZipError) {
        guard try observe(chunk) else { return }
        let sink = sink
        crc = try Self.fold(chunk, into: crc, if: computesCRC) { () throws(ZipError) in try sink.write(chunk) }
        written += UInt64(chunk.count)
    }

    /// Passes one chunk to the sink as bytes of the file open as `source`,
    /// from `offset`: copied by the kernel where the sink can, written from
    /// `chunk` (the same bytes, mapped) otherwise.
    mutating func write(_ chunk: UnsafeRawBufferPointer, copyingFrom source: Int32, at offset: Int64) throws(ZipError) {
        guard try observe(chunk) else { return }
        let sink = sink
        crc = try Self.fold(chunk, into: crc, if: computesCRC) { () throws(ZipError) in
            let copied = try sink.append(copying: chunk.count, of: source, at: offset)
            if copied < chunk.count {
                try sink.write(UnsafeRawBufferPointer(rebasing: chunk[copied...]))
            }
        }
        written += UInt64(chunk.count)
    }

    /// Runs `handOver`, which gives `chunk` to the sink, and returns `crc`
    /// advanced over the chunk when `computesCRC`: folded on another
    /// processor meanwhile when the chunk is large (``ConcurrentCRC``).
    private static func fold(_ chunk: UnsafeRawBufferPointer, into crc: UInt32, if computesCRC: Bool,
                             _ handOver: () throws(ZipError) -> Void) throws(ZipError) -> UInt32 {
        guard computesCRC else {
            try handOver()
            return crc
        }
        guard chunk.count >= ConcurrentCRC.threshold, ConcurrentCRC.isWorthwhile else {
            let folded = crc32(chunk, seed: crc)
            try handOver()
            return folded
        }
        return try ConcurrentCRC.crc32(of: chunk, seed: crc, during: handOver)
    }

    /// Checks a chunk against the declared size and keeps the leading bytes;
    /// false for an empty chunk.
    private mutating func observe(_ chunk: UnsafeRawBufferPointer) throws(ZipError) -> Bool {
        guard UInt64(chunk.count) <= size - written else {
            throw ZipError(.sizeMismatch, "a chunk of \(chunk.count) bytes after \(written) would pass the declared size of \(size) bytes", record: record)
        }
        guard !chunk.isEmpty else { return false }
        if leadingBytes.count < 8 {
            leadingBytes.append(contentsOf: chunk.prefix(8 - leadingBytes.count))
        }
        return true
    }
}

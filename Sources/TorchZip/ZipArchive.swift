/// A zip archive as PyTorch writes it (and as other tools re-zip it), read from a memory map.
///
/// Opening parses the end records (zip64 included), the central directory and
/// each entry's local header, and nothing else: no record data is touched.
/// Stored records, which is all PyTorch writes, are then views into the
/// mapped file; records another tool compressed are inflated through libzip
/// on first use and cached.
///
/// Every record of a PyTorch archive sits under one folder, the ``prefix``,
/// taken from the first entry (it is the saved file's name, or `archive`):
///
/// ```swift
/// let archive = try ZipArchive(path: "model.pth")
/// if let pickle = archive.record("data.pkl") {
///     let bytes = try archive.bytes(of: pickle)
///     bytes.withUnsafeBytes { raw in … }
/// }
/// ```
///
/// The archive is immutable once opened and safe to read from many threads.
///
/// Names are looked up as PyTorch's reader (miniz) looks them up: as bytes,
/// ASCII case ignored (`record("data.pkl")` finds `archive/DATA.PKL`). When
/// several entries share a name, they are all in ``entries``, and
/// ``entry(named:)`` returns the one miniz finds, which is neither always the
/// first nor the last.
public final class ZipArchive: Sendable {
    /// The mapped file the archive is read from.
    public let file: MappedFile

    /// The limits the archive was opened with.
    public let options: Options

    /// Every central directory entry, in central directory order.
    public let entries: [ZipEntry]

    /// The folder every record sits in: the text before the first `/` of the
    /// first central directory entry's name (`archive` for archives PyTorch
    /// wrote to a stream; never assumed).
    public let prefix: String

    /// Which entry PyTorch finds for a name.
    private let miniz: MinizLookup

    /// Whether two entries' names are equal with ASCII case ignored (as PyTorch's reader compares them).
    public let namesCollide: Bool

    /// Whether an entry's name is absolute or has a `..` component (no
    /// writer of checkpoints makes one; only a crafted file has one).
    package let hasUnsafeNames: Bool

    /// Whether a name starts with `/` or `\`.
    package static func isAbsolute(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        name.first == UInt8(ascii: "/") || name.first == UInt8(ascii: "\\")
    }

    /// Whether a name has a `..` component.
    package static func climbsOut(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        var dots = 0, componentLength = 0
        for byte in name {
            if byte == UInt8(ascii: "/") {
                if componentLength == 2, dots == 2 { return true }
                dots = 0
                componentLength = 0
            } else {
                componentLength += 1
                if byte == UInt8(ascii: ".") { dots += 1 }
            }
        }
        return componentLength == 2 && dots == 2
    }

    /// Inflated compressed records.
    private let inflation = InflationCache()

    /// Maps the file at `path` and opens it as a zip archive.
    ///
    /// - Parameters:
    ///   - path: The file to open.
    ///   - options: Limits against malicious input.
    /// - Throws: ``ZipError`` when the file cannot be mapped or is not a
    ///   well-formed zip archive with a prefix folder.
    public convenience init(path: String, options: Options = .init()) throws(ZipError) {
        let file = try MappedFile(path: path)
        defer { file.closeDescriptor() }
        try self.init(file: file, options: options)
    }

    /// Opens an already mapped file as a zip archive.
    ///
    /// Reads the end records, the central directory and every local header,
    /// and checks that every record's data lies before the central directory.
    ///
    /// - Parameters:
    ///   - file: The mapped file.
    ///   - options: Limits against malicious input.
    /// - Throws: ``ZipError`` naming the record and the byte offset of the first problem found.
    public init(file: MappedFile, options: Options = .init()) throws(ZipError) {
        self.file = file
        self.options = options
        let end = try EndOfCentralDirectory.locate(in: file.bytes, maxEntryCount: options.maxEntryCount)
        var parser = CentralDirectoryParser(file: file.bytes, end: end, maxEntryCount: options.maxEntryCount)
        parser.readWithoutMapping = { file.readWithoutMapping(at: $0, into: $1) }
        let entries = try parser.parse()
        guard let first = entries.first else {
            throw ZipError(.noPrefix, "the archive has no entries, so no prefix folder", offset: end.recordOffset)
        }
        guard let slash = first.name.utf8.firstIndex(of: UInt8(ascii: "/")) else {
            throw ZipError(.noPrefix, "the first entry's name has no '/', so there is no prefix folder", record: first.name, offset: first.localHeaderOffset)
        }
        // Each record's header and data lie before the next record's header, as every zip writer lays them out;
        // records that share or overlap their data are a zip bomb's construction (one small file, inflated
        // once per entry), refused before anything is inflated.
        // PyTorch writes records in order: sorted only when they are not.
        let inOrder = entries.indices.dropFirst().allSatisfy { entries[$0 - 1].localHeaderOffset <= entries[$0].localHeaderOffset }
        let ordered = inOrder ? entries : entries.sorted { $0.localHeaderOffset < $1.localHeaderOffset }
        for i in ordered.indices.dropFirst() where ordered[i - 1].dataOffset + ordered[i - 1].compressedSize > ordered[i].localHeaderOffset {
            let a = ordered[i - 1], b = ordered[i]
            throw ZipError(.overlappingRecords,
                           "its data (bytes \(a.dataOffset) to \(a.dataOffset + a.compressedSize)) overlaps record '\(b.name)', "
                           + "whose local header is at byte \(b.localHeaderOffset): records that share their data are how a zip bomb is built",
                           record: a.name, offset: a.localHeaderOffset)
        }
        let prefix = String(decoding: first.name.utf8[..<slash], as: UTF8.self)
        self.entries = entries
        self.prefix = prefix
        self.miniz = MinizLookup(entries: entries)
        self.namesCollide = miniz.hasCollisions
        var unsafe = false
        miniz.forEachFoldedName { _, name in
            if !unsafe, Self.isAbsolute(name) || Self.climbsOut(name) { unsafe = true }
        }
        self.hasUnsafeNames = unsafe
    }

    /// The entry whose full name is `fullName`, or `nil`: when several share
    /// the name, the one `torch.load` reads.
    ///
    /// - Parameter fullName: The name as stored, prefix included (`archive/data.pkl`).
    public func entry(named fullName: String) -> ZipEntry? {
        miniz.locate(Array(fullName.utf8)).map { entries[$0] }
    }

    /// Whether another entry shares `entry`'s name (ASCII case ignored, as PyTorch's reader compares).
    public func hasDuplicateName(_ entry: ZipEntry) -> Bool {
        guard namesCollide else { return false }
        let name = Array(entry.name.utf8)
        return entries.contains { $0.index != entry.index && MinizLookup.compare(Array($0.name.utf8), name) == 0 }
    }

    /// The entries of the records `<folder>/0`, `<folder>/1`, … numbered below
    /// `limit`, by number (-1 where there is none): each is the entry
    /// ``record(_:)`` finds for its name, found in one pass instead of one
    /// hashed name per lookup. Nil when names collide (only ``record(_:)``
    /// then knows which one PyTorch reads).
    package func recordsByNumber(in folder: String, below limit: Int) -> [Int32]? {
        guard !namesCollide else { return nil }
        var byNumber = [Int32](repeating: -1, count: limit)
        // Compared as miniz compares names: ASCII case ignored.
        let start = Array("\(prefix)/\(folder)/".utf8).map(MinizLookup.lowered)
        miniz.forEachFoldedName { index, name in
            guard name.count > start.count, Self.bytes(name, startWith: start),
                  let n = Self.number(UnsafeBufferPointer(rebasing: name[start.count...]), below: limit) else { return }
            byNumber[n] = Int32(index)
        }
        return byNumber
    }

    /// The number `digits` write, when they write one below `limit` as
    /// `torch.save` names its records: decimal, no sign, no leading zero.
    package static func number(_ digits: UnsafeBufferPointer<UInt8>, below limit: Int) -> Int? {
        guard let first = digits.first, first != UInt8(ascii: "0") || digits.count == 1, digits.count <= 9 else { return nil }
        var n = 0
        for d in digits {
            guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") else { return nil }
            n = n * 10 + Int(d - UInt8(ascii: "0"))
        }
        return n < limit ? n : nil
    }

    /// The entry of a record, named relative to the ``prefix``: `record("data.pkl")`
    /// looks up `"\(prefix)/data.pkl"`.
    ///
    /// - Parameter name: The record name without the prefix folder.
    public func record(_ name: String) -> ZipEntry? {
        entry(named: prefix + "/" + name)
    }

    /// The names of the records under the ``prefix``, relative to it, in
    /// central directory order; entries outside the prefix folder are left out.
    ///
    /// Made on each call (an archive of 100,000 tensors has 100,000 names).
    public var recordNames: [String] {
        let folder = Array((prefix + "/").utf8)
        var names: [String] = []
        names.reserveCapacity(entries.count)
        for entry in entries {
            var name = entry.name
            name.withUTF8 { utf8 in
                if Self.bytes(utf8, startWith: folder) {
                    names.append(String(decoding: UnsafeBufferPointer(rebasing: utf8[folder.count...]), as: UTF8.self))
                }
            }
        }
        return names
    }

    /// Whether a record's name (relative to the ``prefix``) starts with
    /// `start`, compared byte for byte: `containsRecord(under: "code/")`
    /// without making every name.
    package func containsRecord(under start: String) -> Bool {
        let full = Array((prefix + "/" + start).utf8)
        let folded = full.map(MinizLookup.lowered)
        var found = false
        // The folded names first (one buffer); the name itself only where they agree.
        miniz.forEachFoldedName { index, name in
            guard !found, Self.bytes(name, startWith: folded) else { return }
            var name = entries[index].name
            found = name.withUTF8 { Self.bytes($0, startWith: full) }
        }
        return found
    }

    /// Whether `bytes` start with `start`.
    static func bytes(_ bytes: UnsafeBufferPointer<UInt8>, startWith start: [UInt8]) -> Bool {
        guard bytes.count >= start.count else { return false }
        for i in start.indices where bytes[i] != start[i] { return false }
        return true
    }

    /// The bytes of a record.
    ///
    /// Stored records are a view into the mapped file: no copy, and no page
    /// touched beyond the local header until the bytes are read. Compressed
    /// records are inflated through libzip (`zip_fopen_index`, `zip_fread`) on
    /// first use, into a buffer of exactly the declared size, and cached, so
    /// that each is inflated once however many threads ask; the data must
    /// inflate to exactly the declared size and match its CRC-32.
    ///
    /// - Parameter entry: An entry of this archive.
    /// - Returns: The bytes, kept valid by the returned value.
    /// - Throws: ``ZipError``: ``ZipError/Code/unknownEntry`` for an entry of
    ///   another archive, ``ZipError/Code/encrypted``, ``ZipError/Code/tooLarge``
    ///   past ``Options/maxInflatedRecordSize``, or what inflation found.
    public func bytes(of entry: ZipEntry) throws(ZipError) -> RecordBytes {
        guard entry.index >= 0, entry.index < entries.count, entries[entry.index] == entry else {
            throw ZipError(.unknownEntry, "the entry #\(entry.index) is not an entry of '\(file.path)'", record: entry.name)
        }
        guard !entry.isEncrypted else {
            throw ZipError(.encrypted, "the record is encrypted (flags \(entry.flags))", record: entry.name, offset: entry.localHeaderOffset)
        }
        if entry.isStored {
            // The parser checked dataOffset + compressedSize <= the central directory offset < file.count.
            guard let offset = Int(exactly: entry.dataOffset), let count = Int(exactly: entry.compressedSize),
                  offset <= file.count, count <= file.count - offset
            else {
                throw ZipError(.entryOutOfBounds, "the data (\(entry.compressedSize) bytes) lies outside the file of \(file.count) bytes", record: entry.name, offset: entry.dataOffset)
            }
            let start = file.bytes.baseAddress.map { $0 + offset }
            return RecordBytes(start: start, count: count, owner: file, fileOffset: entry.dataOffset)
        }
        guard entry.uncompressedSize <= options.maxInflatedRecordSize, let count = Int(exactly: entry.uncompressedSize) else {
            throw ZipError(
                .tooLarge,
                "the record inflates to \(entry.uncompressedSize) bytes, more than the limit of \(options.maxInflatedRecordSize)",
                record: entry.name, offset: entry.dataOffset)
        }
        // Refused before anything is allocated for it.
        guard LibzipMethods.canDecompress(entry.compressionMethod) else {
            throw ZipError(.unsupportedCompression, "compression method \(entry.compressionMethod) is not one libzip can decompress",
                           record: entry.name, offset: entry.dataOffset)
        }
        // Deflate turns at most 258 bytes into 2 bits, so no honest deflated record
        // inflates to more than 1032 times its size: a header that claims more is
        // refused before anything is allocated.
        if entry.isDeflated, entry.uncompressedSize / 1032 > entry.compressedSize + 1 {
            throw ZipError(
                .tooLarge,
                "\(entry.compressedSize) deflated bytes cannot inflate to the \(entry.uncompressedSize) bytes the header claims",
                record: entry.name, offset: entry.dataOffset)
        }
        let buffer = try inflation.buffer(for: entry, count: count, in: file, entryCount: entries.count)
        return RecordBytes(start: buffer.pointer.map { UnsafeRawPointer($0) }, count: buffer.count, owner: buffer, fileOffset: nil)
    }

    /// Recomputes the record's CRC-32 (zlib's `crc32`) and compares it with the central directory's.
    ///
    /// Reads every byte of the record (for a stored record, every page of it).
    ///
    /// - Parameter entry: An entry of this archive.
    /// - Throws: ``ZipError/Code/crcMismatch`` with both values, or what ``bytes(of:)`` throws.
    public func verifyCRC(of entry: ZipEntry) throws(ZipError) {
        let found = try bytes(of: entry).withUnsafeBytes { crc32($0) }
        guard found == entry.crc32 else {
            throw ZipError(
                .crcMismatch,
                "CRC-32 of the \(entry.uncompressedSize) bytes is \(hex(found)), but the central directory says \(hex(entry.crc32))",
                record: entry.name, offset: entry.dataOffset)
        }
    }

    /// Asks libzip for an independent second opinion on the whole archive.
    ///
    /// Opens the mapped file with libzip's `zip_open_from_source` and
    /// `ZIP_CHECKCONS` (libzip compares every local header with its central
    /// directory entry, checks offsets and that the central directory is
    /// exactly where the end record says), then checks that libzip read the
    /// same entries as this parser (`zip_stat_index`: name, sizes, CRC, method).
    /// CRCs are not recomputed: use ``verifyCRC(of:)`` for that.
    ///
    /// libzip is stricter than this parser in places: it rejects duplicate names
    /// under `ZIP_CHECKCONS`, and names flagged UTF-8 that are not.
    ///
    /// - Throws: ``ZipError`` carrying libzip's message on failure.
    public func checkConsistencyWithLibzip() throws(ZipError) {
        try Libzip.checkConsistency(of: file, expecting: entries)
    }
}

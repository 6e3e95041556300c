/// Every record a zip file holds, found leniently, for scanning files that
/// may be hostile: where ``ZipArchive`` refuses an archive that is not laid
/// out as PyTorch lays it out (no prefix folder, flags that claim encryption,
/// a central directory whose names differ from the local headers), a
/// scanner still has to see every pickle inside.
///
/// Records come from the central directory when the end record can be
/// found (each with its local header's name when that differs), otherwise
/// from the local headers, walked from the first byte. Nothing is trusted:
/// every offset and length is checked against the file, and a record whose
/// data cannot be located is left out.
///
/// ```swift
/// for record in LooseZip.records(in: file.bytes) {
///     try LooseZip.withContents(of: record, in: file.bytes) { bytes in … }
/// }
/// ```
public enum LooseZip {
    /// One record, as its headers describe it.
    public struct Record: Sendable, Hashable {
        /// The name in the central directory (or in the local header, when
        /// the records were found by walking the local headers).
        public let name: String
        /// The local header's name, when it differs from ``name``.
        public let localName: String?
        /// The byte offset of the local header.
        public let headerOffset: Int
        /// The byte offset of the record's (possibly compressed) data.
        public let dataOffset: Int
        /// The length of the data as stored.
        public let compressedSize: Int
        /// The length the headers claim once inflated.
        public let uncompressedSize: UInt64
        /// The compression method (0 stored, 8 deflate).
        public let method: UInt16
        /// The general-purpose flags (bit 0 claims encryption).
        public let flags: UInt16
    }

    /// The records of the zip structure in `bytes`, in central directory
    /// order (or local header order); empty when there is none.
    ///
    /// At most `maxRecords` records are returned.
    public static func records(in bytes: UnsafeRawBufferPointer, maxRecords: Int = 1_000_000) -> [Record] {
        if let fromDirectory = centralDirectoryRecords(in: bytes, maxRecords: maxRecords), !fromDirectory.isEmpty {
            return fromDirectory
        }
        return localHeaderRecords(in: bytes, maxRecords: maxRecords)
    }

    /// Calls `body` with the record's data: stored records in place,
    /// deflated records inflated into memory, at most `limit` bytes (more is
    /// an error, or with `truncating` the first `limit` bytes; any other
    /// compression method or a damaged stream is an error). The encryption
    /// flag is ignored: the bytes are read as stored.
    public static func withContents<T>(
        of record: Record, in bytes: UnsafeRawBufferPointer, limit: Int = 1 << 30, truncating: Bool = false,
        _ body: (UnsafeRawBufferPointer) throws -> T
    ) throws -> T {
        guard record.dataOffset >= 0, record.compressedSize >= 0, record.dataOffset <= bytes.count,
              record.compressedSize <= bytes.count - record.dataOffset else {
            throw ZipError(.truncated, "the record's data runs past the end of the file", record: record.name,
                           offset: UInt64(record.headerOffset))
        }
        let data = UnsafeRawBufferPointer(rebasing: bytes[record.dataOffset ..< record.dataOffset + record.compressedSize])
        switch record.method {
        case 0:
            return try body(truncating && data.count > limit ? UnsafeRawBufferPointer(rebasing: data.prefix(limit)) : data)
        case 8:
            let inflated = try Libzip.rawInflate(data, limit: limit, truncating: truncating, record: record.name,
                                                 offset: UInt64(record.headerOffset))
            return try inflated.withUnsafeBytes { try body($0) }
        default:
            throw ZipError(.unsupportedCompression, "compression method \(record.method) is not read when scanning",
                           record: record.name, offset: UInt64(record.headerOffset))
        }
    }

    // MARK: Central directory

    static func centralDirectoryRecords(in bytes: UnsafeRawBufferPointer, maxRecords: Int) -> [Record]? {
        guard let end = try? EndOfCentralDirectory.locate(in: bytes, maxEntryCount: maxRecords) else { return nil }
        // A zip appended to other bytes (a pickle in front, a self-extractor) keeps offsets
        // relative to its own start: shift them by what precedes it, as Python's zipfile does.
        var shift: UInt64 = 0
        let expected = end.directoryLimit >= end.directorySize ? end.directoryLimit - end.directorySize : 0
        if expected > end.directoryOffset, !isCentralHeader(bytes, at: end.directoryOffset), isCentralHeader(bytes, at: expected) {
            shift = expected - end.directoryOffset
        }
        guard end.directoryOffset + shift < UInt64(bytes.count) else { return nil }
        var records: [Record] = []
        var position = Int(end.directoryOffset + shift)
        while records.count < maxRecords, position >= 0, bytes.count - position >= ZipSignature.centralHeaderSize,
              bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self) == ZipSignature.centralHeader.littleEndian {
            func u16(_ at: Int) -> UInt16 { bytes.loadLittleEndian(UInt16.self, at: position + at) }
            func u32(_ at: Int) -> UInt32 { bytes.loadLittleEndian(UInt32.self, at: position + at) }
            let flags = u16(8), method = u16(10)
            var compressed = UInt64(u32(20)), uncompressed = UInt64(u32(24))
            let nameLength = Int(u16(28)), extraLength = Int(u16(30)), commentLength = Int(u16(32))
            var localOffset = UInt64(u32(42))
            let variable = ZipSignature.centralHeaderSize
            guard bytes.count - position - variable >= nameLength + extraLength + commentLength else { break }
            let name = text(bytes, position + variable, nameLength)
            // Zip64 extra field: the sizes and offset whose classic fields hold 0xFFFFFFFF, in that order.
            var extra = position + variable + nameLength
            let extraEnd = extra + extraLength
            while extraEnd - extra >= 4 {
                let id = bytes.loadLittleEndian(UInt16.self, at: extra)
                let size = Int(bytes.loadLittleEndian(UInt16.self, at: extra + 2))
                guard extraEnd - extra - 4 >= size else { break }
                if id == ZipSignature.zip64ExtraID {
                    var field = extra + 4
                    func next() -> UInt64? {
                        guard extra + 4 + size - field >= 8 else { return nil }
                        defer { field += 8 }
                        return bytes.loadLittleEndian(UInt64.self, at: field)
                    }
                    if uncompressed == 0xFFFF_FFFF, let v = next() { uncompressed = v }
                    if compressed == 0xFFFF_FFFF, let v = next() { compressed = v }
                    if localOffset == 0xFFFF_FFFF, let v = next() { localOffset = v }
                }
                extra += 4 + size
            }
            position += variable + nameLength + extraLength + commentLength
            let (shifted, overflow) = localOffset.addingReportingOverflow(shift)
            if !overflow, let record = local(at: shifted, in: bytes, name: name, flags: flags, method: method,
                                  compressed: compressed, uncompressed: uncompressed) {
                records.append(record)
            }
        }
        return records
    }

    /// Whether a central directory header begins at `offset`.
    static func isCentralHeader(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) -> Bool {
        offset <= UInt64(bytes.count) && bytes.count - Int(offset) >= 4
            && bytes.loadUnaligned(fromByteOffset: Int(offset), as: UInt32.self) == ZipSignature.centralHeader.littleEndian
    }

    /// The record whose local header is at `offset`, sized by the central directory.
    static func local(at offset: UInt64, in bytes: UnsafeRawBufferPointer, name: String, flags: UInt16, method: UInt16,
                      compressed: UInt64, uncompressed: UInt64) -> Record? {
        guard offset <= UInt64(bytes.count), bytes.count - Int(offset) >= ZipSignature.localHeaderSize else { return nil }
        let at = Int(offset)
        guard bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self) == ZipSignature.localHeader.littleEndian else { return nil }
        let nameLength = Int(bytes.loadLittleEndian(UInt16.self, at: at + 26))
        let extraLength = Int(bytes.loadLittleEndian(UInt16.self, at: at + 28))
        let dataOffset = at + ZipSignature.localHeaderSize + nameLength + extraLength
        guard dataOffset <= bytes.count else { return nil }
        let localName = text(bytes, at + ZipSignature.localHeaderSize, nameLength)
        let size = Int(clamping: min(compressed, UInt64(bytes.count - dataOffset)))
        return Record(name: name, localName: localName == name ? nil : localName, headerOffset: at, dataOffset: dataOffset,
                      compressedSize: size, uncompressedSize: uncompressed, method: method, flags: flags)
    }

    // MARK: Local headers

    static func localHeaderRecords(in bytes: UnsafeRawBufferPointer, maxRecords: Int) -> [Record] {
        var records: [Record] = []
        var position = 0
        while records.count < maxRecords, bytes.count - position >= ZipSignature.localHeaderSize,
              bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self) == ZipSignature.localHeader.littleEndian {
            func u16(_ at: Int) -> UInt16 { bytes.loadLittleEndian(UInt16.self, at: position + at) }
            func u32(_ at: Int) -> UInt32 { bytes.loadLittleEndian(UInt32.self, at: position + at) }
            let flags = u16(6), method = u16(8)
            var compressed = UInt64(u32(18))
            let uncompressed = UInt64(u32(22))
            let nameLength = Int(u16(26)), extraLength = Int(u16(28))
            let name = bytes.count - position - ZipSignature.localHeaderSize >= nameLength
                ? text(bytes, position + ZipSignature.localHeaderSize, nameLength) : ""
            let deferred = flags & 8 != 0 && compressed == 0
            if deferred {
                // Sizes deferred to a data descriptor (flag bit 3): the data runs to the next header
                // (its descriptor included, which a scan of its start does not mind).
                let dataStart = position + ZipSignature.localHeaderSize + nameLength + extraLength
                guard dataStart <= bytes.count else { break }
                compressed = UInt64(nextHeader(in: bytes, from: dataStart) - dataStart)
            }
            guard let record = local(at: UInt64(position), in: bytes, name: name, flags: flags, method: method,
                                     compressed: compressed, uncompressed: uncompressed) else { break }
            records.append(record)
            position = record.dataOffset + record.compressedSize
            if flags & 8 != 0, !deferred {
                // The data descriptor: an optional signature, CRC-32 and the two sizes.
                if bytes.count - position >= 4,
                   bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self) == UInt32(0x0807_4B50).littleEndian {
                    position += 4
                }
                position += 12
            }
        }
        return records
    }

    /// Where the next local or central header after `start` begins (the end of the file if none does).
    static func nextHeader(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var i = start
        while i + 4 <= bytes.count {
            if bytes[i] == 0x50, bytes[i + 1] == 0x4B, (bytes[i + 2] == 3 && bytes[i + 3] == 4) || (bytes[i + 2] == 1 && bytes[i + 3] == 2) {
                return i
            }
            i += 1
        }
        return bytes.count
    }

    /// A name's bytes as UTF-8 (invalid sequences replaced).
    static func text(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ count: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + count]), as: UTF8.self)
    }
}

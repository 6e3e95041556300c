/// Walks the central directory and the local headers it points to.
struct CentralDirectoryParser {
    /// The whole file.
    let file: UnsafeRawBufferPointer
    /// What the end records said.
    let end: EndOfCentralDirectory
    /// The most entries to accept.
    let maxEntryCount: Int
    /// Reads bytes without the mapping (`MappedFile.readWithoutMapping`), so
    /// that local headers do not make the kernel map the data around them;
    /// nil, or a false return, reads them through ``file``.
    var readWithoutMapping: ((_ offset: Int, _ into: UnsafeMutableRawBufferPointer) -> Bool)? = nil

    /// Parses every central directory entry, in order, reading each local
    /// header to find where the data starts.
    ///
    /// Only headers are read: the data of a record is never touched.
    func parse() throws(ZipError) -> [ZipEntry] {
        // EndOfCentralDirectory checked offset + size <= its own offset < file.count; checked again here.
        guard let start = Int(exactly: end.directoryOffset), let size = Int(exactly: end.directorySize),
              start <= file.count, size <= file.count - start
        else {
            throw ZipError(.badCentralDirectory, "the central directory (offset \(end.directoryOffset), \(end.directorySize) bytes) lies outside the file of \(file.count) bytes", offset: end.recordOffset)
        }
        var reader = ByteReader(
            UnsafeRawBufferPointer(rebasing: file[start ..< start + size]),
            fileOffset: end.directoryOffset, region: "central directory")
        var entries: [ZipEntry] = []
        // The last bytes read without the map: local headers of small records lie
        // close together, so one read serves many (100,000 tiny tensors: a few
        // thousand reads instead of 100,000).
        var window = HeaderWindow()
        // Bounded by maxEntryCount and by directorySize / 46 (EndOfCentralDirectory checked both).
        entries.reserveCapacity(Int(clamping: end.entryCount))
        while reader.remaining > 0 {
            guard entries.count < maxEntryCount else {
                throw ZipError(.tooManyEntries, "the central directory holds more than the limit of \(maxEntryCount) entries", offset: reader.absolutePosition)
            }
            entries.append(try parseEntry(index: entries.count, reader: &reader, window: &window))
        }
        let found = UInt64(entries.count)
        // InfoZIP stores the count modulo 65536 when it overflows without zip64.
        guard found == end.entryCount || (!end.isZip64 && found > 0xFFFF && found & 0xFFFF == end.entryCount) else {
            throw ZipError(.badCentralDirectory, "the end record declares \(end.entryCount) entries, but the central directory holds \(found)", offset: end.recordOffset)
        }
        return entries
    }

    /// Parses the central directory entry at the reader's position.
    private func parseEntry(index: Int, reader: inout ByteReader, window: inout HeaderWindow) throws(ZipError) -> ZipEntry {
        let headerOffset = reader.absolutePosition
        reader.record = nil
        let flags: UInt16, method: UInt16, timestamp: UInt32, crc: UInt32, compressed32: UInt32, uncompressed32: UInt32
        let nameLength: Int, extraLength: Int, commentLength: Int, diskStart: UInt16, offset32: UInt32
        let fixed = ZipSignature.centralHeaderSize
        if reader.remaining >= fixed, reader.bytes.loadLittleEndian(UInt32.self, at: reader.position) == ZipSignature.centralHeader {
            // The fixed part is all there: read in place, each field at its offset.
            let b = reader.bytes, at = reader.position
            flags = b.loadLittleEndian(UInt16.self, at: at + 8)
            method = b.loadLittleEndian(UInt16.self, at: at + 10)
            timestamp = b.loadLittleEndian(UInt32.self, at: at + 12)
            crc = b.loadLittleEndian(UInt32.self, at: at + 16)
            compressed32 = b.loadLittleEndian(UInt32.self, at: at + 20)
            uncompressed32 = b.loadLittleEndian(UInt32.self, at: at + 24)
            nameLength = Int(b.loadLittleEndian(UInt16.self, at: at + 28))
            extraLength = Int(b.loadLittleEndian(UInt16.self, at: at + 30))
            commentLength = Int(b.loadLittleEndian(UInt16.self, at: at + 32))
            diskStart = b.loadLittleEndian(UInt16.self, at: at + 34)
            offset32 = b.loadLittleEndian(UInt32.self, at: at + 42)
            reader.position += fixed
        } else {
            // Field by field, so that a truncated or foreign entry says which field is missing.
            try reader.expectSignature(ZipSignature.centralHeader, "central directory entry #\(index)")
            try reader.skip(4, "central directory entry versions")
            flags = try reader.readUInt16("central directory entry flags")
            method = try reader.readUInt16("central directory entry compression method")
            timestamp = try reader.readUInt32("central directory entry time and date")
            crc = try reader.readUInt32("central directory entry CRC-32")
            compressed32 = try reader.readUInt32("central directory entry compressed size")
            uncompressed32 = try reader.readUInt32("central directory entry uncompressed size")
            nameLength = Int(try reader.readUInt16("central directory entry name length"))
            extraLength = Int(try reader.readUInt16("central directory entry extra field length"))
            commentLength = Int(try reader.readUInt16("central directory entry comment length"))
            diskStart = try reader.readUInt16("central directory entry disk number")
            try reader.skip(6, "central directory entry attributes")
            offset32 = try reader.readUInt32("central directory entry local header offset")
        }
        let nameBytes = try reader.readBytes(nameLength, "central directory entry #\(index) name")
        // ASCII (every name a writer of checkpoints makes) is valid UTF-8 without the generic check.
        var high: UInt8 = 0
        for byte in nameBytes { high |= byte }
        let validName = high < 0x80 ? String(decoding: nameBytes, as: UTF8.self) : String(validating: nameBytes, as: UTF8.self)
        let name = validName ?? String(decoding: nameBytes, as: UTF8.self)
        reader.record = name
        let extra = try reader.readBytes(extraLength, "extra field")
        try reader.skip(commentLength, "file comment")

        var uncompressedSize = UInt64(uncompressed32)
        var compressedSize = UInt64(compressed32)
        var localHeaderOffset = UInt64(offset32)
        let needsUncompressed = uncompressed32 == 0xFFFF_FFFF
        let needsCompressed = compressed32 == 0xFFFF_FFFF
        let needsOffset = offset32 == 0xFFFF_FFFF
        let needsDisk = diskStart == 0xFFFF
        if needsUncompressed || needsCompressed || needsOffset || needsDisk {
            // The zip64 extra holds only the overflowed fields, in this order.
            let needed = (needsUncompressed ? 8 : 0) + (needsCompressed ? 8 : 0) + (needsOffset ? 8 : 0) + (needsDisk ? 4 : 0)
            guard let zip64 = Self.extraField(ZipSignature.zip64ExtraID, in: extra) else {
                throw ZipError(.badCentralDirectory, "sizes or offset hold the zip64 sentinel 0xFFFFFFFF, but the entry has no zip64 extra field (id 0x0001)", record: name, offset: headerOffset)
            }
            guard zip64.count >= needed else {
                throw ZipError(.badCentralDirectory, "the zip64 extra field has \(zip64.count) bytes, but the overflowed fields need \(needed)", record: name, offset: headerOffset)
            }
            var fields = ByteReader(zip64, region: "zip64 extra field")
            if needsUncompressed { uncompressedSize = try fields.readUInt64("zip64 uncompressed size") }
            if needsCompressed { compressedSize = try fields.readUInt64("zip64 compressed size") }
            if needsOffset { localHeaderOffset = try fields.readUInt64("zip64 local header offset") }
        }

        if method == 0 && compressedSize != uncompressedSize {
            throw ZipError(.sizeMismatch, "stored (method 0) but the compressed size \(compressedSize) differs from the uncompressed size \(uncompressedSize)", record: name, offset: headerOffset)
        }
        let dataOffset = try locateData(of: name, localHeaderOffset: localHeaderOffset, compressedSize: compressedSize, window: &window)
        return ZipEntry(
            index: index, name: name, hasValidUTF8Name: validName != nil,
            compressionMethod: method, flags: flags, dosTimestamp: timestamp, crc32: crc,
            compressedSize: compressedSize, uncompressedSize: uncompressedSize,
            localHeaderOffset: localHeaderOffset, dataOffset: dataOffset)
    }

    /// Reads the local header at `localHeaderOffset` and returns where the data
    /// starts, after checking that the header and the data lie before the
    /// central directory.
    private func locateData(of name: String, localHeaderOffset: UInt64, compressedSize: UInt64,
                            window: inout HeaderWindow) throws(ZipError) -> UInt64 {
        // Local headers and data precede the central directory.
        let limit = end.directoryOffset
        guard localHeaderOffset < limit, let headerStart = Int(exactly: localHeaderOffset),
              let areaEnd = Int(exactly: limit), areaEnd <= file.count
        else {
            throw ZipError(.entryOutOfBounds, "the local header offset \(localHeaderOffset) is not before the central directory at byte \(limit) (file size \(file.count))", record: name, offset: localHeaderOffset)
        }
        // The fixed part of the header, read without the map when it can be:
        // anything unusual goes through the mapped bytes, for the same checks
        // and the same messages.
        if let readWithoutMapping, ZipSignature.localHeaderSize <= areaEnd - headerStart {
            let dataOffset: UInt64? = window.withBytes(at: headerStart, count: ZipSignature.localHeaderSize, limit: areaEnd,
                                                       read: readWithoutMapping) { header in
                guard header.loadLittleEndian(UInt32.self, at: 0) == ZipSignature.localHeader
                else { return nil }
                let nameLength = Int(header.loadLittleEndian(UInt16.self, at: 26))
                let extraLength = Int(header.loadLittleEndian(UInt16.self, at: 28))
                let start = headerStart + ZipSignature.localHeaderSize + nameLength + extraLength
                return start <= areaEnd ? UInt64(start) : nil
            }
            if let dataOffset, compressedSize <= limit - dataOffset { return dataOffset }
        }
        var reader = ByteReader(
            UnsafeRawBufferPointer(rebasing: file[0 ..< areaEnd]),
            region: "area before the central directory", at: headerStart)
        reader.record = name
        try reader.expectSignature(ZipSignature.localHeader, "local file header")
        try reader.skip(22, "local file header")
        let nameLength = Int(try reader.readUInt16("local header name length"))
        let extraLength = Int(try reader.readUInt16("local header extra field length"))
        try reader.skip(nameLength, "local header name")
        try reader.skip(extraLength, "local header extra field")
        let dataOffset = reader.absolutePosition
        guard compressedSize <= limit - dataOffset else {
            throw ZipError(
                .entryOutOfBounds,
                "the data (\(compressedSize) bytes from byte \(dataOffset)) runs past the start of the central directory at byte \(limit) (file size \(file.count))",
                record: name, offset: dataOffset)
        }
        return dataOffset
    }

    /// The data of the first extra field with `id`, or `nil`.
    ///
    /// A malformed tail (fewer than 4 bytes, or a length past the end) ends the walk.
    static func extraField(_ id: UInt16, in extra: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var position = 0
        while extra.count - position >= 4 {
            let fieldID = extra.loadLittleEndian(UInt16.self, at: position)
            let length = Int(extra.loadLittleEndian(UInt16.self, at: position + 2))
            let dataStart = position + 4
            guard length <= extra.count - dataStart else { return nil }
            if fieldID == id {
                return UnsafeRawBufferPointer(rebasing: extra[dataStart ..< dataStart + length])
            }
            position = dataStart + length
        }
        return nil
    }
}

/// A window of the file read with `pread`, for local headers: one buffer,
/// reused (neither allocated nor cleared per read).
struct HeaderWindow: ~Copyable {
    private var start = 0
    private var count = 0
    private var buffer: UnsafeMutableRawBufferPointer?
    private static let size = 32 * 1024

    deinit { buffer?.deallocate() }

    /// Runs `body` on `count` bytes at `offset` (from the window, or read
    /// anew with up to 32 KiB after them, not past `limit`); nil when they cannot be read.
    mutating func withBytes<R>(at offset: Int, count wanted: Int, limit: Int,
                      read: (Int, UnsafeMutableRawBufferPointer) -> Bool,
                      _ body: (UnsafeRawBufferPointer) -> R?) -> R? {
        if offset < start || offset + wanted > start + count {
            let length = min(max(Self.size, wanted), limit - offset)
            guard length >= wanted else { return nil }
            if let buffer, buffer.count < length {
                buffer.deallocate()
                self.buffer = nil
            }
            let target = buffer ?? UnsafeMutableRawBufferPointer.allocate(byteCount: max(length, Self.size), alignment: 16)
            buffer = target
            count = 0
            guard read(offset, UnsafeMutableRawBufferPointer(rebasing: target[0..<length])) else { return nil }
            start = offset
            count = length
        }
        guard let buffer else { return nil }
        return body(UnsafeRawBufferPointer(rebasing: buffer[(offset - start) ..< (offset - start + wanted)]))
    }
}

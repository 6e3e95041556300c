/// What the end records of an archive say about its central directory:
/// the classic end record, merged with the zip64 end record when present.
struct EndOfCentralDirectory {
    /// The number of central directory entries.
    var entryCount: UInt64
    /// The size of the central directory in bytes.
    var directorySize: UInt64
    /// The file offset of the central directory.
    var directoryOffset: UInt64
    /// Whether a zip64 end record was found (and its values used).
    var isZip64: Bool
    /// The file offset of the classic end record.
    var recordOffset: UInt64
    /// Where the central directory must end at the latest: the zip64 end
    /// record, or the classic end record without one.
    var directoryLimit: UInt64

    /// Finds and reads the end records of the archive in `file`.
    ///
    /// The classic record is searched backwards from the end, within the
    /// comment window (22 + 65,535 bytes): the first candidate whose comment
    /// ends exactly at the end of the file wins; failing that, the first whose
    /// comment fits (trailing bytes after the comment are tolerated). A zip64
    /// locator right before it leads to the zip64 end record, whose values are
    /// used where the classic fields hold their 0xFFFF / 0xFFFFFFFF sentinels;
    /// a classic value that is not a sentinel must agree with the zip64 one.
    static func locate(in file: UnsafeRawBufferPointer, maxEntryCount: Int) throws(ZipError) -> EndOfCentralDirectory {
        let size = file.count
        guard size > 0 else {
            throw ZipError(.notAZip, "the file is empty, so it is not a zip archive")
        }
        guard size >= ZipSignature.endRecordSize else {
            throw ZipError(.notAZip, "the file has \(size) bytes, fewer than a zip end record (22 bytes)")
        }
        let last = size - ZipSignature.endRecordSize
        let lowest = max(0, last - ZipSignature.maxCommentLength)
        var exact: Int?
        var fitting: Int?
        var candidate = last
        while candidate >= lowest {
            if file.loadUnaligned(fromByteOffset: candidate, as: UInt32.self) == ZipSignature.endOfCentralDirectory.littleEndian {
                let commentLength = Int(file.loadLittleEndian(UInt16.self, at: candidate + 20))
                let end = candidate + ZipSignature.endRecordSize + commentLength
                if end == size {
                    exact = candidate
                    break
                }
                if end < size, fitting == nil {
                    fitting = candidate
                }
            }
            candidate -= 1
        }
        guard let position = exact ?? fitting else {
            throw ZipError(
                .notAZip,
                "no end-of-central-directory record (PK\\5\\6) in the last \(size - lowest) bytes: not a zip archive")
        }
        return try read(at: position, in: file, maxEntryCount: maxEntryCount)
    }

    /// Reads the classic end record at `position`, and the zip64 records it leads to.
    private static func read(at position: Int, in file: UnsafeRawBufferPointer, maxEntryCount: Int) throws(ZipError) -> EndOfCentralDirectory {
        var reader = ByteReader(file, region: "file", at: position)
        try reader.expectSignature(ZipSignature.endOfCentralDirectory, "end of central directory record")
        let disk = try reader.readUInt16("end record disk number")
        let directoryDisk = try reader.readUInt16("end record central directory disk")
        let entriesOnDisk = try reader.readUInt16("end record entries on this disk")
        let entries = try reader.readUInt16("end record entry count")
        let directorySize = try reader.readUInt32("end record central directory size")
        let directoryOffset = try reader.readUInt32("end record central directory offset")

        var end = EndOfCentralDirectory(
            entryCount: UInt64(entries), directorySize: UInt64(directorySize),
            directoryOffset: UInt64(directoryOffset), isZip64: false,
            recordOffset: UInt64(position), directoryLimit: UInt64(position))

        let locatorPosition = position - ZipSignature.locatorSize
        if locatorPosition >= 0,
           file.loadUnaligned(fromByteOffset: locatorPosition, as: UInt32.self) == ZipSignature.zip64Locator.littleEndian
        {
            let zip64 = try Zip64EndRecord.read(locatorAt: locatorPosition, in: file)
            end.isZip64 = true
            end.directoryLimit = zip64.recordOffset
            end.entryCount = try merge(UInt64(entries), sentinel: 0xFFFF, zip64: zip64.entryCount, "entry count", at: position)
            _ = try merge(UInt64(entriesOnDisk), sentinel: 0xFFFF, zip64: zip64.entriesOnDisk, "entries on this disk", at: position)
            end.directorySize = try merge(UInt64(directorySize), sentinel: 0xFFFF_FFFF, zip64: zip64.directorySize, "central directory size", at: position)
            end.directoryOffset = try merge(UInt64(directoryOffset), sentinel: 0xFFFF_FFFF, zip64: zip64.directoryOffset, "central directory offset", at: position)
            let zip64Disk = try merge(UInt64(disk), sentinel: 0xFFFF, zip64: UInt64(zip64.disk), "disk number", at: position)
            let zip64DirectoryDisk = try merge(UInt64(directoryDisk), sentinel: 0xFFFF, zip64: UInt64(zip64.directoryDisk), "central directory disk", at: position)
            guard zip64Disk == 0, zip64DirectoryDisk == 0, zip64.entriesOnDisk == zip64.entryCount else {
                throw ZipError(.badCentralDirectory, "multi-disk archives are not supported (zip64 end record: disk \(zip64.disk), central directory on disk \(zip64.directoryDisk), \(zip64.entriesOnDisk) of \(zip64.entryCount) entries on this disk)", offset: zip64.recordOffset)
            }
        } else {
            guard disk == 0, directoryDisk == 0, entriesOnDisk == entries else {
                throw ZipError(.badCentralDirectory, "multi-disk archives are not supported (disk \(disk), central directory on disk \(directoryDisk), \(entriesOnDisk) of \(entries) entries on this disk)", offset: UInt64(position))
            }
        }

        guard end.directoryOffset <= end.directoryLimit, end.directorySize <= end.directoryLimit - end.directoryOffset else {
            throw ZipError(
                .badCentralDirectory,
                "the central directory (offset \(end.directoryOffset), \(end.directorySize) bytes) runs past the end record at byte \(end.directoryLimit)",
                offset: end.recordOffset)
        }
        guard end.entryCount <= UInt64(max(0, maxEntryCount)) else {
            throw ZipError(.tooManyEntries, "the archive declares \(end.entryCount) entries, more than the limit of \(maxEntryCount)", offset: end.recordOffset)
        }
        let (smallest, overflow) = end.entryCount.multipliedReportingOverflow(by: UInt64(ZipSignature.centralHeaderSize))
        guard !overflow, smallest <= end.directorySize else {
            throw ZipError(
                .badCentralDirectory,
                "the archive declares \(end.entryCount) entries, but its central directory of \(end.directorySize) bytes holds at most \(end.directorySize / UInt64(ZipSignature.centralHeaderSize))",
                offset: end.recordOffset)
        }
        return end
    }

    /// The classic value, or the zip64 one when the classic field holds its sentinel;
    /// throws when both are real values and disagree.
    private static func merge(_ classic: UInt64, sentinel: UInt64, zip64: UInt64, _ what: String, at position: Int) throws(ZipError) -> UInt64 {
        if classic == sentinel || classic == zip64 {
            return zip64
        }
        throw ZipError(
            .badCentralDirectory,
            "the end record's \(what) is \(classic), but the zip64 end record's is \(zip64)",
            offset: UInt64(position))
    }
}

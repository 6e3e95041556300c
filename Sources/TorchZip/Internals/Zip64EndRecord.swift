/// The fields of a zip64 end of central directory record.
struct Zip64EndRecord {
    /// The file offset of the record itself.
    var recordOffset: UInt64
    var disk: UInt32
    var directoryDisk: UInt32
    var entriesOnDisk: UInt64
    var entryCount: UInt64
    var directorySize: UInt64
    var directoryOffset: UInt64

    /// Reads the locator at `locatorPosition` and the zip64 end record it points to.
    static func read(locatorAt locatorPosition: Int, in file: UnsafeRawBufferPointer) throws(ZipError) -> Zip64EndRecord {
        var locator = ByteReader(file, region: "file", at: locatorPosition)
        try locator.expectSignature(ZipSignature.zip64Locator, "zip64 end of central directory locator")
        _ = try locator.readUInt32("zip64 locator disk")
        let recordOffset = try locator.readUInt64("zip64 end record offset")
        // The zip64 end record must lie wholly before its locator.
        guard locatorPosition >= ZipSignature.zip64EndRecordSize,
              recordOffset <= UInt64(locatorPosition - ZipSignature.zip64EndRecordSize)
        else {
            throw ZipError(
                .badCentralDirectory,
                "the zip64 locator points to a zip64 end record at byte \(recordOffset), which does not fit before the locator at byte \(locatorPosition)",
                offset: UInt64(locatorPosition))
        }
        // recordOffset < locatorPosition, so it fits in Int.
        var reader = ByteReader(file, region: "file", at: Int(recordOffset))
        try reader.expectSignature(ZipSignature.zip64EndOfCentralDirectory, "zip64 end of central directory record")
        let recordSize = try reader.readUInt64("zip64 end record size")
        guard recordSize >= UInt64(ZipSignature.zip64EndRecordSize - 12),
              recordSize <= UInt64(locatorPosition) - recordOffset - 12
        else {
            throw ZipError(
                .badCentralDirectory,
                "the zip64 end record declares \(recordSize) bytes after its first 12, which is less than 44 or runs past its locator at byte \(locatorPosition)",
                offset: recordOffset)
        }
        _ = try reader.readUInt16("zip64 end record version made by")
        _ = try reader.readUInt16("zip64 end record version needed")
        let disk = try reader.readUInt32("zip64 end record disk number")
        let directoryDisk = try reader.readUInt32("zip64 end record central directory disk")
        let entriesOnDisk = try reader.readUInt64("zip64 end record entries on this disk")
        let entryCount = try reader.readUInt64("zip64 end record entry count")
        let directorySize = try reader.readUInt64("zip64 end record central directory size")
        let directoryOffset = try reader.readUInt64("zip64 end record central directory offset")
        return Zip64EndRecord(
            recordOffset: recordOffset, disk: disk, directoryDisk: directoryDisk,
            entriesOnDisk: entriesOnDisk, entryCount: entryCount,
            directorySize: directorySize, directoryOffset: directoryOffset)
    }
}

/// The four-byte signatures (`PK` and two more bytes) and fixed sizes of zip structures.
enum ZipSignature {
    /// Local file header, `PK\3\4`.
    static let localHeader: UInt32 = 0x0403_4B50
    /// Central directory file header, `PK\1\2`.
    static let centralHeader: UInt32 = 0x0201_4B50
    /// End of central directory record, `PK\5\6`.
    static let endOfCentralDirectory: UInt32 = 0x0605_4B50
    /// Zip64 end of central directory record, `PK\6\6`.
    static let zip64EndOfCentralDirectory: UInt32 = 0x0606_4B50
    /// Zip64 end of central directory locator, `PK\6\7`.
    static let zip64Locator: UInt32 = 0x0706_4B50

    /// Fixed part of a local file header.
    static let localHeaderSize = 30
    /// Fixed part of a central directory file header.
    static let centralHeaderSize = 46
    /// End of central directory record without its comment.
    static let endRecordSize = 22
    /// Zip64 end of central directory locator.
    static let locatorSize = 20
    /// Zip64 end of central directory record without extensible data.
    static let zip64EndRecordSize = 56
    /// The longest archive comment.
    static let maxCommentLength = 0xFFFF

    /// Extra field id of the zip64 extended information.
    static let zip64ExtraID: UInt16 = 0x0001
}

/// One entry of a zip archive's central directory, with the location of its data.
///
/// Sizes and the local header offset are the zip64 values wherever the
/// classic fields overflowed. ``dataOffset`` was computed from the entry's
/// local header when the archive was opened, so reading a stored record needs
/// no further parsing.
public struct ZipEntry: Sendable, Hashable {
    /// The entry's position in the central directory (0-based).
    public let index: Int

    /// The full name as stored, for example `archive/data/0`.
    ///
    /// Decoded as UTF-8. A name that is not valid UTF-8 is kept with each
    /// invalid sequence replaced by U+FFFD (`String(decoding:as:)`), and
    /// ``hasValidUTF8Name`` is `false`.
    public let name: String

    /// Whether the stored name bytes were valid UTF-8 (so ``name`` is exact).
    public let hasValidUTF8Name: Bool

    /// The compression method: 0 stored, 8 deflate, others as in the zip specification.
    public let compressionMethod: UInt16

    /// The general purpose bit flags from the central directory
    /// (bit 0 encrypted, bit 3 data descriptor, bit 11 UTF-8 name).
    public let flags: UInt16

    /// The last-modified time and date in MS-DOS format, from the central
    /// directory: the time in the low 16 bits, the date in the high 16.
    /// PyTorch writes 0 today; early torch 1.x wrote the time of writing.
    public let dosTimestamp: UInt32

    /// The CRC-32 of the uncompressed data, from the central directory.
    public let crc32: UInt32

    /// The size of the data in the file.
    public let compressedSize: UInt64

    /// The size of the data once decompressed.
    public let uncompressedSize: UInt64

    /// The file offset of the entry's local file header.
    public let localHeaderOffset: UInt64

    /// The file offset of the entry's data: local header offset + 30 + the
    /// local header's name length + its extra field length.
    public let dataOffset: UInt64

    /// Whether the data is stored without compression (method 0).
    public var isStored: Bool { compressionMethod == 0 }
    /// Whether the record is deflated (method 8, or deflate64's 9), whose inflation ratio is bounded.
    var isDeflated: Bool { compressionMethod == 8 || compressionMethod == 9 }

    /// Whether the entry is encrypted (flag bit 0); such entries cannot be read.
    public var isEncrypted: Bool { flags & 0x0001 != 0 }

    /// Whether a data descriptor follows the data (flag bit 3).
    public var hasDataDescriptor: Bool { flags & 0x0008 != 0 }
}

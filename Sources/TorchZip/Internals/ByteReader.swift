/// A bounds-checked little-endian reader over a window of a mapped file.
///
/// Every read checks the remaining length first and throws
/// ``ZipError/Code/truncated`` instead of trapping; positions are indices into
/// the window, and error messages give absolute file offsets
/// (`fileOffset + position`). Loads are unaligned (`loadUnaligned`), since zip
/// structures sit at arbitrary offsets.
struct ByteReader {
    /// The window being read.
    let bytes: UnsafeRawBufferPointer
    /// The file offset of the window's first byte, for messages.
    let fileOffset: UInt64
    /// What the window holds ("central directory", "file"), for messages.
    let region: String
    /// The record whose bytes are being read, for messages.
    var record: String?
    /// The index of the next byte to read.
    var position: Int

    /// Creates a reader over `bytes`, which start at `fileOffset` in the file.
    init(_ bytes: UnsafeRawBufferPointer, fileOffset: UInt64 = 0, region: String = "file", at position: Int = 0) {
        self.bytes = bytes
        self.fileOffset = fileOffset
        self.region = region
        self.position = position
    }

    /// The number of bytes left after ``position``.
    var remaining: Int { bytes.count - position }

    /// The absolute file offset of ``position``.
    var absolutePosition: UInt64 { fileOffset + UInt64(position) }

    /// Throws unless `count` bytes can be read at ``position``.
    func require(_ count: Int, for what: @autoclosure () -> String) throws(ZipError) {
        guard count >= 0, position >= 0, position <= bytes.count, count <= bytes.count - position else {
            throw ZipError(
                .truncated,
                "\(what()) needs \(count) bytes, but the \(region) ends \(max(0, bytes.count - position)) bytes later (at byte \(fileOffset + UInt64(bytes.count)))",
                record: record, offset: absolutePosition)
        }
    }

    /// Reads a little-endian integer of type `T` and advances past it.
    mutating func read<T: FixedWidthInteger>(_ type: T.Type, _ what: @autoclosure () -> String) throws(ZipError) -> T {
        let size = MemoryLayout<T>.size
        try require(size, for: what())
        let value = bytes.loadLittleEndian(T.self, at: position)
        position += size
        return value
    }

    /// Reads a little-endian `UInt16`.
    mutating func readUInt16(_ what: @autoclosure () -> String) throws(ZipError) -> UInt16 { try read(UInt16.self, what()) }
    /// Reads a little-endian `UInt32`.
    mutating func readUInt32(_ what: @autoclosure () -> String) throws(ZipError) -> UInt32 { try read(UInt32.self, what()) }
    /// Reads a little-endian `UInt64`.
    mutating func readUInt64(_ what: @autoclosure () -> String) throws(ZipError) -> UInt64 { try read(UInt64.self, what()) }

    /// Returns the next `count` bytes (a view, no copy) and advances past them.
    mutating func readBytes(_ count: Int, _ what: @autoclosure () -> String) throws(ZipError) -> UnsafeRawBufferPointer {
        try require(count, for: what())
        let slice = UnsafeRawBufferPointer(rebasing: bytes[position ..< position + count])
        position += count
        return slice
    }

    /// Advances by `count` bytes.
    mutating func skip(_ count: Int, _ what: @autoclosure () -> String) throws(ZipError) {
        try require(count, for: what())
        position += count
    }

    /// Reads a `UInt32` signature and throws ``ZipError/Code/badSignature`` unless it is `expected`.
    mutating func expectSignature(_ expected: UInt32, _ what: @autoclosure () -> String) throws(ZipError) {
        let at = absolutePosition
        let found = try readUInt32("\(what()) signature")
        guard found == expected else {
            throw ZipError(
                .badSignature,
                "\(what()) signature is \(hex(found)), expected \(hex(expected))",
                record: record, offset: at)
        }
    }
}

/// `0x` and eight hexadecimal digits.
func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

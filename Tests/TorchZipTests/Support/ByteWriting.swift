/// Little-endian writing and patching of test archives.
extension [UInt8] {
    mutating func u16(_ v: UInt16) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) } }

    /// Overwrites a little-endian `UInt16` at `offset`.
    mutating func put16(_ v: UInt16, at offset: Int) {
        Swift.withUnsafeBytes(of: v.littleEndian) { replaceSubrange(offset ..< offset + 2, with: $0) }
    }
    /// Overwrites a little-endian `UInt32` at `offset`.
    mutating func put32(_ v: UInt32, at offset: Int) {
        Swift.withUnsafeBytes(of: v.littleEndian) { replaceSubrange(offset ..< offset + 4, with: $0) }
    }
    /// Overwrites a little-endian `UInt64` at `offset`.
    mutating func put64(_ v: UInt64, at offset: Int) {
        Swift.withUnsafeBytes(of: v.littleEndian) { replaceSubrange(offset ..< offset + 8, with: $0) }
    }
}

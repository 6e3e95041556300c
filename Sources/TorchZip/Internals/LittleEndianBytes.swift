/// Appending little-endian integers, for building zip headers.
extension Array where Element == UInt8 {
    /// Appends `value` as 2 little-endian bytes.
    mutating func appendLittleEndian(_ value: UInt16) {
        append(UInt8(truncatingIfNeeded: value))
        append(UInt8(truncatingIfNeeded: value >> 8))
    }

    /// Appends `value` as 4 little-endian bytes.
    mutating func appendLittleEndian(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) {
            append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    /// Appends `value` as 8 little-endian bytes.
    mutating func appendLittleEndian(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) {
            append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` for a body that throws ``ZipError``: the standard
    /// library's version rethrows untyped errors, so the typed one is carried
    /// out as a value.
    func withZipBytes<R>(_ body: (UnsafeRawBufferPointer) throws(ZipError) -> R) throws(ZipError) -> R {
        let result = withUnsafeBytes { raw in
            Result { () throws(ZipError) in try body(raw) }
        }
        return try result.get()
    }
}

extension UnsafeRawBufferPointer {
    /// The little-endian integer at `offset`, which the caller has checked lies within the buffer.
    @inline(__always)
    func loadLittleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

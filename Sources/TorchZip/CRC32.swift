/// The CRC-32 of `bytes` (the zip and PNG polynomial), computed by zlib's `crc32`.
///
/// zlib takes lengths as `uInt`, so the bytes are fed in chunks of at most
/// 1 GiB; any length works.
///
/// - Parameters:
///   - bytes: The bytes to check.
///   - seed: The CRC of the bytes before these, to continue a running CRC; 0 to start.
/// - Returns: The CRC-32 of the bytes after `seed`.
public func crc32(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
    Libzip.crc32(bytes, seed: seed)
}

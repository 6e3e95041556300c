import CCRC32

/// The CRC-32 of `bytes` (the zip and PNG polynomial): folded with carry-less
/// multiplication (x86-64) or CRC instructions (ARMv8) where the processor
/// has them, at memory speed, and by zlib's `crc32` otherwise and for the
/// last few bytes.
///
/// - Parameters:
///   - bytes: The bytes to check.
///   - seed: The CRC of the bytes before these, to continue a running CRC; 0 to start.
/// - Returns: The CRC-32 of the bytes after `seed`.
public func crc32(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
    guard let base = bytes.baseAddress else { return seed }
    var crc = seed
    let folded = pth_crc32_prefix(&crc, base, bytes.count)
    return Libzip.crc32(UnsafeRawBufferPointer(rebasing: bytes[folded...]), seed: crc)
}

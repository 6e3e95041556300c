#ifndef PTH_CCRC32_H
#define PTH_CCRC32_H

#include <stddef.h>
#include <stdint.h>

/// Advances the CRC-32 (zip polynomial, zlib's convention: `crc` is the CRC
/// of the bytes before these, 0 at the start) over the longest prefix of
/// `data` this machine can fold with carry-less multiplication (x86-64 with
/// PCLMULQDQ) or CRC instructions (ARMv8 with the CRC extension), and returns
/// how many bytes that was; 0 when it cannot (no such instructions, or fewer
/// than 64 bytes). The caller finishes the rest with zlib's `crc32`.
size_t pth_crc32_prefix(uint32_t *crc, const void *data, size_t length);

#endif

/// `std::hash<std::string>` as libstdc++ computes it on 64-bit Linux:
/// `std::_Hash_bytes(data, size, 0xc70f6907)`, a MurmurHash2-style hash
/// (libstdc++-v3/libsupc++/hash_bytes.cc).
///
/// PyTorch's Linux builds name-hash their records with it, so the serialization
/// id only comes out identical with this exact function; other C++ runtimes
/// (libc++, MSVC) use other hashes.
package enum LibstdcxxHash {
    /// The seed `std::hash<std::string>` passes to `_Hash_bytes`.
    package static let stringSeed: UInt64 = 0xC70F_6907

    /// The multiplier of the 64-bit variant: `0xc6a4a793 << 32 | 0x5bd1e995`.
    private static let multiplier: UInt64 = 0xC6A4_A793_5BD1_E995

    /// `std::hash<std::string>` of the bytes of a string.
    package static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        hashBytes(bytes, seed: stringSeed)
    }

    /// `std::hash<std::string>` of `text`'s UTF-8 bytes.
    package static func hash(_ text: String) -> UInt64 {
        var text = text
        return text.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
    }

    /// `std::_Hash_bytes(bytes, bytes.count, seed)` on a little-endian 64-bit machine.
    ///
    /// Whole 8-byte words are loaded in native (little-endian) order and
    /// mixed in; the 1 to 7 trailing bytes are gathered little-endian into
    /// one more word; two final shift-mix rounds spread the bits.
    package static func hashBytes(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let count = bytes.count
        let wholeWords = count & ~7
        var hash = seed ^ (UInt64(count) &* multiplier)
        var offset = 0
        while offset < wholeWords {
            let word = bytes.loadLittleEndian(UInt64.self, at: offset)
            hash ^= shiftMix(word &* multiplier) &* multiplier
            hash = hash &* multiplier
            offset += 8
        }
        if count & 7 != 0 {
            var tail: UInt64 = 0
            var index = count - 1
            while index >= wholeWords {
                tail = (tail << 8) | UInt64(bytes[index])
                index -= 1
            }
            hash ^= tail
            hash = hash &* multiplier
        }
        hash = shiftMix(hash) &* multiplier
        return shiftMix(hash)
    }

    /// `v ^ (v >> 47)`.
    private static func shiftMix(_ value: UInt64) -> UInt64 {
        value ^ (value >> 47)
    }
}

/// `c10::hash_combine` (Boost's): `seed ^ (value + 0x9e3779b9 + (seed << 6) + (seed >> 2))`,
/// in 64-bit wrapping arithmetic.
func hashCombine(_ seed: UInt64, _ value: UInt64) -> UInt64 {
    seed ^ (value &+ 0x9E37_79B9 &+ (seed << 6) &+ (seed >> 2))
}

internal import CSHA256

/// SHA-256 (FIPS 180-4) of bytes fed in any number of pieces, with the
/// processor's SHA instructions where it has them (Sources/CSHA256).
struct SHA256 {
    private var context = pth_sha256_context()

    /// Starts a hash with the fastest implementation this machine runs.
    init() {
        pth_sha256_init(&context)
    }

    /// Feeds the bytes.
    mutating func update(bufferPointer: UnsafeRawBufferPointer) {
        pth_sha256_update(&context, bufferPointer.baseAddress, bufferPointer.count)
    }

    /// The 32-byte digest of the bytes fed so far; more may still be fed.
    func finalize() -> [UInt8] {
        var done = context
        return [UInt8](unsafeUninitializedCapacity: 32) { digest, count in
            pth_sha256_final(&done, digest.baseAddress!)
            count = 32
        }
    }

    /// The 32-byte digest of `data`.
    static func hash(data: UnsafeRawBufferPointer) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bufferPointer: data)
        return hasher.finalize()
    }

    /// The 32-byte digest of `data`.
    static func hash(data: [UInt8]) -> [UInt8] {
        data.withUnsafeBytes { hash(data: $0) }
    }
}

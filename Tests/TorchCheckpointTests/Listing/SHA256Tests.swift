import CSHA256
import Foundation
import Testing
import TorchCheckpoint

/// SHA-256 (Sources/CSHA256) against FIPS 180-4's examples and Python's
/// hashlib (fixtures/sha256_vectors.json, from tools/make_sha256_vectors.py),
/// on every implementation this machine runs, and through the listing.
@Suite("SHA-256 equals FIPS 180-4's examples and hashlib's digests")
struct SHA256Tests {
    /// One way of computing SHA-256.
    struct Implementation: CustomTestStringConvertible, Sendable {
        /// Its `PTH_SHA256_...` constant.
        let code: Int32
        /// What it is called in test names.
        let name: String
        /// The name.
        var testDescription: String { name }
    }

    /// The portable implementation and, where the processor has them, the SHA instructions.
    static let implementations: [Implementation] = [
        Implementation(code: PTH_SHA256_PORTABLE, name: "portable"),
        Implementation(code: PTH_SHA256_X86_SHA, name: "x86-64 SHA extensions"),
        Implementation(code: PTH_SHA256_ARMV8_SHA2, name: "ARMv8 SHA2 instructions"),
    ].filter { pth_sha256_available($0.code) != 0 }

    /// hashlib's digest of the first `length` bytes of the pattern.
    struct Vector: Sendable {
        /// How many bytes of the pattern.
        let length: Int
        /// The digest as lowercase hex.
        let sha256: String
    }

    /// The vectors of the fixture; empty when it cannot be read.
    static let vectors: [Vector] = {
        guard let all = (try? Fixtures.json("sha256_vectors.json") as? [String: Any])?["vectors"] as? [[String: Any]] else { return [] }
        return all.map { Vector(length: $0["length"] as? Int ?? -1, sha256: $0["sha256"] as? String ?? "") }
    }()

    /// The pattern the vectors hash: byte i is (31 i + 7) mod 256.
    static let pattern: [UInt8] = {
        let count = vectors.map(\.length).max() ?? 0
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer[i] = UInt8(truncatingIfNeeded: 31 &* i &+ 7) }
            initialized = count
        }
    }()

    /// The digest of `bytes` as lowercase hex, fed in pieces of `pieces` bytes (all at once when empty).
    static func digest(_ bytes: UnsafeRawBufferPointer, using implementation: Implementation, pieces: [Int] = []) -> String {
        var context = pth_sha256_context()
        guard pth_sha256_init_using(&context, implementation.code) != 0 else { return "unavailable" }
        var offset = 0
        for piece in pieces + [bytes.count] where offset < bytes.count {
            let n = min(piece, bytes.count - offset)
            pth_sha256_update(&context, bytes.baseAddress.map { $0 + offset }, n)
            offset += n
        }
        var out = [UInt8](repeating: 0, count: 32)
        pth_sha256_final(&context, &out)
        return out.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// Random piece sizes below `bound` that add up to at least `total`.
    static func pieces(total: Int, below bound: Int, seed: UInt64) -> [Int] {
        var generator = SplitMix64(seed: seed)
        var sizes: [Int] = []
        var sum = 0
        while sum < total {
            let n = Int.random(in: 0..<bound, using: &generator)
            sizes.append(n)
            sum += n
        }
        return sizes
    }

    @Test("the fixture holds every length from 0 to 300 and some larger")
    func fixture() {
        #expect(Set(Self.vectors.map(\.length)).isSuperset(of: 0...300))
        #expect(Self.vectors.contains { $0.length > 8 << 20 })
    }

    @Test("FIPS 180-4's examples: empty, abc, 448 and 896 bits, a million a", arguments: implementations)
    func examples(_ implementation: Implementation) {
        let examples: [(String, String)] = [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
            ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
             "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
            (String(repeating: "a", count: 1_000_000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
        ]
        for (message, expected) in examples {
            let bytes = Array(message.utf8)
            bytes.withUnsafeBytes { b in
                #expect(Self.digest(b, using: implementation) == expected, "\(bytes.count) bytes")
                #expect(Self.digest(b, using: implementation, pieces: [1, 63, 64, 65, 3]) == expected, "\(bytes.count) bytes in pieces")
            }
        }
    }

    @Test("hashlib's digests, the message whole and in random pieces", arguments: implementations)
    func vectors(_ implementation: Implementation) {
        #expect(!Self.vectors.isEmpty)
        Self.pattern.withUnsafeBytes { pattern in
            for v in Self.vectors {
                let message = UnsafeRawBufferPointer(rebasing: pattern[0..<v.length])
                #expect(Self.digest(message, using: implementation) == v.sha256, "\(v.length) bytes whole")
                let small = Self.pieces(total: v.length, below: 70, seed: UInt64(v.length))
                #expect(Self.digest(message, using: implementation, pieces: small) == v.sha256, "\(v.length) bytes in pieces below 70")
                if v.length > 300 {
                    let large = Self.pieces(total: v.length, below: 300_000, seed: UInt64(v.length) ^ 0xA5A5)
                    #expect(Self.digest(message, using: implementation, pieces: large) == v.sha256,
                            "\(v.length) bytes in pieces below 300000")
                }
            }
        }
    }

    @Test("the listing's tensor digests and bytes_sha256 equal hashlib's")
    func listing() throws {
        let lengths: Set<Int> = [0, 1, 55, 56, 63, 64, 65, 119, 120, 300, (4 << 20) + 13, (9 << 20) + 1]
        for v in Self.vectors where lengths.contains(v.length) {
            let bytes = Array(Self.pattern[0..<v.length])
            let tensor = try Tensor(bytes: bytes, dtype: .uint8, shape: [v.length])
            #expect(try Listing.sha256(of: tensor) == v.sha256, "\(v.length) bytes")
            if v.length <= 300 {
                let json = Listing.json(try Listing.entries(of: .bytes(bytes)))
                #expect(json.contains("\"bytes_sha256\": \"\(v.sha256)\""), "\(v.length) bytes")
            }
        }
    }

    @Test("the SHA instructions are used where /proc/cpuinfo lists them")
    func detection() throws {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return }
        let flags = Set(info.split(whereSeparator: \.isWhitespace))
        #if arch(x86_64)
        if flags.contains("sha_ni") { #expect(pth_sha256_best_implementation() == PTH_SHA256_X86_SHA) }
        #elseif arch(arm64)
        if flags.contains("sha2") { #expect(pth_sha256_best_implementation() == PTH_SHA256_ARMV8_SHA2) }
        #endif
        #expect(pth_sha256_available(PTH_SHA256_PORTABLE) != 0)
    }
}

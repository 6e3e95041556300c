import Testing
import TorchZip

@Suite("Compressed records, inflated through libzip")
struct CompressedRecordTests {
    static let contents = pattern(150_000, seed: 4)

    func archive(_ records: [ZipBuilder.Record], layout: ZipBuilder.Layout = .plain, options: ZipArchive.Options = .init()) throws -> ZipArchive {
        try open(ZipBuilder(layout: layout, records: [.stored("m/data.pkl", "p")] + records).build().bytes, options: options)
    }

    @Test("a deflate stream of stored blocks, written by hand, inflates")
    func handWrittenDeflate() throws {
        let archive = try archive([.deflatedByHand("m/data/0", Self.contents)])
        let entry = try #require(archive.record("data/0"))
        #expect(entry.compressionMethod == 8)
        #expect(!entry.isStored)
        let bytes = try archive.bytes(of: entry)
        #expect(!bytes.isInPlace)
        #expect(bytes.fileOffset == nil)
        #expect(bytes.count == Self.contents.count)
        #expect(bytes.copyBytes() == Self.contents)
        try archive.verifyCRC(of: entry)
    }

    @Test("a stream compressed by zlib inflates, also in PyTorch's layout")
    func zlibDeflate() throws {
        for layout in [ZipBuilder.Layout.plain, .pytorch] {
            let archive = try archive([.deflatedByZlib("m/data/0", Self.contents)], layout: layout)
            let entry = try #require(archive.record("data/0"))
            #expect(entry.compressedSize < entry.uncompressedSize)
            #expect(try archive.bytes(of: entry).copyBytes() == Self.contents)
            try archive.verifyCRC(of: entry)
            try archive.checkConsistencyWithLibzip()
        }
    }

    @Test("an empty deflated record inflates to nothing")
    func emptyDeflated() throws {
        let archive = try archive([.deflatedByZlib("m/empty", [])])
        let bytes = try archive.bytes(of: try #require(archive.record("empty")))
        #expect(bytes.count == 0)
        #expect(!bytes.isInPlace)
    }

    @Test("each record is inflated once and cached")
    func cached() throws {
        let archive = try archive([.deflatedByZlib("m/data/0", Self.contents)])
        let entry = try #require(archive.record("data/0"))
        let first = try archive.bytes(of: entry).withUnsafeBytes { $0.baseAddress }
        let second = try archive.bytes(of: entry).withUnsafeBytes { $0.baseAddress }
        #expect(first != nil)
        #expect(first == second)
    }

    @Test("many threads reading compressed records get one buffer per record")
    func concurrentReads() async throws {
        let records = (0 ..< 4).map { ZipBuilder.Record.deflatedByZlib("m/data/\($0)", pattern(40_000, seed: UInt8($0))) }
        let archive = try archive(records)
        let addresses = try await withThrowingTaskGroup(of: (Int, UInt).self) { group in
            for task in 0 ..< 32 {
                group.addTask {
                    let n = task % 4
                    let entry = try #require(archive.record("data/\(n)"))
                    let bytes = try archive.bytes(of: entry)
                    #expect(bytes.copyBytes() == pattern(40_000, seed: UInt8(n)))
                    return (n, bytes.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) })
                }
            }
            var seen: [Int: Set<UInt>] = [:]
            for try await (n, address) in group {
                seen[n, default: []].insert(address)
            }
            return seen
        }
        #expect(addresses.count == 4)
        for (_, set) in addresses {
            #expect(set.count == 1)
        }
    }

    @Test("data that inflates to more than declared is rejected")
    func inflatesToMore() throws {
        var record = ZipBuilder.Record.deflatedByZlib("m/data/0", Self.contents)
        record.declaredSize = UInt64(Self.contents.count - 1)
        let archive = try archive([record])
        let error = zipError { try archive.bytes(of: try #require(archive.record("data/0"))) }
        #expect(error?.code == .sizeMismatch)
        #expect(error?.record == "m/data/0")
    }

    @Test("data that inflates to less than declared is rejected")
    func inflatesToLess() throws {
        var record = ZipBuilder.Record.deflatedByHand("m/data/0", Self.contents)
        record.declaredSize = UInt64(Self.contents.count + 10)
        let archive = try archive([record])
        let error = zipError { try archive.bytes(of: try #require(archive.record("data/0"))) }
        #expect(error?.code == .sizeMismatch)
        #expect(error?.message.contains("\(Self.contents.count + 10)") == true)
    }

    @Test("a wrong CRC is caught while inflating")
    func wrongCRC() throws {
        var record = ZipBuilder.Record.deflatedByZlib("m/data/0", Self.contents)
        record.crc = 0x1234_5678
        let archive = try archive([record])
        let error = zipError { try archive.bytes(of: try #require(archive.record("data/0"))) }
        #expect(error?.code == .crcMismatch)
    }

    @Test("a corrupt deflate stream fails to inflate")
    func corruptStream() throws {
        var record = ZipBuilder.Record.deflatedByHand("m/data/0", pattern(100))
        record.payload?[0] = 0x07  // BTYPE 11: reserved, invalid
        let archive = try archive([record])
        let error = zipError { try archive.bytes(of: try #require(archive.record("data/0"))) }
        #expect(error?.code == .inflateFailed)
    }

    @Test("a record larger than the inflation limit is refused before allocating")
    func inflationLimit() throws {
        var options = ZipArchive.Options()
        options.maxInflatedRecordSize = 1000
        let archive = try archive([.deflatedByZlib("m/data/0", Self.contents)], options: options)
        let error = zipError { try archive.bytes(of: try #require(archive.record("data/0"))) }
        #expect(error?.code == .tooLarge)
        // Stored records are read in place and not limited.
        #expect(try archive.bytes(of: archive.entries[0]).count == 1)
    }

    @Test("an unsupported compression method is reported as such")
    func unsupportedMethod() throws {
        var record = ZipBuilder.Record.stored("m/data/0", "abc")
        record.method = 98  // PPMd: libzip 1.7.3 has no decoder (99 would be read as AES and fail earlier)
        let archive = try archive([record])
        let error = zipError { try archive.bytes(of: try #require(archive.record("data/0"))) }
        #expect(error?.code == .unsupportedCompression, "\(String(describing: error))")
    }

    /// `bz2.compress(bytes(40 << 20), 9)`: 40 MiB of zeros in 49 bytes.
    static let bzip2Zeros: [UInt8] = [
        0x42, 0x5A, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0x57, 0xC6, 0xD7, 0x7F, 0x01, 0x41, 0x41,
        0x40, 0x80, 0xC0, 0x00, 0x00, 0x01, 0x00, 0x08, 0x20, 0x00, 0x30, 0xCC, 0x05, 0x29, 0xA6, 0x40, 0x90,
        0x26, 0xC5, 0x02, 0x40, 0x9E, 0x2E, 0xE4, 0x8A, 0x70, 0xA1, 0x20, 0xAF, 0x8D, 0xAE, 0xFE,
    ]
    /// `bz2.compress(b"abc", 9)`.
    static let bzip2ABC: [UInt8] = [
        0x42, 0x5A, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0x64, 0x8C, 0xBB, 0x73, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x38, 0x00, 0x20, 0x00, 0x21, 0x98, 0x19, 0x84, 0x61, 0x77, 0x24, 0x53, 0x85, 0x09, 0x06,
        0x48, 0xCB, 0xB7, 0x30,
    ]

    @Test("a bzip2 record larger than the first buffer inflates whole, its buffer growing with the output")
    func bzip2Grows() throws {
        let zeros = [UInt8](repeating: 0, count: 40 << 20)
        let archive = try archive([ZipBuilder.Record(name: "m/data/0", contents: zeros, method: 12, payload: Self.bzip2Zeros)])
        let entry = try #require(archive.record("data/0"))
        let bytes = try archive.bytes(of: entry)
        #expect(bytes.count == zeros.count)
        #expect(bytes.withUnsafeBytes { raw in raw.allSatisfy { $0 == 0 } })
        #expect(bytes.withUnsafeBytes { Int(bitPattern: $0.baseAddress) % 64 } == 0)
        try archive.verifyCRC(of: entry)
    }

    @Test("a bzip2 record claiming a terabyte is refused for what it holds, not for the memory its claim would take")
    func bzip2ClaimsTerabyte() throws {
        // Allocating the claim would fail (or reserve a terabyte); the buffer
        // starts at 16 MiB and the stream ends after 3 bytes.
        var record = ZipBuilder.Record(name: "m/data/0", contents: Array("abc".utf8), method: 12, payload: Self.bzip2ABC)
        record.declaredSize = (1 << 40) - 1
        record.zip64 = [.uncompressed]
        let archive = try archive([record])
        let error = zipError { try archive.bytes(of: try #require(archive.record("data/0"))) }
        #expect(error?.code == .sizeMismatch, "\(String(describing: error))")
    }

    @Test("encrypted records are refused")
    func encrypted() throws {
        var record = ZipBuilder.Record.stored("m/data/0", "abc")
        record.extraFlags = 0x0001
        let archive = try archive([record])
        let entry = try #require(archive.record("data/0"))
        #expect(entry.isEncrypted)
        #expect(zipError { try archive.bytes(of: entry) }?.code == .encrypted)
    }

    @Test("an entry of another archive is refused")
    func foreignEntry() throws {
        let one = try archive([.stored("m/a", "1")])
        let other = try archive([.stored("m/b", "22")])
        let error = zipError { try one.bytes(of: other.entries[1]) }
        #expect(error?.code == .unknownEntry)
    }
}

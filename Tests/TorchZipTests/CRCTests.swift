import Testing
import TorchZip

@Suite("CRC-32")
struct CRCTests {
    @Test("crc32 gives the standard check value and continues from a seed")
    func checkValue() {
        let digits = Array("123456789".utf8)
        #expect(digits.withUnsafeBytes { crc32($0) } == 0xCBF4_3926)
        let head = digits[..<4].withUnsafeBytes { crc32($0) }
        #expect(digits[4...].withUnsafeBytes { crc32($0, seed: head) } == 0xCBF4_3926)
        #expect([UInt8]().withUnsafeBytes { crc32($0) } == 0)
        #expect(crc32(UnsafeRawBufferPointer(start: nil, count: 0), seed: 7) == 7)
    }

    @Test("verifyCRC passes on intact records")
    func verifies() throws {
        let archive = try open(ZipBuilder(layout: .pytorch, records: pytorchRecords()).build().bytes)
        for entry in archive.entries {
            try archive.verifyCRC(of: entry)
        }
    }

    @Test("verifyCRC reports a mismatch with both values")
    func mismatch() throws {
        var records = pytorchRecords()
        records[4].crc = 0xDEAD_BEEF
        let archive = try open(ZipBuilder(layout: .pytorch, records: records).build().bytes)
        let entry = try #require(archive.record("data/0"))
        let error = zipError { try archive.verifyCRC(of: entry) }
        #expect(error?.code == .crcMismatch)
        #expect(error?.record == "archive/data/0")
        #expect(error?.offset == entry.dataOffset)
        #expect(error?.message.contains("0xdeadbeef") == true)
        let actual = pattern(200, seed: 5).withUnsafeBytes { crc32($0) }
        #expect(error?.message.contains(String(actual, radix: 16)) == true)
        // Opening and reading in place do not check CRCs.
        #expect(try archive.bytes(of: entry).count == 200)
    }

    @Test("a flipped data byte is caught")
    func flippedByte() throws {
        var built = ZipBuilder(layout: .pytorch, records: pytorchRecords()).build()
        built.bytes[built.dataOffsets[4] + 17] ^= 0x01
        let archive = try open(built.bytes)
        #expect(zipError { try archive.verifyCRC(of: archive.entries[4]) }?.code == .crcMismatch)
        try archive.verifyCRC(of: archive.entries[3])
    }
}

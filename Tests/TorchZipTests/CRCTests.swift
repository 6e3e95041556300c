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

    @Test("the folded CRC equals a bit-by-bit CRC at every length and alignment around its 64- and 16-byte steps")
    func foldedAgainstBitwise() {
        func bitwise(_ bytes: ArraySlice<UInt8>) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
            }
            return ~c
        }
        let data = pattern(1200, seed: 3)
        for offset in 0..<17 {
            for length in [0, 1, 15, 16, 17, 63, 64, 65, 79, 80, 127, 128, 129, 191, 192, 255, 256, 1000, 1183] where offset + length <= data.count {
                let slice = data[offset ..< offset + length]
                let folded = slice.withUnsafeBytes { crc32($0) }
                #expect(folded == bitwise(slice), "offset \(offset), length \(length)")
            }
        }
        // Continuing from a seed across a split anywhere.
        let whole = data.withUnsafeBytes { crc32($0) }
        for split in [1, 64, 100, 640, 1199] {
            let head = data[..<split].withUnsafeBytes { crc32($0) }
            #expect(data[split...].withUnsafeBytes { crc32($0, seed: head) } == whole)
        }
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

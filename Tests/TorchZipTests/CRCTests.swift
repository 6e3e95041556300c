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

@Suite("CRC-32 of large records, folded on a second processor while the sink writes")
struct ConcurrentCRCTests {
    /// A sink that fails every write of at least `failingAt` bytes.
    final class FailingSink: ZipSink {
        let failingAt: Int
        private(set) var position: UInt64 = 0
        init(failingAt: Int) { self.failingAt = failingAt }
        func write(_ bytes: UnsafeRawBufferPointer) throws(ZipError) {
            guard bytes.count < failingAt else { throw ZipError(.io, "the disk is full") }
            position += UInt64(bytes.count)
        }
    }

    @Test("records below, at and past the threshold, in one chunk or many, carry the CRC of their bytes")
    func recordsCarryTheirCRC() throws {
        let mib = 1 << 20
        let sizes = [mib - 1, mib, 3 * mib + 5]
        let sink = MemorySink()
        let writer = try PyTorchZipWriter(sink: sink, prefix: "model")
        var expected: [String: UInt32] = [:]
        for (index, size) in sizes.enumerated() {
            let bytes = pattern(size, seed: UInt8(index + 1))
            expected["whole\(index)"] = bytes.withUnsafeBytes { crc32($0) }
            expected["pieces\(index)"] = expected["whole\(index)"]
            try writer.writeRecord("whole\(index)", bytes: bytes)
            // In pieces of 1.5 MiB: the running CRC continues across chunks folded on either thread.
            try writer.writeRecord("pieces\(index)", size: UInt64(size)) { write in
                try bytes.withUnsafeBytes { raw in
                    var start = 0
                    while start < raw.count {
                        let end = min(raw.count, start + 3 * mib / 2)
                        try write(UnsafeRawBufferPointer(rebasing: raw[start ..< end]))
                        start = end
                    }
                }
            }
        }
        _ = try writer.finish()
        let archive = try ZipArchive(file: try MappedFile(copying: sink.bytes))
        for (name, crc) in expected {
            let entry = try #require(archive.record(name))
            #expect(entry.crc32 == crc, "\(name)")
            try archive.verifyCRC(of: entry)
        }
    }

    @Test("the caller folds the bytes itself when no helper thread took the job, and the late helper then does nothing")
    func takenBack() throws {
        let bytes = pattern(3 << 20, seed: 5)
        let expected = bytes.withUnsafeBytes { crc32($0, seed: 7) }
        final class Held: @unchecked Sendable { var work: (@Sendable () -> Void)? }
        let held = Held()
        var ran = false
        // The bytes live on the heap and are freed before the late helper runs: folding them
        // then would be a use after free, which AddressSanitizer reports.
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
        copy.copyBytes(from: bytes)
        let crc = ConcurrentCRC.crc32(of: UnsafeRawBufferPointer(copy), seed: 7, schedule: { held.work = $0 }) { ran = true }
        copy.deallocate()
        #expect(ran)
        #expect(crc == expected)
        let late = try #require(held.work)
        late()
        // And a helper that runs at once gives the same CRC.
        let atOnce: (@escaping @Sendable () -> Void) -> Void = { work in work() }
        let now = bytes.withUnsafeBytes { raw in ConcurrentCRC.crc32(of: raw, seed: 7, schedule: atOnce, during: {}) }
        #expect(now == expected)
    }

    @Test("a body that throws gives its error, and a helper that starts late does nothing")
    func bodyThrows() throws {
        struct Failure: Error {}
        final class Held: @unchecked Sendable { var work: (@Sendable () -> Void)? }
        let held = Held()
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 << 20, alignment: 16)
        bytes.copyBytes(from: pattern(2 << 20))
        let hold: (@escaping @Sendable () -> Void) -> Void = { work in held.work = work }
        func fail() throws(Failure) { throw Failure() }
        var caught: (any Error)?
        do {
            _ = try ConcurrentCRC.crc32(of: UnsafeRawBufferPointer(bytes), seed: 0, schedule: hold, during: fail)
        } catch {
            caught = error
        }
        bytes.deallocate()
        #expect(caught is Failure)
        // Run after the bytes are gone: it must not read them (AddressSanitizer would say).
        let late = try #require(held.work)
        late()
    }

    @Test("a sink that fails on a large chunk fails the record with its own error")
    func failingSink() throws {
        let writer = try PyTorchZipWriter(sink: FailingSink(failingAt: 1 << 20), prefix: "model")
        let error = zipError { try writer.writeRecord("data/0", bytes: pattern(2 << 20)) }
        #expect(error?.code == .io)
        #expect(error?.message.contains("the disk is full") == true)
    }
}


import Foundation
import Testing
import TorchZip

/// What real torch 2.15 wrote for
/// `torch.save({'big': torch.zeros(0xFFFFFFFF, dtype=torch.uint8),
///              'big2': torch.full((0x100000005,), 7, dtype=torch.uint8),
///              'small': torch.arange(3, dtype=torch.int16)}, 'big.pth')`:
/// an 8,589,936,793-byte file whose data/0 has exactly 0xFFFFFFFF bytes
/// (zip64 by size), data/1 both a zip64 size and offset, and every later
/// record a zip64 offset.
enum BigCheckpoint {
    static let pickle = bytes(base64: """
        gAJ9cQAoWAMAAABiaWdxAWN0b3JjaC5fdXRpbHMKX3JlYnVpbGRfdGVuc29yX3YyCnECKChYBwAAAHN0b3JhZ2VxA2N0b3JjaApCeXRlU3RvcmFnZQpxBFgBAAAAMHEFWAMAAABjcHVxBooF/////wB0cQdRSwCKBf////8AhXEISwGFcQmJY2NvbGxlY3Rpb25zCk9yZGVyZWREaWN0CnEKKVJxC3RxDFJxDVgEAAAAYmlnMnEOaAIoKGgDaARYAQAAADFxD2gGigUFAAAAAXRxEFFLAIoFBQAAAAGFcRFLAYVxEoloCilScRN0cRRScRVYBQAAAHNtYWxscRZoAigoaANjdG9yY2gKU2hvcnRTdG9yYWdlCnEXWAEAAAAycRhoBksDdHEZUUsASwOFcRpLAYVxG4loCilScRx0cR1ScR51Lg==
        """.trimmingCharacters(in: .whitespacesAndNewlines))
    static let bigSize: UInt64 = 0xFFFF_FFFF
    static let bigCRC: UInt32 = 0  // the CRC-32 of 2^32 - 1 zero bytes
    static let big2Size: UInt64 = 0x1_0000_0005
    static let big2CRC: UInt32 = 0x575A_6053
    static let fileSize: UInt64 = 8_589_936_793
    static let id = "0849488847965048735007150234633405833098"

    /// The file without the data of data/0 and data/1: 2,197 bytes.
    static let headersSize = 2197
    static let headersCRC: UInt32 = 0xC6CD_6D76

    /// data/0 at byte 790: a zip64 extra with the size and a compressed size of 0, then 42 Zs.
    static let data0Header = bytes(hex: """
        504b0304 0000 0808 0000 0000 0000 00000000 00000000 00000000 0a00 4200
        6269672f646174612f30
        0100 1000 ffffffff00000000 0000000000000000
        4642 2a00
        """) + Array(repeating: UInt8(ascii: "Z"), count: 42)
    static let data0Descriptor = bytes(hex: "504b0708 00000000 ffffffff00000000 ffffffff00000000")
    /// data/1 at byte 4,294,968,215: size, compressed size 0 and offset, then 33 Zs.
    static let data1Header = bytes(hex: """
        504b0304 0000 0808 0000 0000 0000 00000000 00000000 00000000 0a00 4100
        6269672f646174612f31
        0100 1800 0500000001000000 0000000000000000 9703000001000000
        4642 2100
        """) + Array(repeating: UInt8(ascii: "Z"), count: 33)
    static let data1Descriptor = bytes(hex: "504b0708 53605a57 0500000001000000 0500000001000000")
    /// data/2 at byte 8,589,935,645: the offset only, and a 24-byte descriptor for 6 bytes.
    static let data2Header = bytes(hex: """
        504b0304 0000 0808 0000 0000 0000 00000000 00000000 00000000 0a00 3b00
        6269672f646174612f32
        0100 0800 1d04000002000000
        4642 2b00
        """) + Array(repeating: UInt8(ascii: "Z"), count: 43)
    static let data2Descriptor = bytes(hex: "504b0708 44a4483b 0600000000000000 0600000000000000")
    /// The central directory at byte 8,589,936,064, the zip64 end record and locator, the end record.
    static let centralDirectoryOffset: UInt64 = 8_589_936_064
    static let centralDirectoryAndEnd = bytes(hex: """
        504b010200000000080800000000000099808eb545010000450100000c00000000000000000000000000000000006269672f646174612e706b6c
        504b0102000000000808000000000000b7efdc8301000000010000001300000000000000000000000000950100006269672f2e666f726d61745f76657273696f6e
        504b01020000000008080000000000003f7771e902000000020000001600000000000000000000000000110200006269672f2e73746f726167655f616c69676e6d656e74
        504b0102000000000808000000000000853de31906000000060000000d00000000000000000000000000920200006269672f627974656f72646572
        504b010200000000080800000000000000000000ffffffffffffffff0a00140000000000000000000000160300006269672f646174612f30
            01001000ffffffff00000000ffffffff00000000
        504b010200000000080800000000000053605a57ffffffffffffffff0a001c0000000000000000000000ffffffff6269672f646174612f31
            01001800050000000100000005000000010000009703000001000000
        504b010200000000080800000000000044a4483b06000000060000000a000c0000000000000000000000ffffffff6269672f646174612f32
            010008001d04000002000000
        504b0102000000000808000000000000d19e675502000000020000000b000c0000000000000000000000ffffffff6269672f76657273696f6e
            010008009e04000002000000
        504b01020000000008080000000000000949ad9928000000280000001a000c0000000000000000000000ffffffff6269672f2e646174612f73657269616c697a6174696f6e5f6964
            010008001a05000002000000
        504b0606 2c00000000000000 1e03 2d00 00000000 00000000 0900000000000000 0900000000000000 7702000000000000 c005000002000000
        504b0607 00000000 3708000002000000 01000000
        504b0506 0000 0000 0900 0900 77020000 ffffffff 0000
        """)
}

@Suite("ZIP64: records of 4 GiB and more, offsets past 4 GiB")
struct Zip64WriterTests {
    /// Writes big.pth's records to a recording sink, handing the two large
    /// records over with their known CRCs (so that no 8 GiB are read).
    static func writeBigCheckpoint() throws -> (sink: RecordingSink, id: String) {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 24, alignment: 64)
        defer { chunk.deallocate() }
        let sink = RecordingSink()
        sink.skipping = UnsafeRawBufferPointer(chunk)
        let writer = try PyTorchZipWriter(sink: sink, prefix: "big")
        try writer.writeRecord("data.pkl", bytes: BigCheckpoint.pickle)
        try writer.writeRecord(".format_version", bytes: Array("1".utf8))
        try writer.writeRecord(".storage_alignment", bytes: Array("64".utf8))
        try writer.writeRecord("byteorder", bytes: Array("little".utf8))
        for (name, size, crc, fill) in [
            ("data/0", BigCheckpoint.bigSize, BigCheckpoint.bigCRC, UInt8(0)),
            ("data/1", BigCheckpoint.big2Size, BigCheckpoint.big2CRC, UInt8(7)),
        ] {
            chunk.initializeMemory(as: UInt8.self, repeating: fill)
            try writer.writeRecord(name, size: size, knownCRC32: crc) { write in
                var left = size
                while left > 0 {
                    let count = Int(min(left, UInt64(chunk.count)))
                    try write(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
                    left -= UInt64(count)
                }
            }
        }
        try writer.writeRecord("data/2", bytes: littleEndianBytes([Int16(0), 1, 2]))
        try writer.writeRecord("version", bytes: Array("3\n".utf8))
        let id = try writer.finish()
        return (sink, id)
    }

    @Test("the headers, descriptors, central directory and end records are those of a real >4 GiB torch.save file")
    func bigCheckpoint() throws {
        let (sink, id) = try Self.writeBigCheckpoint()
        #expect(id == BigCheckpoint.id)
        #expect(sink.position == BigCheckpoint.fileSize)
        #expect(sink.kept(at: 790, count: BigCheckpoint.data0Header.count) == BigCheckpoint.data0Header)
        #expect(sink.kept(at: 896 + BigCheckpoint.bigSize, count: 24) == BigCheckpoint.data0Descriptor)
        #expect(sink.kept(at: 4_294_968_215, count: BigCheckpoint.data1Header.count) == BigCheckpoint.data1Header)
        #expect(sink.kept(at: 4_294_968_320 + BigCheckpoint.big2Size, count: 24) == BigCheckpoint.data1Descriptor)
        #expect(sink.kept(at: 8_589_935_645, count: BigCheckpoint.data2Header.count) == BigCheckpoint.data2Header)
        #expect(sink.kept(at: 8_589_935_744 + 6, count: 24) == BigCheckpoint.data2Descriptor)
        let tail = sink.kept(at: BigCheckpoint.centralDirectoryOffset, count: BigCheckpoint.centralDirectoryAndEnd.count + 1)
        let difference = firstDifference(tail, BigCheckpoint.centralDirectoryAndEnd)
        #expect(difference == nil, "\(around(difference, tail, BigCheckpoint.centralDirectoryAndEnd))")
        // Everything but the two large records' data, byte for byte.
        let kept = sink.kept
        #expect(kept.count == BigCheckpoint.headersSize)
        #expect(kept.withUnsafeBytes { crc32($0) } == BigCheckpoint.headersCRC)
    }

    @Test("zip64 starts at a size of exactly 0xFFFFFFFF, not one byte before", arguments: [
        (UInt64(0xFFFF_FFFE), false), (UInt64(0xFFFF_FFFF), true),
    ])
    func sizeBoundary(size: UInt64, isZip64: Bool) throws {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 24, alignment: 64)
        defer { chunk.deallocate() }
        chunk.initializeMemory(as: UInt8.self, repeating: 0)
        let sink = RecordingSink()
        sink.skipping = UnsafeRawBufferPointer(chunk)
        let writer = try PyTorchZipWriter(sink: sink, prefix: "archive")
        try writer.writeRecord("data/0", size: size, knownCRC32: 0x1234_5678) { write in
            var left = size
            while left > 0 {
                let count = Int(min(left, UInt64(chunk.count)))
                try write(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
                left -= UInt64(count)
            }
        }
        let header = sink.writes[0].bytes
        let extraLength = Int(header[28]) | Int(header[29]) << 8
        let name = Array("archive/data/0".utf8)
        let extra = Array(header[(30 + name.count)...])
        #expect(extra.count == extraLength)
        #expect((UInt64(header.count) + 0) % 64 == 0)
        let descriptor = sink.writes[1].bytes
        #expect(Array(descriptor[0 ..< 8]) == bytes(hex: "504b0708 78563412"))
        if isZip64 {
            #expect(Array(extra[0 ..< 20]) == bytes(hex: "0100 1000") + littleEndianBytes([size, 0]))
            #expect(descriptor.count == 24)
            #expect(Array(descriptor[8...]) == littleEndianBytes([size, size]))
        } else {
            #expect(Array(extra[0 ..< 2]) == bytes(hex: "4642"))
            #expect(descriptor.count == 16)
            #expect(Array(descriptor[8...]) == littleEndianBytes([UInt32(size), UInt32(size)]))
        }
        try writer.finish()
        let central = sink.writes[sink.writes.count - 2].bytes
        #expect(Array(central[20 ..< 28]) == (isZip64 ? bytes(hex: "ffffffff ffffffff") : littleEndianBytes([UInt32(size), UInt32(size)])))
    }

    @Test("zip64 starts at an offset of exactly 0xFFFFFFFF, not one byte before", arguments: [
        (UInt64(0xFFFF_FFFE), false), (UInt64(0xFFFF_FFFF), true),
    ])
    func offsetBoundary(offset: UInt64, isZip64: Bool) throws {
        let sink = RecordingSink(startingAt: offset)
        let writer = try PyTorchZipWriter(sink: sink, prefix: "archive")
        try writer.writeRecord("data/0", bytes: [1, 2, 3])
        try writer.finish()
        let header = sink.writes[0].bytes
        let name = Array("archive/data/0".utf8)
        let extra = Array(header[(30 + name.count)...])
        #expect((offset + UInt64(header.count)) % 64 == 0)
        let descriptor = sink.writes[2].bytes
        let central = sink.writes[sink.writes.count - 2].bytes
        let centralExtraLength = Int(central[30]) | Int(central[31]) << 8
        let centralOffset = Array(central[42 ..< 46])
        if isZip64 {
            #expect(Array(extra[0 ..< 12]) == bytes(hex: "0100 0800") + littleEndianBytes([offset]))
            #expect(descriptor == bytes(hex: "504b0708") + littleEndianBytes([crc32OfBytes([1, 2, 3])]) + littleEndianBytes([UInt64(3), 3]))
            #expect(centralExtraLength == 12)
            #expect(centralOffset == bytes(hex: "ffffffff"))
            #expect(Array(central[(46 + name.count) ..< (46 + name.count + 12)]) == bytes(hex: "0100 0800") + littleEndianBytes([offset]))
        } else {
            #expect(Array(extra[0 ..< 2]) == bytes(hex: "4642"))
            #expect(descriptor.count == 16)
            #expect(centralExtraLength == 0)
            #expect(centralOffset == littleEndianBytes([UInt32(offset)]))
        }
        // The end records point past 4 GiB either way: the classic one clamps.
        let end = sink.writes[sink.writes.count - 1].bytes
        let classic = Array(end[(end.count - 22)...])
        #expect(Array(classic[16 ..< 20]) == bytes(hex: "ffffffff"))
    }

    static let bigCheckpointPath = ProcessInfo.processInfo.environment["TORCHZIP_BIG_CHECKPOINT"]

    @Test(
        "a real >4 GiB torch.save file is rewritten identically (set TORCHZIP_BIG_CHECKPOINT to its path)",
        .enabled(if: bigCheckpointPath != nil, "TORCHZIP_BIG_CHECKPOINT is not set"))
    func realBigCheckpoint() throws {
        let original = try MappedFile(path: try #require(Self.bigCheckpointPath))
        let archive = try ZipArchive(file: original)
        let sink = ComparingSink(original.bytes)
        try rewrite(archive, to: sink, chunk: 1 << 26)
        #expect(sink.firstMismatch == nil)
        #expect(sink.position == UInt64(original.count))
    }
}

/// CRC-32 of a few bytes.
func crc32OfBytes(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBytes { crc32($0) }
}

/// A sink that compares what it receives with an expected file, storing nothing.
final class ComparingSink: ZipSink {
    let expected: UnsafeRawBufferPointer
    private(set) var position: UInt64 = 0
    private(set) var firstMismatch: UInt64?

    init(_ expected: UnsafeRawBufferPointer) {
        self.expected = expected
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(ZipError) {
        let start = Int(position)
        if firstMismatch == nil {
            if start + bytes.count > expected.count {
                firstMismatch = UInt64(max(start, expected.count))
            } else if let base = bytes.baseAddress, let other = expected.baseAddress,
                      memcmp(base, other + start, bytes.count) != 0 {
                let index = (0 ..< bytes.count).first { bytes[$0] != expected[start + $0] } ?? 0
                firstMismatch = UInt64(start + index)
            }
        }
        position += UInt64(bytes.count)
    }
}

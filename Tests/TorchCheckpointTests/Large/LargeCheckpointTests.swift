import Foundation
import Testing
import TorchCheckpoint
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What real torch 2.15 wrote for
/// `torch.save({'big': torch.zeros(0xFFFFFFFF, dtype=torch.uint8),
///              'big2': torch.full((0x100000005,), 7, dtype=torch.uint8),
///              'small': torch.arange(3, dtype=torch.int16)}, 'big.pth')`
/// (the facts Tests/TorchZipTests/Zip64WriterTests.swift pins for the zip
/// writer alone): data/0 has exactly 0xFFFFFFFF bytes (zip64 by size), data/1
/// both a zip64 size and offset, every later record a zip64 offset, and all
/// data descriptors from data/0 on are 24 bytes.
enum TorchBigCheckpoint {
    static let pickle = Array(Data(base64Encoded: """
        gAJ9cQAoWAMAAABiaWdxAWN0b3JjaC5fdXRpbHMKX3JlYnVpbGRfdGVuc29yX3YyCnECKChYBwAAAHN0b3JhZ2VxA2N0b3JjaApCeXRlU3RvcmFnZQpxBFgBAAAAMHEFWAMAAABjcHVxBooF/////wB0cQdRSwCKBf////8AhXEISwGFcQmJY2NvbGxlY3Rpb25zCk9yZGVyZWREaWN0CnEKKVJxC3RxDFJxDVgEAAAAYmlnMnEOaAIoKGgDaARYAQAAADFxD2gGigUFAAAAAXRxEFFLAIoFBQAAAAGFcRFLAYVxEoloCilScRN0cRRScRVYBQAAAHNtYWxscRZoAigoaANjdG9yY2gKU2hvcnRTdG9yYWdlCnEXWAEAAAAycRhoBksDdHEZUUsASwOFcRpLAYVxG4loCilScRx0cR1ScR51Lg==
        """)!)
    static let bigSize = 0xFFFF_FFFF
    static let big2Size = 0x1_0000_0005
    static let fileSize = 8_589_936_793
    static let id = "0849488847965048735007150234633405833098"
    /// Where the data of data/0, data/1 and data/2 start.
    static let data0 = 896, data1 = 4_294_968_320, data2 = 8_589_935_744
    /// The file without the data of data/0 and data/1: 2,197 bytes, and their CRC-32.
    static let headersSize = 2197
    static let headersCRC: UInt32 = 0xC6CD_6D76
    /// data/0 at byte 790: a zip64 extra with the size and a compressed size of 0, then 42 Zs.
    static let data0Header = hexBytes("""
        504b0304 0000 0808 0000 0000 0000 00000000 00000000 00000000 0a00 4200
        6269672f646174612f30
        0100 1000 ffffffff00000000 0000000000000000
        4642 2a00
        """) + Array(repeating: UInt8(ascii: "Z"), count: 42)
    static let data0Descriptor = hexBytes("504b0708 00000000 ffffffff00000000 ffffffff00000000")
    /// data/1 at byte 4,294,968,215: size, compressed size 0 and offset, then 33 Zs.
    static let data1Header = hexBytes("""
        504b0304 0000 0808 0000 0000 0000 00000000 00000000 00000000 0a00 4100
        6269672f646174612f31
        0100 1800 0500000001000000 0000000000000000 9703000001000000
        4642 2100
        """) + Array(repeating: UInt8(ascii: "Z"), count: 33)
    static let data1Descriptor = hexBytes("504b0708 53605a57 0500000001000000 0500000001000000")
    /// data/2 at byte 8,589,935,645: the offset only, and a 24-byte descriptor for 6 bytes.
    static let data2Header = hexBytes("""
        504b0304 0000 0808 0000 0000 0000 00000000 00000000 00000000 0a00 3b00
        6269672f646174612f32
        0100 0800 1d04000002000000
        4642 2b00
        """) + Array(repeating: UInt8(ascii: "Z"), count: 43)
    static let data2Descriptor = hexBytes("504b0708 44a4483b 0600000000000000 0600000000000000")
    /// The central directory's zip64 extras and the end records, from byte 8,589,936,064.
    static let endRecords = hexBytes("""
        504b0606 2c00000000000000 1e03 2d00 00000000 00000000 0900000000000000 0900000000000000 7702000000000000 c005000002000000
        504b0607 00000000 3708000002000000 01000000
        504b0506 0000 0000 0900 0900 77020000 ffffffff 0000
        """)
}

/// Bytes from hexadecimal text with spaces and line breaks.
func hexBytes(_ text: String) -> [UInt8] {
    bytes(hex: String(text.filter(\.isHexDigit)))
}

/// Bytes that occupy address space but (almost) no memory.
final class CheapBytes: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let count: Int
    private let mapped: Int

    /// `count` zero bytes: a read-only anonymous mapping, whose untouched pages
    /// all read as the kernel's one zero page.
    init(zeros count: Int) throws {
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let p, p != MAP_FAILED else { throw TensorError("cannot map \(count) zero bytes") }
        base = p
        self.count = count
        mapped = count
    }

    /// `count` bytes of `value`: one 2 MiB block of an unlinked file, mapped
    /// again and again over one reserved range.
    init(repeating value: UInt8, count: Int, directory: String) throws {
        let block = 1 << 21
        let total = (count + block - 1) / block * block
        let reserved = mmap(nil, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let reserved, reserved != MAP_FAILED else { throw TensorError("cannot reserve \(total) bytes") }
        var template = Array((directory + "/pth-block-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw TensorError("cannot create a block file in \(directory)") }
        defer { close(fd) }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        let fill = [UInt8](repeating: value, count: block)
        guard fill.withUnsafeBytes({ write(fd, $0.baseAddress, block) }) == block else {
            throw TensorError("cannot write the block file")
        }
        for i in 0 ..< total / block {
            let p = mmap(reserved + i * block, block, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0)
            guard p == reserved + i * block else { throw TensorError("cannot map block \(i)") }
        }
        base = reserved
        self.count = count
        mapped = total
    }

    deinit { munmap(base, mapped) }

    var rawBytes: RawBytes { RawBytes(baseAddress: base, count: count, owner: self) }
}

let largeTestEnvironment = ProcessInfo.processInfo.environment

/// Checkpoints past 4 GiB, written by this library at test time and, with
/// tools/large-file-check.py, by torch.save. Opt-in: they write 8.6 GB.
///
/// - `PTH_LARGE_TESTS=1` runs them; `PTH_LARGE_DIR` is where the file goes
///   (default: the temporary directory; it needs 8.6 GB free);
/// - `PTH_LARGE_KEEP=1` keeps `big.pth` there for PyTorch to load;
/// - `PTH_LARGE_TORCH_FILE` names a file torch.save wrote from the same dict, to read here.
@Suite("Checkpoints larger than 4 GiB (PTH_LARGE_TESTS=1)", .serialized,
       .enabled(if: largeTestEnvironment["PTH_LARGE_TESTS"] == "1", "PTH_LARGE_TESTS is not 1"))
struct LargeCheckpointTests {
    static let environment = largeTestEnvironment
    static var directory: String { environment["PTH_LARGE_DIR"] ?? FileManager.default.temporaryDirectory.path }

    /// The dict of TorchBigCheckpoint, built in Swift over storages that cost no memory.
    static func bigDict() throws -> Value {
        let zeros = try CheapBytes(zeros: TorchBigCheckpoint.bigSize)
        let sevens = try CheapBytes(repeating: 7, count: TorchBigCheckpoint.big2Size, directory: directory)
        func tensor(_ key: String, _ bytes: CheapBytes) -> Value {
            let storage = Storage(key: key, dtype: .uint8, isUntyped: false, location: "cpu",
                                  elementCount: bytes.count) { bytes.rawBytes }
            return .tensor(Tensor(dtype: .uint8, shape: [bytes.count], stride: [1], storage: storage))
        }
        let sd = PyDict()
        sd["big"] = tensor("0", zeros)
        sd["big2"] = tensor("1", sevens)
        sd["small"] = .tensor(try Tensor(scalars: [Int16(0), 1, 2], shape: [3]))
        return .dict(sd)
    }

    /// This process's memory (Linux): resident, proportional (the 2 MiB block
    /// of sevens mapped 2,049 times counts once there) and anonymous.
    static func memory() -> String {
        guard let text = try? String(contentsOfFile: "/proc/self/smaps_rollup", encoding: .utf8) else { return "" }
        let fields = text.split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, ["Rss:", "Pss:", "Anonymous:"].contains(parts[0]), let kb = Int(parts[1]) else { return nil }
            return "\(parts[0].dropLast()) \(kb / 1024) MiB"
        }
        return fields.joined(separator: ", ")
    }

    static func seconds(since start: ContinuousClock.Instant) -> String {
        let d = ContinuousClock.now - start
        return String(format: "%.1f s", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }

    @Test("an 8.6 GB state dict saves as torch.save wrote it: zip64 extras, 24-byte descriptors, offsets past 4 GiB; it reads back")
    func saveAndRead() throws {
        let folder = URL(fileURLWithPath: Self.directory).appendingPathComponent("pth-large-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let keep = Self.environment["PTH_LARGE_KEEP"] == "1"
        defer { if !keep { try? FileManager.default.removeItem(at: folder) } }
        // torch.save names the prefix after the file: big.pth → big.
        let path = folder.appendingPathComponent("big.pth").path
        var start = ContinuousClock.now
        let dict = try Self.bigDict()
        try Checkpoint.save(dict, to: path)
        print("large: saved \(path) in \(Self.seconds(since: start)); \(Self.memory())")
        if keep { print("large: kept \(path)") }

        let file = try MappedFile(path: path)
        #expect(file.count == TorchBigCheckpoint.fileSize)
        try #require(file.count == TorchBigCheckpoint.fileSize)
        let bytes = file.bytes
        func at(_ offset: Int, _ count: Int) -> [UInt8] { Array(bytes[offset ..< offset + count]) }
        #expect(at(790, TorchBigCheckpoint.data0Header.count) == TorchBigCheckpoint.data0Header)
        #expect(at(TorchBigCheckpoint.data0 + TorchBigCheckpoint.bigSize, 24) == TorchBigCheckpoint.data0Descriptor)
        #expect(at(4_294_968_215, TorchBigCheckpoint.data1Header.count) == TorchBigCheckpoint.data1Header)
        #expect(at(TorchBigCheckpoint.data1 + TorchBigCheckpoint.big2Size, 24) == TorchBigCheckpoint.data1Descriptor)
        #expect(at(8_589_935_645, TorchBigCheckpoint.data2Header.count) == TorchBigCheckpoint.data2Header)
        #expect(at(TorchBigCheckpoint.data2 + 6, 24) == TorchBigCheckpoint.data2Descriptor)
        let end = TorchBigCheckpoint.endRecords
        #expect(at(file.count - end.count, end.count) == end)
        // Every byte but the two large records' data is torch's: pickle, headers, central directory, id.
        let headers = at(0, TorchBigCheckpoint.data0)
            + at(TorchBigCheckpoint.data0 + TorchBigCheckpoint.bigSize, TorchBigCheckpoint.data1 - TorchBigCheckpoint.data0 - TorchBigCheckpoint.bigSize)
            + at(TorchBigCheckpoint.data1 + TorchBigCheckpoint.big2Size, file.count - TorchBigCheckpoint.data1 - TorchBigCheckpoint.big2Size)
        #expect(headers.count == TorchBigCheckpoint.headersSize)
        #expect(headers.withUnsafeBytes { crc32($0) } == TorchBigCheckpoint.headersCRC)

        start = ContinuousClock.now
        let checkpoint = try Checkpoint(path: path)
        let archive = try #require(checkpoint.archive)
        #expect(try archive.bytes(of: try #require(archive.record("data.pkl"))).copyBytes() == TorchBigCheckpoint.pickle)
        #expect(try archive.bytes(of: try #require(archive.record(".data/serialization_id"))).copyBytes() == Array(TorchBigCheckpoint.id.utf8))
        #expect(archive.record("data/0")?.dataOffset == UInt64(TorchBigCheckpoint.data0))
        #expect(archive.record("data/1")?.dataOffset == UInt64(TorchBigCheckpoint.data1))
        #expect(archive.record("data/2")?.dataOffset == UInt64(TorchBigCheckpoint.data2))
        #expect(archive.record("data/1")?.uncompressedSize == UInt64(TorchBigCheckpoint.big2Size))
        try Self.checkContents(checkpoint)
        print("large: read back in \(Self.seconds(since: start)); \(Self.memory())")
    }

    /// The tensors of the big dict, wherever it came from; reads a few pages, and
    /// with `PTH_LARGE_VERIFY=1` every record's CRC-32 (8.6 GB read).
    static func checkContents(_ checkpoint: Checkpoint) throws {
        let big = try #require(checkpoint["big"]?.tensor)
        let big2 = try #require(checkpoint["big2"]?.tensor)
        #expect(big.shape == [TorchBigCheckpoint.bigSize] && big2.shape == [TorchBigCheckpoint.big2Size])
        let raw = try big2.storageBytes()
        #expect(raw.count == TorchBigCheckpoint.big2Size)
        raw.withUnsafeBytes { b in
            // Its first and last pages, and around 4 GiB into it.
            for i in [0, 4095, 1 << 32, (1 << 32) + 4, b.count - 1] { #expect(b[i] == 7, "big2[\(i)]") }
        }
        try big.storageBytes().withUnsafeBytes { b in
            #expect(b.count == TorchBigCheckpoint.bigSize && b[0] == 0 && b[b.count - 1] == 0)
        }
        // Stored past 8 GiB.
        #expect(try #require(checkpoint["small"]?.tensor).scalars() == [Int16(0), 1, 2])
        if environment["PTH_LARGE_VERIFY"] == "1" {
            let start = ContinuousClock.now
            try checkpoint.verifyRecords()
            print("large: CRC-32 of every record verified in \(seconds(since: start))")
        }
    }

    @Test("a >4 GiB file torch.save wrote reads here (PTH_LARGE_TORCH_FILE)",
          .enabled(if: largeTestEnvironment["PTH_LARGE_TORCH_FILE"] != nil, "PTH_LARGE_TORCH_FILE is not set"))
    func readTorchFile() throws {
        let path = try #require(Self.environment["PTH_LARGE_TORCH_FILE"])
        let start = ContinuousClock.now
        let checkpoint = try Checkpoint(path: path)
        #expect(checkpoint.archive?.record("data/2")?.dataOffset == UInt64(TorchBigCheckpoint.data2))
        #expect(checkpoint.archive?.entries.count == 9)
        try Self.checkContents(checkpoint)
        print("large: read \(path) in \(Self.seconds(since: start)); \(Self.memory())")
    }
}

import Foundation
import Testing
import TorchZip

/// The package's `fixtures` folder, written by real PyTorch 2.15.
let fixturesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // Support
    .deletingLastPathComponent()  // TorchZipTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // package root
    .appendingPathComponent("fixtures")

/// Every zip checkpoint under `fixtures` (the folder and `prefixes/`),
/// relative to it: files that start with a local header signature, so that
/// listings, notes and other formats are left out.
let torchFixtures: [String] = {
    var found: [String] = []
    for folder in ["", "prefixes/"] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: fixturesDirectory.path + "/" + folder)) ?? []
        for name in names.sorted() where !name.hasSuffix(".json") && !name.hasSuffix(".md") {
            var isDirectory: ObjCBool = false
            let path = fixturesDirectory.path + "/" + folder + name
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  let handle = FileHandle(forReadingAtPath: path)
            else { continue }
            let magic = handle.readData(ofLength: 4)
            try? handle.close()
            if Array(magic) == [0x50, 0x4B, 0x03, 0x04] {
                found.append(folder + name)
            }
        }
    }
    return found
}()

/// The index of the first byte where `a` and `b` differ (the shorter one's
/// length when one is a prefix of the other), or `nil` when they are equal.
func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
    let shared = min(a.count, b.count)
    for index in 0 ..< shared where a[index] != b[index] {
        return index
    }
    return a.count == b.count ? nil : shared
}

/// A description of the bytes around `index` in both arrays, for failure messages.
func around(_ index: Int?, _ a: [UInt8], _ b: [UInt8]) -> String {
    guard let index else { return "equal" }
    let start = max(0, index - 8)
    func hex(_ bytes: [UInt8]) -> String {
        bytes[min(start, bytes.count) ..< min(index + 24, bytes.count)].map { String(format: "%02x", $0) }.joined()
    }
    return "first difference at byte \(index) (sizes \(a.count) and \(b.count)): \(hex(a)) vs \(hex(b)) from byte \(start)"
}

/// Bytes from hexadecimal digits (whitespace ignored).
func bytes(hex: String) -> [UInt8] {
    let digits = Array(hex.utf8.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count - 1, by: 2).map { index in
        UInt8(String(decoding: digits[index ..< index + 2], as: UTF8.self), radix: 16) ?? 0
    }
}

/// Bytes from base64 text.
func bytes(base64: String) -> [UInt8] {
    Array(Data(base64Encoded: base64) ?? Data())
}

extension UInt8 {
    /// Whether the byte is ASCII whitespace.
    var isWhitespace: Bool { self == 0x20 || self == 0x0A || self == 0x0D || self == 0x09 }
}

/// Little-endian bytes of a sequence of fixed-width values (tensor storages).
func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    var out: [UInt8] = []
    for value in values {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }
    return out
}

/// Writes every record of `archive` but `.data/serialization_id`, in central
/// directory order, with the same prefix; `chunk` > 0 streams each record in
/// chunks of that size instead of handing it over whole.
@discardableResult
func rewrite(_ archive: ZipArchive, to sink: some ZipSink, options: PyTorchZipWriter.Options = .init(), chunk: Int = 0) throws -> String {
    let writer = try PyTorchZipWriter(sink: sink, prefix: archive.prefix, options: options)
    for (entry, name) in zip(archive.entries, archive.recordNames) where name != ".data/serialization_id" {
        let record = try archive.bytes(of: entry)
        if chunk > 0 {
            try writer.writeRecord(name, size: UInt64(record.count)) { write in
                try record.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws(ZipError) in
                    var start = 0
                    repeat {
                        let end = min(raw.count, start + chunk)
                        try write(UnsafeRawBufferPointer(rebasing: raw[start ..< end]))
                        start = end
                    } while start < raw.count
                }
            }
        } else {
            try record.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws(ZipError) in try writer.writeRecord(name, bytes: raw) }
        }
    }
    return try writer.finish()
}

/// A sink that stores nothing: it counts bytes from a chosen starting
/// position, so that tests reach zip64 offsets without writing gigabytes,
/// and keeps the writes that do not come from `skipping` (the test's data
/// buffer), so that headers can be compared.
final class RecordingSink: ZipSink {
    private(set) var position: UInt64
    /// The writes kept, with the position each started at.
    private(set) var writes: [(offset: UInt64, bytes: [UInt8])] = []
    /// Writes from inside this buffer are counted, not kept.
    var skipping: UnsafeRawBufferPointer?

    init(startingAt position: UInt64 = 0) {
        self.position = position
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(ZipError) {
        if let skipping, let base = bytes.baseAddress, let start = skipping.baseAddress,
           base >= start, base < start + skipping.count {
            position += UInt64(bytes.count)
            return
        }
        writes.append((position, Array(bytes)))
        position += UInt64(bytes.count)
    }

    /// Everything kept, concatenated.
    var kept: [UInt8] { writes.flatMap(\.bytes) }

    /// The bytes kept from `offset` on, up to `count` of them, gathered across writes.
    func kept(at offset: UInt64, count: Int) -> [UInt8] {
        var out: [UInt8] = []
        for write in writes {
            let end = write.offset + UInt64(write.bytes.count)
            guard end > offset, write.offset < offset + UInt64(count) else { continue }
            let from = Int(offset > write.offset ? offset - write.offset : 0)
            out.append(contentsOf: write.bytes[from...])
        }
        return Array(out.prefix(count))
    }
}

/// A sink that fails once it has taken `limit` bytes.
final class FailingSink: ZipSink {
    private(set) var position: UInt64 = 0
    let limit: UInt64

    init(failingAfter limit: UInt64) {
        self.limit = limit
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(ZipError) {
        guard position + UInt64(bytes.count) <= limit else {
            throw ZipError(.io, "disk full (test)")
        }
        position += UInt64(bytes.count)
    }
}

import Foundation
import Testing
import TorchZip

/// The records of `torch.save({'w': torch.arange(10.), 'e': torch.empty(0),
/// 'b': torch.ones(3, dtype=torch.int64)}, f)`, with `.storage_alignment` as given.
func alignmentSampleRecords(alignment: Int) -> [(String, [UInt8])] {
    let pickle = bytes(base64: """
        gAJ9cQAoWAEAAAB3cQFjdG9yY2guX3V0aWxzCl9yZWJ1aWxkX3RlbnNvcl92MgpxAigoWAcAAABzdG9yYWdlcQNjdG9yY2gKRmxvYXRTdG9yYWdlCnEEWAEAAAAwcQVYAwAAAGNwdXEGSwp0cQdRSwBLCoVxCEsBhXEJiWNjb2xsZWN0aW9ucwpPcmRlcmVkRGljdApxCilScQt0cQxScQ1YAQAAAGVxDmgCKChoA2gEWAEAAAAxcQ9oBksAdHEQUUsASwCFcRFLAYVxEoloCilScRN0cRRScRVYAQAAAGJxFmgCKChoA2N0b3JjaApMb25nU3RvcmFnZQpxF1gBAAAAMnEYaAZLA3RxGVFLAEsDhXEaSwGFcRuJaAopUnEcdHEdUnEedS4=
        """.trimmingCharacters(in: .whitespacesAndNewlines))
    let floats = littleEndianBytes((0 ..< 10).map { Float($0).bitPattern })
    return [
        ("data.pkl", pickle),
        (".format_version", Array("1".utf8)),
        (".storage_alignment", Array(String(alignment).utf8)),
        ("byteorder", Array("little".utf8)),
        ("data/0", floats),
        ("data/1", []),
        ("data/2", littleEndianBytes([Int64](repeating: 1, count: 3))),
        ("version", Array("3\n".utf8)),
    ]
}

@Suite("Layout options, as torch.save applies them")
struct WriterOptionsTests {
    @Test("other storage alignments pad as torch does (storage_alignment = 1, 3, 100, 4096)", arguments: [
        // (alignment, size, CRC-32 of the whole file, id) of files real torch 2.15 wrote.
        (1, 1676, 0xDB14_D481 as UInt32, "0849488847965048735014766384031717294822"),
        (3, 1688, 0xF52C_B910, "0849488847965048735015113625777338376946"),
        (100, 2046, 0x4B16_FCA0, "0849488847965048735015119191204513569333"),
        (4096, 37619, 0x7BF5_53CD, "0849488847965048735014954305789683830393"),
    ])
    func alignment(alignment: Int, size: Int, crc: UInt32, id: String) throws {
        var options = PyTorchZipWriter.Options()
        options.alignment = alignment
        let sink = MemorySink()
        let writer = try PyTorchZipWriter(sink: sink, prefix: "align\(alignment)", options: options)
        for (name, contents) in alignmentSampleRecords(alignment: alignment) {
            try writer.writeRecord(name, bytes: contents)
        }
        #expect(try writer.finish() == id)
        #expect(sink.bytes.count == size)
        #expect(sink.bytes.withUnsafeBytes { crc32($0) } == crc)
        let archive = try open(sink.bytes)
        for entry in archive.entries {
            #expect(entry.dataOffset % UInt64(alignment) == 0, "\(entry.name)")
        }
        try archive.checkConsistencyWithLibzip()
    }

    @Test("without CRCs (compute_crc32 = False) every CRC field is 0, as torch writes")
    func withoutCRC() throws {
        var options = PyTorchZipWriter.Options()
        options.computeCRC32 = false
        let sink = MemorySink()
        let writer = try PyTorchZipWriter(sink: sink, prefix: "nocrc", options: options)
        let records = alignmentSampleRecords(alignment: 64)
        for (name, contents) in records {
            try writer.writeRecord(name, bytes: contents)
        }
        #expect(try writer.finish() == "0849488847965048735006807140999075522109")
        #expect(sink.bytes.count == 1999)
        #expect(sink.bytes.withUnsafeBytes { crc32($0) } == 0x345E_2CB0)
        let archive = try open(sink.bytes)
        #expect(archive.entries.allSatisfy { $0.crc32 == 0 })
    }

    @Test("a rewrite with the same options reproduces a file written without CRCs")
    func rewriteWithoutCRC() throws {
        var options = PyTorchZipWriter.Options()
        options.computeCRC32 = false
        let first = MemorySink()
        let writer = try PyTorchZipWriter(sink: first, prefix: "nocrc", options: options)
        for (name, contents) in alignmentSampleRecords(alignment: 64) {
            try writer.writeRecord(name, bytes: contents)
        }
        try writer.finish()
        let second = MemorySink()
        try rewrite(try open(first.bytes), to: second, options: options)
        #expect(second.bytes == first.bytes)
    }

    @Test("alignments outside 1...65504 are refused", arguments: [0, -64, 65505, 1 << 20])
    func badAlignment(alignment: Int) {
        var options = PyTorchZipWriter.Options()
        options.alignment = alignment
        let error = zipError { try PyTorchZipWriter(sink: MemorySink(), prefix: "archive", options: options) }
        #expect(error?.code == .invalidArgument)
    }

    @Test("the largest alignment still fits the extra field with a zip64 extra")
    func largestAlignment() throws {
        var options = PyTorchZipWriter.Options()
        options.alignment = PyTorchZipWriter.Options.maxAlignment
        let sink = RecordingSink(startingAt: 0x1_0000_0001)
        let writer = try PyTorchZipWriter(sink: sink, prefix: "archive", options: options)
        try writer.writeRecord("data/0", bytes: [1, 2, 3])
        let header = sink.writes[0].bytes
        let extraLength = Int(header[28]) | Int(header[29]) << 8
        #expect((sink.writes[0].offset + UInt64(header.count)) % UInt64(options.alignment) == 0)
        #expect(extraLength == header.count - 30 - "archive/data/0".utf8.count)
    }
}

@Suite("Records and archive structure")
struct WriterStructureTests {
    @Test("a zero-byte record: flags 0x0800, no data descriptor, still padded, CRC 0")
    func zeroByteRecord() throws {
        let sink = MemorySink()
        let writer = try PyTorchZipWriter(sink: sink, prefix: "archive")
        try writer.writeRecord("data.pkl", bytes: Array("x".utf8))
        let headerOffset = sink.bytes.count
        try writer.writeRecord("data/0", bytes: [])
        let afterEmpty = sink.bytes.count
        try writer.writeRecord("data/1", bytes: [9])
        try writer.finish()

        let header = Array(sink.bytes[headerOffset ..< afterEmpty])
        #expect(Array(header[0 ..< 4]) == [0x50, 0x4B, 0x03, 0x04])
        #expect(header[6] == 0x00 && header[7] == 0x08)  // flags 0x0800
        #expect(afterEmpty % 64 == 0)  // the (empty) data is aligned and nothing follows it
        #expect(Array(sink.bytes[afterEmpty ..< afterEmpty + 4]) == [0x50, 0x4B, 0x03, 0x04])  // next header, no descriptor

        let archive = try open(sink.bytes)
        let empty = try #require(archive.record("data/0"))
        #expect(empty.flags == 0x0800)
        #expect(!empty.hasDataDescriptor)
        #expect(empty.crc32 == 0)
        #expect(empty.compressedSize == 0)
        #expect(empty.dataOffset % 64 == 0)
        #expect(try archive.record("data/1").map { try archive.bytes(of: $0).copyBytes() } == [9])
        try archive.checkConsistencyWithLibzip()
    }

    @Test("finish adds version, then byteorder, when missing, as PyTorch's writeEndOfFile does")
    func versionAndByteorderAdded() throws {
        let sink = MemorySink()
        let writer = try PyTorchZipWriter(sink: sink, prefix: "archive")
        try writer.writeRecord("data.pkl", bytes: Array("x".utf8))
        try writer.finish()
        #expect(writer.recordsWritten == ["data.pkl", "version", "byteorder", ".data/serialization_id"])
        let archive = try open(sink.bytes)
        #expect(try archive.bytes(of: try #require(archive.record("version"))).copyBytes() == Array("3\n".utf8))
        #expect(try archive.bytes(of: try #require(archive.record("byteorder"))).copyBytes() == Array("little".utf8))
    }

    @Test("from file format version 6 on, finish writes .data/version")
    func dataVersion() throws {
        var options = PyTorchZipWriter.Options()
        options.version = 10
        let writer = try PyTorchZipWriter(sink: MemorySink(), prefix: "archive", options: options)
        try writer.writeRecord("byteorder", bytes: Array("little".utf8))
        try writer.finish()
        #expect(writer.recordsWritten == ["byteorder", ".data/version", ".data/serialization_id"])
    }

    @Test("the prefix comes from the path as PyTorch's basename() takes it", arguments: [
        ("model.pth", "model"), ("/tmp/dir/model.tar.gz", "model.tar"), ("noext", "noext"),
        ("dir\\weights.pt", "weights"), ("a.b/c", "c"), ("pytorch_model.bin", "pytorch_model"),
        ("/tmp/dir/", ""), (".hidden", ""), ("modèle.pth", "archive"),
    ])
    func archiveName(path: String, expected: String) {
        #expect(PyTorchZipWriter.archiveName(forPath: path) == expected)
    }

    @Test("a name ending in '/' is a directory entry: no data, external attributes 0x10")
    func directoryEntry() throws {
        let sink = MemorySink()
        let writer = try PyTorchZipWriter(sink: sink, prefix: "archive")
        try writer.writeRecord("data.pkl", bytes: [1])
        try writer.writeRecord("extra/", bytes: [])
        #expect(zipError { try writer.writeRecord("more/", bytes: [1]) }?.code == .invalidArgument)
        try writer.finish()
        let archive = try open(sink.bytes)
        let entry = try #require(archive.record("extra/"))
        let central = try #require(firstCentralEntry(named: "archive/extra/", in: sink.bytes))
        #expect(Array(sink.bytes[central + 38 ..< central + 42]) == [0x10, 0, 0, 0])
        #expect(entry.uncompressedSize == 0)
    }

    @Test("more than 65,535 records: the classic end record says 0xFFFF, the zip64 one the count")
    func manyRecords() throws {
        let sink = MemorySink()
        let writer = try PyTorchZipWriter(sink: sink, prefix: "a")
        for index in 0 ..< 65_540 {
            try writer.writeRecord("\(index)", bytes: [])
        }
        try writer.finish()
        let end = sink.bytes.count - 22
        #expect(Array(sink.bytes[end + 8 ..< end + 12]) == [0xFF, 0xFF, 0xFF, 0xFF])
        let zip64End = sink.bytes.count - 22 - 20 - 56
        #expect(Array(sink.bytes[zip64End + 24 ..< zip64End + 32]) == littleEndianBytes([UInt64(65_543)]))
        let archive = try open(sink.bytes)
        #expect(archive.entries.count == 65_543)
    }
}

@Suite("Misuse and failures")
struct WriterFailureTests {
    @Test("bad prefixes are refused", arguments: ["", "a/b", "nul\u{0}"])
    func badPrefix(prefix: String) {
        #expect(zipError { try PyTorchZipWriter(sink: MemorySink(), prefix: prefix) }?.code == .invalidArgument)
    }

    @Test("bad record names are refused and leave the writer usable", arguments: ["", "a\u{0}b", String(repeating: "x", count: 65_530)])
    func badName(name: String) throws {
        let sink = MemorySink()
        let writer = try PyTorchZipWriter(sink: sink, prefix: "archive")
        #expect(zipError { try writer.writeRecord(name, bytes: [1]) }?.code == .invalidArgument)
        #expect(sink.bytes.isEmpty)
        try writer.writeRecord("data.pkl", bytes: [1])
        try writer.finish()
    }

    @Test("a record written twice is refused, naming it")
    func duplicate() throws {
        let writer = try PyTorchZipWriter(sink: MemorySink(), prefix: "archive")
        try writer.writeRecord("data/0", bytes: [1])
        let error = zipError { try writer.writeRecord("data/0", bytes: [2]) }
        #expect(error?.code == .duplicateRecord)
        #expect(error?.record == "archive/data/0")
        try writer.finish()
    }

    @Test("nothing can be written after finish, and finish runs once")
    func afterFinish() throws {
        let writer = try PyTorchZipWriter(sink: MemorySink(), prefix: "archive")
        try writer.finish()
        #expect(zipError { try writer.writeRecord("x", bytes: [1]) }?.code == .writerClosed)
        #expect(zipError { try writer.finish() }?.code == .writerClosed)
    }

    @Test("a streamed record must bring exactly its declared size")
    func sizeMismatch() throws {
        let short = try PyTorchZipWriter(sink: MemorySink(), prefix: "archive")
        let tooFew = zipError {
            try short.writeRecord("data/0", size: 10) { write in
                try [UInt8](repeating: 1, count: 9).withUnsafeBytes { try write($0) }
            }
        }
        #expect(tooFew?.code == .sizeMismatch)
        #expect(zipError { try short.finish() }?.code == .writerClosed)

        let long = try PyTorchZipWriter(sink: MemorySink(), prefix: "archive")
        let tooMany = zipError {
            try long.writeRecord("data/0", size: 4) { write in
                try [UInt8](repeating: 1, count: 3).withUnsafeBytes { try write($0) }
                try [UInt8](repeating: 1, count: 3).withUnsafeBytes { try write($0) }
            }
        }
        #expect(tooMany?.code == .sizeMismatch)
        #expect(zipError { try long.writeRecord("data/1", bytes: [1]) }?.code == .writerClosed)
    }

    struct Interrupted: Error {}

    @Test("an error thrown by the body of a streamed record comes out as is and closes the writer")
    func bodyThrows() throws {
        let writer = try PyTorchZipWriter(sink: MemorySink(), prefix: "archive")
        #expect(throws: Interrupted.self) {
            try writer.writeRecord("data/0", size: 4) { _ in throw Interrupted() }
        }
        #expect(zipError { try writer.finish() }?.code == .writerClosed)
    }

    @Test("a sink error comes out and closes the writer")
    func sinkFails() throws {
        let writer = try PyTorchZipWriter(sink: FailingSink(failingAfter: 100), prefix: "archive")
        try writer.writeRecord("a", bytes: [1])
        let error = zipError { try writer.writeRecord("b", bytes: [UInt8](repeating: 0, count: 200)) }
        #expect(error?.code == .io)
        let later = zipError { try writer.writeRecord("c", bytes: [1]) }
        #expect(later?.code == .writerClosed)
        #expect(later?.message.contains("disk full") == true)
    }

    @Test("empty chunks are accepted")
    func emptyChunks() throws {
        let sink = MemorySink()
        let writer = try PyTorchZipWriter(sink: sink, prefix: "archive")
        try writer.writeRecord("data/0", size: 2) { write in
            try write(UnsafeRawBufferPointer(start: nil, count: 0))
            try [UInt8]([7, 8]).withUnsafeBytes { try write($0) }
            try write(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        try writer.finish()
        let archive = try open(sink.bytes)
        #expect(try archive.bytes(of: try #require(archive.record("data/0"))).copyBytes() == [7, 8])
    }
}

/// The offset of the central directory entry named `name`, found by scanning for its signature.
func firstCentralEntry(named name: String, in bytes: [UInt8]) -> Int? {
    let target = Array(name.utf8)
    var index = 0
    while index + 46 <= bytes.count {
        if bytes[index] == 0x50, bytes[index + 1] == 0x4B, bytes[index + 2] == 0x01, bytes[index + 3] == 0x02 {
            let length = Int(bytes[index + 28]) | Int(bytes[index + 29]) << 8
            if index + 46 + length <= bytes.count, Array(bytes[index + 46 ..< index + 46 + length]) == target {
                return index
            }
        }
        index += 1
    }
    return nil
}

import Foundation
import Testing
import TorchZip

@Suite("Rewriting checkpoints written by real PyTorch, record by record")
struct WriterRewriteTests {
    @Test("the fixtures are there", .enabled(if: FileManager.default.fileExists(atPath: fixturesDirectory.path)))
    func fixturesFound() {
        #expect(torchFixtures.count >= 20)
        #expect(torchFixtures.contains("big_dict.pth"))
        #expect(torchFixtures.contains("prefixes/from_stream.pth"))
    }

    @Test("whole records come out byte for byte identical, serialization id included", arguments: torchFixtures)
    func identical(fixture: String) throws {
        let original = try MappedFile(path: fixturesDirectory.path + "/" + fixture)
        let archive = try ZipArchive(file: original)
        let sink = MemorySink(reservingCapacity: original.count)
        let id = try rewrite(archive, to: sink)
        let expected = Array(original.bytes)
        let stored = try archive.bytes(of: try #require(archive.record(".data/serialization_id"))).copyBytes()
        #expect(id == String(decoding: stored, as: UTF8.self))
        let difference = firstDifference(sink.bytes, expected)
        #expect(difference == nil, "\(fixture): \(around(difference, sink.bytes, expected))")
    }

    @Test("records streamed in small chunks come out identical too", arguments: torchFixtures)
    func streamed(fixture: String) throws {
        let original = try MappedFile(path: fixturesDirectory.path + "/" + fixture)
        let archive = try ZipArchive(file: original)
        let sink = MemorySink()
        try rewrite(archive, to: sink, chunk: 7)
        let difference = firstDifference(sink.bytes, Array(original.bytes))
        #expect(difference == nil, "\(fixture): \(around(difference, sink.bytes, Array(original.bytes)))")
    }

    @Test("an atomically written file is identical to the original")
    func atomicFile() throws {
        let original = try MappedFile(path: fixturesDirectory.path + "/state_dict.pth")
        let archive = try ZipArchive(file: original)
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let destination = directory + "/state_dict.pth"
        let sink = try AtomicFileSink(destination: destination)
        try rewrite(archive, to: sink)
        try sink.commit()
        let written = try MappedFile(path: destination)
        #expect(Array(written.bytes) == Array(original.bytes))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["state_dict.pth"])
    }

    @Test("copying .data/serialization_id too changes nothing: the writer skips it, as PyTorch does")
    func copyingTheIDIsIgnored() throws {
        let original = try MappedFile(path: fixturesDirectory.path + "/views.pth")
        let archive = try ZipArchive(file: original)
        let sink = MemorySink()
        let writer = try PyTorchZipWriter(sink: sink, prefix: archive.prefix)
        for (entry, name) in zip(archive.entries, archive.recordNames) {
            try writer.writeRecord(name, bytes: try archive.bytes(of: entry).copyBytes())
        }
        #expect(!writer.recordsWritten.contains(".data/serialization_id"))
        try writer.finish()
        #expect(writer.recordsWritten.last == ".data/serialization_id")
        #expect(sink.bytes == Array(original.bytes))
    }

    @Test("an id given to finish is written instead of the computed one")
    func givenID() throws {
        let original = try MappedFile(path: fixturesDirectory.path + "/meta.pth")
        let archive = try ZipArchive(file: original)
        let sink = MemorySink()
        let writer = try PyTorchZipWriter(sink: sink, prefix: archive.prefix)
        for (entry, name) in zip(archive.entries, archive.recordNames) where name != ".data/serialization_id" {
            try writer.writeRecord(name, bytes: try archive.bytes(of: entry).copyBytes())
        }
        let foreign = "1234567890123456789009876543210987654321"
        #expect(try writer.finish(serializationID: foreign) == foreign)
        #expect(writer.serializationID == foreign)
        let reread = try open(sink.bytes)
        let id = try reread.bytes(of: try #require(reread.record(".data/serialization_id"))).copyBytes()
        #expect(id == Array(foreign.utf8))
        // Same length as the computed id: everything else is unchanged.
        #expect(sink.bytes.count == original.count)
        try reread.checkConsistencyWithLibzip()
    }
}

/// A new empty directory in the temporary directory.
func makeTemporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("TorchZipWriterTests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    return path
}

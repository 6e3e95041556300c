import Testing
import TorchZip

@Suite("Archives in PyTorch's layout")
struct PyTorchLayoutTests {
    let built = ZipBuilder(layout: .pytorch, records: pytorchRecords()).build()

    @Test("entries are read in central directory order with their sizes and CRCs")
    func entries() throws {
        let archive = try open(built.bytes)
        let records = pytorchRecords()
        #expect(archive.entries.count == records.count)
        for (i, (entry, record)) in zip(archive.entries, records).enumerated() {
            #expect(entry.index == i)
            #expect(entry.name == record.name)
            #expect(entry.isStored)
            #expect(entry.compressedSize == UInt64(record.contents.count))
            #expect(entry.uncompressedSize == UInt64(record.contents.count))
            #expect(entry.crc32 == record.contents.withUnsafeBytes { crc32($0) })
            #expect(entry.localHeaderOffset == UInt64(built.localHeaderOffsets[i]))
            #expect(entry.flags == (record.contents.isEmpty ? 0x0800 : 0x0808))
            #expect(entry.hasDataDescriptor == !record.contents.isEmpty)
            #expect(entry.hasValidUTF8Name)
        }
    }

    @Test("the prefix comes from the first entry and record names are relative to it")
    func prefixAndNames() throws {
        let archive = try open(built.bytes)
        #expect(archive.prefix == "archive")
        #expect(archive.recordNames == [
            "data.pkl", ".format_version", ".storage_alignment", "byteorder",
            "data/0", "data/1", "data/2", "version", ".data/serialization_id",
        ])
        #expect(archive.record("data.pkl") == archive.entries[0])
        #expect(archive.entry(named: "archive/version") == archive.entries[7])
        #expect(archive.record("missing") == nil)
        #expect(archive.entry(named: "data.pkl") == nil)
    }

    @Test("data offsets come from the local headers and are 64-byte aligned")
    func alignedDataOffsets() throws {
        let archive = try open(built.bytes)
        for (i, entry) in archive.entries.enumerated() {
            #expect(entry.dataOffset == UInt64(built.dataOffsets[i]))
            #expect(entry.dataOffset % 64 == 0)
        }
    }

    @Test("stored records are views into the mapped file, with the right bytes")
    func bytesInPlace() throws {
        let archive = try open(built.bytes)
        let base = archive.file.bytes.baseAddress
        for (entry, record) in zip(archive.entries, pytorchRecords()) {
            let bytes = try archive.bytes(of: entry)
            #expect(bytes.isInPlace)
            #expect(bytes.fileOffset == entry.dataOffset)
            #expect(bytes.count == record.contents.count)
            #expect(bytes.copyBytes() == record.contents)
            bytes.withUnsafeBytes { raw in
                #expect(raw.baseAddress == base.map { $0 + Int(entry.dataOffset) })
            }
        }
    }

    @Test("the zero-byte record is padded, has no descriptor, and reads as empty")
    func zeroByteRecord() throws {
        let archive = try open(built.bytes)
        let empty = try #require(archive.record("data/1"))
        #expect(empty.compressedSize == 0)
        #expect(empty.dataOffset % 64 == 0)
        #expect(!empty.hasDataDescriptor)
        let bytes = try archive.bytes(of: empty)
        #expect(bytes.count == 0)
        #expect(bytes.isInPlace)
        try archive.verifyCRC(of: empty)
    }

    @Test("every record's CRC verifies, and libzip agrees the archive is consistent")
    func crcAndLibzip() throws {
        let archive = try open(built.bytes)
        for entry in archive.entries {
            try archive.verifyCRC(of: entry)
        }
        try archive.checkConsistencyWithLibzip()
    }

    @Test("bytes outlive the archive that produced them")
    func bytesOutliveArchive() throws {
        var archive: ZipArchive? = try open(built.bytes)
        let entry = try #require(archive?.record("data/0"))
        let bytes = try #require(try archive?.bytes(of: entry))
        archive = nil
        #expect(bytes.copyBytes() == pattern(200, seed: 5))
    }

    @Test("an archive opens from a path")
    func openFromPath() throws {
        let path = try temporaryFile(built.bytes)
        defer { removeFile(path) }
        let archive = try ZipArchive(path: path)
        #expect(archive.file.path == path)
        #expect(archive.file.count == built.bytes.count)
        #expect(archive.entries.count == 9)
        #expect(try archive.bytes(of: archive.entries[4]).copyBytes() == pattern(200, seed: 5))
    }

    @Test("a large zip64 archive (over libzip's 64 KiB tail buffer) passes libzip's ZIP_CHECKCONS")
    func largeZip64PassesLibzip() throws {
        var records = pytorchRecords(prefix: "big")
        records.insert(.stored("big/data/9", pattern(200_000, seed: 11)), at: 5)
        let big = ZipBuilder(layout: .pytorch, records: records).build()
        let archive = try open(big.bytes)
        try archive.checkConsistencyWithLibzip()
        try archive.verifyCRC(of: try #require(archive.record("data/9")))
    }
}

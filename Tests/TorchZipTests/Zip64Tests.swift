import Testing
import TorchZip

@Suite("ZIP64 end records and extra fields")
struct Zip64Tests {
    @Test("central entries with every field in a zip64 extra read the 64-bit values")
    func allFields() throws {
        var records = pytorchRecords()
        for i in records.indices { records[i].zip64 = .all }
        let built = ZipBuilder(layout: .pytorch, records: records).build()
        let archive = try open(built.bytes)
        for (i, entry) in archive.entries.enumerated() {
            #expect(entry.localHeaderOffset == UInt64(built.localHeaderOffsets[i]))
            #expect(entry.uncompressedSize == UInt64(records[i].contents.count))
            #expect(entry.compressedSize == UInt64(records[i].contents.count))
            #expect(try archive.bytes(of: entry).copyBytes() == records[i].contents)
        }
        try archive.checkConsistencyWithLibzip()
    }

    @Test("a zip64 extra holds only the overflowed fields, in order", arguments: [
        ZipBuilder.Zip64Fields.offset, .uncompressed, .compressed, [.uncompressed, .offset], [.compressed, .offset],
    ])
    func someFields(fields: ZipBuilder.Zip64Fields) throws {
        var records = pytorchRecords()
        records[4].zip64 = fields
        let built = ZipBuilder(layout: .pytorch, records: records).build()
        let archive = try open(built.bytes)
        let entry = archive.entries[4]
        #expect(entry.localHeaderOffset == UInt64(built.localHeaderOffsets[4]))
        #expect(entry.compressedSize == 200)
        #expect(entry.uncompressedSize == 200)
        try archive.verifyCRC(of: entry)
    }

    @Test("a sentinel without a zip64 extra field is an error")
    func missingExtra() {
        var built = ZipBuilder(layout: .pytorch, records: pytorchRecords()).build()
        built.bytes.put32(0xFFFF_FFFF, at: built.centralEntryOffsets[2] + 42)
        let error = zipError { try open(built.bytes) }
        #expect(error?.code == .badCentralDirectory)
        #expect(error?.record == "archive/.storage_alignment")
        #expect(error?.offset == UInt64(built.centralEntryOffsets[2]))
    }

    @Test("a zip64 extra field too short for its sentinels is an error")
    func shortExtra() {
        var records = pytorchRecords()
        records[1].zip64 = .offset
        var built = ZipBuilder(layout: .pytorch, records: records).build()
        // Also mark the sizes as overflowed: the extra holds 8 bytes, 24 are needed.
        built.bytes.put32(0xFFFF_FFFF, at: built.centralEntryOffsets[1] + 20)
        built.bytes.put32(0xFFFF_FFFF, at: built.centralEntryOffsets[1] + 24)
        let error = zipError { try open(built.bytes) }
        #expect(error?.code == .badCentralDirectory)
        #expect(error?.message.contains("24") == true)
    }

    @Test("zip64 end record values are used where the classic record holds sentinels")
    func sentinelsInEndRecord() throws {
        var built = ZipBuilder(layout: .pytorch, records: pytorchRecords()).build()
        let end = built.endRecordOffset
        built.bytes.put16(0xFFFF, at: end + 8)
        built.bytes.put16(0xFFFF, at: end + 10)
        built.bytes.put32(0xFFFF_FFFF, at: end + 12)
        built.bytes.put32(0xFFFF_FFFF, at: end + 16)
        let archive = try open(built.bytes)
        #expect(archive.entries.count == 9)
        #expect(archive.prefix == "archive")
    }

    @Test("classic and zip64 end records that disagree are rejected")
    func disagreement() throws {
        var built = ZipBuilder(layout: .pytorch, records: pytorchRecords()).build()
        built.bytes.put16(8, at: built.endRecordOffset + 10)
        let error = zipError { try open(built.bytes) }
        #expect(error?.code == .badCentralDirectory)
        #expect(error?.message.contains("8") == true)
    }

    @Test("a zip64 locator pointing nowhere is rejected")
    func badLocator() throws {
        var built = ZipBuilder(layout: .pytorch, records: pytorchRecords()).build()
        let locator = built.endRecordOffset - 20
        built.bytes.put64(UInt64(built.bytes.count + 100), at: locator + 8)
        #expect(zipError { try open(built.bytes) }?.code == .badCentralDirectory)
        built.bytes.put64(UInt64(built.centralDirectoryOffset), at: locator + 8)
        #expect(zipError { try open(built.bytes) }?.code == .badSignature)
    }
}

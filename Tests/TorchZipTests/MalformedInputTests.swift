import Testing
import TorchZip

@Suite("Malformed and hostile input: errors, never crashes")
struct MalformedInputTests {
    static let small = ZipBuilder(layout: .pytorch, records: [
        .stored("a/data.pkl", "pickle"),
        .stored("a/data/0", pattern(70)),
        .stored("a/data/1", []),
        .deflatedByHand("a/data/2", pattern(30)),
    ]).build()

    /// Opens `bytes` and reads every record; any ZipError is fine, a crash is not.
    func exercise(_ bytes: [UInt8]) -> ZipError? {
        zipError {
            let archive = try open(bytes)
            for entry in archive.entries {
                _ = zipError { try archive.verifyCRC(of: entry) }
            }
            _ = archive.recordNames
            return archive
        }
    }

    @Test("every truncation of a small archive is an error")
    func everyTruncation() {
        let bytes = Self.small.bytes
        for length in 0 ..< bytes.count {
            let error = zipError { try open(Array(bytes[..<length])) }
            #expect(error != nil, "prefix of \(length) bytes opened")
        }
        #expect(exercise(bytes) == nil)
    }

    @Test("every single-byte corruption either opens or throws")
    func everyByteCorrupted() {
        let bytes = Self.small.bytes
        for position in bytes.indices {
            for value: UInt8 in [0x00, 0xFF, bytes[position] ^ 0x80] {
                var mutated = bytes
                mutated[position] = value
                _ = exercise(mutated)
            }
        }
    }

    @Test("random multi-byte corruption in the tail either opens or throws")
    func randomCorruption() {
        var rng = SplitMix64(seed: 0x70_72_63_68)
        let bytes = Self.small.bytes
        let tail = Self.small.centralDirectoryOffset
        for _ in 0 ..< 3000 {
            var mutated = bytes
            for _ in 0 ..< 1 + Int(rng.next() % 4) {
                let position = tail + Int(rng.next() % UInt64(bytes.count - tail))
                mutated[position] = UInt8(truncatingIfNeeded: rng.next())
            }
            _ = exercise(mutated)
        }
    }

    @Test("an empty file is not a zip")
    func emptyFile() {
        let error = zipError { try open([]) }
        #expect(error?.code == .notAZip)
        #expect(error?.message.contains("empty") == true)
    }

    @Test("a file that is not a zip is reported as such", arguments: [
        Array("not a zip file at all, just some text that goes on for a while".utf8),
        [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E],
        [UInt8](repeating: 0, count: 100_000),
        Array("PK".utf8),
    ])
    func notAZip(bytes: [UInt8]) {
        #expect(zipError { try open(bytes) }?.code == .notAZip)
    }

    @Test("a local header offset outside the file is out of bounds")
    func localHeaderOutside() {
        var built = Self.small
        built.bytes.put32(UInt32(built.bytes.count + 1000), at: built.centralEntryOffsets[1] + 42)
        let error = zipError { try open(built.bytes) }
        #expect(error?.code == .entryOutOfBounds)
        #expect(error?.record == "a/data/0")
        #expect(error?.offset == UInt64(built.bytes.count + 1000))
    }

    @Test("a local header offset into the central directory is out of bounds")
    func localHeaderInCentralDirectory() {
        var built = Self.small
        built.bytes.put32(UInt32(built.centralDirectoryOffset + 4), at: built.centralEntryOffsets[1] + 42)
        #expect(zipError { try open(built.bytes) }?.code == .entryOutOfBounds)
    }

    @Test("a local header offset that hits no local header is a bad signature")
    func localHeaderMisplaced() {
        var built = Self.small
        built.bytes.put32(UInt32(built.localHeaderOffsets[1] + 1), at: built.centralEntryOffsets[1] + 42)
        let error = zipError { try open(built.bytes) }
        #expect(error?.code == .badSignature)
        #expect(error?.record == "a/data/0")
        #expect(error?.offset == UInt64(built.localHeaderOffsets[1] + 1))
    }

    @Test("a record whose data runs past the end is out of bounds")
    func dataPastEnd() {
        var built = Self.small
        let size = UInt32(built.bytes.count)
        built.bytes.put32(size, at: built.centralEntryOffsets[1] + 20)
        built.bytes.put32(size, at: built.centralEntryOffsets[1] + 24)
        let error = zipError { try open(built.bytes) }
        #expect(error?.code == .entryOutOfBounds)
        #expect(error?.record == "a/data/0")
        #expect(error?.offset == UInt64(built.dataOffsets[1]))
    }

    @Test("a huge zip64 size cannot overflow the bounds check")
    func hugeZip64Size() {
        var builder = ZipBuilder(layout: .pytorch, records: [.stored("a/data.pkl", "p"), .stored("a/data/0", pattern(10))])
        builder.records[1].zip64 = .all
        var built = builder.build()
        let extra = built.centralEntryOffsets[1] + 46 + "a/data/0".utf8.count + 4
        built.bytes.put64(UInt64.max, at: extra)
        built.bytes.put64(UInt64.max, at: extra + 8)
        #expect(zipError { try open(built.bytes) }?.code == .entryOutOfBounds)
        built.bytes.put64(UInt64.max - 3, at: extra + 16)
        #expect(zipError { try open(built.bytes) }?.code == .entryOutOfBounds)
    }

    @Test("a stored record whose sizes differ is rejected")
    func storedSizesDiffer() {
        var built = Self.small
        built.bytes.put32(69, at: built.centralEntryOffsets[1] + 20)
        let error = zipError { try open(built.bytes) }
        #expect(error?.code == .sizeMismatch)
        #expect(error?.record == "a/data/0")
    }

    @Test("a central directory outside the file is rejected")
    func centralDirectoryOutside() {
        var built = Self.small
        built.bytes.put64(UInt64(built.bytes.count), at: built.zip64EndRecordOffset! + 48)
        built.bytes.put32(UInt32(built.bytes.count), at: built.endRecordOffset + 16)
        #expect(zipError { try open(built.bytes) }?.code == .badCentralDirectory)
    }

    @Test("an entry count that disagrees with the central directory is rejected")
    func entryCountMismatch() {
        var built = ZipBuilder(layout: .plain, records: [.stored("a/x", "1"), .stored("a/y", "2")]).build()
        built.bytes.put16(1, at: built.endRecordOffset + 8)
        built.bytes.put16(1, at: built.endRecordOffset + 10)
        #expect(zipError { try open(built.bytes) }?.code == .badCentralDirectory)
    }

    @Test("more entries than the limit are refused", arguments: [ZipBuilder.Layout.plain, .pytorch])
    func tooManyEntries(layout: ZipBuilder.Layout) {
        var options = ZipArchive.Options()
        options.maxEntryCount = 3
        let bytes = ZipBuilder(layout: layout, records: pytorchRecords()).build().bytes
        let error = zipError { try open(bytes, options: options) }
        #expect(error?.code == .tooManyEntries)
        options.maxEntryCount = 9
        #expect(zipError { try open(bytes, options: options) } == nil)
    }

    @Test("a huge declared entry count is refused before allocating")
    func hugeEntryCount() {
        var built = Self.small
        built.bytes.put64(UInt64.max / 2, at: built.zip64EndRecordOffset! + 24)
        built.bytes.put64(UInt64.max / 2, at: built.zip64EndRecordOffset! + 32)
        built.bytes.put16(0xFFFF, at: built.endRecordOffset + 8)
        built.bytes.put16(0xFFFF, at: built.endRecordOffset + 10)
        #expect(zipError { try open(built.bytes) }?.code == .tooManyEntries)
        var options = ZipArchive.Options()
        options.maxEntryCount = .max
        #expect(zipError { try open(built.bytes, options: options) }?.code == .badCentralDirectory)
    }

    @Test("an archive comment and trailing bytes are tolerated")
    func commentAndTrailer() throws {
        let records: [ZipBuilder.Record] = [.stored("c/data.pkl", "p")]
        let commented = ZipBuilder(layout: .plain, records: records, comment: Array("PK\u{5}\u{6} looks like an end record".utf8)).build()
        #expect(try open(commented.bytes).entries.count == 1)
        let trailing = ZipBuilder(layout: .pytorch, records: records, trailer: pattern(100)).build()
        #expect(try open(trailing.bytes).entries.count == 1)
    }

    @Test("errors name the record and the byte offset in their description")
    func descriptions() {
        var built = Self.small
        built.bytes.put32(0, at: built.localHeaderOffsets[3])
        let error = zipError { try open(built.bytes) }
        #expect(error?.code == .badSignature)
        #expect(error?.description.contains("a/data/2") == true)
        #expect(error?.description.contains("\(built.localHeaderOffsets[3])") == true)
        #expect(error?.description.contains("0x04034b50") == true)
    }
}

import Testing
import TorchZip

@Suite("The prefix folder and record lookup")
struct PrefixTests {
    @Test("the prefix is taken from the first entry, whatever it is", arguments: ["model.tar", "noext", "my model", "ünïcode", ""])
    func prefixFromFirstEntry(prefix: String) throws {
        let archive = try open(ZipBuilder(layout: .pytorch, records: pytorchRecords(prefix: prefix)).build().bytes)
        #expect(archive.prefix == prefix)
        #expect(archive.recordNames.first == "data.pkl")
        #expect(archive.record("data/0")?.name == "\(prefix)/data/0")
        #expect(archive.record("data/0")?.uncompressedSize == 200)
    }

    @Test("entries outside the prefix folder are entries, but not records")
    func entriesOutsidePrefix() throws {
        let records: [ZipBuilder.Record] = [
            .stored("ckpt/data.pkl", "pickle"),
            .stored("other/file", "x"),
            .stored("ckptx/data.pkl", "y"),
            .stored("toplevel", "z"),
            .stored("ckpt/version", "3\n"),
        ]
        let archive = try open(ZipBuilder(layout: .plain, records: records).build().bytes)
        #expect(archive.prefix == "ckpt")
        #expect(archive.entries.count == 5)
        #expect(archive.recordNames == ["data.pkl", "version"])
        #expect(archive.entry(named: "other/file")?.index == 1)
        #expect(archive.record("file") == nil)
    }

    @Test("a first entry without '/' has no prefix")
    func noSlash() {
        let records: [ZipBuilder.Record] = [.stored("data.pkl", "p"), .stored("a/version", "3")]
        let error = zipError { try open(ZipBuilder(layout: .plain, records: records).build().bytes) }
        #expect(error?.code == .noPrefix)
        #expect(error?.record == "data.pkl")
    }

    @Test("an archive without entries has no prefix")
    func emptyArchive() {
        for layout in [ZipBuilder.Layout.plain, .pytorch] {
            let error = zipError { try open(ZipBuilder(layout: layout, records: []).build().bytes) }
            #expect(error?.code == .noPrefix)
        }
    }

    @Test("duplicate names all parse; lookup by name returns the copy PyTorch's reader (miniz) finds")
    func duplicateNames() throws {
        let records: [ZipBuilder.Record] = [
            .stored("a/data.pkl", "first"),
            .stored("a/data.pkl", "second"),
        ]
        let archive = try open(ZipBuilder(layout: .pytorch, records: records).build().bytes)
        #expect(archive.entries.count == 2)
        #expect(archive.recordNames == ["data.pkl", "data.pkl"])
        let found = try #require(archive.record("data.pkl"))
        // miniz heap-sorts the two equal names (swapping them) and its binary search lands on index 0 of that order.
        #expect(found.index == 1)
        #expect(try archive.bytes(of: found).copyBytes() == Array("second".utf8))
        #expect(archive.hasDuplicateName(found))
        #expect(try archive.bytes(of: archive.entries[0]).copyBytes() == Array("first".utf8))
    }

    @Test("a name that is not valid UTF-8 is kept, repaired, and flagged")
    func invalidUTF8Name() throws {
        var built = ZipBuilder(layout: .plain, records: [.stored("a/bXd", "x")]).build()
        // Replace the 'X' in both the local and the central name with an invalid byte.
        built.bytes[built.localHeaderOffsets[0] + 30 + 3] = 0xFF
        built.bytes[built.centralEntryOffsets[0] + 46 + 3] = 0xFF
        let archive = try open(built.bytes)
        let entry = archive.entries[0]
        #expect(!entry.hasValidUTF8Name)
        #expect(entry.name == "a/b\u{FFFD}d")
        #expect(archive.recordNames == ["b\u{FFFD}d"])
        #expect(try archive.bytes(of: entry).copyBytes() == Array("x".utf8))
    }
}

import Foundation
import ListingComparison
import Testing
import TorchCheckpoint

/// Checkpoints that another zip tool re-packed (fixtures/rezipped/, from
/// tools/make_layout_fixtures.py): source.pth as torch.save wrote it, and
/// Python zipfile's copies of it, which torch.load reads equal.
@Suite("Re-zipped checkpoints")
struct RezippedTests {
    /// The files not in PyTorch's layout. Writing them back cannot give the
    /// same bytes (this library writes PyTorch's layout only), so the
    /// byte-for-byte rewrite test skips them; ``writeBack(_:)`` says what
    /// they become instead.
    static let rezipped = ["rezipped/deflated.pth", "rezipped/reordered.pth", "rezipped/stored_unaligned.pth",
                           "rezipped/with_directories.pth"]
    static let source = "rezipped/source.pth"

    static func data(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// A fresh directory (PTH_LAYOUT_OUT keeps what is written, for tools/layout-check.py).
    static func outputDirectory(_ name: String) throws -> (url: URL, remove: Bool) {
        if let keep = ProcessInfo.processInfo.environment["PTH_LAYOUT_OUT"] {
            let url = URL(fileURLWithPath: keep).appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            return (url, false)
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pth-rezipped-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return (url, true)
    }

    @Test("every re-zipped fixture is in the list the rewrite test leaves out")
    func listIsComplete() {
        let found = Fixtures.checkpoints.filter { $0.hasPrefix("rezipped/") && $0 != Self.source }
        #expect(found == Self.rezipped)
    }

    @Test("the fixtures are not PyTorch's layout: deflated, unaligned, reordered")
    func notPyTorchLayout() throws {
        let deflated = try #require(Fixtures.open("rezipped/deflated.pth").archive)
        #expect(deflated.entries.allSatisfy { $0.compressionMethod == 8 && !$0.hasDataDescriptor })
        let unaligned = try #require(Fixtures.open("rezipped/stored_unaligned.pth").archive)
        #expect(unaligned.entries.allSatisfy { $0.isStored })
        #expect(unaligned.entries.contains { $0.dataOffset % 2 == 1 && $0.name.contains("/data/") })
        let reordered = try #require(Fixtures.open("rezipped/reordered.pth").archive)
        #expect(reordered.recordNames.first == "byteorder")
        #expect(reordered.recordNames.last == "data.pkl")
        #expect(reordered.entries.contains { $0.isStored } && reordered.entries.contains { !$0.isStored })
        let folders = try #require(Fixtures.open("rezipped/with_directories.pth").archive)
        #expect(folders.entries.prefix(3).map(\.name) == ["source/", "source/data/", "source/.data/"])
    }

    @Test("they read as PyTorch lists them, equal to source.pth", arguments: rezipped)
    func reads(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        #expect(checkpoint.archive?.prefix == "source")
        let ours = try checkpoint.listingJSON()
        #expect(ListingComparison.mismatches(torch: try Fixtures.json(name + ".listing.json"), ours: ours).isEmpty)
        #expect(ListingComparison.mismatches(torch: try Fixtures.json(Self.source + ".listing.json"), ours: ours).isEmpty)
        try checkpoint.verifyRecords()
        let source = try Fixtures.open(Self.source)
        #expect(checkpoint.storages.count == source.storages.count)
        for (a, b) in zip(checkpoint.storages, source.storages) {
            #expect(a.key == b.key && a.dtype == b.dtype && a.elementCount == b.elementCount)
            #expect(try a.bytes().array == (try b.bytes().array), "storage \(a.key)")
        }
        // Deflated storages come through libzip, stored ones in place, aligned or not.
        let archive = try #require(checkpoint.archive)
        for entry in archive.entries where entry.name.contains("/data/") {
            #expect(try archive.bytes(of: entry).isInPlace == entry.isStored, "\(entry.name)")
        }
        let view: [Double] = try #require(checkpoint["view"]?.tensor).scalars()
        #expect(view == (try #require(source["view"]?.tensor).scalars()))
    }

    @Test("write(to:) writes PyTorch's layout: the same records in the same order (the id last), stored and aligned", arguments: rezipped)
    func writeBack(_ name: String) throws {
        let (dir, remove) = try Self.outputDirectory("rewritten")
        defer { if remove { try? FileManager.default.removeItem(at: dir) } }
        let out = dir.appendingPathComponent((name as NSString).lastPathComponent).path
        let checkpoint = try Fixtures.open(name)
        try checkpoint.write(to: out)
        let written = try Checkpoint(path: out)
        let archive = try #require(written.archive)
        // PyTorch's writer always writes the serialization id last.
        let id = ".data/serialization_id"
        let folder = { (name: String) in name.isEmpty || name.hasSuffix("/") }
        #expect(archive.recordNames == (checkpoint.archive?.recordNames.filter { $0 != id && !folder($0) } ?? []) + [id])
        #expect(archive.prefix == "source")
        for entry in archive.entries {
            #expect(entry.isStored && entry.dataOffset % 64 == 0, "\(entry.name)")
            #expect(entry.flags == (entry.uncompressedSize == 0 ? 0x0800 : 0x0808), "\(entry.name)")
        }
        // Same contents, and the serialization id kept.
        for name in archive.recordNames {
            let a = try archive.bytes(of: try #require(archive.record(name))).copyBytes()
            let b = try checkpoint.archive!.bytes(of: try #require(checkpoint.archive!.record(name))).copyBytes()
            #expect(a == b, "\(name)")
        }
        #expect(ListingComparison.mismatches(torch: try Fixtures.json(Self.source + ".listing.json"), ours: try written.listingJSON()).isEmpty)
        // PyTorch's layout is a fixed point: writing it again changes nothing.
        let again = dir.appendingPathComponent("again-" + (name as NSString).lastPathComponent).path
        try written.write(to: again)
        #expect(try Self.data(again) == (try Self.data(out)))
        if name != "rezipped/reordered.pth" {
            // The tool kept torch.save's record order: this is torch.save's file again
            // (folder entries left out).
            #expect(try Self.data(out) == (try Self.data(Fixtures.path(Self.source))), "\(name)")
        }
    }

    @Test("save(root) writes what torch.save wrote before the file was re-zipped", arguments: rezipped)
    func saveRoot(_ name: String) throws {
        let (dir, remove) = try Self.outputDirectory("saved-\((name as NSString).deletingPathExtension.split(separator: "/").last!)")
        defer { if remove { try? FileManager.default.removeItem(at: dir) } }
        // torch.save names the prefix after the file: source.pth → source.
        let out = dir.appendingPathComponent("source.pth").path
        try Checkpoint.save(try Fixtures.open(name).root, to: out)
        #expect(try Self.data(out) == (try Self.data(Fixtures.path(Self.source))), "\(name)")
    }
}

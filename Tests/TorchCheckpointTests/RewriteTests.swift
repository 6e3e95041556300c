import Foundation
import Testing
import TorchCheckpoint

/// A file PyTorch wrote, read and written back from the value model, is the
/// same file byte for byte.
@Suite("Writing checkpoints back")
struct RewriteTests {
    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("pth-rewrite-\(UUID().uuidString)-\(name)").path
    }

    /// Every fixture but those another tool re-zipped (deflated, unaligned or
    /// reordered records): this library writes only PyTorch's layout, so
    /// those cannot come back byte for byte; RezippedTests checks what they become.
    /// Nor files in a format this library reads but cannot write back (tar
    /// files of PyTorch 0.1, legacy pickles without PROTO): each says why in
    /// `writeBackLimitation`, and the OldFormats suites check it.
    static let rewritable = Fixtures.checkpoints.filter {
        !RezippedTests.rezipped.contains($0) && (try? Fixtures.open($0))?.writeBackLimitation == nil
    }

    @Test("every fixture is rewritten byte for byte", arguments: rewritable)
    func rewrite(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        // Keep the file name, so a prefix derived from it would agree too.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pth-rewrite-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent((name as NSString).lastPathComponent).path
        try checkpoint.write(to: out)
        let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name)))
        let written = try Data(contentsOf: URL(fileURLWithPath: out))
        let same = original == written
        #expect(same, "\(name): \(written.count) bytes written, \(original.count) in the original")
        // Nothing but the file itself is left in the directory.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).count == 1)
    }

    /// A copy of a fixture in a directory of its own: the directory, the copy's path and its bytes.
    static func copyOfFixture(_ name: String) throws -> (directory: URL, path: String, bytes: Data) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pth-copy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name)))
        try bytes.write(to: URL(fileURLWithPath: path))
        return (dir, path, bytes)
    }

    @Test("a checkpoint written back in place, or saved over its own file, comes out the same: its records are copied by the kernel from the file it was read from")
    func inPlace() throws {
        let (dir, path, original) = try Self.copyOfFixture("state_dict.pth")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Checkpoint(path: path).write(to: path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == original)
        let checkpoint = try Checkpoint(path: path)
        try Checkpoint.save(checkpoint.root, to: path)
        #expect(try Listing.json(Listing.entries(of: Checkpoint(path: path))) == Listing.json(Listing.entries(of: checkpoint)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["state_dict.pth"])
    }

    @Test("when the path names another file by the time of writing, records come from the mapped file as read")
    func sourceReplaced() throws {
        let (dir, path, original) = try Self.copyOfFixture("state_dict.pth")
        defer { try? FileManager.default.removeItem(at: dir) }
        let checkpoint = try Checkpoint(path: path)
        // Another file, of the same size, takes the path: the kernel must not copy from it.
        try Data(repeating: 0x55, count: original.count).write(to: URL(fileURLWithPath: path + ".new"))
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: path + ".new", toPath: path)
        let out = dir.appendingPathComponent("out.pth").path
        try checkpoint.write(to: out)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == original)
    }

    @Test("a failed write leaves the previous file intact and no temporary file")
    func atomic() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pth-atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.pth").path
        try Data("previous".utf8).write(to: URL(fileURLWithPath: path))
        // A value the encoder refuses (a numpy array built in Swift has no pickling recipe).
        let bad = PyDict()
        let object = try Self.opaqueWithUnwritableState()
        bad["x"] = .object(try #require(object))
        #expect(throws: CheckpointError.self) { try Checkpoint.save(.dict(bad), to: path) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "previous")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model.pth"])
    }

    /// An object whose state holds a NEWOBJ_EX call, which protocol 2 cannot express.
    static func opaqueWithUnwritableState() throws -> PyObject? {
        // Protocol 4: cls, (), {} NEWOBJ_EX — decodes fine, cannot be encoded at protocol 2.
        let bytes: [UInt8] = [0x80, 0x04, 0x8C, 0x01, 0x6D, 0x8C, 0x01, 0x43, 0x93, 0x29, 0x7D, 0x92, 0x2E]
        if case .object(let o) = try Unpickler().load(bytes) { return o }
        return nil
    }
}

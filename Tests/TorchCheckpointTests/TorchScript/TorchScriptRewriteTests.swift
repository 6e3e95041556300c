import Foundation
import Testing
import TorchCheckpoint

/// A TorchScript archive written back: data.pkl and constants.pkl encoded
/// from the value model as TorchScript's C++ pickler writes them, the
/// deflated code/ records copied, every other record as stored.
@Suite("TorchScript archives: writing back")
struct TorchScriptRewriteTests {
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pth-ts-rewrite-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("every record comes back byte for byte, stored or deflated as PyTorch wrote it", arguments: Fixtures.torchScript)
    func records(_ name: String) throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent((name as NSString).lastPathComponent).path
        try Fixtures.open(name).write(to: out)
        let original = try ZipArchive(path: Fixtures.path(name))
        let written = try ZipArchive(path: out)
        #expect(written.recordNames == original.recordNames)
        for record in original.recordNames {
            let a = try #require(original.record(record)), b = try #require(written.record(record))
            #expect(a.compressionMethod == b.compressionMethod, "\(record)")
            #expect(a.compressedSize == b.compressedSize && a.dataOffset == b.dataOffset, "\(record)")
            #expect(try original.bytes(of: a).copyBytes() == written.bytes(of: b).copyBytes(), "\(record)")
        }
        // PyTorch deflates the code/ records of a TorchScript archive, and only those.
        let deflated = original.entries.filter { !$0.isStored }.map(\.name)
        #expect(!deflated.isEmpty && deflated.allSatisfy { $0.hasPrefix(original.prefix + "/code/") })
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name))))
    }

    @Test("data.pkl is encoded from the value model: a changed attribute is written, the rest stays")
    func changedAttribute() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let name = "torchscript/scripted.pt"
        let checkpoint = try Fixtures.open(name)
        let inner = try #require(checkpoint.torchScript?.module.submodule("inner"))
        guard case .dict(let attributes)? = inner.object.state else {
            Issue.record("the module's state is no dict")
            return
        }
        #expect(attributes["factor"]?.double == 2.5)
        attributes["factor"] = .float(-0.25)
        let out = dir.appendingPathComponent("scripted.pt").path
        try checkpoint.write(to: out)

        let reread = try Checkpoint(path: out)
        #expect(reread.torchScript?.module.submodule("inner")?.attribute("factor")?.double == -0.25)
        #expect(reread.torchScript?.stateDict.map(\.name) == checkpoint.torchScript?.stateDict.map(\.name))
        // The pickles differ in the eight bytes of the float only.
        let before = try ZipArchive(path: Fixtures.path(name)), after = try ZipArchive(path: out)
        let a = try before.bytes(of: try #require(before.record("data.pkl"))).copyBytes()
        let b = try after.bytes(of: try #require(after.record("data.pkl"))).copyBytes()
        #expect(a.count == b.count)
        let differing = zip(a, b).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
        #expect(!differing.isEmpty && differing.count <= 8 && (differing.last ?? 0) - (differing.first ?? 0) < 8)
    }
}

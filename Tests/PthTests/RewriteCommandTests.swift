import Foundation
import Testing

/// `pth rewrite`, run as a user runs it.
@Suite("pth rewrite")
struct RewriteCommandTests {
    @Test("OUT is identical to IN", arguments: ["training_checkpoint.ckpt", "prefixes/model.tar.gz", "proto5.pth", "values.pth"])
    func identical(_ name: String) throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("pth-cli-\(UUID().uuidString).pth").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try PthCommand.run("rewrite", PthCommand.fixture(name), out)
        #expect(r.status == 0, "\(r.stderr)")
        let same = try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: PthCommand.fixture(name)))
        #expect(same)
    }

    @Test("a bad input fails with exit 1 and leaves OUT alone")
    func badInput() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("pth-cli-\(UUID().uuidString).pth").path
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: out))
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try PthCommand.run("rewrite", PthCommand.fixture("README.md"), out)
        #expect(r.status == 1)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "keep me")
    }
}

/// `pth dis`, run as a user runs it.
@Suite("pth dis")
struct DisCommandTests {
    @Test("prints what pickletools.dis prints")
    func matches() throws {
        let r = try PthCommand.run("dis", PthCommand.fixture("state_dict.pth"))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == (try String(contentsOfFile: PthCommand.fixture("dis/state_dict.pth.dis.txt"), encoding: .utf8)))
    }

    @Test("a bare pickle file, and a record that does not exist")
    func other() throws {
        let r = try PthCommand.run("dis", PthCommand.fixture("dis/vector-inst.pkl"))
        #expect(r.status == 0)
        #expect(r.stdout == (try String(contentsOfFile: PthCommand.fixture("dis/vector-inst.pkl.dis.txt"), encoding: .utf8)))
        let missing = try PthCommand.run("dis", "--record", "nothing.pkl", PthCommand.fixture("state_dict.pth"))
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no record"))
    }
}

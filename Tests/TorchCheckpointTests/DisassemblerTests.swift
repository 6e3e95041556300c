import Foundation
import Testing
import TorchCheckpoint

/// The disassembly is Python's pickletools.dis, character for character
/// (fixtures/dis, from tools/make_dis_fixtures.py).
@Suite("Disassembling pickles")
struct DisassemblerTests {
    static let expected: [String] = {
        let dir = Fixtures.directory.appendingPathComponent("dis").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".dis.txt") }.sorted()
    }()

    @Test("the same text as pickletools.dis", arguments: expected)
    func matchesPickletools(_ name: String) throws {
        let source = String(name.dropLast(".dis.txt".count))
        let text: String
        if source.hasPrefix("vector-") {
            let bytes = try [UInt8](Data(contentsOf: Fixtures.directory.appendingPathComponent("dis/" + source)))
            text = bytes.withUnsafeBytes { Disassembler.disassemble($0) }
        } else {
            let checkpoint = try Fixtures.open(source)
            let archive = try #require(checkpoint.archive)
            text = try archive.bytes(of: try #require(archive.record("data.pkl"))).withUnsafeBytes { Disassembler.disassemble($0) }
        }
        let python = try String(contentsOf: Fixtures.directory.appendingPathComponent("dis/" + name), encoding: .utf8)
        let ours = text.split(separator: "\n", omittingEmptySubsequences: false)
        let theirs = python.split(separator: "\n", omittingEmptySubsequences: false)
        let firstDifference = zip(ours, theirs).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(text == python, "first difference at line \(firstDifference?.offset ?? -1): ours \(firstDifference.map { String($0.element.0) } ?? "") vs \(firstDifference.map { String($0.element.1) } ?? "")")
    }

    @Test("memo references say where a GET's object was stored")
    func memoReferences() throws {
        let checkpoint = try Fixtures.open("state_dict.pth")
        let archive = try #require(checkpoint.archive)
        let text = try archive.bytes(of: try #require(archive.record("data.pkl"))).withUnsafeBytes {
            Disassembler.disassemble($0, memoReferences: true)
        }
        #expect(text.contains("BINGET") && text.contains(", stored at byte ") && text.contains("← memo "))
    }

    @Test("a damaged pickle is disassembled up to the error, which is named")
    func damaged() {
        let text = [UInt8]([0x80, 0x02, 0x4E, 0xFF, 0x2E]).withUnsafeBytes { Disassembler.disassemble($0) }
        #expect(text.contains("2: N    NONE"))
        #expect(text.contains("error: pickle error at byte 3"))
    }
}

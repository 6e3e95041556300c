import Foundation
import Testing
import TorchCheckpoint

/// The encoder writes what CPython's pickler writes: a pickle decoded into
/// the value model and encoded again is the same bytes.
@Suite("The pickle encoder writes what CPython writes")
struct PickleEncoderTests {
    /// Every zip fixture's data.pkl, as torch.save wrote it (legacy files, a
    /// series of pickles, are checked whole by the rewrite tests; TorchScript
    /// archives' pickles come from TorchScript's C++ pickler, which
    /// TorchScriptRewriteTests checks).
    @Test("torch.save's pickles, decoded and encoded again, are byte-identical",
          arguments: Fixtures.zipCheckpoints.filter { !Fixtures.torchScript.contains($0) && $0 != "proto1.pth" })
    func torchPickles(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        let archive = try #require(checkpoint.archive)
        let original = try archive.bytes(of: try #require(archive.record("data.pkl"))).copyBytes()
        let encoded = try PickleEncoder(protocolVersion: checkpoint.pickleProtocol, provenance: checkpoint.pickleProvenance).encode(checkpoint.root)
        let same = encoded == original
        #expect(same, "\(firstDifference(encoded, original))")
    }

    @Test("CPython's pickles of many objects, protocols 2 to 5, are byte-identical",
          arguments: PickleMachineTests.vectors.filter { $0.proto >= 2 })
    func cpythonPickles(_ v: PickleMachineTests.Vector) throws {
        let value = try PickleMachineTests.keepingCycles.load(v.bytes)
        defer { value.dismantle() }
        let encoded = try PickleEncoder(protocolVersion: v.proto).encode(value)
        let same = encoded == v.bytes
        #expect(same, "\(firstDifference(encoded, v.bytes))")
    }

    @Test("a pickle whose memo is numbered from 1, as Python 2's cPickle numbers it, is encoded the same way")
    func cPickleMemo() throws {
        // PROTO 2, EMPTY_LIST, BINPUT 1, MARK, BINUNICODE 'a', BINPUT 2, BINGET 2, APPENDS, STOP: ['a', 'a'], one str.
        let bytes: [UInt8] = [0x80, 2, 0x5D, 0x71, 1, 0x28, 0x58, 1, 0, 0, 0, 0x61, 0x71, 2, 0x68, 2, 0x65, 0x2E]
        let decoded = try bytes.withUnsafeBytes { raw in try Unpickler().decode(raw) }
        #expect(decoded.value.list?.items.count == 2)
        let again = try PickleEncoder(protocolVersion: 2, provenance: decoded.provenance).encode(decoded.value)
        #expect(again == bytes, "\(firstDifference(again, bytes))")
        // Without the provenance, as pickle numbers it: from 0.
        let fresh = try PickleEncoder(protocolVersion: 2).encode(decoded.value)
        #expect(Array(fresh.prefix(5)) == [0x80, 2, 0x5D, 0x71, 0])
    }

    @Test("a pickle without PROTO reports protocol 1 once it uses a binary opcode, 0 otherwise")
    func protocolWithoutProto() throws {
        // EMPTY_LIST (protocol 1), STOP; and the text form: MARK, LIST, STOP.
        let binary = try [UInt8]([0x5D, 0x2E]).withUnsafeBytes { try Unpickler().decode($0) }
        let text = try [UInt8]([0x28, 0x6C, 0x2E]).withUnsafeBytes { try Unpickler().decode($0) }
        #expect(binary.protocolVersion == 1)
        #expect(text.protocolVersion == 0)
    }

    func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String {
        let i = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
        func around(_ x: [UInt8]) -> String {
            x[max(0, i - 12)..<min(x.count, i + 24)].map { $0 >= 32 && $0 < 127 ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
        }
        return "lengths \(a.count)/\(b.count), first difference at \(i): ours …\(around(a))… theirs …\(around(b))…"
    }
}

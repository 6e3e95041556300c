import Foundation
import Testing
import TorchCheckpoint

/// `Verification` against what torch 2.15 says (fixtures/verify.json, from
/// tools/make_weights_only_data.py), and on deliberately damaged files.
@Suite("Verifying checkpoints")
struct VerificationTests {
    nonisolated(unsafe) static let torchVerdicts: [String: [String: Any]] = {
        (try? Fixtures.json("verify.json") as? [String: [String: Any]]) ?? [:]
    }()
    static let names = torchVerdicts.keys.filter { FileManager.default.fileExists(atPath: Fixtures.path($0)) }.sorted()

    @Test("weights_only's verdict is PyTorch's, and every fixture is intact", arguments: names)
    func verdicts(_ name: String) throws {
        let expected = try #require(Self.torchVerdicts[name])
        let report = Verification.verify(path: Fixtures.path(name))
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.weightsOnlyAccepts == expected["weights_only_loads"] as? Bool,
                "\(name): unsafe \(report.unsafeGlobals), opcodes \(report.refusedOpcodes.map(\.name)), format \(report.refusedFormat ?? "-")")
        if let unsafe = expected["unsafe_globals"] as? [String] {
            #expect(report.unsafeGlobals.sorted() == unsafe, "\(name)")
        }
    }

    func damaged(_ name: String, _ change: (inout [UInt8], ZipArchive) throws -> Void) throws -> VerificationReport {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name))))
        try change(&bytes, try #require(try Fixtures.open(name).archive))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pth-verify-\(UUID().uuidString).pth").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return Verification.verify(path: path)
    }

    @Test("a flipped byte in a storage is a CRC mismatch")
    func flippedByte() throws {
        let report = try damaged("state_dict.pth") { bytes, archive in
            bytes[Int(try #require(archive.record("data/0")).dataOffset) + 3] ^= 0x40
        }
        #expect(report.problems.contains { $0.contains("data/0") && $0.lowercased().contains("crc") })
    }

    @Test("a truncated file is reported")
    func truncated() throws {
        let report = try damaged("state_dict.pth") { bytes, archive in
            bytes.removeLast(bytes.count - Int(try #require(archive.record("data/3")).dataOffset) - 2)
        }
        #expect(!report.problems.isEmpty)
        // The zip bytes are not read as a pickle: no opcode verdict from "PK".
        #expect(report.refusedOpcodes.isEmpty)
        #expect(report.refusedFormat?.contains("cannot be opened") == true)
    }

    @Test("a safetensors file is intact and not torch.load's; a damaged one is damaged")
    func safetensors() throws {
        let report = Verification.verify(path: Fixtures.path("safetensors/dtypes.safetensors"))
        #expect(report.isIntact, "\(report.problems)")
        #expect(report.refusedFormat?.contains("safetensors.torch.load_file") == true)
        #expect(!report.weightsOnlyAccepts)

        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("safetensors/dtypes.safetensors"))))
        bytes.removeLast(10)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pth-verify-\(UUID().uuidString).safetensors").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let damaged = Verification.verify(path: path)
        #expect(!damaged.isIntact)
        #expect(damaged.problems.first?.contains("safetensors") == true, "\(damaged.problems)")
    }

    @Test("a record shorter than its persistent id claims is reported, with the record")
    func wrongRecordSize() throws {
        // The pickle's element count for storage 1 grows from 36 to 37: its record is now short.
        let report = try damaged("state_dict.pth") { bytes, archive in
            let pickle = try #require(archive.record("data.pkl"))
            let start = Int(pickle.dataOffset), end = start + Int(pickle.uncompressedSize)
            let pattern: [UInt8] = [0x58, 0x01, 0, 0, 0, 0x31, 0x71]   // BINUNICODE '1' BINPUT
            let i = try #require((start..<end).first { Array(bytes[$0..<min($0 + pattern.count, end)]) == pattern })
            // … 'cpu' (BINGET or BINUNICODE), then BININT1 numel.
            let k = try #require((i..<end).first { bytes[$0] == 0x4B })
            bytes[k + 1] &+= 1
        }
        #expect(report.problems.contains { $0.contains("data/1") })
    }

    @Test("a view beyond its storage is reported, naming the storage")
    func viewBeyondStorage() throws {
        // scalar_root.pth: a 2×3 tensor; make its size 2×4.
        let report = try damaged("scalar_root.pth") { bytes, archive in
            let pickle = try #require(archive.record("data.pkl"))
            let start = Int(pickle.dataOffset), end = start + Int(pickle.uncompressedSize)
            let pattern: [UInt8] = [0x4B, 0x02, 0x4B, 0x03, 0x86]   // BININT1 2, BININT1 3, TUPLE2
            let i = try #require((start..<end).first { Array(bytes[$0..<min($0 + 5, end)]) == pattern })
            bytes[i + 3] = 4
        }
        #expect(report.problems.contains { $0.contains("storage '0'") && $0.contains("needs") })
    }
}

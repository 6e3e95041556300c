import Foundation
import Testing
import TorchCheckpoint

/// Conversions between safetensors and checkpoints, against what the
/// safetensors package and torch.save write.
@Suite("Converting between safetensors and .pth")
struct ConversionTests {
    static let references: [String] = {
        let dir = Fixtures.directory.appendingPathComponent("safetensors/torch_save").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".pth") }
            .map { String($0.dropLast(4)) }.sorted()
    }()

    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pth-convert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("safetensors → .pth is what torch.save(load_file(...)) writes", arguments: references)
    func toCheckpoint(_ name: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try SafetensorsFile(path: Fixtures.path("safetensors/\(name).safetensors"))
        let out = dir.appendingPathComponent(name + ".pth").path
        try Conversion.checkpoint(from: source, to: out)
        let same = try Data(contentsOf: URL(fileURLWithPath: out))
            == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("safetensors/torch_save/\(name).pth")))
        #expect(same)
    }

    @Test(".pth → safetensors keeps every tensor's elements and the plain values", arguments: ["state_dict.pth", "training_checkpoint.ckpt", "dtypes.pth"])
    func toSafetensors(_ name: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let checkpoint = try Fixtures.open(name)
        let out = dir.appendingPathComponent("out.safetensors").path
        // dtypes.pth holds types safetensors cannot hold: keep the ones it can.
        var value = checkpoint.root
        if name == "dtypes.pth", let d = checkpoint.root.dict {
            let kept = PyDict()
            for (k, v) in d.items {
                if let t = v.tensor, ![.complex32, .complex128, .bcomplex32, .bits8, .bits16, .bits1x8, .bits2x4, .bits4x2].contains(t.dtype) {
                    try kept.set(v, for: k)
                }
            }
            value = .dict(kept)
        }
        let report = try Conversion.safetensors(from: value, to: out)
        let back = try SafetensorsFile(path: out)
        #expect(back.tensors.count == report.tensorNames.count)
        for leaf in Listing.walk(value) {
            guard case .tensor(let t) = leaf.value else { continue }
            let converted = try #require(back.tensor(named: leaf.path.map(\.description).joined(separator: ".")))
            #expect(converted.dtype == t.dtype && converted.shape == t.shape)
            #expect(try Listing.sha256(of: converted) == Listing.sha256(of: t))
        }
        if name == "training_checkpoint.ckpt" {
            #expect(back.metadata?.first { $0.key == "epoch" }?.value == "3")
        }
    }

    @Test("shared storages are refused unless duplication is asked for, and then reported")
    func shared() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let checkpoint = try Fixtures.open("views.pth")
        let out = dir.appendingPathComponent("views.safetensors").path
        #expect(throws: (any Error).self) { try Conversion.safetensors(from: checkpoint.root, to: out) }
        #expect(!FileManager.default.fileExists(atPath: out))
        let report = try Conversion.safetensors(from: checkpoint.root, to: out, duplicateSharedTensors: true)
        #expect(report.duplicatedTensors.contains { $0.contains("tied_a") && $0.contains("tied_b") })
        let back = try SafetensorsFile(path: out)
        let t = try #require(back.tensor(named: "t"))
        #expect(try Listing.sha256(of: t) == Listing.sha256(of: try #require(checkpoint["t"]?.tensor)))
    }
}

import Foundation
import Testing
import TorchCheckpoint

/// `Conversion.checkpoint(from:to:options:saveOptions:)` against what
/// torch.save wrote for the same object transformed in Python
/// (tools/make_convert_fixtures.py, fixtures/convert/README.md).
@Suite("Converting checkpoints: formats, selection, map location, casts")
struct ConversionOptionsTests {
    /// Converts `source` into a file named as `reference` (torch.save takes the zip
    /// prefix from the file name) and says whether the bytes are torch's.
    func matches(_ source: String, _ reference: String, options: ConversionOptions = .init(),
                 saveOptions: SaveOptions = .init()) throws -> Bool {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pth-convert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent(URL(fileURLWithPath: reference).lastPathComponent).path
        try Conversion.checkpoint(from: Fixtures.path(source), to: out, options: options, saveOptions: saveOptions)
        return try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: Fixtures.path(reference)))
    }

    func options(select: [String] = [], dtype: DType? = nil, mapLocation: String? = nil) -> ConversionOptions {
        var options = ConversionOptions()
        options.selection = select
        options.floatingPointType = dtype
        options.mapLocation = mapLocation
        return options
    }

    @Test("legacy, tar and TorchScript files become what torch.save(torch.load(old)) writes", arguments: [
        ("legacy/state_dict.pth", "convert/legacy_state_dict.pth"),
        ("legacy/training_checkpoint.pth", "convert/legacy_training_checkpoint.pth"),
        ("legacy/views_tied.pth", "convert/legacy_views_tied.pth"),
        // Python 2's cPickle memo numbering, None hooks and OrderedDict([[k, v]]) become torch.save's own.
        ("legacy/python2_cpickle.pth", "convert/legacy_python2_cpickle.pth"),
        ("tar/state_dict_0_1.pt", "convert/tar_state_dict.pth"),
        ("torchscript/scripted.pt", "convert/torchscript_scripted.pth"),
        ("torchscript/traced.pt", "convert/torchscript_traced.pth"),
        ("torchscript/tied.pt", "convert/torchscript_tied.pth"),
    ])
    func toZip(_ source: String, _ reference: String) throws {
        #expect(try matches(source, reference))
    }

    @Test("casts round, overflow and carry NaNs as tensor.to(dtype) does", arguments: ["float16", "bfloat16", "float32", "float64"])
    func floats(_ name: String) throws {
        let dtype = try #require(DType(rawValue: name))
        #expect(try matches("convert/floats.pth", "convert/floats.\(name).pth", options: options(dtype: dtype)))
    }

    @Test("casting views, state dicts, training checkpoints and safetensors files", arguments: [
        ("views.pth", "convert/views.float16.pth", DType.float16),
        ("state_dict.pth", "convert/state_dict.bfloat16.pth", .bfloat16),
        ("meta.pth", "convert/meta.float16.pth", .float16),
        ("training_checkpoint.ckpt", "convert/training_checkpoint.float64.pth", .float64),
        ("safetensors/names.safetensors", "convert/names.float16.pth", .float16),
    ])
    func casts(_ source: String, _ reference: String, _ dtype: DType) throws {
        #expect(try matches(source, reference, options: options(dtype: dtype)))
    }

    /// Every dtype torch.save writes, float8 bit patterns (NaNs included) and non-contiguous views.
    @Test("casting every dtype: floating ones cast, the others kept", arguments: [DType.float32, .bfloat16, .float16, .float64])
    func everyDType(_ dtype: DType) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pth-convert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let dict = try #require(Fixtures.open("dtypes.pth").root.dict).copy()
        // torch has no copy kernel for float4_e2m1fn_x2, and neither does this library.
        #expect(throws: ConversionError.self) { try Conversion.castingFloatingPoint(.dict(dict), to: dtype) }
        dict.removeValue(forKey: "float4_e2m1fn_x2")
        let out = dir.appendingPathComponent("dtypes.\(dtype.name).pth").path
        try Checkpoint.save(try Conversion.castingFloatingPoint(.dict(dict), to: dtype), to: out)
        let same = try Data(contentsOf: URL(fileURLWithPath: out))
            == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("convert/dtypes.\(dtype.name).pth")))
        #expect(same)
    }

    @Test("a cast keeps other tensors as they are and makes Parameters plain tensors, as to() does")
    func castKinds() throws {
        let root = try Fixtures.open("parameters.pth").root
        let cast = try Conversion.castingFloatingPoint(root, to: .float16)
        for (before, after) in zip(Listing.walk(root), Listing.walk(cast)) {
            guard let t = before.value.tensor, let u = after.value.tensor else { continue }
            if t.dtype.isFloatingPoint && t.dtype != .float16 {
                #expect(u.dtype == .float16 && !u.isParameter && u.requiresGrad == t.requiresGrad)
            } else {
                #expect(u === t)
            }
        }
    }

    @Test("a selection is what torch.save(torch.load(f)[k0][k1]...) writes", arguments: [
        (["model_state_dict"], "convert/training_checkpoint.model_state_dict.pth"),
        (["optimizer_state_dict", "state", "0"], "convert/training_checkpoint.optimizer_state_0.pth"),
    ])
    func selection(_ path: [String], _ reference: String) throws {
        #expect(try matches("training_checkpoint.ckpt", reference, options: options(select: path)))
    }

    @Test("a missing key names the key, where it was looked for, and the keys there")
    func missingKey() throws {
        let root = try Fixtures.open("training_checkpoint.ckpt").root
        #expect {
            try Conversion.select(["optimizer_state_dict", "stat"], in: root)
        } throws: { error in
            let text = "\(error)"
            return text.contains("'stat'") && text.contains("['optimizer_state_dict']")
                && text.contains("'state'") && text.contains("'param_groups'")
        }
        #expect {
            try Conversion.select(["epoch", "x"], in: root)
        } throws: { error in
            guard case ConversionError.notAContainer("x", place: "['epoch']", typeName: "int") = error else { return false }
            return true
        }
        let lists = try Conversion.select(["history", "1"], in: root)
        #expect(lists.pythonRepr == root["history"]?[1]?.pythonRepr)
    }

    @Test("map_location='cpu' is what torch.save(torch.load(f, map_location='cpu')) writes")
    func mapLocation() throws {
        #expect(try matches("cuda_tagged.pth", "convert/cuda_tagged.cpu.pth", options: options(mapLocation: "cpu")))
        let cast = options(dtype: .float16, mapLocation: "cpu")
        #expect(try matches("cuda_tagged.pth", "convert/cuda_tagged.cpu.float16.pth", options: cast))
    }

    @Test("map locations torch.load could not mean are refused", arguments: ["meta", "cuda", "", "gpu 0"])
    func badLocations(_ location: String) throws {
        #expect(throws: ConversionError.self) { try Conversion.mappingLocation(of: .None, to: location) }
    }

    @Test("selection and cast together")
    func combined() throws {
        let o = options(select: ["model_state_dict"], dtype: .bfloat16)
        #expect(try matches("training_checkpoint.ckpt", "convert/training_checkpoint.model_state_dict.bfloat16.pth", options: o))
    }

    /// torch.save names legacy storages by memory address: given torch's own
    /// keys (in the order the pickle first meets them), the file is torch's, byte for byte.
    @Test("the legacy format, with torch's storage keys, is byte for byte torch.save's", arguments: [
        ("state_dict.pth", "convert/state_dict.legacy.pth", [String](), DType?.none),
        ("views.pth", "convert/views.legacy.pth", [], nil),
        ("legacy/training_checkpoint.pth", "convert/legacy_training_checkpoint.model_state_dict.float16.legacy.pth",
         ["model_state_dict"], .float16),
    ])
    func legacy(_ source: String, _ reference: String, _ select: [String], _ dtype: DType?) throws {
        let keys = try Fixtures.open(reference).storages.map(\.key)
        var save = SaveOptions()
        save.format = .legacy
        save.legacyStorageKey = { index, _ in keys[index] }
        #expect(try matches(source, reference, options: options(select: select, dtype: dtype), saveOptions: save))
    }

    @Test("a sparse floating-point tensor is refused with its place")
    func sparse() throws {
        let root = try Fixtures.open("sparse.pth").root
        #expect {
            try Conversion.castingFloatingPoint(root, to: .float16)
        } throws: { error in
            "\(error)".contains("sparse") && "\(error)".contains("['")
        }
    }

    @Test("progress counts every storage byte written, up to the total")
    func progress() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pth-progress-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let checkpoint = try Fixtures.open("training_checkpoint.ckpt")
        let expected = Int64(checkpoint.storages.reduce(0) { $0 + $1.byteCount })
        for format in [SaveOptions.Format.zip, .legacy] {
            let calls = Calls()
            var save = SaveOptions()
            save.format = format
            save.progress = { done, total in calls.append(done, total) }
            try Checkpoint.save(checkpoint.root, to: dir.appendingPathComponent("out.pth").path, options: save)
            let seen = calls.values
            #expect(seen.first?.completed == 0 && seen.last?.completed == expected)
            #expect(seen.allSatisfy { $0.total == expected })
            #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.completed <= $1.completed })
        }
        let calls = Calls()
        _ = Verification.verify(path: Fixtures.path("training_checkpoint.ckpt")) { calls.append($0, $1) }
        #expect(calls.values.last.map { $0.completed == $0.total && $0.total > expected } == true)
    }
}

/// Progress calls, collected from a @Sendable handler.
final class Calls: @unchecked Sendable {
    private(set) var values: [(completed: Int64, total: Int64)] = []
    func append(_ completed: Int64, _ total: Int64) { values.append((completed, total)) }
}

import Foundation
import Testing

/// `pth convert`, run as a user runs it, against what torch.save wrote
/// (fixtures/convert/, tools/make_convert_fixtures.py).
@Suite("pth convert")
struct ConvertCommandTests {
    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pth-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs `pth convert IN OUT options…` with OUT named as torch's reference
    /// (the zip prefix comes from the name) and compares the bytes.
    func converts(_ source: String, to reference: String, _ options: [String] = []) throws -> (PthCommand.Result, Bool) {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent(URL(fileURLWithPath: reference).lastPathComponent).path
        let r = try run(["convert", PthCommand.fixture(source), out] + options)
        let same = (try? Data(contentsOf: URL(fileURLWithPath: out))) == (try Data(contentsOf: URL(fileURLWithPath: PthCommand.fixture(reference))))
        return (r, same)
    }

    /// PthCommand.run, with extra environment variables.
    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> PthCommand.Result {
        try PthCommand.run(arguments, environment: environment)
    }

    @Test("safetensors to .pth and back to safetensors")
    func roundTrip() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pth = dir.appendingPathComponent("names.pth").path
        var r = try PthCommand.run("convert", PthCommand.fixture("safetensors/names.safetensors"), pth)
        #expect(r.status == 0, "\(r.stderr)")
        let same = try Data(contentsOf: URL(fileURLWithPath: pth)) == Data(contentsOf: URL(fileURLWithPath: PthCommand.fixture("safetensors/torch_save/names.pth")))
        #expect(same)
        r = try PthCommand.run("convert", pth, dir.appendingPathComponent("back.safetensors").path)
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test("shared storages: refused with exit 1, or duplicated with a note")
    func shared() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("pth-cli-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        var r = try PthCommand.run("convert", PthCommand.fixture("views.pth"), out)
        #expect(r.status == 1)
        #expect(r.stderr.contains("share"))
        r = try PthCommand.run("convert", "--duplicate-shared", PthCommand.fixture("views.pth"), out)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("shared a storage"))
    }

    @Test("a legacy, tar or TorchScript file becomes what torch.save(torch.load(old)) writes", arguments: [
        ("legacy/training_checkpoint.pth", "convert/legacy_training_checkpoint.pth"),
        ("tar/state_dict_0_1.pt", "convert/tar_state_dict.pth"),
        ("torchscript/tied.pt", "convert/torchscript_tied.pth"),
    ])
    func toZip(_ source: String, _ reference: String) throws {
        let (r, same) = try converts(source, to: reference)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(same)
        #expect(r.stdout.isEmpty && r.stderr.isEmpty)
    }

    @Test("--select, --map-location and --dtype, alone and together", arguments: [
        ("training_checkpoint.ckpt", "convert/training_checkpoint.model_state_dict.pth", ["--select", "model_state_dict"]),
        ("training_checkpoint.ckpt", "convert/training_checkpoint.optimizer_state_0.pth",
         ["--select", "optimizer_state_dict", "--select", "state", "--select", "0"]),
        ("cuda_tagged.pth", "convert/cuda_tagged.cpu.pth", ["--map-location", "cpu"]),
        ("convert/floats.pth", "convert/floats.bfloat16.pth", ["--dtype", "bfloat16"]),
        ("safetensors/names.safetensors", "convert/names.float16.pth", ["--dtype", "float16"]),
        ("training_checkpoint.ckpt", "convert/training_checkpoint.model_state_dict.bfloat16.pth",
         ["--dtype", "bfloat16", "--select", "model_state_dict"]),
        ("cuda_tagged.pth", "convert/cuda_tagged.cpu.float16.pth", ["--map-location", "cpu", "--dtype", "float16", "--format", "zip"]),
    ])
    func options(_ source: String, _ reference: String, _ options: [String]) throws {
        let (r, same) = try converts(source, to: reference, options)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(same)
    }

    /// torch's legacy storage keys are memory addresses: compared by what is in the file.
    @Test("--format legacy holds what torch.save(_use_new_zipfile_serialization=False) holds")
    func legacy() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.pth").path
        let r = try run(["convert", PthCommand.fixture("legacy/training_checkpoint.pth"), out, "--format", "legacy",
                         "--select", "model_state_dict", "--dtype", "float16"])
        #expect(r.status == 0, "\(r.stderr)")
        let reference = PthCommand.fixture("convert/legacy_training_checkpoint.model_state_dict.float16.legacy.pth")
        let ours = try run(["inspect", "--json", out]), torch = try run(["inspect", "--json", reference])
        #expect(ours.status == 0 && !ours.stdout.isEmpty && ours.stdout == torch.stdout)
        let format = try run(["inspect", out])
        #expect(format.stdout.contains("legacy"))
    }

    @Test("--select of a missing key: exit 1 naming the key and the keys there; OUT untouched")
    func missingKey() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.pth").path
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: out))
        let r = try run(["convert", PthCommand.fixture("training_checkpoint.ckpt"), out, "--select", "model"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("no key 'model' in the root"))
        #expect(r.stderr.contains("'model_state_dict'") && r.stderr.contains("'epoch'"))
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "keep me")
        let deeper = try run(["convert", PthCommand.fixture("training_checkpoint.ckpt"), out, "--select", "epoch", "--select", "x"])
        #expect(deeper.status == 1 && deeper.stderr.contains("['epoch'] is of type int"))
    }

    @Test("bad combinations and values are refused", arguments: [
        (["--duplicate-shared"], "out.pth", Int32(64), "--duplicate-shared applies to a safetensors OUT"),
        (["--dtype", "int8"], "out.pth", 64, "int8"),
        (["--format", "tar"], "out.pth", 64, "tar"),
        (["--map-location", "meta"], "out.pth", 1, "meta would drop"),
        (["--map-location", "cuda"], "out.pth", 1, "cuda:0"),
        (["--format", "legacy"], "out.pth", 1, "UntypedStorage"),
    ])
    func refused(_ options: [String], _ name: String, _ status: Int32, _ message: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent(name).path
        // dtypes.pth holds uint16 and float8 tensors, which the legacy format cannot hold.
        let r = try run(["convert", PthCommand.fixture("dtypes.pth"), out] + options)
        #expect(r.status == status, "\(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test("piped, nothing but the result; PTH_PROGRESS=always draws the bar and clears it")
    func progress() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = PthCommand.fixture("training_checkpoint.ckpt")
        let out = dir.appendingPathComponent("out.pth").path
        let quiet = try run(["convert", source, out])
        #expect(quiet.status == 0 && quiet.stdout.isEmpty && quiet.stderr.isEmpty)
        let verify = try run(["verify", source])
        #expect(!verify.stderr.contains("\r"))

        let drawn = try run(["convert", source, out], environment: ["PTH_PROGRESS": "always"])
        #expect(drawn.status == 0 && drawn.stdout.isEmpty)
        // 24 columns, full: every storage byte written (1604 bytes of tensor data, as torch counts them).
        let full = "\rconverting [########################] 100%  "
        #expect(drawn.stderr.contains(full), "\(drawn.stderr.debugDescription)")
        #expect(drawn.stderr.hasSuffix("\r\u{1B}[K"))
        let line = drawn.stderr.components(separatedBy: full).last ?? ""
        #expect(line.hasPrefix("1.6 KiB / 1.6 KiB\u{1B}[K"), "\(line.debugDescription)")

        let checked = try run(["verify", source], environment: ["PTH_PROGRESS": "always"])
        #expect(checked.stderr.contains("\rverifying [") && checked.stderr.hasSuffix("\r\u{1B}[K"))
        #expect(checked.stdout == verify.stdout)
        let never = try run(["convert", source, out], environment: ["PTH_PROGRESS": "never"])
        #expect(never.stderr.isEmpty)
    }
}

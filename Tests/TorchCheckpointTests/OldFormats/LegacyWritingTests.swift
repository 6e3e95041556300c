import Foundation
import ListingComparison
import Testing
import TorchCheckpoint

/// Writing the legacy format: a legacy file written back is the same file
/// (RewriteTests checks every fixture; here the ones that need options), and
/// values built in Swift are written as `torch.save(...,
/// _use_new_zipfile_serialization=False)` writes them.
@Suite("Legacy format: writing")
struct LegacyWritingTests {
    static let builtDirectory = Fixtures.directory.appendingPathComponent("legacy/swift_built")
    static let specs: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: builtDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".keys.json") }.map { String($0.dropLast(".keys.json".count)) }.sorted()
    }()

    /// `PTH_LEGACY_OUT` keeps what these tests write, each with `FILE.ref` naming
    /// the fixture torch should list the same, for `make_old_fixtures.py --check-swift-written`.
    static func keep(_ path: String, as name: String, reference: String) throws {
        guard let dir = ProcessInfo.processInfo.environment["PTH_LEGACY_OUT"] else { return }
        let out = URL(fileURLWithPath: dir).appendingPathComponent(name)
        try? FileManager.default.removeItem(at: out)
        try FileManager.default.copyItem(at: URL(fileURLWithPath: path), to: out)
        try Data(reference.utf8).write(to: out.appendingPathExtension("ref"))
    }

    static func spec(_ name: String) throws -> (value: Value, keys: [String], tensors: [String: Tensor]) {
        let spec = try JSONSerialization.jsonObject(with: Data(contentsOf: builtDirectory.appendingPathComponent(name + ".json")))
        let keys = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: builtDirectory.appendingPathComponent(name + ".keys.json"))) as? [String])
        var tensors: [String: Tensor] = [:]
        let value = try SwiftBuiltTests.build(spec, &tensors)
        return (value, keys, tensors)
    }

    @Test("objects built in Swift, with torch's storage keys, are byte-identical to torch.save's legacy file", arguments: specs)
    func identical(_ name: String) throws {
        let (value, keys, _) = try Self.spec(name)
        let scratch = try ScratchDirectory()
        var options = SaveOptions()
        options.format = .legacy
        options.legacyStorageKey = { index, _ in keys[index] }
        try Checkpoint.save(value, to: scratch.path("out.pth"), options: options)
        let ours = try scratch.read("out.pth")
        let torch = try [UInt8](Data(contentsOf: Self.builtDirectory.appendingPathComponent(name + ".pth")))
        #expect(ours == torch, "\(name): \(ours.count) bytes, torch.save wrote \(torch.count)")
        try Self.keep(scratch.path("out.pth"), as: "\(name)_torch_keys.pth", reference: "legacy/swift_built/\(name).pth")
    }

    @Test("with the default keys 0, 1, …, the file reads back as torch's file of the same objects does", arguments: specs)
    func defaultKeys(_ name: String) throws {
        let (value, keys, _) = try Self.spec(name)
        let scratch = try ScratchDirectory()
        var options = SaveOptions()
        options.format = .legacy
        try Checkpoint.save(value, to: scratch.path("out.pth"), options: options)
        try Self.keep(scratch.path("out.pth"), as: "\(name)_default_keys.pth", reference: "legacy/swift_built/\(name).pth")
        let ours = try Checkpoint(path: scratch.path("out.pth"))
        guard case .legacy(let info) = ours.format else {
            Issue.record("wrote \(ours.format)")
            return
        }
        #expect(info == LegacySystemInfo(protocolVersion: 1001, littleEndian: true, shortSize: 2, intSize: 4, longSize: 4))
        #expect(Set(ours.storages.map(\.key)) == Set((0..<keys.count).map(String.init)))
        let torch = try Checkpoint(path: Self.builtDirectory.appendingPathComponent(name + ".pth").path)
        #expect(ListingComparison.pathKey(try ours.listingJSON()) == ListingComparison.pathKey(try torch.listingJSON()))
        // And what we wrote is written back unchanged.
        try ours.write(to: scratch.path("again.pth"))
        #expect(try scratch.read("again.pth") == scratch.read("out.pth"))
    }

    @Test("every pickle protocol from 2 to 5 can be written and read back", arguments: [2, 3, 4, 5])
    func protocols(_ proto: Int) throws {
        let (value, _, _) = try Self.spec("sd_10")
        let scratch = try ScratchDirectory()
        var options = SaveOptions()
        options.format = .legacy
        options.protocolVersion = proto
        try Checkpoint.save(value, to: scratch.path("p.pth"), options: options)
        try Self.keep(scratch.path("p.pth"), as: "sd_10_protocol\(proto).pth", reference: "legacy/swift_built/sd_10.pth")
        let back = try Checkpoint(path: scratch.path("p.pth"))
        #expect(back.pickleProtocol == proto)
        let bytes = try scratch.read("p.pth")
        #expect(Array(bytes.prefix(2)) == [0x80, UInt8(proto)])
        try back.write(to: scratch.path("again.pth"))
        #expect(try scratch.read("again.pth") == bytes)
    }

    @Test("a zip checkpoint saved in the legacy format lists the same")
    func fromZip() throws {
        let zip = try Fixtures.open("training_checkpoint.ckpt")
        let scratch = try ScratchDirectory()
        var options = SaveOptions()
        options.format = .legacy
        try Checkpoint.save(zip.root, to: scratch.path("legacy.pth"), options: options)
        try Self.keep(scratch.path("legacy.pth"), as: "training_checkpoint_legacy.pth", reference: "training_checkpoint.ckpt")
        let legacy = try Checkpoint(path: scratch.path("legacy.pth"))
        #expect(ListingComparison.pathKey(try legacy.listingJSON()) == ListingComparison.pathKey(try zip.listingJSON()))
    }

    @Test("a big-endian byte order only changes sys_info: legacy storages are little-endian on every machine")
    func bigEndian() throws {
        let w = try Tensor(scalars: [Float(1.5), -2, 3], shape: [3])
        let d = PyDict()
        d["w"] = .tensor(w)
        let scratch = try ScratchDirectory()
        var options = SaveOptions()
        options.format = .legacy
        try Checkpoint.save(.dict(d), to: scratch.path("little.pth"), options: options)
        options.byteOrder = .big
        try Checkpoint.save(.dict(d), to: scratch.path("big.pth"), options: options)
        let little = try scratch.read("little.pth"), big = try scratch.read("big.pth")
        #expect(little.count == big.count)
        #expect(Array(little.suffix(12)) == Array(big.suffix(12)))   // the same little-endian floats
        let differing = zip(little, big).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset)
        #expect(differing.count == 1)                                   // NEWTRUE → NEWFALSE
        try Self.keep(scratch.path("big.pth"), as: "big_endian_machine.pth", reference: "")
        let back = try Checkpoint(path: scratch.path("big.pth"))
        #expect(back.format == .legacy(systemInfo: LegacySystemInfo(protocolVersion: 1001, littleEndian: false, shortSize: 2, intSize: 4, longSize: 4)))
        #expect(try back.tensor("w").scalars(as: Float.self) == [1.5, -2, 3])
    }

    @Test("dtypes without a storage class are refused: torch.load cannot read their UntypedStorage back")
    func untypedRefused() throws {
        let ids = try Tensor(bytes: [1, 0, 2, 0], dtype: .uint16, shape: [2])
        let d = PyDict()
        d["ids"] = .tensor(ids)
        let scratch = try ScratchDirectory()
        let path = try scratch.write(Array("previous".utf8), "model.pth")
        var options = SaveOptions()
        options.format = .legacy
        do {
            try Checkpoint.save(.dict(d), to: path, options: options)
            Issue.record("saved a uint16 tensor in the legacy format")
        } catch {
            guard case .cannotWrite(_, let reason) = error else { Issue.record("wrong error \(error)"); return }
            #expect(reason.contains("UntypedStorage"))
        }
        #expect(try scratch.read("model.pth") == Array("previous".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["model.pth"])
    }

    @Test("storage keys must be distinct")
    func duplicateKeys() throws {
        let (value, _, _) = try Self.spec("sd_10")
        let scratch = try ScratchDirectory()
        var options = SaveOptions()
        options.format = .legacy
        options.legacyStorageKey = { _, _ in "same" }
        #expect(throws: CheckpointError.self) { try Checkpoint.save(value, to: scratch.path("x.pth"), options: options) }
        #expect(!FileManager.default.fileExists(atPath: scratch.path("x.pth")))
    }

    @Test("files that need options to read are written back byte for byte with them", arguments: [
        UnpicklerOptions.StringEncoding.latin1, .bytes,
    ])
    func python2WriteBack(_ encoding: UnpicklerOptions.StringEncoding) throws {
        var options = LoadOptions()
        options.unpickler.stringEncoding = encoding
        let name = "legacy/python2_latin1.pth"
        let checkpoint = try Fixtures.open(name, options: options)
        let scratch = try ScratchDirectory()
        try checkpoint.write(to: scratch.path("out.pth"))
        #expect(try scratch.read("out.pth") == Fixtures.data(name))
    }

    @Test("a state dict torch 0.4 saved under Python 2.7 is written back byte for byte: cPickle's memo from 1, None hooks, OrderedDict([[k, v], ...])")
    func python2CPickleWriteBack() throws {
        let name = "legacy/python2_cpickle.pth"
        let original = try Fixtures.data(name)
        // The fixture is what it claims: sys_info's dict goes in memo slot 1 (PROTO 2, EMPTY_DICT, BINPUT 1).
        #expect(Array(original[21..<26]) == [0x80, 2, 0x7D, 0x71, 1])
        let checkpoint = try Fixtures.open(name)
        #expect(checkpoint.tensors.count == 4)
        #expect(checkpoint.tensors.allSatisfy { $0.tensor.backwardHooks.isNone })
        #expect(checkpoint.root.dict?.attributes.map(\.name) == ["_metadata"])
        let scratch = try ScratchDirectory()
        try checkpoint.write(to: scratch.path("out.pth"))
        #expect(try scratch.read("out.pth") == original)
    }

    @Test("a legacy file written back streams its storages from the map and keeps its view metadata")
    func oldViewsWriteBack() throws {
        let checkpoint = try Fixtures.open("legacy/old_views.pth")
        let scratch = try ScratchDirectory()
        try checkpoint.write(to: scratch.path("out.pth"))
        let again = try Checkpoint(path: scratch.path("out.pth"))
        #expect(again.tensors.count == checkpoint.tensors.count)
        #expect(try scratch.read("out.pth") == Fixtures.data("legacy/old_views.pth"))
    }
}

import Foundation
import Testing
import TorchCheckpoint

/// What TorchScript archives of torch 1.x (and quantized modules of any
/// torch) hold beyond the plain module: classes that declare
/// `__annotations__ = []` before `__annotations__["0"] = T`, and objects
/// pickled as their `__getstate__` tuple that `torch.jit.load` restores with
/// `__setstate__` (read here without running it); and what early torch 1.x
/// wrote differently (persistent ids ending with None, zip records stamped
/// with a time), kept when written back. The rest of the fixtures' checks
/// (module tree, state_dict, attributes, write-back) run on them with every
/// other TorchScript fixture.
@Suite("TorchScript archives of torch 1.x, and quantized modules")
struct TorchScriptTorch1xTests {
    static let quantized = "torchscript/quantized.pt"
    static let conv = "code/__torch__/torch/ao/nn/quantized/modules/conv.py"

    static func text(_ fixture: String, _ record: String) throws -> String {
        let archive = try ZipArchive(path: Fixtures.path(fixture))
        return String(decoding: try archive.bytes(of: try require(archive.record(record), record)).copyBytes(), as: UTF8.self)
    }

    @Test("`__annotations__ = []` before `__annotations__[\"0\"] = Tensor` is ignored, as PyTorch's importer ignores it")
    func annotationsInitialized() throws {
        let source = try Self.text("torchscript/unnamed.pt", "code/__torch__.py")
        #expect(source.contains("  __annotations__ = []\n  __annotations__[\"0\"] = Tensor\n"))
        let ts = try #require(try Fixtures.open("torchscript/unnamed.pt").torchScript)
        #expect(ts.module.definition.parameterNames == ["0"])
        #expect(ts.module.definition.attributes.map(\.name).prefix(3) == ["0", "training", "_is_full_backward_hook"])
        #expect(ts.module.submodule("anchors")?.definition.attributes.map(\.name).prefix(2) == ["0", "1"])
        #expect(Array(ts.stateDict.map(\.name).prefix(3)) == ["0", "anchors.0", "anchors.1"])
    }

    @Test("a quantized module is restored from its __getstate__ tuple: slots by index, its weight and bias in no slot")
    func quantizedModule() throws {
        let checkpoint = try Fixtures.open(Self.quantized)
        let ts = try #require(checkpoint.torchScript)
        let conv = try #require(ts.module.submodule("conv"))
        #expect(conv.definition.usesSetState && conv.definition.methodNames.contains("set_weight_bias"))
        guard case .tuple(let state)? = conv.object.state else {
            Issue.record("the object's state is no tuple")
            return
        }
        #expect(state.count == 15)
        #expect(conv.attribute("in_channels")?.int == 2 && conv.attribute("out_channels")?.int == 3)
        #expect(conv.attribute("padding_mode")?.string == "zeros")
        // In the class's slot order; `_packed_params` is set by set_weight_bias, which is not run.
        #expect(conv.attributes.map(\.name).prefix(3) == ["training", "in_channels", "out_channels"])
        #expect(conv.attribute("_packed_params") == nil)
        #expect(conv.parameters.isEmpty && conv.buffers.isEmpty && conv.submodules.isEmpty)
        let weight = try #require(state.items[10].tensor)
        #expect(weight.dtype == .qint8 && weight.shape == [3, 2, 3, 3])
        // A class without __getstate__ and __setstate__ is read from its dict, as before.
        #expect(ts.module.submodule("quant")?.definition.usesSetState == false)
        #expect(ts.module.submodule("fc._packed_params")?.definition.usesSetState == false)
        #expect(ts.stateDict.map(\.name) == ["quant.scale", "quant.zero_point"])

        let tree = Inspection(checkpoint).render()
        #expect(tree.contains("─ conv.__getstate__()[10]: state tensor (not in the state_dict) qint8 [3, 2, 3, 3]"))
        #expect(tree.contains("─ conv.__getstate__()[11]: state tensor (not in the state_dict) float32 [3]"))
        #expect(tree.contains("─ conv2.__getstate__()[10]: state tensor") && !tree.contains("conv2.__getstate__()[11]"))   // no bias
        #expect(tree.contains("2 state_dict entries"))
    }

    // MARK: Damaged __setstate__

    func failure(_ edit: (String) -> String) throws -> (record: String, reason: String)? {
        let path = try ArchiveSurgery.write(from: Self.quantized, replacing: [Self.conv: try ArchiveSurgery.edited(Self.quantized, Self.conv, edit)])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: CheckpointError.self) { try Checkpoint(path: path) }
        guard case .invalidRecord(_, let record, let reason)? = error else {
            Issue.record("expected invalidRecord, got \(String(describing: error))")
            return nil
        }
        return (record, reason)
    }

    @Test("an index past the state tuple names the class, the record and the line of the statement")
    func indexPastTheState() throws {
        let f = try #require(try failure { $0.replacingOccurrences(of: "self.training = (state)[14]", with: "self.training = (state)[15]") })
        #expect(f.record == "quantized/" + Self.conv)
        #expect(f.reason.contains("class __torch__.torch.ao.nn.quantized.modules.conv.Conv2d") && f.reason.contains("line 75"))
        #expect(f.reason.contains("(state)[15]") && f.reason.contains("tuple of 15"))
    }

    @Test("a parameter __setstate__ does not restore from the state is refused: the state_dict would lack it")
    func parameterNotRestored() throws {
        let f = try #require(try failure { text in
            text.replacingOccurrences(of: "class Conv2d(Module):\n  __parameters__ = []", with: "class Conv2d(Module):\n  __parameters__ = [\"_packed_params\", ]")
        })
        #expect(f.record == "quantized/" + Self.conv)
        #expect(f.reason.contains("line 60") && f.reason.contains("parameter '_packed_params' is not assigned as `self._packed_params = (state)[i]`"))
        let computed = try #require(try failure { text in
            text.replacingOccurrences(of: "class Conv2d(Module):\n  __parameters__ = []", with: "class Conv2d(Module):\n  __parameters__ = [\"scale\", ]")
                .replacingOccurrences(of: "self.scale = (state)[12]", with: "self.scale = torch.mul((state)[12], 2)")
        })
        #expect(computed.reason.contains("parameter 'scale' is assigned otherwise than as `self.scale = (state)[i]`"))
    }

    @Test("a slot assigned otherwise than straight from the state is left unknown, not guessed")
    func otherwiseAssigned() throws {
        let edited = try ArchiveSurgery.edited(Self.quantized, Self.conv) {
            $0.replacingOccurrences(of: "self.groups = (state)[8]", with: "self.groups = torch.add((state)[8], 0)")
        }
        let path = try ArchiveSurgery.write(from: Self.quantized, replacing: [Self.conv: edited])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let conv = try #require(try Checkpoint(path: path).torchScript?.module.submodule("conv2"))
        #expect(conv.attribute("groups") == nil && conv.attribute("dilation") != nil)
    }

    @Test("every truncation of a class with __setstate__ either loads or fails with an error naming the record")
    func truncations() throws {
        let source = try ArchiveSurgery.edited(Self.quantized, Self.conv) { $0 + " " }
        var failures = 0
        for length in stride(from: 0, through: source.count, by: 11) {
            let path = try ArchiveSurgery.write(from: Self.quantized, replacing: [Self.conv: Array(source.prefix(length))])
            defer { try? FileManager.default.removeItem(atPath: path) }
            do {
                _ = try Checkpoint(path: path)
            } catch {
                failures += 1
                guard case .invalidRecord(_, let record, let reason) = error else {
                    Issue.record("\(length) bytes: \(error)")
                    continue
                }
                // The record cut short, or the pickle whose tuple state the class no longer restores.
                #expect(record.hasSuffix(Self.conv) || (record.hasSuffix("data.pkl") && reason.contains("record '\(Self.conv)'")),
                        "\(length) bytes: \(reason)")
            }
        }
        #expect(failures > 0)
    }

    // MARK: What early torch 1.x wrote

    @Test("persistent ids with a sixth item, None (early torch 1.x), are read and written back as they are")
    func persistentIDsEndingWithNone() throws {
        let fixture = "torchscript/unnamed.pt"
        let archive = try ZipArchive(path: Fixtures.path(fixture))
        var pickle = try archive.bytes(of: try #require(archive.record("data.pkl"))).copyBytes()
        // NONE before the TUPLE that closes each persistent id, last first so that offsets hold.
        let operations = pickle.withUnsafeBytes { PickleOperations($0).collect().operations }
        let closing = zip(operations, operations.dropFirst()).filter { $1.opcode == .binPersID && $0.opcode == .tuple }.map(\.0.offset)
        #expect(closing.count == 7)
        for offset in closing.reversed() { pickle.insert(0x4E, at: offset) }
        let path = try ArchiveSurgery.write(from: fixture, replacing: ["data.pkl": pickle])
        defer { try? FileManager.default.removeItem(atPath: path) }

        let edited = try Checkpoint(path: path), original = try Fixtures.open(fixture)
        #expect(edited.torchScript?.stateDict.map(\.name) == original.torchScript?.stateDict.map(\.name))
        #expect(try edited.torchScript?["anchors.1"]?.scalars() as [Float]? == original.torchScript?["anchors.1"]?.scalars())
        let out = path + ".rewritten"
        defer { try? FileManager.default.removeItem(atPath: out) }
        try edited.write(to: out)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test("records PyTorch's writer stamped with a time (early torch 1.x) keep it when written back; re-zipped ones get 0")
    func dosTimestamps() throws {
        let fixture = "torchscript/unnamed.pt"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(fixture))))
        let archive = try ZipArchive(path: Fixtures.path(fixture))
        let stamp: [UInt8] = [0xBD, 0x66, 0x39, 0x4F]   // 2019-09-25 12:53:58
        // Each local header's time and date, then each central directory entry's.
        for entry in archive.entries { bytes.replaceSubrange(Int(entry.localHeaderOffset) + 10 ..< Int(entry.localHeaderOffset) + 14, with: stamp) }
        var p = archive.entries.map { Int($0.dataOffset + $0.compressedSize) }.max() ?? 0
        var central = 0
        while p + 46 <= bytes.count {
            guard bytes[p..<(p + 4)].elementsEqual([0x50, 0x4B, 0x01, 0x02]) else { p += 1; continue }
            bytes.replaceSubrange((p + 12)..<(p + 16), with: stamp)
            let length = { (at: Int) in Int(bytes[p + at]) | Int(bytes[p + at + 1]) << 8 }
            p += 46 + length(28) + length(30) + length(32)
            central += 1
        }
        #expect(central == archive.entries.count)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pth-stamped-\(UUID().uuidString).pt").path
        let out = path + ".rewritten"
        defer { try? FileManager.default.removeItem(atPath: path); try? FileManager.default.removeItem(atPath: out) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let stamped = try Checkpoint(path: path)
        #expect(try #require(stamped.archive).entries.allSatisfy { $0.dosTimestamp == 0x4F39_66BD })
        try stamped.write(to: out)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(bytes))
        // A file another tool re-zipped is written in PyTorch's layout, with PyTorch's 0.
        let rezipped = try ZipArchive(path: Fixtures.path("rezipped/deflated.pth"))
        #expect(rezipped.entries.contains { $0.dosTimestamp != 0 })
        try Fixtures.open("rezipped/deflated.pth").write(to: out)
        #expect(try ZipArchive(path: out).entries.allSatisfy { $0.dosTimestamp == 0 })
    }
}

import Foundation
import Testing
import TorchCheckpoint

/// What TorchScript archives of torch 1.x (and quantized modules of any
/// torch) hold beyond the plain module: classes that declare
/// `__annotations__ = []` before `__annotations__["0"] = T`, and objects
/// pickled as their `__getstate__` tuple that `torch.jit.load` restores with
/// `__setstate__` (read here without running it). The rest of the fixtures'
/// checks (module tree, state_dict, attributes, write-back) run on them with
/// every other TorchScript fixture.
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
}

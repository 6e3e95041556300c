import Foundation
import Testing
import TorchCheckpoint

/// `save(to:)` and `load(from:)`: one line each, the state dict found where
/// training code puts it (fixtures/modules/layouts/, written by
/// tools/make_module_fixtures.py, each loaded strictly into Net() by torch
/// after the usual extraction).
@Suite("Modules to and from files in one line")
struct ModuleFilesTests {
    @Test("save(to:) writes what torch.save(model.state_dict()) writes")
    func save() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pth-module-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("net.pth").path
        try Net().save(to: out)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("modules/net.pth"))))
    }

    @Test("load(from:) finds the state dict in every layout and loads it strictly", arguments: [
        "modules/net.pth", "modules/layouts/ddp.pth", "modules/layouts/ddp_consumed.pth", "modules/layouts/training.ckpt",
        "modules/layouts/lightning.ckpt", "modules/layouts/model_key.pth",
    ])
    func load(_ name: String) throws {
        let net = Net()
        net.classes = []
        net.head?.weight = Tensor.zeros([2, 4])
        let result = try net.load(from: Fixtures.path(name))
        #expect(result.allMatched)
        #expect(net.classes == ["cat", "dog", "bird"])
        #expect(try net.head?.weight?.scalars(as: Float.self) == det([2, 4], 5).scalars(as: Float.self))
    }

    @Test("DataParallel's module. prefix is taken off as torch's consume_prefix_in_state_dict_if_present takes it, _metadata included")
    func consumePrefix() throws {
        let found = try Module.findStateDict(in: try Fixtures.open("modules/layouts/ddp.pth"), for: Net())
        let torch = try #require(try Fixtures.open("modules/layouts/ddp_consumed.pth").root.dict)
        #expect(found.keys == torch.keys)
        #expect(found.attribute("_metadata") == torch.attribute("_metadata"))
        for (key, value) in torch.items {
            if let t = value.tensor {
                #expect(try Listing.sha256(of: #require(found[key]?.tensor)) == Listing.sha256(of: t))
            } else {
                #expect(found[key] == value)
            }
        }
    }

    @Test("a file without this module's state says what is missing, in PyTorch's words")
    func nothingFits() throws {
        #expect(throws: StateDictError.self) { try Net().load(from: Fixtures.path("state_dict.pth")) }
        let lenient = try Net().load(from: Fixtures.path("state_dict.pth"), strict: false)
        #expect(!lenient.missingKeys.isEmpty && !lenient.unexpectedKeys.isEmpty)
    }
}

/// A submodule the model always has is declared with its own type: no `?` to reach it.
private final class Tiny: Module {
    @Child var head = Linear(weight: det([2, 4], 5), bias: det([2], 6))
    @Child var spare: Linear? = nil
    @Parameter var scale: Tensor? = .ones([1])
}

@Suite("Submodules declared without optionals")
struct RequiredChildTests {
    @Test("a non-optional child is saved and loaded like an optional one; a nil one is skipped")
    func required() throws {
        let tiny = Tiny()
        #expect(try tiny.stateDict().keys.compactMap(\.string) == ["scale", "head.weight", "head.bias"])
        let other = Tiny()
        other.head.weight = .zeros([2, 4])
        try other.loadStateDict(try tiny.stateDict())
        #expect(try other.head.weight?.scalars(as: Float.self) == det([2, 4], 5).scalars(as: Float.self))
    }
}

/// Tensors the model always has are declared `Tensor`: no `?` to read them.
private final class Dense: Module {
    @Parameter var weight = Tensor.zeros([2, 4])
    @Parameter var bias: Tensor?
    @Buffer(name: "running_mean") var runningMean = Tensor.zeros([4])
    @Buffer(persistent: false) var scratch = Tensor.ones([1])
    @Parameter(lazy: true) var lazyWeight: Tensor?
}

@Suite("Parameters and buffers declared without optionals")
struct RequiredTensorTests {
    @Test("a Tensor member reads without ?, is saved, and is replaced by load; a nil Tensor? one is skipped")
    func required() throws {
        let dense = Dense()
        #expect(dense.weight.shape == [2, 4])
        #expect(try dense.stateDict().keys.compactMap(\.string) == ["weight", "running_mean"])
        let source = Dense()
        source.weight = det([2, 4], 5)
        source.runningMean = det([4], 6)
        source.lazyWeight = det([3], 7)
        try dense.loadStateDict(try source.stateDict())
        #expect(try dense.weight.scalars(as: Float.self) == det([2, 4], 5).scalars(as: Float.self))
        #expect(try dense.runningMean.scalars(as: Float.self) == det([4], 6).scalars(as: Float.self))
        #expect(dense.lazyWeight?.shape == [3])
    }

    @Test("strict loading of a Tensor member still reports its missing key, and keeps its value")
    func missing() throws {
        let dense = Dense()
        let partial = try Dense().stateDict()
        partial["weight"] = nil
        #expect(throws: StateDictError.self) { try dense.loadStateDict(partial) }
        let result = try dense.loadStateDict(partial, strict: false)
        #expect(result.missingKeys == ["weight"])
        #expect(dense.weight.shape == [2, 4])
    }

    @Test("$weight is the slot ownParameters lists; setting its tensor sets the member")
    func slots() throws {
        let dense = Dense()
        #expect(dense.ownParameters.map(\.name) == ["weight", "bias", "lazyWeight"])
        #expect(dense.ownParameters[0].slot === dense.$weight)
        #expect(!dense.$weight.isOptional && dense.$bias.isOptional && dense.$lazyWeight.isLazy)
        #expect(dense.ownBuffers.map(\.name) == ["running_mean", "scratch"])
        #expect(!dense.$scratch.isPersistent)
        dense.$weight.tensor = .ones([3])
        #expect(dense.weight.shape == [3])
        #expect(dense.$bias.description == "Parameter(None)")
        #expect(dense.$scratch.description == "Buffer(shape [1], torch.float32, not persistent)")
    }

    @Test("the slot's old spelling, wrappedValue, still reads and writes the tensor")
    @available(*, deprecated)
    func deprecatedSpelling() throws {
        let dense = Dense()
        let slot = dense.registerParameter("extra", nil)
        slot.wrappedValue = .ones([2])
        #expect(slot.tensor?.shape == [2])
        #expect(dense.ownParameters.last?.slot.wrappedValue?.shape == [2])
    }
}

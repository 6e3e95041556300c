import Foundation
import Testing
import TorchCheckpoint

// The Swift twins of tools/module_classes.py: same names, same values.

func det(_ shape: [Int], _ seed: Float) -> Tensor {
    let n = shape.reduce(1, *)
    return try! Tensor(scalars: (0..<n).map { Float($0 % 7 - 3) * 0.25 + seed }, shape: shape)
}

/// Parameters plus extra state: a label and a configuration dict.
final class Conv: Module, ExtraState {
    @Parameter var weight: Tensor?
    @Parameter var bias: Tensor?
    var label: String
    var config: PyDict

    init(label: String, seed: Float) {
        self.label = label
        config = PyDict()
        config.set(.int(3), forInternedKey: "kernel")
        config.set(.int(1), forInternedKey: "stride")
        config.set(.float(0.5), forInternedKey: "scale")
        super.init()
        weight = det([2, 3], seed).asParameter()
        bias = det([2], seed + 1).asParameter()
    }

    func extraState() -> Value {
        let state = PyDict()
        state.set(.string(label), forInternedKey: "label")
        state.set(.dict(config), forInternedKey: "config")
        return .dict(state)
    }

    func setExtraState(_ state: Value) throws {
        label = state["label"]?.string ?? label
        config = state["config"]?.dict ?? config
    }
}

final class Block: Module {
    @Child var conv1: Conv?
    @Child var conv2: Conv?
    init(_ i: Int) {
        super.init()
        conv1 = Conv(label: "block\(i)/conv1", seed: Float(10 * i + 1))
        conv2 = Conv(label: "block\(i)/conv2", seed: Float(10 * i + 2))
    }
}

final class Encoder: Module {
    @Child var layers: ModuleList? = ModuleList([Block(0), Block(1)])
}

/// BatchNorm's state: affine parameters and running statistics.
final class RunningStats: Module {
    override class var version: Int { 2 }
    @Parameter var weight: Tensor?
    @Parameter var bias: Tensor?
    @Buffer(name: "running_mean") var runningMean: Tensor?
    @Buffer(name: "running_var") var runningVar: Tensor?
    @Buffer(name: "num_batches_tracked") var numBatchesTracked: Tensor?

    init(_ n: Int) {
        super.init()
        weight = try! Tensor(scalars: [Float](repeating: 1, count: n), shape: [n]).asParameter()
        bias = try! Tensor(scalars: [Float](repeating: 0, count: n), shape: [n]).asParameter()
        runningMean = try! Tensor(scalars: [Float](repeating: 0, count: n), shape: [n])
        runningVar = try! Tensor(scalars: [Float](repeating: 1, count: n), shape: [n])
        numBatchesTracked = try! Tensor(scalars: [Int64(0)], shape: [])
    }
}

final class Linear: Module {
    @Parameter var weight: Tensor?
    @Parameter var bias: Tensor?
    init(weight: Tensor, bias: Tensor) {
        super.init()
        self.weight = weight.asParameter()
        self.bias = bias.asParameter()
    }
}

/// Parameters, buffers (persistent, non-persistent, nil until epoch 350),
/// a plain property, nested modules, a ModuleList, class labels as extra state.
final class Net: Module, ExtraState {
    @Child var encoder: Encoder? = Encoder()
    @Child var norm: RunningStats? = RunningStats(4)
    @Child var head: Linear? = Linear(weight: det([2, 4], 5), bias: det([2], 6))
    @Buffer(persistent: false) var mask: Tensor? = try! Tensor(scalars: [Float](repeating: 1, count: 4), shape: [4])
    @Buffer(lazy: true) var late: Tensor?
    var plain = 3
    var classes = ["cat", "dog", "bird"]

    func extraState() -> Value {
        let state = PyDict()
        state.set(.list(PyList(classes.map(Value.string))), forInternedKey: "classes")
        return .dict(state)
    }

    func setExtraState(_ state: Value) throws {
        classes = state["classes"]?.items?.compactMap(\.string) ?? classes
    }
}

@Suite("Modules and state dicts, as nn.Module keeps them")
struct ModuleTests {
    func temporary(_ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pth-module-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    func stateDict(_ name: String) throws -> PyDict {
        try #require(try Fixtures.open("modules/" + name).root.dict)
    }

    @Test("stateDict() saved is byte-identical to torch.save(model.state_dict())")
    func exportIdentical() throws {
        let out = try temporary("net.pth")
        try Checkpoint.save(.dict(try Net().stateDict()), to: out)
        let same = try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("modules/net.pth")))
        #expect(same)
        if let keep = ProcessInfo.processInfo.environment["PTH_MODULE_OUT"] {
            try? FileManager.default.removeItem(atPath: keep + "/net.pth")
            try FileManager.default.copyItem(atPath: out, toPath: keep + "/net.pth")
        }
    }

    @Test("key order: own parameters, buffers, extra state, then children; non-persistent and plain properties not saved")
    func keyOrder() throws {
        let sd = try Net().stateDict()
        let keys = sd.keys.compactMap(\.string)
        #expect(keys.first == "_extra_state")
        #expect(keys.contains("encoder.layers.0.conv2._extra_state"))
        #expect(keys.contains("norm.num_batches_tracked"))
        #expect(!keys.contains("mask") && !keys.contains("late") && !keys.contains("plain"))
        #expect(Array(keys.suffix(2)) == ["head.weight", "head.bias"])
        let metadata = try #require(sd.attribute("_metadata")?.dict)
        #expect(metadata["norm"]?["version"]?.int == 2)
        #expect(metadata["encoder.layers.1.conv2"]?["version"]?.int == 1)
        // What an optimizer sees: parameters, not buffers.
        let parameters = Net().namedParameters().map(\.name)
        #expect(parameters.contains("norm.weight") && !parameters.contains("norm.running_mean"))
    }

    @Test("a state dict PyTorch saved loads strictly, extra state included")
    func importStrict() throws {
        let net = Net()
        net.classes = []
        (net.encoder?.layers?.modules[0] as? Block)?.conv2?.label = "changed"
        let result = try net.loadStateDict(try stateDict("net.pth"))
        #expect(result.allMatched)
        #expect(result.description == "<All keys matched successfully>")
        #expect(net.classes == ["cat", "dog", "bird"])
        #expect((net.encoder?.layers?.modules[0] as? Block)?.conv2?.label == "block0/conv2")
        #expect(try net.head?.weight?.scalars(as: Float.self) == det([2, 4], 5).scalars(as: Float.self))
        #expect(net.head?.weight?.isParameter == true)
    }

    @Test("a buffer that is nil until epoch 350 is saved once assigned and restored with no shape declared")
    func lateTensor() throws {
        let net = Net()
        net.late = try Tensor(scalars: [Float(1.5), -2.0, 0.25], shape: [3])
        let out = try temporary("net_epoch350.pth")
        try Checkpoint.save(.dict(try net.stateDict()), to: out)
        let same = try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("modules/net_epoch350.pth")))
        #expect(same)
        let fresh = Net()
        #expect(fresh.late == nil)
        try fresh.loadStateDict(try stateDict("net_epoch350.pth"))
        #expect(try fresh.late?.scalars(as: Float.self) == [1.5, -2.0, 0.25])
    }

    @Test("an old checkpoint without _extra_state loads through a pre-hook that inserts defaults")
    func oldCheckpoint() throws {
        let old = try stateDict("net_old.pth")
        #expect(throws: StateDictError.self) { try Net().loadStateDict(old) }
        let net = Net()
        func addDefault(_ module: Module, _ context: inout LoadStateDictContext) {
            let key = context.prefix + "_extra_state"
            if context.stateDict[key] == nil, let stateful = module as? any ExtraState {
                if let state = try? stateful.extraState() { context.stateDict[key] = state }
            }
        }
        net.registerLoadStateDictPreHook(addDefault)
        for case let block as Block in net.encoder?.layers?.modules ?? [] {
            block.conv1?.registerLoadStateDictPreHook(addDefault)
            block.conv2?.registerLoadStateDictPreHook(addDefault)
        }
        #expect(try net.loadStateDict(old).allMatched)
    }

    @Test("a pre-hook can rename keys")
    func renamingHook() throws {
        let sd = try stateDict("net.pth")
        let renamed = PyDict(kind: .orderedDict)
        for (k, v) in sd.items { renamed[(k.string ?? "").replacingOccurrences(of: "head.", with: "classifier.")] = v }
        let net = Net()
        net.registerLoadStateDictPreHook { _, context in
            for key in context.stateDict.keys.compactMap(\.string) where key.hasPrefix("classifier.") {
                if let v = context.stateDict.removeValue(forKey: key) {
                    context.stateDict[key.replacingOccurrences(of: "classifier.", with: "head.")] = v
                }
            }
        }
        #expect(try net.loadStateDict(renamed).allMatched)
    }

    /// load_state_dict's messages, from real PyTorch (fixtures/modules/messages.json).
    static let messageCases: [String] = {
        guard let m = try? Fixtures.json("modules/messages.json") as? [String: Any] else { return [] }
        return m.keys.sorted()
    }()

    @Test("mismatches give PyTorch's messages, line for line", arguments: messageCases)
    func messages(_ name: String) throws {
        let all = try #require(try Fixtures.json("modules/messages.json") as? [String: [String: Any]])
        let expected = try #require(all[name])
        let sd = try Net().stateDict()
        for case let edit as [Any] in expected["edits"] as? [Any] ?? [] {
            let op = edit[0] as? String, key = edit[1] as? String ?? ""
            switch op {
            case "drop": sd.removeValue(forKey: key)
            case "add":
                let shape = edit[2] as? [Int] ?? []
                sd[key] = .tensor(try Tensor(scalars: [Float](repeating: 0, count: shape.reduce(1, *)), shape: shape))
            case "reshape":
                let shape = edit[2] as? [Int] ?? []
                let dtype = sd[key]?.tensor?.dtype ?? .float32
                sd[key] = .tensor(try Tensor(bytes: [UInt8](repeating: 0, count: shape.reduce(1, *) * dtype.itemSize), dtype: dtype, shape: shape))
            case "set_int": sd[key] = .int(edit[2] as? Int ?? 0)
            default: break
            }
        }
        let net = Net()
        if name.hasPrefix("late_unexpected_without_hook") {
            // The PyTorch model has no hook there: a nil buffer that is not lazy.
            let plain = Net()
            plain.registerBuffer("placeholder", nil)
            return try check(PlainLate(), sd, name, expected)
        }
        try check(net, sd, name, expected)
    }

    func check(_ net: Module, _ sd: PyDict, _ name: String, _ expected: [String: Any]) throws {
        let strict = name.hasSuffix("/strict")
        do {
            let result = try net.loadStateDict(sd, strict: strict)
            #expect(result.description == expected["returned"] as? String, "\(name)")
        } catch let error as StateDictError {
            #expect(error.description == expected["raised"] as? String, "\(name)")
        }
    }
}

/// Net with a nil buffer that is not lazy: a checkpoint value for it is unexpected, as in PyTorch.
final class PlainLate: Module, ExtraState {
    @Child var encoder: Encoder? = Encoder()
    @Child var norm: RunningStats? = RunningStats(4)
    @Child var head: Linear? = Linear(weight: det([2, 4], 5), bias: det([2], 6))
    @Buffer(persistent: false) var mask: Tensor? = try! Tensor(scalars: [Float](repeating: 1, count: 4), shape: [4])
    @Buffer var late: Tensor?
    override var typeName: String { "Net" }
    func extraState() -> Value { .None }
    func setExtraState(_ state: Value) throws {}
}

import Foundation
import Testing
import TorchCheckpoint

// The code samples of the DocC articles in Sources/TorchCheckpoint/TorchCheckpoint.docc/,
// run on the fixtures, so that the documentation cannot rot.
//
// KEEP THE TWO IN SYNC: each test below names the article and section it
// mirrors, and holds that section's code as the article shows it. The only
// differences are the file names (an article's "model.pth" is a fixture
// path here, or a file in a scratch directory) and `print`, whose output
// the article shows in a comment and the test checks with #expect. A change
// to an article's code is a change to its test, and the other way round.

@Suite("Documentation examples")
struct DocumentationExamplesTests {
    // MARK: GettingStarted.md

    @Test("Getting started: open, read values and tensors, save, write back")
    func gettingStarted() throws {
        let scratch = try ScratchDirectory()

        // "Open a checkpoint"
        let checkpoint = try Checkpoint(path: Fixtures.path("training_checkpoint.ckpt"))
        #expect("\(checkpoint.format)" == "zip (prefix 'training_checkpoint', version 3, little-endian)")

        // "Read values and tensors"
        let epoch = checkpoint["epoch"]?.int
        #expect(epoch == 3)
        if let weight = checkpoint["model_state_dict"]?["embed.weight"]?.tensor {
            #expect("\(weight.dtype) \(weight.shape)" == "torch.float32 [10, 4]")
            let values: [Float] = try weight.scalars()
            #expect(values.count == 40)
        } else {
            Issue.record("no embed.weight")
        }

        // "Every tensor, with its path"
        var listed: [String] = []
        for (path, tensor) in checkpoint.tensors.prefix(2) {
            listed.append("\(path.displayPath) \(tensor.dtype) \(tensor.shape)")
        }
        #expect(listed == ["model_state_dict/embed.weight torch.float32 [10, 4]",
                           "model_state_dict/features.0.weight torch.float32 [4, 1, 3, 3]"])

        // "Save a state dict"
        let stateDict = PyDict(kind: .orderedDict)
        stateDict["fc.weight"] = .tensor(try Tensor(scalars: [Float](repeating: 0.5, count: 8), shape: [2, 4]))
        stateDict["fc.bias"] = .tensor(try Tensor(scalars: [Float(0), 0], shape: [2]))
        try Checkpoint.save(.dict(stateDict), to: scratch.path("model.pth"))

        // "Write a checkpoint back"
        try checkpoint.write(to: scratch.path("copy.ckpt"))

        let saved = try Checkpoint(path: scratch.path("model.pth"))
        #expect(try saved["fc.weight"]?.tensor?.scalars(as: Float.self) == [Float](repeating: 0.5, count: 8))
        let same = try Data(contentsOf: URL(fileURLWithPath: scratch.path("copy.ckpt")))
            == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("training_checkpoint.ckpt")))
        #expect(same)
    }

    // MARK: LoadingCheckpoints.md

    @Test("Loading: zero-copy storage bytes and streamed elements")
    func loadingZeroCopy() throws {
        // "Zero copy"
        let checkpoint = try Checkpoint(path: Fixtures.path("views.pth"))
        guard let base = checkpoint["base"]?.tensor else { Issue.record("no base"); return }
        let raw = try base.storageBytes()
        raw.withUnsafeBytes { bytes in
            #expect(bytes.count == 96)
        }
        var streamed = 0
        try base.forEachContiguousChunk { chunk in
            streamed += chunk.count
        }
        #expect(streamed == 96)

        // The borrowed bytes lie inside the mapped file, not in a copy.
        let mapped = try #require(checkpoint.archive?.file.bytes)
        raw.withUnsafeBytes { bytes in
            let start = bytes.baseAddress.map { UInt(bitPattern: $0) } ?? 0
            let fileStart = mapped.baseAddress.map { UInt(bitPattern: $0) } ?? 0
            #expect(start >= fileStart && start + UInt(bytes.count) <= fileStart + UInt(mapped.count))
        }
    }

    @Test("Loading: values mirror Python's objects")
    func loadingValues() throws {
        // "Values"
        let checkpoint = try Checkpoint(path: Fixtures.path("training_checkpoint.ckpt"))
        var keys: [String] = []
        if case .dict(let root) = checkpoint.root {
            for (key, value) in root.items {
                keys.append("\(key.string ?? "?"): \(value.typeName)")
            }
        }
        #expect(keys.prefix(3) == ["epoch: int", "model_state_dict: OrderedDict", "optimizer_state_dict: dict"])

        // Keys that are not strings: the optimizer's state is keyed by parameter index.
        let state = checkpoint["optimizer_state_dict"]?["state"]?.dict
        let exp = state?[.int(0)]?["exp_avg"]?.tensor
        #expect(exp?.shape == [10, 4])
        let groups = checkpoint["optimizer_state_dict"]?["param_groups"]?.items ?? []
        let lr = groups.first?["lr"]?.double
        #expect(lr != nil)
    }

    @Test("Loading: tensors, dtypes, views and shared storages")
    func loadingTensors() throws {
        // "Tensors and dtypes"
        let dtypes = try Checkpoint(path: Fixtures.path("dtypes.pth"))
        if let half = dtypes["bfloat16"]?.tensor {
            #expect(half.dtype == .bfloat16)
            #expect(half.dtype.itemSize == 2 && half.dtype.isFloatingPoint)
            let widened: [Float] = try half.scalars()     // bfloat16 widens to Float
            #expect(widened.count == half.elementCount)
            let asStored = try half.contiguousBytes(byteOrder: .little)
            #expect(asStored.count == half.byteCount)
        } else {
            Issue.record("no bfloat16")
        }

        // "Views"
        let views = try Checkpoint(path: Fixtures.path("views.pth"))
        if let step = views["step"]?.tensor, let base = views["base"]?.tensor {
            #expect(step.shape == [2, 3] && step.stride == [12, 2] && step.storageOffset == 1)
            #expect(!step.isContiguous)
            let all: [Float] = try base.scalars()
            let picked: [Float] = try step.scalars()     // the logical elements, row-major
            #expect(picked == [all[1], all[3], all[5], all[13], all[15], all[17]])
        } else {
            Issue.record("no step or base")
        }

        // "Shared storages"
        let a = views["tied_a"]?.tensor, b = views["tied_b"]?.tensor
        #expect(a === b)                                  // one tensor under two keys
        let head = views["shared_head"]?.tensor, tail = views["shared_tail"]?.tensor
        #expect(head?.storage === tail?.storage)          // two tensors on one storage
        #expect(views.storages.count < views.tensors.count)
    }

    @Test("Loading: options, limits and Python 2 strings")
    func loadingOptions() throws {
        // "Options and limits"
        var options = LoadOptions()
        options.unpickler.maxNestingDepth = 64
        options.unpickler.maxContainerSize = 100_000
        options.zip.maxEntryCount = 10_000
        let checkpoint = try Checkpoint(path: Fixtures.path("training_checkpoint.ckpt"), options: options)
        #expect(checkpoint["epoch"]?.int == 3)

        // "Python 2 strings"
        var latin1 = LoadOptions()
        latin1.unpickler.stringEncoding = .latin1         // torch.load(f, encoding="latin1")
        let old = try Checkpoint(path: Fixtures.path("legacy/python2_latin1.pth"), options: latin1)
        #expect(old["label"]?.string == "naïve à la carte")

        // Without it, the default UTF-8 refuses Latin-1 text, as torch.load does.
        #expect(throws: CheckpointError.self) { try Checkpoint(path: Fixtures.path("legacy/python2_latin1.pth")) }
    }

    // MARK: SavingCheckpoints.md

    @Test("Saving: Checkpoint.save and SaveOptions")
    func saving() throws {
        let scratch = try ScratchDirectory()

        // "Save a value"
        let weight = try Tensor(scalars: [Float](repeating: 0.5, count: 40), shape: [10, 4])
        let stateDict = PyDict(kind: .orderedDict)
        stateDict["fc.weight"] = .tensor(weight.asParameter())
        stateDict["fc.row0"] = .tensor(try weight.view(shape: [4], stride: [1], storageOffset: 0))
        stateDict["epoch"] = .int(3)
        try Checkpoint.save(.dict(stateDict), to: scratch.path("model.pth"))

        // "Options"
        var options = SaveOptions()
        options.protocolVersion = 4                        // torch.save(..., pickle_protocol=4)
        try Checkpoint.save(.dict(stateDict), to: scratch.path("model-p4.pth"), options: options)

        var bigEndian = SaveOptions()
        bigEndian.byteOrder = .big                         // as torch.save writes on s390x
        try Checkpoint.save(.dict(stateDict), to: scratch.path("model-be.pth"), options: bigEndian)

        var legacy = SaveOptions()
        legacy.format = .legacy                            // _use_new_zipfile_serialization=False
        try Checkpoint.save(.dict(stateDict), to: scratch.path("model-legacy.pth"), options: legacy)

        let saved = try Checkpoint(path: scratch.path("model.pth"))
        #expect(saved.storages.count == 1)                 // the view shares fc.weight's storage
        #expect(saved["fc.weight"]?.tensor?.isParameter == true)
        #expect(try Checkpoint(path: scratch.path("model-p4.pth")).pickleProtocol == 4)
        let be = try Checkpoint(path: scratch.path("model-be.pth"))
        #expect(be.storages.allSatisfy { $0.byteOrder == .big })
        #expect(try be["fc.row0"]?.tensor?.scalars(as: Float.self) == [0.5, 0.5, 0.5, 0.5])
        if case .legacy = try Checkpoint(path: scratch.path("model-legacy.pth")).format {} else {
            Issue.record("not legacy")
        }
    }

    @Test("Saving: byte identity with torch.save, write back, atomic writes")
    func savingIdentity() throws {
        let scratch = try ScratchDirectory()

        // "Byte for byte what torch.save writes"
        let loaded = try Checkpoint(path: Fixtures.path("state_dict.pth"))
        try Checkpoint.save(loaded.root, to: scratch.path("state_dict.pth"))
        let resaved = try Data(contentsOf: URL(fileURLWithPath: scratch.path("state_dict.pth")))
            == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("state_dict.pth")))
        #expect(resaved)

        // "Write back"
        try loaded.write(to: scratch.path("copy.pth"))
        let copied = try Data(contentsOf: URL(fileURLWithPath: scratch.path("copy.pth")))
            == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("state_dict.pth")))
        #expect(copied)
        let tar = try Checkpoint(path: Fixtures.path("tar/state_dict_0_1.pt"))
        #expect(tar.writeBackLimitation?.hasPrefix("the tar format of PyTorch 0.1 is read only") == true)

        // "Atomic writes"
        try Data("previous".utf8).write(to: URL(fileURLWithPath: scratch.path("ids.pth")))
        let ids = PyDict()
        ids["ids"] = .tensor(try Tensor(scalars: [UInt16(1), 2, 3], shape: [3]))
        var options = SaveOptions()
        options.byteOrder = .big
        do {
            try Checkpoint.save(.dict(ids), to: scratch.path("ids.pth"), options: options)
            Issue.record("a big-endian uint16 storage was saved")
        } catch {
            guard case .cannotWrite = error else { Issue.record("\(error)"); return }
        }
        #expect(try String(contentsOfFile: scratch.path("ids.pth"), encoding: .utf8) == "previous")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).sorted()
                == ["copy.pth", "ids.pth", "state_dict.pth"])
    }

    // MARK: ModulesAndStateDicts.md

    /// `nn.Linear`.
    final class Linear: Module {
        @Parameter var weight: Tensor?
        @Parameter var bias: Tensor?

        init(_ inFeatures: Int, _ outFeatures: Int, hasBias: Bool = true) throws {
            super.init()
            weight = try zeros([outFeatures, inFeatures]).asParameter()
            bias = hasBias ? try zeros([outFeatures]).asParameter() : nil
        }
    }

    /// `nn.Conv2d`.
    final class Conv2d: Module {
        @Parameter var weight: Tensor?
        @Parameter var bias: Tensor?

        init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int) throws {
            super.init()
            weight = try zeros([outChannels, inChannels, kernelSize, kernelSize]).asParameter()
            bias = try zeros([outChannels]).asParameter()
        }
    }

    /// `nn.BatchNorm2d`: parameters, running statistics as buffers, version 2.
    final class BatchNorm2d: Module {
        override class var version: Int { 2 }
        @Parameter var weight: Tensor?
        @Parameter var bias: Tensor?
        @Buffer(name: "running_mean") var runningMean: Tensor?
        @Buffer(name: "running_var") var runningVar: Tensor?
        @Buffer(name: "num_batches_tracked") var numBatchesTracked: Tensor?

        init(_ features: Int) throws {
            super.init()
            weight = try zeros([features]).asParameter()
            bias = try zeros([features]).asParameter()
            runningMean = try zeros([features])
            runningVar = try zeros([features])
            numBatchesTracked = try Tensor(scalars: [Int64(0)], shape: [])
        }
    }

    /// `nn.LayerNorm` and `nn.Embedding` hold what they hold under the same names.
    final class LayerNorm: Module {
        @Parameter var weight: Tensor?
        @Parameter var bias: Tensor?

        init(_ features: Int) throws {
            super.init()
            weight = try zeros([features]).asParameter()
            bias = try zeros([features]).asParameter()
        }
    }

    final class Embedding: Module {
        @Parameter var weight: Tensor?

        init(_ count: Int, _ dimension: Int) throws {
            super.init()
            weight = try zeros([count, dimension]).asParameter()
        }
    }

    /// `nn.ReLU`: no state, but a `_metadata` entry.
    final class ReLU: Module {}

    /// The model of fixtures/state_dict.pth (tools/make_fixtures.py).
    final class Net: Module {
        @Child var embed: Embedding?
        @Child var features: ModuleList?
        @Child var block: ModuleDict?
        @Child var classifier: Linear?

        init(classes: Int = 3) throws {
            super.init()
            embed = try Embedding(10, 4)
            features = try ModuleList([Conv2d(1, 4, kernelSize: 3), BatchNorm2d(4), ReLU()])
            block = try ModuleDict([("norm", LayerNorm(4)), ("proj", Linear(4, 4, hasBias: false))])
            classifier = try Linear(4, classes)
        }
    }

    /// A module that keeps plain Swift values through its extra state.
    final class Classifier: Module, ExtraState {
        @Parameter var weight: Tensor?
        var labels: [String]

        init(labels: [String]) throws {
            self.labels = labels
            super.init()
            weight = try zeros([labels.count, 4]).asParameter()
        }

        func extraState() -> Value {
            let state = PyDict()
            state.set(Value(labels), forInternedKey: "labels")
            return .dict(state)
        }

        func setExtraState(_ state: Value) throws {
            labels = state["labels"]?.strings ?? labels
        }
    }

    @Test("Modules: load PyTorch's state dict strictly, save one as torch.save does")
    func modules() throws {
        let scratch = try ScratchDirectory()

        // "Load a state dict"
        let model = try Net()
        let checkpoint = try Checkpoint(path: Fixtures.path("state_dict.pth"))
        guard let stateDict = checkpoint.root.dict else { Issue.record("root is no dict"); return }
        let result = try model.loadStateDict(stateDict)
        #expect("\(result)" == "<All keys matched successfully>")
        #expect(model.namedParameters().count == 10)
        #expect(model.namedBuffers().map(\.name) == ["features.1.running_mean", "features.1.running_var",
                                                     "features.1.num_batches_tracked"])
        #expect(try model.classifier?.weight?.scalars(as: Float.self)
                == stateDict["classifier.weight"]?.tensor?.scalars(as: Float.self))

        // "Save a state dict"
        try Checkpoint.save(.dict(try model.stateDict()), to: scratch.path("state_dict.pth"))
        let same = try Data(contentsOf: URL(fileURLWithPath: scratch.path("state_dict.pth")))
            == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("state_dict.pth")))
        #expect(same)
    }

    @Test("Modules: strict and non-strict loading, extra state, pre-hooks")
    func modulesStrictness() throws {
        let scratch = try ScratchDirectory()
        let checkpoint = try Checkpoint(path: Fixtures.path("state_dict.pth"))
        guard let stateDict = checkpoint.root.dict else { Issue.record("root is no dict"); return }

        // "Strict and non-strict"
        let partial = stateDict.copy()
        _ = partial.removeValue(forKey: "classifier.bias")
        partial["head.weight"] = partial["classifier.weight"]
        do {
            try Net().loadStateDict(partial)
            Issue.record("loaded strictly")
        } catch let error as StateDictError {
            #expect(error.description == """
                Error(s) in loading state_dict for Net:
                \tMissing key(s) in state_dict: "classifier.bias". 
                \tUnexpected key(s) in state_dict: "head.weight". 
                """)
        }
        let keys = try Net().loadStateDict(partial, strict: false)
        #expect(keys.missingKeys == ["classifier.bias"])
        #expect(keys.unexpectedKeys == ["head.weight"])

        // "Extra state"
        let classifier = try Classifier(labels: ["cat", "dog", "bird"])
        try Checkpoint.save(.dict(try classifier.stateDict()), to: scratch.path("classifier.pth"))
        let restored = try Classifier(labels: ["?", "?", "?"])
        try restored.load(from: scratch.path("classifier.pth"))
        #expect(restored.labels == ["cat", "dog", "bird"])

        // "Load pre-hooks"
        // A checkpoint of the older model: the same weights, under fc.* for classifier.*.
        let renamed = stateDict.copy()
        for key in ["classifier.weight", "classifier.bias"] {
            renamed["fc" + key.dropFirst("classifier".count)] = renamed.removeValue(forKey: key)
        }
        let model = try Net()
        model.registerLoadStateDictPreHook { _, context in
            // Checkpoints of an older version of the model called the classifier `fc`.
            for suffix in ["weight", "bias"] {
                if let value = context.stateDict.removeValue(forKey: context.prefix + "fc." + suffix) {
                    context.stateDict[context.prefix + "classifier." + suffix] = value
                }
            }
        }
        #expect("\(try model.loadStateDict(renamed))" == "<All keys matched successfully>")
    }

    // MARK: CheckpointFormats.md

    @Test("Formats: detected by content; legacy, tar, TorchScript")
    func formats() throws {
        let scratch = try ScratchDirectory()

        // "Recognised by content"
        var described: [String] = []
        for name in ["state_dict.pth", "legacy/state_dict.pth", "tar/state_dict_0_1.pt", "torchscript/scripted.pt"] {
            let checkpoint = try Checkpoint(path: Fixtures.path(name))
            switch checkpoint.format {
            case .zip(let prefix, _, let byteOrder, let isTorchScript):
                described.append("zip \(prefix) \(byteOrder) \(isTorchScript ? "TorchScript" : "torch.save")")
            case .legacy:
                described.append("legacy")
            case .tar:
                described.append("tar")
            default:
                described.append("\(checkpoint.format)")
            }
        }
        #expect(described == ["zip state_dict little torch.save", "legacy", "tar", "zip scripted little TorchScript"])

        // "Legacy files"
        let legacy = try Checkpoint(path: Fixtures.path("legacy/state_dict.pth"))
        try legacy.write(to: scratch.path("legacy.pth"))
        let sameLegacy = try Data(contentsOf: URL(fileURLWithPath: scratch.path("legacy.pth")))
            == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("legacy/state_dict.pth")))
        #expect(sameLegacy)

        // "Tar files of PyTorch 0.1"
        let tar = try Checkpoint(path: Fixtures.path("tar/state_dict_0_1.pt"))
        #expect(tar["fc.weight"]?.tensor != nil)
        #expect(tar.writeBackLimitation?.contains("read only") == true)
        try Checkpoint.save(tar.root, to: scratch.path("from_tar.pth"))

        // "TorchScript archives"
        let scripted = try Checkpoint(path: Fixtures.path("torchscript/scripted.pt"))
        if let archive = scripted.torchScript {
            #expect(archive.stateDict.first.map { "\($0.name) \($0.tensor.shape)" } == "bias [2]")
            #expect(archive["layers.1.running_mean"]?.dtype == .float32)
            #expect(archive.module.submodule("layers.1") != nil)
        } else {
            Issue.record("no TorchScript archive")
        }
        try scripted.write(to: scratch.path("scripted.pt"))
        let sameScript = try Data(contentsOf: URL(fileURLWithPath: scratch.path("scripted.pt")))
            == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("torchscript/scripted.pt")))
        #expect(sameScript)
    }

    @Test("Formats: big-endian files, re-zipped archives, safetensors")
    func formatsLayouts() throws {
        let scratch = try ScratchDirectory()

        // "Big-endian files"
        let big = try Checkpoint(path: Fixtures.path("big_endian/state_dict.pth"))
        let little = try Checkpoint(path: Fixtures.path("big_endian/little/state_dict.pth"))
        if let b = big["head.weight"]?.tensor, let l = little["head.weight"]?.tensor {
            #expect(b.storage?.byteOrder == .big)
            #expect(try b.scalars(as: Float.self) == l.scalars(as: Float.self))   // converted on access
            #expect(try b.storageBytes().array != l.storageBytes().array)         // raw bytes as stored
        } else {
            Issue.record("no head.weight")
        }

        // "Re-zipped archives"
        let rezipped = try Checkpoint(path: Fixtures.path("rezipped/deflated.pth"))
        #expect(rezipped.archive?.entries.allSatisfy { !$0.isStored } == true)
        try rezipped.write(to: scratch.path("source.pth"))
        let pyTorchLayout = try Checkpoint(path: scratch.path("source.pth"))
        #expect(pyTorchLayout.archive?.entries.allSatisfy { $0.isStored && $0.dataOffset % 64 == 0 || $0.uncompressedSize == 0 } == true)
        let sameAsSource = try Data(contentsOf: URL(fileURLWithPath: scratch.path("source.pth")))
            == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("rezipped/source.pth")))
        #expect(sameAsSource)

        // "Safetensors"
        let file = try SafetensorsFile(path: Fixtures.path("safetensors/names.safetensors"))
        var names: [String] = []
        for (name, tensor) in file.tensors {
            names.append(name)
            #expect(tensor.storage != nil)
        }
        #expect(!names.isEmpty)
        let checkpoint = try Checkpoint(path: Fixtures.path("state_dict.pth"))
        let writer = try SafetensorsWriter(tensors: checkpoint.tensors.map { ($0.path.displayPath, $0.tensor) },
                                           metadata: [("format", "pt")])
        try writer.write(to: scratch.path("state_dict.safetensors"))
        let back = try SafetensorsFile(path: scratch.path("state_dict.safetensors"))
        #expect(back.tensors.count == 13)
        #expect(back.metadata?.first?.value == "pt")
    }

    // MARK: Safety.md

    @Test("Safety: opaque objects, limits, typed errors, verification")
    func safety() throws {
        // "Nothing is executed"
        let values = try Checkpoint(path: Fixtures.path("values.pth"))
        if case .object(let record)? = values["opaque"] {
            #expect(record.className == "fixture_classes.OpaqueRecord")
            #expect(record.attribute("name")?.string == "opaque")
        } else {
            Issue.record("no opaque object")
        }
        let whole = try Checkpoint(path: Fixtures.path("legacy/whole_model.pth"))
        if case .object(let model)? = whole["model"] {
            #expect(model.className == "torch.nn.modules.container.Sequential")
        } else {
            Issue.record("no model")
        }

        // "Every call the pickle makes"
        let hostile = try Checkpoint(path: Fixtures.path("hostile/popped_call.pth"))
        #expect(hostile.root.dict?.count == 0)
        let call = try #require(hostile.unsafeCalls.first)
        #expect(call.offset == 26 && call.opcode == .reduce && call.leftBehind == .nowhere)
        #expect(PickleCallDescription.text(of: call.object) == "os.system('echo pwned')")
        #expect(hostile.unsafeGlobals == ["os.system"])

        // "Limits"
        var options = LoadOptions()
        options.unpickler.maxNestingDepth = 2
        do {
            _ = try Checkpoint(path: Fixtures.path("training_checkpoint.ckpt"), options: options)
            Issue.record("the limit did not hold")
        } catch {
            // "Typed errors"
            switch error {
            case .pickle(_, let record, let pickleError):
                #expect(record.hasSuffix("data.pkl"))
                #expect(pickleError.code == .limitExceeded)
                #expect(pickleError.offset > 0)
            default:
                Issue.record("\(error)")
            }
        }

        // "Verification"
        let report = Verification.verify(path: Fixtures.path("proto2.pth"))
        #expect(report.isIntact)
        #expect(!report.weightsOnlyAccepts)
        #expect(report.unsafeGlobals == ["builtins.frozenset"])
        #expect(Verification.verify(path: Fixtures.path("state_dict.pth")).weightsOnlyAccepts)
    }
}

/// A float32 tensor of zeros (the modules of ModulesAndStateDicts.md start from these).
private func zeros(_ shape: [Int]) throws -> Tensor {
    try Tensor(scalars: [Float](repeating: 0, count: shape.reduce(1, *)), shape: shape)
}

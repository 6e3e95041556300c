import Foundation
import Testing
import TorchCheckpoint

/// Hostile and damaged checkpoints that span many files (fixtures/hostile/multifile/, from
/// tools/make_multifile_hostile.py: valid sets written by torch, then edited; its
/// expectations.json says what each edit was and what torch does with it). Each ends in a
/// typed error that names the file and key at fault - never a crash, never an allocation of
/// what the metadata merely claims - and a failed conversion leaves no file behind.
@Suite("Hostile multi-file checkpoints: typed errors, never a crash")
struct HostileManyFilesTests {
    static func path(_ name: String) -> String { Fixtures.path("hostile/multifile/\(name)") }

    /// The error `body` ends in; nil when it succeeds.
    static func failure<T>(_ body: () throws(CheckpointError) -> T) -> CheckpointError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }

    /// Converts `checkpoint` to a .pth in a fresh scratch directory; the error it ends in
    /// (nil when it succeeds), after checking that a failure left the directory empty.
    static func conversionFailure(_ checkpoint: Checkpoint, sourceLocation: SourceLocation = #_sourceLocation) throws -> CheckpointError? {
        let scratch = try ScratchDirectory()
        let error = failure { () throws(CheckpointError) in try Checkpoint.save(checkpoint.root, to: scratch.path("out.pth")) }
        if error != nil {
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty,
                    "a failed conversion left a file behind", sourceLocation: sourceLocation)
        }
        return error
    }

    /// Expects `.damagedSet` naming `file` and `key`, with `words` in its reason.
    static func expectDamagedSet(_ error: CheckpointError?, set: String, file: String, key: String, _ words: String,
                                 sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .damagedSet(let path, let f, let k, let reason)? = error else {
            Issue.record("expected damagedSet naming \(file) and '\(key)', got \(error.map { "\($0)" } ?? "success")",
                         sourceLocation: sourceLocation)
            return
        }
        #expect(path == set, sourceLocation: sourceLocation)
        #expect(f == file && k == key, "\(error!)", sourceLocation: sourceLocation)
        #expect(reason.contains(words), "\(error!)", sourceLocation: sourceLocation)
        #expect("\(error!)".contains(file) && "\(error!)".contains("'\(key)'"), "the message names file and key: \(error!)",
                sourceLocation: sourceLocation)
    }

    /// Expects a verification report that is not intact and names `key` (and `file`, when given).
    static func expectVerifyNames(_ set: String, key: String, file: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        let report = Verification.verify(path: set)
        let intact = report.isIntact
        #expect(!intact, "verify found \(set) intact", sourceLocation: sourceLocation)
        #expect(report.problems.contains { $0.contains("'\(key)'") && (file == nil || $0.contains(file!)) },
                "\(report.problems)", sourceLocation: sourceLocation)
    }

    // MARK: DCP: refused when .metadata is read

    @Test("a shape whose element count overflows is refused when .metadata is read, naming the key")
    func overflowingShape() {
        let set = Self.path("A_overflow")
        let error = Self.failure { () throws(CheckpointError) in try Checkpoint(path: set) }
        Self.expectDamagedSet(error, set: set, file: ".metadata", key: "bad", "more float32 elements than this machine can address")
        Self.expectDamagedSet(Self.failure { () throws(CheckpointError) in try DistributedCheckpoint(directory: set) },
                              set: set, file: ".metadata", key: "bad", "[4611686018427387904, 4, 0]")
        Self.expectVerifyNames(set, key: "bad")
    }

    @Test("a planner_data list index of 2^24-1 is refused when .metadata is read, naming the key: no list is padded to 16 million items")
    func listPaddingBomb() {
        let set = Self.path("C_pad")
        let error = Self.failure { () throws(CheckpointError) in try Checkpoint(path: set) }
        Self.expectDamagedSet(error, set: set, file: ".metadata", key: "L0", "its planner_data holds 16777215, not a str or a list index")
        Self.expectVerifyNames(set, key: "L0")
    }

    // MARK: DCP: open lazily, refused when the bytes are read

    @Test("a 4 TiB tensor in two chunks whose bytes hold 3 elements opens, and fails when read, naming file and key, before 4 TiB is asked for; no output is left")
    func hugeTensorInBogusChunks() throws {
        let set = Self.path("B_huge_alloc")
        let checkpoint = try Checkpoint(path: set)
        #expect(checkpoint.root.dict?["huge"]?.tensor?.shape == [1 << 40])
        let error = try Self.conversionFailure(checkpoint)
        Self.expectDamagedSet(error, set: set, file: "__0_0.distcp", key: "huge",
                              "holds a float32 tensor of shape [3], not float32 of shape [549755813888]")
        // Reading the tensor's storage on its own fails the same way.
        let storage = try #require(try DistributedCheckpoint(directory: set).tensor("huge").storage)
        do {
            _ = try storage.bytes()
            Issue.record("read 4 TiB")
        } catch {
            Self.expectDamagedSet(error as? CheckpointError, set: set, file: "__0_0.distcp", key: "huge", "shape [3]")
        }
        // Verify checks that each chunk's archive holds the chunk, not only that it is whole.
        Self.expectVerifyNames(set, key: "huge", file: "__0_0.distcp")
    }

    @Test("a zstd frame that declares 2^39 bytes for a 1 TiB tensor opens, and fails when read, naming file and key, reserving nothing; no output is left")
    func zstdFrameDeclaringHalfATebibyte() throws {
        let set = Self.path("G_zstd_reserve")
        let checkpoint = try Checkpoint(path: set)
        #expect(checkpoint.root.dict?["z"]?.tensor?.shape == [1 << 38])
        let error = try Self.conversionFailure(checkpoint)
        Self.expectDamagedSet(error, set: set, file: "z.distcp", key: "z", "zstd")
        Self.expectVerifyNames(set, key: "z", file: "z.distcp")
    }

    @Test("storage lengths of 2^62+1 fail when the objects are read (opening a Checkpoint reads them), naming file and key; verify names each")
    func lengthsPastTheFile() throws {
        let set = Self.path("I_verify_len")
        let error = Self.failure { () throws(CheckpointError) in try Checkpoint(path: set) }
        Self.expectDamagedSet(error, set: set, file: "__0_0.distcp", key: "step", "(the file is truncated)")
        // The metadata itself is consistent: the set opens, its tensor reads, its objects do not.
        let dcp = try DistributedCheckpoint(directory: set)
        #expect(try dcp.tensor("model.w").scalars(as: Float.self) == [0.5, -1.0, 2.0])
        Self.expectDamagedSet(Self.failure { () throws(CheckpointError) in try dcp.object("tag") },
                              set: set, file: "__0_0.distcp", key: "tag", "4611686018427389166")
        Self.expectVerifyNames(set, key: "step", file: "__0_0.distcp")
        Self.expectVerifyNames(set, key: "tag", file: "__0_0.distcp")
    }

    @Test("a relative_path of '.' (the directory itself) is refused when .metadata is read, naming the key")
    func relativePathDot() throws {
        let set = Self.path("F_dot")
        let error = Self.failure { () throws(CheckpointError) in try Checkpoint(path: set) }
        Self.expectDamagedSet(error, set: set, file: ".metadata", key: "model.w", "names a directory, not a file")
        Self.expectVerifyNames(set, key: "model.w")
    }

    @Test("a relative_path that is a symbolic link out of the directory fails when read, naming file and key; no output is left; a link inside is followed")
    func relativePathThroughSymbolicLink() throws {
        // As committed, escape.distcp is absent: reading says so.
        let committed = try Checkpoint(path: Self.path("F_symlink"))
        Self.expectDamagedSet(try Self.conversionFailure(committed), set: Self.path("F_symlink"), file: "escape.distcp",
                              key: "model.w", "cannot open the file")

        let scratch = try ScratchDirectory()
        let set = scratch.path("set")
        try FileManager.default.copyItem(atPath: Self.path("F_symlink"), toPath: set)
        try FileManager.default.copyItem(atPath: Self.path("F_symlink/__0_0.distcp"), toPath: scratch.path("outside.distcp"))
        try FileManager.default.createSymbolicLink(atPath: set + "/escape.distcp", withDestinationPath: "../outside.distcp")
        let checkpoint = try Checkpoint(path: set)
        let error = try Self.conversionFailure(checkpoint)
        Self.expectDamagedSet(error, set: set, file: "escape.distcp", key: "model.w", "outside the checkpoint's directory")
        Self.expectVerifyNames(set, key: "model.w", file: "escape.distcp")

        // The same link pointing at the set's own file is no escape: torch reads it, and so do we.
        try FileManager.default.removeItem(atPath: set + "/escape.distcp")
        try FileManager.default.createSymbolicLink(atPath: set + "/escape.distcp", withDestinationPath: "__0_0.distcp")
        let inside = try DistributedCheckpoint(directory: set)
        #expect(try inside.tensor("model.w").scalars(as: Float.self) == [0.5, -1.0, 2.0])
    }

    // MARK: DCP: valid, and read right

    @Test("a DCP whose objects hold numpy arrays, a numpy scalar and a RandomState converts to dcp_to_torch_save's bytes")
    func numpyObjectsConvertByteForByte() throws {
        let scratch = try ScratchDirectory()
        let out = scratch.path("N_np.pth")   // the same file name as torch's, so the same zip prefix
        try Checkpoint.save(try Checkpoint(path: Self.path("N_np")).root, to: out)
        let ours = try Data(contentsOf: URL(fileURLWithPath: out))
        let torch = try Data(contentsOf: URL(fileURLWithPath: Self.path("N_np.pth")))
        #expect(ours == torch, "\(ours.count) bytes, torch's \(torch.count)")
    }

    @Test("a tensor in 64 one-element chunks is assembled as torch assembles it")
    func manyChunksAssembled() throws {
        let dcp = try DistributedCheckpoint(directory: Self.path("E_many"))
        guard case .tensor(let item)? = dcp.metadata.item("many")?.kind else { Issue.record("no tensor 'many'"); return }
        #expect(item.chunks.count == 64)
        // What dcp_to_torch_save made of it (expectations.json): 1.0 2.0 1.0 2.0 ...
        let cases = try #require((try Fixtures.json("hostile/multifile/expectations.json") as? [String: Any])?["cases"] as? [[String: Any]])
        let torch = cases.first { $0["name"] as? String == "E_many" }?["torch"] as? [String: Any]
        let loaded = (torch?["dcp_to_torch_save"] as? [String: Any])?["loaded"] as? [String: Any]
        let text = try #require((loaded?["many"] as? [String: Any])?["values_text"] as? String)
        #expect(try dcp.tensor("many").scalars(as: Float.self) == text.split(separator: " ").compactMap { Float(String($0)) })
        #expect(text.split(separator: " ").count == 64)
    }

    @Test("a DCP whose one tensor comes in 20,000 chunks opens and lists (its overlap check is not quadratic)")
    func twentyThousandChunks() throws {
        let count = 20_000
        let scratch = try ScratchDirectory()
        let set = try Self.writeManyChunkSet(count: count, in: scratch)
        let checkpoint = try Checkpoint(path: set)
        guard case .tensor(let item)? = checkpoint.distributed?.metadata.item("many")?.kind else {
            Issue.record("no tensor 'many'")
            return
        }
        #expect(item.chunks.count == count && item.shape == [count])
        let listing = try #require(try checkpoint.listingJSON(digests: false) as? [[String: Any]])
        #expect(listing.count == 1)
        #expect(listing.first?["path"] as? [String] == ["many"])
        #expect((listing.first?["tensor"] as? [String: Any])?["shape"] as? [Int] == [count], "\(listing)")
    }

    /// E_many's form with `count` chunks (chunk i holding 1.0 for even i, 2.0 for odd i,
    /// from E_many's __0_0.distcp): its .metadata written as FileSystemWriter pickles it.
    static func writeManyChunkSet(count: Int, in scratch: ScratchDirectory) throws -> String {
        let source = try DistributedCheckpoint(directory: path("E_many"))
        guard case .tensor(let item)? = source.metadata.item("many")?.kind,
              let even = source.metadata.location(of: item.chunks[0], in: "many"),
              let odd = source.metadata.location(of: item.chunks[1], in: "many") else {
            throw CheckpointError.damagedSet(path: path("E_many"), file: nil, key: "many", reason: "not the fixture's form")
        }
        let module = "torch.distributed.checkpoint.metadata"
        func object(_ name: String, in module: String = module, state: PyDict?) -> Value {
            let o = PyObject(callable: .global(PyGlobal(module: module, name: name)), construction: .newObject, arguments: [])
            o.state = state.map { .dict($0) }
            return .object(o)
        }
        func size(_ dims: [Int]) -> Value { .tuple(PyTuple(dims.map { .int($0) }, kind: .torchSize)) }
        let memoryFormat = PyObject(callable: .global(PyGlobal(module: module, name: "_MEM_FORMAT_ENCODING")),
                                    construction: .reduce, arguments: [.int(0)])
        let properties = PyObject(callable: .global(PyGlobal(module: module, name: "TensorProperties")),
                                  construction: .newObject, arguments: [])
        properties.state = .tuple(PyTuple([.dtype(.float32), .global(PyGlobal(module: "torch", name: "strided")), .bool(false),
                                           .object(memoryFormat), .bool(false), .tuple(PyTuple([.int(1)]))]))
        var chunks: [Value] = []
        let storageData = PyDict()
        for i in 0..<count {
            let chunk = PyDict()
            chunk.set(size([i]), forInternedKey: "offsets")
            chunk.set(size([1]), forInternedKey: "sizes")
            chunks.append(object("ChunkStorageMetadata", state: chunk))
            let index = PyDict()
            index.set(.string("many"), forInternedKey: "fqn")
            index.set(size([i]), forInternedKey: "offset")
            index.set(.int(i), forInternedKey: "index")
            let location = i % 2 == 0 ? even : odd
            let info = PyDict()
            info.set(.string(location.relativePath), forInternedKey: "relative_path")
            info.set(.int(location.offset), forInternedKey: "offset")
            info.set(.int(location.length), forInternedKey: "length")
            try storageData.set(object("_StorageInfo", in: "torch.distributed.checkpoint.filesystem", state: info),
                                for: object("MetadataIndex", state: index))
        }
        let tensor = PyDict()
        tensor.set(.object(properties), forInternedKey: "properties")
        tensor.set(size([count]), forInternedKey: "size")
        tensor.set(.list(PyList(chunks)), forInternedKey: "chunks")
        let stateDictMetadata = PyDict()
        stateDictMetadata["many"] = object("TensorStorageMetadata", state: tensor)
        let plannerData = PyDict()
        plannerData["many"] = .tuple(PyTuple([.string("many")]))
        let state = PyDict()
        state.set(.dict(stateDictMetadata), forInternedKey: "state_dict_metadata")
        state.set(.dict(plannerData), forInternedKey: "planner_data")
        state.set(.dict(storageData), forInternedKey: "storage_data")
        state.set(.string("1.0.0"), forInternedKey: "version")
        let bytes = try PickleEncoder(protocolVersion: 4).encode(object("Metadata", state: state))

        let set = scratch.path("many")
        try FileManager.default.createDirectory(atPath: set, withIntermediateDirectories: false)
        try Data(bytes).write(to: URL(fileURLWithPath: set + "/.metadata"))
        try FileManager.default.copyItem(atPath: path("E_many/__0_0.distcp"), toPath: set + "/" + even.relativePath)
        return set
    }

    // MARK: Hugging Face sharded sets

    @Test("a sharded index that names '.' or itself as a shard is refused on opening, naming the index and the key",
          arguments: [("S_dot", "."), ("S_self", "pytorch_model.bin.index.json")])
    func indexNamesNoShard(_ name: String, _ shard: String) {
        let index = Self.path("\(name)/pytorch_model.bin.index.json")
        for opened in [Self.path(name), index] {
            let error = Self.failure { () throws(CheckpointError) in try Checkpoint(path: opened) }
            Self.expectDamagedSet(error, set: index, file: "pytorch_model.bin.index.json", key: "a",
                                  shard == "." ? "names a directory, not a file" : "weight_map names '\(shard)' as its shard, which is no shard file")
        }
        Self.expectVerifyNames(Self.path(name), key: "a", file: "pytorch_model.bin.index.json")
    }

    // MARK: torch.export archives

    @Test("a .pt2 view whose storage offset is 2^63-1, or whose sizes and strides overflow, is refused on opening, naming the config record and the weight",
          arguments: [("H_offset.pt2", "lin.bias", "has storage offset 9223372036854775807"),
                      ("H_strides.pt2", "lin.weight", "past any storage")])
    func exportViewPastAnyStorage(_ name: String, _ weight: String, _ words: String) {
        let archive = Self.path(name)
        let error = Self.failure { () throws(CheckpointError) in try Checkpoint(path: archive) }
        guard case .invalidRecord(let path, let record, let reason)? = error else {
            Issue.record("expected invalidRecord, got \(error.map { "\($0)" } ?? "success")")
            return
        }
        #expect(path == archive && record == "model/data/weights/model_weights_config.json")
        #expect(reason.contains("'\(weight)'") && reason.contains(words), "\(error!)")
        let report = Verification.verify(path: archive)
        let intact = report.isIntact
        #expect(!intact)
        #expect(report.problems.contains { $0.contains("'\(weight)'") }, "\(report.problems)")
    }

    @Test("an empty .pt2 record standing for 1 PiB of zeros opens without allocating, and fails when read, naming the weight; no output is left")
    func exportZerosPastMemory() throws {
        let archive = Self.path("H_zeros.pt2")
        let checkpoint = try Checkpoint(path: archive)
        #expect(checkpoint.root.dict?["lin.weight"]?.tensor?.shape == [1 << 24, 1 << 24])
        let error = try Self.conversionFailure(checkpoint)
        guard case .cannotWrite(_, let reason)? = error else {
            Issue.record("expected cannotWrite, got \(error.map { "\($0)" } ?? "success")")
            return
        }
        #expect(reason.contains("'lin.weight'") && reason.contains("1125899906842624"), "\(error!)")
        // The archive itself is whole: an empty record is how torch.export.load is told to make zeros.
        #expect(Verification.verify(path: archive).isIntact)
    }
}

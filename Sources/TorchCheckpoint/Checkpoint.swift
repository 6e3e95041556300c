/// A PyTorch checkpoint opened from a file: the object `torch.load` would
/// return, with every tensor viewing storages that are read in place.
///
/// ```swift
/// let checkpoint = try Checkpoint(path: "model.pth")
/// let weight = checkpoint["model_state_dict"]?["fc.weight"]?.tensor
/// let values: [Float] = try weight!.scalars()
/// ```
///
/// Opening maps the file and reads the pickle; no tensor data is read or
/// copied until asked for, and then only the pages that hold it. Nothing in
/// the file is ever executed.
public final class Checkpoint: Sendable {
    /// The path the checkpoint was read from.
    public let path: String
    /// The object the file holds (what `torch.load` returns).
    public let root: Value
    /// The file format.
    public let format: CheckpointFormat
    /// The zip container, for zip-format files.
    public let archive: ZipArchive?
    /// Every storage the pickle referenced, in the order first referenced.
    public let storages: [Storage]
    /// The protocol the file's pickle was written with (2 unless `torch.save` was given another).
    public let pickleProtocol: Int
    /// String identities of the file's pickle, so it can be written back byte for byte.
    public let pickleProvenance: PickleProvenance
    /// Every call the file's pickles make of a callable this library does not
    /// rebuild, in order: what `torch.load(weights_only=False)` would execute
    /// to build the objects (nothing was executed here). Calls whose results
    /// are nowhere in ``root`` are included. ``unsafeCalls`` keeps those
    /// outside `torch.load(weights_only=True)`'s allowlist.
    public let calls: [PickleCall]
    /// Every global the file's pickles name, as Python 3 imports it
    /// (`module.name`), in order of first use: `torch.load(weights_only=False)`
    /// imports each one, whether or not the pickle calls it.
    public let globals: [String]
    /// For a TorchScript archive (`torch.jit.save`): the module tree, its
    /// `state_dict()` and the constants table. Nil for every other file.
    public let torchScript: TorchScriptArchive?
    /// For a distributed checkpoint (a directory `dcp.save` wrote): its
    /// metadata and per-key reads. Nil for every other checkpoint.
    public let distributed: DistributedCheckpoint?
    /// For a Hugging Face sharded set (a directory or its `*.index.json`): the
    /// index and its shards. Nil for every other checkpoint.
    public let sharded: ShardedCheckpoint?
    /// The other pickles and the storage views of a legacy file, for writing it back.
    let legacyLayout: LegacyLayout?

    /// Opens a checkpoint, recognising its format by content: a file, or a
    /// directory holding a distributed checkpoint (its ``root`` is then the
    /// state dict `dcp_to_torch_save` builds, its tensors assembled from their
    /// chunks only when read).
    public convenience init(path: String, options: LoadOptions = .init()) throws(CheckpointError) {
        if FileKind.isDirectory(path) {
            if DistributedCheckpoint.isDistributedCheckpoint(directory: path) {
                try self.init(distributed: DistributedCheckpoint(directory: path, options: options))
            } else if ShardedCheckpoint.isShardedSet(directory: path) {
                try self.init(sharded: ShardedCheckpoint(path: path, options: options))
            } else {
                throw .cannotOpen(path: path, reason: """
                    a directory, but neither a distributed checkpoint (no .metadata, which dcp.save writes) \
                    nor a sharded set (no *.index.json, which save_pretrained writes)
                    """)
            }
            return
        }
        if path.hasSuffix(".index.json") {
            try self.init(sharded: ShardedCheckpoint(path: path, options: options))
            return
        }
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw .cannotOpen(path: path, reason: error.message)
        }
        // The descriptor serves reading headers without the map while opening.
        defer { file.closeDescriptor() }
        try self.init(file: file, options: options)
    }

    /// Reads a checkpoint from a mapped file, or from bytes in memory that a
    /// `MappedFile` copied, recognising its format by content. Errors name
    /// the file by `MappedFile.path`.
    public init(file: MappedFile, options: LoadOptions = .init()) throws(CheckpointError) {
        let path = file.path
        let kind = FormatSniffer.sniff(file.bytes)
        switch kind {
        case .zip:
            let loaded = try ZipCheckpointReader.load(file: file, options: options)
            self.path = path
            self.root = loaded.root
            self.format = loaded.format
            self.archive = loaded.archive
            self.storages = loaded.storages
            self.pickleProtocol = loaded.pickleProtocol
            self.pickleProvenance = loaded.provenance
            self.calls = loaded.calls
            self.globals = loaded.globals
            self.legacyLayout = nil
            self.torchScript = loaded.torchScript
            self.distributed = nil
            self.sharded = nil
        case .legacyPickle:
            let loaded = try LegacyCheckpointReader.load(file: file, options: options)
            self.path = path
            self.root = loaded.root
            self.format = .legacy(systemInfo: loaded.systemInfo)
            self.archive = nil
            self.storages = loaded.storages
            self.pickleProtocol = loaded.pickleProtocol
            self.pickleProvenance = loaded.provenance
            self.calls = loaded.calls
            self.globals = loaded.globals
            self.legacyLayout = loaded.layout
            self.torchScript = nil
            self.distributed = nil
            self.sharded = nil
        case .tar:
            let loaded = try TarCheckpointReader.load(file: file, options: options)
            self.path = path
            self.root = loaded.root
            self.format = .tar(systemInfo: loaded.systemInfo)
            self.archive = nil
            self.storages = loaded.storages
            self.pickleProtocol = loaded.pickleProtocol
            self.pickleProvenance = loaded.provenance
            self.calls = loaded.calls
            self.globals = loaded.globals
            self.legacyLayout = nil
            self.torchScript = nil
            self.distributed = nil
            self.sharded = nil
        case .unknown(let what):
            throw .unrecognizedFormat(path: path, looksLike: what)
        }
    }

    /// Opens a distributed checkpoint as the state dict `dcp_to_torch_save`
    /// builds from it (see ``DistributedCheckpoint/stateDict()``).
    public init(distributed: DistributedCheckpoint) throws(CheckpointError) {
        let built = try distributed.buildStateDict()
        self.path = distributed.directory
        self.root = built.root
        self.format = .distributed(files: distributed.metadata.files.count, version: distributed.metadata.version)
        self.archive = nil
        self.storages = built.storages
        self.pickleProtocol = distributed.metadata.pickleProtocol
        self.pickleProvenance = PickleProvenance()
        self.calls = built.calls
        self.globals = built.globals
        self.legacyLayout = nil
        self.torchScript = nil
        self.distributed = distributed
        self.sharded = nil
    }

    /// Reads a bare pickle — `pickle.dump` output, a distributed checkpoint's
    /// `.metadata` — as the value `pickle.load` would build, without running
    /// anything. A file of several pickles back to back gives a list of their
    /// values; ``calls`` and ``globals`` cover every one of them, and
    /// ``globals`` every global named anywhere in the file. ``init(path:options:)`` refuses such a file, as `torch.load`
    /// does; this reads it on purpose (``format`` is ``CheckpointFormat/pickle(protocol:)``).
    public convenience init(picklePath path: String, options: LoadOptions = .init()) throws(CheckpointError) {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw .cannotOpen(path: path, reason: error.message) }
        defer { file.closeDescriptor() }
        // Pickles back to back (a second `pickle.load` of the same stream reads the next one):
        // every one is read; the root is the first's value, or a list of them all when there are more.
        var values: [Value] = []
        var calls: [PickleCall] = []
        var globals: [String] = []
        var first: Unpickler.Decoded?
        var offset = 0
        while offset < file.count {
            let decoded: Unpickler.Decoded
            do {
                decoded = try Unpickler(options: options.unpickler).decode(file.bytes, at: offset)
            } catch {
                if first == nil { throw .pickle(path: path, record: "the file", error) }
                break
            }
            if first == nil { first = decoded }
            values.append(decoded.value)
            calls += decoded.calls
            for g in decoded.globals where !globals.contains(g) { globals.append(g) }
            guard decoded.end > offset else { break }
            offset = decoded.end
        }
        // What the rest of the file names, pickle or not, as verify scans it: what some reader could run.
        for pickle in PickleScan.pickles(in: file.bytes, torchReadsRecordAt: nil) {
            for g in pickle.globals where !globals.contains(g) { globals.append(g) }
        }
        guard let first else { throw .unrecognizedFormat(path: path, looksLike: "the file is empty") }
        self.init(path: path, root: values.count == 1 ? values[0] : .list(PyList(values)),
                  format: .pickle(protocol: first.protocolVersion), pickleProtocol: first.protocolVersion,
                  provenance: first.provenance, calls: calls, globals: globals)
    }

    init(path: String, root: Value, format: CheckpointFormat, pickleProtocol: Int, provenance: PickleProvenance,
         calls: [PickleCall], globals: [String]) {
        self.path = path
        self.root = root
        self.format = format
        self.archive = nil
        self.storages = []
        self.pickleProtocol = pickleProtocol
        self.pickleProvenance = provenance
        self.calls = calls
        self.globals = globals
        self.legacyLayout = nil
        self.torchScript = nil
        self.distributed = nil
        self.sharded = nil
    }

    /// Opens a Hugging Face sharded set as one state dict (see ``ShardedCheckpoint/stateDict()``).
    public init(sharded: ShardedCheckpoint) throws(CheckpointError) {
        let root = try sharded.stateDict()
        self.path = sharded.path
        self.root = root
        self.format = .sharded(shardFormat: sharded.shardFormat, shards: sharded.shards.count)
        self.archive = nil
        var storages: [Storage] = []
        var seen = Set<ObjectIdentifier>()
        for (_, value) in root.dict?.items ?? PyDict().items {
            if let storage = value.tensor?.storage, seen.insert(ObjectIdentifier(storage)).inserted { storages.append(storage) }
        }
        self.storages = storages
        self.pickleProtocol = 2
        self.pickleProvenance = PickleProvenance()
        var calls: [PickleCall] = []
        var globals: [String] = []
        for shard in sharded.shards {
            guard let checkpoint = try sharded.open(shard).checkpoint else { continue }
            calls += checkpoint.calls
            for g in checkpoint.globals where !globals.contains(g) { globals.append(g) }
        }
        self.calls = calls
        self.globals = globals
        self.legacyLayout = nil
        self.torchScript = nil
        self.distributed = nil
        self.sharded = sharded
    }

    /// The value under a string key of the root, when the root is a dict.
    public subscript(key: String) -> Value? { root[key] }

    /// The root's item at an index (a list or tuple root), or the value of
    /// its `int` key (a dict root), as ``Value/subscript(_:)-(Int)`` finds it.
    public subscript(index: Int) -> Value? { root[index] }

    /// The value at the end of a path from the root:
    /// `checkpoint[path: "optimizer_state_dict", "state", 0, "exp_avg"]`.
    public subscript(path steps: PathKey...) -> Value? { root[path: steps] }

    /// Every tensor reachable from the root, with its path, in the order of
    /// the canonical listing (depth first; shared containers walked once);
    /// for a TorchScript archive, its state_dict, by dotted name.
    public var tensors: [(path: [PathKey], tensor: Tensor)] {
        if let torchScript { return torchScript.stateDict.map { ([.key($0.name)], $0.tensor) } }
        return Listing.walkTensors(root)
    }

    /// Why ``write(to:durability:)`` cannot write this checkpoint back, or nil when it can
    /// (tar files of PyTorch 0.1 are read only, and so are files pickled at
    /// protocol 0 or 1, which have no `PROTO` opcode).
    public var writeBackLimitation: String? {
        switch format {
        case .zip:
            torchScript == nil && pickleProtocol < 2
                ? "its pickle has no PROTO opcode (protocol \(pickleProtocol)), and the encoder writes protocols 2 to 5"
                : nil
        case .legacy: legacyLayout?.writeBackLimitation
        case .tar: "the tar format of PyTorch 0.1 is read only (no PyTorch since 0.2 writes it); save the value in another format"
        case .distributed: "a distributed checkpoint is a directory of many files, not rewritten in place; convert it to another format"
        case .sharded: "a sharded set is many files, not rewritten in place; convert it to another format"
        case .pickle: "a bare pickle is not a checkpoint torch.load reads; save the value as one"
        case .exportArchive: "a torch.export archive is read for its weights only; convert them to another format"
        }
    }

    /// Verifies every record's CRC-32 against the zip directory.
    public func verifyRecords() throws(CheckpointError) {
        if let distributed { return try distributed.verifyRecords() }
        if let sharded {
            for shard in sharded.shards {
                if let checkpoint = try sharded.open(shard).checkpoint { try checkpoint.verifyRecords() }
            }
            return
        }
        guard let archive else { return }
        for entry in archive.entries {
            do { try archive.verifyCRC(of: entry) } catch { throw .container(path: path, error) }
        }
    }
}

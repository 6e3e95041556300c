import Foundation
import ListingComparison
import Testing
import TorchCheckpoint
import TorchPickle

/// The pickle machine's fast path for plain data (PlainDecoder): what it
/// takes, it reads as the full machine does, checked on CPython's pickles
/// (fixtures/pickle_vectors.json); everything else goes to the full machine.
@Suite("The fast path for plain data")
struct PlainDecoderTests {
    static let fullMachine: Unpickler = {
        var options = UnpicklerOptions()
        options.usesPlainDecoder = false
        return Unpickler(options: options)
    }()

    /// What the fast path makes of a pickle, or nil when it hands it to the full machine.
    static func fastPath(_ bytes: [UInt8], options: UnpicklerOptions = .init(),
                         persistentLoad: (@Sendable (Value) throws -> Value)? = nil) -> Unpickler.Decoded? {
        bytes.withUnsafeBytes { raw in
            let decoder = PlainDecoder(input: raw, position: 0, options: options, persistentLoad: persistentLoad)
            return decoder.run()
        }
    }

    static func listing(_ value: Value) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(Listing.json(try Listing.entries(of: value)).utf8))
    }

    static let plainVectors = PickleMachineTests.vectors.filter { $0.name.hasPrefix("plain_") }

    @Test("plain data takes the fast path", arguments: plainVectors)
    func takesFastPath(_ v: PickleMachineTests.Vector) {
        // Protocols 0 and 1 write text opcodes the fast path leaves to the machine; protocol 2
        // writes bytes as a call (`_codecs.encode(text, 'latin1')`).
        let holdsBytes = ["plain_shared_strings", "plain_keys"].contains(v.name)
        guard v.proto >= 3 || v.proto == -1 || (v.proto == 2 && !holdsBytes) else { return }
        #expect(Self.fastPath(v.bytes) != nil)
    }

    @Test("what the fast path reads equals CPython's listing, and the full machine's value, repr and bytes written back",
          arguments: PickleMachineTests.vectors)
    func sameAsFullMachine(_ v: PickleMachineTests.Vector) throws {
        guard let fast = Self.fastPath(v.bytes) else { return }
        let full = try v.bytes.withUnsafeBytes { try Self.fullMachine.decode($0) }
        #expect(fast.end == full.end)
        #expect(fast.protocolVersion == full.protocolVersion)
        let theirs = try JSONSerialization.jsonObject(with: Data(v.listing.utf8))
        #expect(ListingComparison.mismatches(torch: theirs, ours: try Self.listing(fast.value)).isEmpty)
        #expect(fast.value.pythonRepr == full.value.pythonRepr)
        if let repr = v.repr, !v.name.hasPrefix("plain_keys") { #expect(fast.value.pythonRepr == repr) }
        let version = max(fast.protocolVersion, 2)
        #expect(fast.globals == full.globals)
        let fromFast = try PickleEncoder(protocolVersion: version, provenance: fast.provenance).encode(fast.value)
        let fromFull = try PickleEncoder(protocolVersion: version, provenance: full.provenance).encode(full.value)
        #expect(fromFast == fromFull, "the fast path's value writes back differently")
        if v.proto >= 2 { #expect(fromFast == v.bytes, "not CPython's bytes") }
    }

    @Test("an OrderedDict, named by GLOBAL or STACK_GLOBAL, takes the fast path, a dict node that fills itself")
    func orderedDict() throws {
        let protocols = PickleMachineTests.vectors.filter { $0.name == "ordered" }.map(\.proto)
        #expect(Set(protocols).isSuperset(of: [2, 3, 4, 5]))
        for v in PickleMachineTests.vectors where v.name == "ordered" && (2...5).contains(v.proto) {
            let fast = try #require(Self.fastPath(v.bytes), "\(v.testDescription)")
            let d = try #require(fast.value.dict)
            #expect(d.kind.pythonName == "OrderedDict")
            #expect(d.keys.map(\.string) == ["z", "a"])
            #expect(fast.globals == ["collections.OrderedDict"])
        }
    }

    @Test("other globals, calls, sets, containers reached twice and Python 2 strings go to the full machine",
          arguments: ["counter", "defaultdict", "sets", "shared", "recursive_list", "complex", "opaque",
                      "bytearray", "py2_strings", "text_numbers", "sets4", "inst", "obj"])
    func leftToFullMachine(_ name: String) {
        for v in PickleMachineTests.vectors where v.name == name && (v.proto >= 2 || v.proto == -1) {
            #expect(Self.fastPath(v.bytes) == nil, "\(v.testDescription)")
        }
    }

    @Test("the decoder's node kinds and flags are the tape's")
    func nodeKinds() {
        #expect(NodeKind.allCases.map(\.rawValue) == NodeKind.allCases.map { PickleTape.Kind(rawValue: $0.rawValue)?.rawValue })
        #expect(NodeKind.allCases.map { "\($0)" } == NodeKind.allCases.map { "\(PickleTape.Kind(rawValue: $0.rawValue)!)" })
        #expect(PickleTape.Kind(rawValue: UInt8(NodeKind.allCases.count)) == nil)
        #expect([NodeKind.mask, NodeKind.memoized, NodeKind.shared, NodeKind.unhashable, NodeKind.ordered]
                == [PickleTape.kindMask, PickleTape.memoized, PickleTape.shared, PickleTape.unhashable, PickleTape.ordered])
    }

    @Test("a string reached twice is one object: written back once, and referred to")
    func sharedStrings() throws {
        let v = try #require(Self.plainVectors.first { $0.name == "plain_shared_strings" && $0.proto == 4 })
        let value = try #require(Self.fastPath(v.bytes)).value
        let items = try #require(value.list?.items)
        #expect(items[0].string == "one str object, reached five times")
        #expect(try PickleEncoder(protocolVersion: 4).encode(value) == v.bytes)
    }

    @Test("the machine's limits hold on the fast path, with the machine's errors")
    func limits() throws {
        // 2,000 nested lists: deeper than the default 1,000.
        let deep: [UInt8] = [0x80, 2] + Array(repeating: 0x5D, count: 2000) + Array(repeating: 0x61, count: 1999) + [0x2E]
        #expect(Self.fastPath(deep) == nil)
        #expect { try Unpickler().load(deep) } throws: { ($0 as? PickleError)?.code == .limitExceeded }

        // A list of 3 items with maxContainerSize 2.
        let three: [UInt8] = [0x80, 2, 0x5D, 0x28, 0x4B, 1, 0x4B, 2, 0x4B, 3, 0x65, 0x2E]
        var small = UnpicklerOptions()
        small.maxContainerSize = 2
        #expect(Self.fastPath(three, options: small) == nil)
        #expect { try Unpickler(options: small).load(three) } throws: { ($0 as? PickleError)?.code == .limitExceeded }
        #expect(Self.fastPath(three)?.value.list?.count == 3)

        // Two memo entries with maxMemoEntries 1.
        let memo: [UInt8] = [0x80, 2, 0x5D, 0x71, 0, 0x4B, 1, 0x71, 1, 0x61, 0x2E]
        var oneEntry = UnpicklerOptions()
        oneEntry.maxMemoEntries = 1
        #expect(Self.fastPath(memo, options: oneEntry) == nil)
        #expect { try Unpickler(options: oneEntry).load(memo) } throws: { ($0 as? PickleError)?.code == .limitExceeded }
    }

    @Test("damaged plain pickles throw the machine's typed errors, naming the byte and opcode")
    func damaged() throws {
        // A string's length runs past the end.
        let truncated: [UInt8] = [0x80, 2, 0x58, 0xFF, 0, 0, 0, 0x61, 0x2E]
        #expect(Self.fastPath(truncated) == nil)
        let error = try #require(throws: PickleError.self) { try Unpickler().load(truncated) }
        #expect(error.code == .truncated)
        #expect(error.offset == 2)
        // Invalid UTF-8 in a str.
        let badText: [UInt8] = [0x80, 2, 0x8C, 2, 0xC3, 0x28, 0x2E]
        #expect(Self.fastPath(badText) == nil)
        #expect { try Unpickler().load(badText) } throws: { ($0 as? PickleError)?.code == .invalidArgument }
        // A list as a dict key.
        let listKey: [UInt8] = [0x80, 2, 0x7D, 0x5D, 0x4B, 1, 0x73, 0x2E]
        #expect(Self.fastPath(listKey) == nil)
        #expect { try Unpickler().load(listKey) } throws: { ($0 as? PickleError)?.code == .invalidArgument }
        // No STOP.
        let noStop: [UInt8] = [0x80, 2, 0x5D]
        #expect(Self.fastPath(noStop) == nil)
        #expect { try Unpickler().load(noStop) } throws: { ($0 as? PickleError)?.code == .truncated }
    }

    @Test("bytes after STOP are left, and a second pickle read from where the first ended")
    func backToBack() throws {
        let two: [UInt8] = [0x80, 2, 0x4B, 7, 0x2E, 0x80, 2, 0x5D, 0x4B, 8, 0x61, 0x2E]
        let first = try two.withUnsafeBytes { try Unpickler().load($0, at: 0) }
        #expect(first.value.int == 7)
        #expect(first.end == 5)
        let second = try two.withUnsafeBytes { try Unpickler().load($0, at: first.end) }
        #expect(second.value.list?.items.first?.int == 8)
        #expect(second.end == two.count)
    }
}

/// A pickled dict of `count` str keys `k0`, `k1`, … with int values, in one SETITEMS; `duplicate` repeats `k0` last with -1.
func pickledStringDict(count: Int, duplicate: Bool = false) -> [UInt8] {
    var bytes: [UInt8] = [0x80, 2, 0x7D, 0x28]
    func key(_ text: String) { bytes += [0x8C, UInt8(text.utf8.count)] + Array(text.utf8) }
    for i in 0..<count {
        key("k\(i)")
        bytes += [0x4A] + withUnsafeBytes(of: Int32(i).littleEndian, Array.init)
    }
    if duplicate {
        key("k0")
        bytes += [0x4A] + withUnsafeBytes(of: Int32(-1).littleEndian, Array.init)
    }
    return bytes + [0x75, 0x2E]
}

@Suite("Dicts filled from the tape")
struct TapeDictTests {
    @Test("a large dict of distinct str keys is walked in order, then looked up by key, and set as Python sets")
    func distinctKeys() throws {
        let d = try #require(try Unpickler().load(pickledStringDict(count: 500)).dict)
        #expect(d.keys.count == 500)
        #expect(d.keys.first?.string == "k0" && d.keys.last?.string == "k499")
        #expect(d["k123"]?.int == 123)
        #expect(d["k499"]?.int == 499)
        #expect(d["k500"] == nil)
        d["k7"] = .int(70)
        d["new"] = .int(1)
        #expect(d.count == 501)
        #expect(d.keys[7].string == "k7" && d["k7"]?.int == 70)
        #expect(d.removeValue(forKey: "k0")?.int == 0)
        #expect(d["k1"]?.int == 1 && d.keys.first?.string == "k1")
        #expect(d.copy()["k250"]?.int == 250)
    }

    @Test("a key set again keeps its first place and takes the last value, as in Python")
    func duplicateKey() throws {
        let d = try #require(try Unpickler().load(pickledStringDict(count: 20, duplicate: true)).dict)
        #expect(d.count == 20)
        #expect(d.keys.first?.string == "k0")
        #expect(d["k0"]?.int == -1)
        #expect(d["k19"]?.int == 19)
    }

    @Test("eight tasks look keys up in one large decoded dict: each finds every value")
    func concurrentLookups() async throws {
        let d = try #require(try Unpickler().load(pickledStringDict(count: 2000)).dict)
        let found = await withTaskGroup(of: Int.self) { group in
            for t in 0..<8 {
                group.addTask {
                    var hits = 0, i = t
                    while i < 2000 {
                        if d["k\(i)"]?.int == i { hits += 1 }
                        i += 3
                    }
                    return hits
                }
            }
            var total = 0
            for await hits in group { total += hits }
            return total
        }
        // Task t looks up k(t), k(t+3), … below 2000.
        let expected = (0..<8).map { t in (2000 - t + 2) / 3 }.reduce(0, +)
        #expect(found == expected)
    }
}

/// Containers the fast path returns fill themselves when first read, once,
/// whichever thread reads first (run under ThreadSanitizer by tools/sanitizers.sh).
@Suite("Plain containers read from many tasks")
struct PlainDecoderConcurrencyTests {
    @Test("eight tasks read one decoded pickle: the same objects, the same items")
    func concurrentFill() async throws {
        let v = try #require(PickleMachineTests.vectors.first { $0.name == "plain_records" && $0.proto == 4 })
        let value = try Unpickler().load(v.bytes)
        let list = try #require(value.list)
        let seen = try await withThrowingTaskGroup(of: [ObjectIdentifier].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    list.items.map { item -> ObjectIdentifier in
                        guard case .dict(let d) = item else { return ObjectIdentifier(list) }
                        _ = d["tags"]?.items?.first?.string
                        _ = d.keys.count
                        return ObjectIdentifier(d)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(seen.count == 8)
        #expect(Set(seen.map { $0 }).count == 1, "every task sees the same dict objects")
        #expect(list.count == 40)
        #expect(list.items[39].dict?["name"]?.string == "name39")
    }
}

/// The fast path on what `torch.save` writes: tensors rebuilt by their calls,
/// storages named by persistent ids, `OrderedDict`s; checked against the
/// full machine on every checkpoint fixture.
@Suite("The fast path for torch checkpoints")
struct TorchFastPathTests {
    static func fullMachine(_ name: String) throws -> Checkpoint {
        var options = LoadOptions()
        options.unpickler.usesPlainDecoder = false
        return try Checkpoint(path: Fixtures.path(name), options: options)
    }

    /// A checkpoint's `data.pkl`, and a loader that makes each storage it names from its reference.
    static func pickle(of name: String) throws -> (bytes: [UInt8], load: @Sendable (Value) throws -> Value) {
        let archive = try ZipArchive(path: Fixtures.path(name))
        let bytes = try archive.bytes(of: try #require(archive.record("data.pkl"))).withUnsafeBytes { Array($0) }
        return (bytes, { pid in
            let r = try StorageReference(persistentID: pid)
            return .storage(Storage(key: r.key, dtype: r.dtype, isUntyped: r.isUntyped, location: r.location,
                                    elementCount: r.elementCount) { RawBytes([UInt8](repeating: 0, count: r.byteCount)) })
        })
    }

    @Test("every checkpoint fixture reads the same through the fast path as through the full machine: listing, globals, calls, storages and bytes written back",
          arguments: Fixtures.checkpoints)
    func sameAsFullMachine(_ name: String) throws {
        let fast = try Fixtures.open(name)
        let full = try Self.fullMachine(name)
        #expect(Inspection(fast).render() == Inspection(full).render())
        #expect(Listing.json(try Listing.entries(of: fast.root)) == Listing.json(try Listing.entries(of: full.root)))
        #expect(fast.root.pythonRepr == full.root.pythonRepr)
        #expect(fast.globals == full.globals)
        #expect(fast.calls.count == full.calls.count)
        #expect(fast.storages.map(\.key) == full.storages.map(\.key))
        #expect(fast.pickleProtocol == full.pickleProtocol)
        guard fast.writeBackLimitation == nil, case .zip = fast.format, fast.torchScript == nil else { return }
        let version = fast.pickleProtocol
        let fromFast = try PickleEncoder(protocolVersion: version, provenance: fast.pickleProvenance).encodeWithStorages(fast.root)
        let fromFull = try PickleEncoder(protocolVersion: version, provenance: full.pickleProvenance).encodeWithStorages(full.root)
        #expect(fromFast.bytes == fromFull.bytes, "\(name): the fast path's value writes back differently")
    }

    @Test("what torch.save writes for state dicts takes the fast path: tensors, their storages, _metadata and the globals named",
          arguments: ["state_dict.pth", "big_endian/state_dict.pth", "extra_state.pth", "dtypes.pth", "big_dict.pth",
                      "views.pth", "cuda_tagged.pth", "quantized.pth", "list_root.pth", "dcp/two_ranks.pth"])
    func takesFastPath(_ name: String) throws {
        let (bytes, load) = try Self.pickle(of: name)
        var options = UnpicklerOptions()
        options.persistentLoadIsRepeatable = true
        let decoded = PlainDecoderTests.fastPath(bytes, options: options, persistentLoad: load)
        let taken = decoded != nil
        #expect(taken, "\(name) went to the full machine")
        guard let fast = decoded else { return }
        let full = try Self.fullMachine(name)
        #expect(fast.globals == full.globals)
        #expect(Listing.walkTensors(fast.value).count == full.tensors.count)
        #expect(!full.tensors.isEmpty)
        if case .dict(let d) = full.root, let metadata = d.attribute("_metadata") {
            #expect(fast.value.dict?.attribute("_metadata")?.pythonRepr == metadata.pythonRepr)
        }
    }

    @Test("without a loader that may be called again, a persistent id is the full machine's")
    func persistentIDsNeedRepeatableLoader() throws {
        let (bytes, load) = try Self.pickle(of: "big_dict.pth")
        let taken = PlainDecoderTests.fastPath(bytes, persistentLoad: load) != nil
        #expect(!taken)
    }

    @Test("a container that holds no tensor is not filled by a walk for tensors")
    func walkSkipsPlainContainers() throws {
        let (bytes, load) = try Self.pickle(of: "big_dict.pth")
        var options = UnpicklerOptions()
        options.persistentLoadIsRepeatable = true
        let records: [UInt8] = [0x80, 2, 0x7D, 0x58] + [7, 0, 0, 0] + Array("records".utf8) + [0x5D, 0x4B, 1, 0x61, 0x73, 0x2E]
        let plain = try #require(PlainDecoderTests.fastPath(records, options: options))
        let list = try #require(plain.value.dict?["records"]?.list)
        #expect(!list.mayHoldObjects)
        #expect(Listing.walkTensors(plain.value).isEmpty)
        #expect(!list.mayHoldObjects, "the walk left the list unfilled")
        #expect(list.count == 1)
        #expect(list.mayHoldObjects, "a filled list no longer answers from its tape")
        let state = PlainDecoderTests.fastPath(bytes, options: options, persistentLoad: load)
        let holds = state?.value.dict?.mayHoldObjects
        #expect(holds == true)
    }
}

/// Pickles on which the fast path once differed from the full machine (found by review): each now
/// goes to the machine, and reads and writes back as the machine reads and writes it.
@Suite("What the fast path leaves to the full machine")
struct FastPathRefusalTests {
    static func text(_ s: String) -> [UInt8] { [0x58] + withUnsafeBytes(of: UInt32(s.utf8.count).littleEndian, Array.init) + Array(s.utf8) }
    static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
    static let orderedDict = global("collections", "OrderedDict") + [0x29, 0x52]

    /// The persistent id of storage '0', 4 float32 elements, then BINPERSID.
    static let pid = [0x28] + text("storage") + global("torch", "FloatStorage") + text("0") + text("cpu") + [0x4B, 4, 0x74, 0x51]

    /// Options under which the fast path resolves persistent ids.
    static let repeatable: UnpicklerOptions = {
        var options = UnpicklerOptions()
        options.persistentLoadIsRepeatable = true
        return options
    }()

    /// `_rebuild_parameter_with_state` of a float tensor of 4 elements, with `state` pickled as given.
    static func parameter(state: [UInt8]) -> [UInt8] {
        let tensor = global("torch._utils", "_rebuild_tensor_v2") + [0x28] + pid
            + [0x4B, 0, 0x4B, 4, 0x85, 0x4B, 1, 0x85, 0x89] + orderedDict + [0x74, 0x52]
        return [0x80, 2] + global("torch._utils", "_rebuild_parameter_with_state") + [0x28] + tensor + [0x89] + orderedDict
            + state + [0x74, 0x52, 0x2E]
    }

    static let load: @Sendable (Value) throws -> Value = { pid in
        let r = try StorageReference(persistentID: pid)
        return .storage(Storage(key: r.key, dtype: r.dtype, bytes: RawBytes([UInt8](repeating: 0, count: r.byteCount))))
    }

    static func expectSameAsMachine(_ bytes: [UInt8]) throws {
        var full = UnpicklerOptions()
        full.usesPlainDecoder = false
        var fast = UnpicklerOptions()
        fast.persistentLoadIsRepeatable = true
        let a = try bytes.withUnsafeBytes { try Unpickler(options: fast, persistentLoad: load).decode($0) }
        let b = try bytes.withUnsafeBytes { try Unpickler(options: full, persistentLoad: load).decode($0) }
        let version = max(b.protocolVersion, 2)
        #expect(try PickleEncoder(protocolVersion: version, provenance: a.provenance).encode(a.value)
                == PickleEncoder(protocolVersion: version, provenance: b.provenance).encode(b.value))
        #expect(a.value.pythonRepr == b.value.pythonRepr)
    }

    @Test("a tensor's argument tuple fetched again from the memo after the tensor is made (its container dropped): the machine's")
    func consumedTupleFetchedAgain() throws {
        let options = Self.repeatable, pid = Self.pid
        // The shape tuple is memoized (BINPUT 0), consumed by the rebuild call, then fetched (BINGET 0).
        let tensor = Self.global("torch._utils", "_rebuild_tensor_v2") + [0x28] + pid
            + [0x4B, 0, 0x4B, 4, 0x85, 0x71, 0, 0x4B, 1, 0x85, 0x89] + Self.orderedDict + [0x74, 0x52]
        let fetched: [UInt8] = [0x80, 2, 0x5D, 0x28] + tensor + [0x68, 0, 0x65, 0x2E]
        let notFetched: [UInt8] = [0x80, 2, 0x5D, 0x28] + tensor + [0x65, 0x2E]
        #expect(PlainDecoderTests.fastPath(fetched, options: options, persistentLoad: Self.load) == nil)
        #expect(PlainDecoderTests.fastPath(notFetched, options: options, persistentLoad: Self.load) != nil)
        try Self.expectSameAsMachine(fetched)
        try Self.expectSameAsMachine(notFetched)
        let list = try #require(try fetched.withUnsafeBytes { try Unpickler(options: options, persistentLoad: Self.load).decode($0) }.value.list)
        #expect(list.items.count == 2)
        #expect(list.items.last?.pythonRepr == "(4,)")
    }

    @Test("hooks reached again after the tensor is made and given an item: the tensor's hooks hold it, as in Python")
    func hooksFilledLater() throws {
        let options = Self.repeatable, pid = Self.pid
        // The hooks OrderedDict is memoized (BINPUT 0), then fetched (BINGET 0) and given 'h': 1 (SETITEM).
        let tensor = Self.global("torch._utils", "_rebuild_tensor_v2") + [0x28] + pid
            + [0x4B, 0, 0x4B, 4, 0x85, 0x4B, 1, 0x85, 0x89] + Self.orderedDict + [0x71, 0, 0x74, 0x52]
        let bytes: [UInt8] = [0x80, 2, 0x5D, 0x28] + tensor + [0x68, 0] + Self.text("h") + [0x4B, 1, 0x73, 0x65, 0x2E]
        #expect(PlainDecoderTests.fastPath(bytes, options: options, persistentLoad: Self.load) == nil)
        let list = try #require(try bytes.withUnsafeBytes { try Unpickler(options: options, persistentLoad: Self.load).decode($0) }.value.list)
        let t = try #require(list.items.first?.tensor)
        let hooks = try #require(t.backwardHooks.dict)
        #expect(hooks.keys.map(\.string) == ["h"])
        #expect(hooks === list.items.last?.dict)
    }

    @Test("BUILD with an OrderedDict as the state: the machine keeps it an OrderedDict")
    func orderedState() throws {
        let bytes: [UInt8] = [0x80, 2] + Self.orderedDict + Self.orderedDict + [0x62, 0x2E]
        let taken = PlainDecoderTests.fastPath(bytes) != nil
        #expect(!taken)
        try Self.expectSameAsMachine(bytes)
        #expect(try Unpickler().load(bytes).dict?.state?.dict?.kind.pythonName == "OrderedDict")
    }

    @Test("DUP of a str not yet memoized, then PUT of one copy: the copies' identities differ in the machine")
    func dupBeforePut() throws {
        // SHORT_BINUNICODE 'm', DUP, BINPUT 0, STACK_GLOBAL, STOP.
        let bytes: [UInt8] = [0x80, 4, 0x8C, 1, 0x6D, 0x32, 0x71, 0, 0x93, 0x2E]
        let taken = PlainDecoderTests.fastPath(bytes) != nil
        #expect(!taken)
        try Self.expectSameAsMachine(bytes)
    }

    @Test("a call whose arguments hold a memoized str (a parameter's state): the machine keeps its identity")
    func memoizedArgument() throws {
        var options = UnpicklerOptions()
        options.persistentLoadIsRepeatable = true
        let memoized = Self.parameter(state: Self.text("x") + [0x71, 0, 0x85])
        let plain = Self.parameter(state: Self.text("x") + [0x85])
        let takesMemoized = PlainDecoderTests.fastPath(memoized, options: options, persistentLoad: Self.load) != nil
        let takesPlain = PlainDecoderTests.fastPath(plain, options: options, persistentLoad: Self.load) != nil
        #expect(!takesMemoized)
        #expect(takesPlain)
        try Self.expectSameAsMachine(memoized)
        try Self.expectSameAsMachine(plain)
        #expect(try memoized.withUnsafeBytes { try Unpickler(persistentLoad: Self.load).load($0) }.tensor?.isParameter == true)
    }
}

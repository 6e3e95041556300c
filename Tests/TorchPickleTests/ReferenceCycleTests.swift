import Testing
import TorchPickle

/// Objects that reach themselves: refused by default, because Swift's
/// reference counting would never free them, and never leaked, whatever the
/// pickle does afterwards. The pickles are CPython's own bytes.
@Suite("Reference cycles")
struct ReferenceCycleTests {
    /// `l = []; l.append(l)`, protocol 2: `]q\x00h\x00a.`
    static let selfList: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E]
    /// `d = {}; d['self'] = d`
    static let selfDict: [UInt8] = [0x80, 0x02, 0x7D, 0x71, 0x00, 0x58, 0x04, 0x00, 0x00, 0x00] + Array("self".utf8)
        + [0x71, 0x01, 0x68, 0x00, 0x73, 0x2E]
    /// `l = []; t = (l,); l.append(t)`, pickled as `t`: CPython pops the
    /// half-built tuple and fetches it from the memo.
    static let tupleThroughList: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x85, 0x71, 0x01, 0x61, 0x30, 0x68, 0x01, 0x2E]
    /// `l = []; l.append([l])`
    static let twoLists: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0x00, 0x5D, 0x71, 0x01, 0x68, 0x00, 0x61, 0x61, 0x2E]
    /// `c = C(); c.me = c` for a class `__main__.C`: the cycle runs through `BUILD`'s state.
    static let selfObject: [UInt8] = [0x80, 0x02, 0x63] + Array("__main__\nC\n".utf8)
        + [0x71, 0x00, 0x29, 0x81, 0x71, 0x01, 0x7D, 0x71, 0x02, 0x58, 0x02, 0x00, 0x00, 0x00] + Array("me".utf8)
        + [0x71, 0x03, 0x68, 0x01, 0x73, 0x62, 0x2E]
    /// `s = [1]; {'a': s, 'b': s}`: shared, not cyclic.
    static let sharedList: [UInt8] = [0x80, 0x02, 0x7D, 0x71, 0x00, 0x28, 0x58, 0x01, 0x00, 0x00, 0x00, 0x61, 0x71, 0x01,
                                      0x5D, 0x71, 0x02, 0x4B, 0x01, 0x61, 0x58, 0x01, 0x00, 0x00, 0x00, 0x62, 0x71, 0x03,
                                      0x68, 0x02, 0x75, 0x2E]

    static func refusal(_ bytes: [UInt8]) -> PickleError? {
        do {
            _ = try Unpickler().load(bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test("a cycle is refused by default, naming the object, its path to itself and the GET that closed it",
          arguments: [
              (selfList, "a list x reaches itself as x[0]", 5),
              (selfDict, "a dict x reaches itself as x['self']", 16),
              (tupleThroughList, "a list x reaches itself as x[0][0]", 5),
              (twoLists, "a list x reaches itself as x[0][0]", 8),
              (selfObject, "reaches itself as x.__setstate__['me']", 32),
          ])
    func refused(_ bytes: [UInt8], message: String, offset: Int) throws {
        let e = try #require(Self.refusal(bytes))
        #expect(e.code == .referenceCycle)
        #expect(e.message.contains(message), "\(e.message)")
        #expect(e.message.contains("UnpicklerOptions.referenceCycles"))
        #expect(e.offset == offset)
        #expect(e.opcode == .binGet)
    }

    @Test("a cycle closed by DUP (protocol 0) is refused too")
    func dup() throws {
        // EMPTY_LIST DUP APPEND STOP: l.append(l) with no memo at all.
        let e = try #require(Self.refusal(Array("]2a.".utf8)))
        #expect(e.code == .referenceCycle)
        #expect(e.opcode == .dup)
    }

    @Test("shared objects that form no cycle load, and stay one object")
    func sharedIsNotACycle() throws {
        let v = try Unpickler().load(Self.sharedList)
        guard case .list(let a)? = v["a"], case .list(let b)? = v["b"] else { Issue.record("not lists"); return }
        #expect(a === b)
    }

    @Test("with referenceCycles = .keep, the cycle is kept as Python keeps it and written back as CPython writes it",
          arguments: [selfList, selfDict, tupleThroughList, twoLists, selfObject])
    func kept(_ bytes: [UInt8]) throws {
        var options = UnpicklerOptions()
        options.referenceCycles = .keep
        let v = try Unpickler(options: options).load(bytes)
        defer { v.dismantle() }
        switch v {
        case .list(let l) where bytes == Self.selfList:
            guard case .list(let inner)? = l.items.first else { Issue.record("no item"); return }
            #expect(inner === l)
        case .dict(let d):
            guard case .dict(let inner)? = d["self"] else { Issue.record("no item"); return }
            #expect(inner === d)
        default: break
        }
        #expect(try PickleEncoder(protocolVersion: 2).encode(v) == bytes)
    }

    /// Holds, without keeping it alive, the list a pickle hands to its persistent loader.
    final class Watch: @unchecked Sendable {
        weak var list: PyList?
    }

    static func load(_ bytes: [UInt8], watch: Watch) -> PickleError? {
        let unpickler = Unpickler { pid in
            if case .list(let l) = pid { watch.list = l }
            return .None
        }
        do {
            _ = try unpickler.load(bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test("the objects of a refused cycle are freed")
    func refusedCycleIsFreed() throws {
        // EMPTY_LIST BINPUT 0 BINGET 0 APPEND (l.append(l)); BINGET 0 BINPERSID
        // (the loader sees l); STOP.
        let watch = Watch()
        let e = Self.load([0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x68, 0x00, 0x51, 0x2E], watch: watch)
        #expect(e?.code == .referenceCycle)
        #expect(watch.list == nil, "the cyclic list leaked")
    }

    @Test("the objects of a cycle in a pickle that then fails are freed", arguments: [
        // … then a byte that is no opcode.
        [0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x68, 0x00, 0x51, 0xFF] as [UInt8],
        // … then the end of the input, without STOP.
        [0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x68, 0x00, 0x51],
        // … then POP of everything and a GET of a slot never set.
        [0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x68, 0x00, 0x51, 0x30, 0x30, 0x68, 0x07, 0x2E],
    ])
    func failedPickleIsFreed(_ bytes: [UInt8]) throws {
        let watch = Watch()
        let e = Self.load(bytes, watch: watch)
        #expect(e != nil && e?.code != .referenceCycle)
        #expect(watch.list == nil, "the cyclic list leaked")
    }

    @Test("a shared list that is not a cycle is left whole")
    func acyclicIsLeftAlone() throws {
        // {'a': s, 'b': s}, with s also handed to the loader: s keeps its item.
        let watch = Watch()
        let unpickler = Unpickler { pid in
            if case .list(let l) = pid { watch.list = l }
            return .None
        }
        // EMPTY_LIST BINPUT 0 BININT1 1 APPEND; BINGET 0 BINPERSID POP; BINGET 0 STOP
        let v = try unpickler.load([0x80, 0x02, 0x5D, 0x71, 0x00, 0x4B, 0x01, 0x61, 0x68, 0x00, 0x51, 0x30, 0x68, 0x00, 0x2E])
        #expect(v[0]?.int == 1)
        #expect(watch.list?.count == 1)
    }

    @Test("dismantle() frees a cycle that was kept")
    func dismantleFreesKeptCycle() throws {
        var options = UnpicklerOptions()
        options.referenceCycles = .keep
        let watch = Watch()
        do {
            let v = try Unpickler(options: options).load(Self.selfList)
            guard case .list(let l) = v else { Issue.record("not a list"); return }
            watch.list = l
            v.dismantle()
            #expect(l.items.isEmpty)
        }
        #expect(watch.list == nil, "the dismantled list leaked")
    }
}

import Testing
import TorchPickle

/// Every malformed pickle gets a typed error with the offset and opcode,
/// never a crash, a hang or a silent default.
@Suite("Malformed pickles")
struct MalformedPickleTests {
    func error(_ bytes: [UInt8], options: UnpicklerOptions = .init()) -> PickleError? {
        do {
            _ = try Unpickler(options: options).load(bytes)
            return nil
        } catch {
            return error
        }
    }

    /// A protocol-2 pickle of {'a': [1, 2.5, 'x', None, (True,)], 'b': 2**70}.
    static let sample: [UInt8] = [
        0x80, 0x02, 0x7D, 0x71, 0x00, 0x28, 0x58, 0x01, 0x00, 0x00, 0x00, 0x61, 0x71, 0x01, 0x5D, 0x71, 0x02,
        0x28, 0x4B, 0x01, 0x47, 0x40, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x58, 0x01, 0x00, 0x00, 0x00,
        0x78, 0x71, 0x03, 0x4E, 0x88, 0x85, 0x71, 0x04, 0x65, 0x58, 0x01, 0x00, 0x00, 0x00, 0x62, 0x71, 0x05,
        0x8A, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x75, 0x2E,
    ]

    @Test("the sample reads as CPython reads it")
    func sampleReads() throws {
        let v = try Unpickler().load(Self.sample)
        #expect(v["a"]?[0]?.int == 1)
        #expect(v["a"]?[1]?.double == 2.5)
        #expect(v["a"]?[2]?.string == "x")
        #expect(v["a"]?[3]?.isNone == true)
        #expect(v["a"]?[4]?[0]?.bool == true)
        #expect(v["b"]?.integerDescription == "1180591620717411303424")
    }

    @Test("cut at every byte: truncated, with the offset of the opcode")
    func truncation() {
        for n in 0..<Self.sample.count {
            let e = error(Array(Self.sample[0..<n]))
            #expect(e?.code == .truncated || e?.code == .stackUnderflow, "cut at \(n): \(String(describing: e))")
            if let e { #expect(e.offset <= n) }
        }
    }

    @Test("every single-byte change: a value or a typed error, never a crash")
    func mutation() {
        for i in Self.sample.indices {
            for delta: UInt8 in [1, 0x40, 0x80, 0xFF] {
                var b = Self.sample
                b[i] &+= delta
                _ = error(b)
            }
        }
    }

    @Test("an unknown opcode is named with its byte and offset")
    func unknownOpcode() throws {
        let e = try #require(error([0x80, 0x02, 0xFF, 0x2E]))
        #expect(e.code == .unknownOpcode)
        #expect(e.offset == 2)
        #expect(e.description.contains("0xff"))
    }

    /// `PROTO 4`, `FRAME n`, then `SHORT_BINUNICODE 'hello'` (7 bytes), `POP`, `EMPTY_DICT`, `STOP`.
    static func framed(_ frameLength: UInt64) -> [UInt8] {
        [0x80, 0x04, 0x95] + withUnsafeBytes(of: frameLength.littleEndian, Array.init)
            + [0x8C, 0x05] + Array("hello".utf8) + [0x30, 0x7D, 0x2E]
    }

    @Test("an opcode that straddles a FRAME boundary is refused at its byte, as Python's unpickler refuses it")
    func frameStraddle() throws {
        // Python: pickle._loads(framed(10)) loads; framed(3) raises "pickle exhausted before end of frame".
        #expect(try Unpickler().load(Self.framed(10)).dict?.count == 0)
        let straddle = try #require(error(Self.framed(3)))
        #expect(straddle.offset == 11)
        #expect(straddle.opcode == .shortBinUnicode)
        #expect(straddle.message.contains("runs 4 bytes past the end of the FRAME at byte 2, which ends at byte 14"))
        // The disassembly stops there too, with the same error.
        let walked = Self.framed(3).withUnsafeBytes { PickleOperations($0).collect() }
        #expect(walked.operations.map(\.opcode) == [.proto, .frame])
        #expect(walked.error?.offset == 11)
        // A FRAME that begins inside another is refused (Python: "beginning of a new frame before end of current frame").
        let nested: [UInt8] = [0x80, 0x04, 0x95] + withUnsafeBytes(of: UInt64(11).littleEndian, Array.init)
            + [0x95] + withUnsafeBytes(of: UInt64(2).littleEndian, Array.init) + [0x7D, 0x2E]
        #expect(error(nested)?.message.contains("a FRAME begins before the end of the FRAME at byte 2") == true)
    }

    @Test("INT and LONG read their text as Python's int(text, 0) does")
    func baseZeroIntegers() throws {
        func load(_ text: String) throws -> Int? { try Unpickler().load(Array(text.utf8)).int }
        #expect(try load("I0x41\n.") == 65)
        #expect(try load("I-0o17\n.") == -15)
        #expect(try load("I0b101\n.") == 5)
        #expect(try load("I1_000\n.") == 1000)
        #expect(try load("L0x7fL\n.") == 127)
        #expect(try load("I00\n.") == 0)
        // Python: int('010', 0) and int('1__0', 0) are errors.
        #expect(error(Array("I010\n.".utf8))?.code == .invalidArgument)
        #expect(error(Array("I1__0\n.".utf8))?.code == .invalidArgument)
    }

    @Test("a str with a lone surrogate, which Python reads, is refused as unsupported, and disassembles")
    func loneSurrogate() throws {
        let bytes: [UInt8] = [0x80, 0x02, 0x58, 0x03, 0x00, 0x00, 0x00, 0xED, 0xA0, 0x80, 0x2E]
        #expect(error(bytes)?.code == .unsupported)
        #expect(error([0x80, 0x02, 0x58, 0x01, 0x00, 0x00, 0x00, 0xFF, 0x2E])?.code == .invalidArgument)
        let walked = bytes.withUnsafeBytes { PickleOperations($0).collect() }
        #expect(walked.error == nil && walked.operations.count == 3)
    }

    @Test("a protocol newer than 5 is refused")
    func newerProtocol() {
        #expect(error([0x80, 0x06, 0x4E, 0x2E])?.code == .unsupportedProtocol)
    }

    @Test("a memo slot that was never set")
    func memoMissing() throws {
        let e = try #require(error([0x80, 0x02, 0x68, 0x07, 0x2E]))
        #expect(e.code == .memoMissing)
        #expect(e.opcode == .binGet)
        #expect(e.message.contains("7"))
    }

    @Test("popping an empty stack, or below a MARK")
    func underflow() {
        #expect(error([0x30, 0x2E])?.code == .stackUnderflow)                  // POP
        #expect(error([0x2E])?.code == .stackUnderflow)                        // STOP with nothing
        #expect(error([0x5D, 0x28, 0x4B, 0x01, 0x61, 0x2E])?.code == .stackUnderflow) // APPEND with the list below the MARK
        #expect(error([0x65, 0x2E])?.code == .missingMark)                     // APPENDS without MARK
    }

    @Test("a length field claiming gigabytes in a tiny pickle allocates nothing")
    func hugeLength() throws {
        let e = try #require(error([0x80, 0x04, 0x8E, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E]))
        #expect(e.code == .truncated)
        #expect(e.opcode == .binBytes8)
        #expect(error([0x8B, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E])?.code == .invalidArgument)  // LONG4 negative length
    }

    @Test("a pickle without STOP")
    func noStop() {
        #expect(error([0x80, 0x02, 0x4E])?.code == .truncated)
    }

    @Test("nesting beyond the limit", arguments: [5, 100])
    func nesting(_ limit: Int) throws {
        var options = UnpicklerOptions()
        options.maxNestingDepth = limit
        // EMPTY_LIST, then (limit + 1) times: wrap in a 1-tuple.
        let deep: [UInt8] = [0x5D] + Array(repeating: 0x85, count: limit + 1) + [0x2E]
        #expect(error(deep, options: options)?.code == .limitExceeded)
        let ok: [UInt8] = [0x5D] + Array(repeating: 0x85, count: limit - 2) + [0x2E]
        #expect(error(ok, options: options) == nil)
    }

    @Test("a million nested lists is refused by the default limit, quickly")
    func millionDeep() {
        let deep: [UInt8] = Array(repeating: 0x28, count: 1_000_000) + [0x6C] + [0x2E]
        #expect(error(deep)?.code == .limitExceeded)
    }

    @Test("memo, stack and container limits")
    func limits() {
        var options = UnpicklerOptions()
        options.maxMemoEntries = 3
        let memo: [UInt8] = [0x4E, 0x71, 0, 0x71, 1, 0x71, 2, 0x71, 3, 0x2E]
        #expect(error(memo, options: options)?.code == .limitExceeded)
        options = UnpicklerOptions()
        options.maxContainerSize = 2
        #expect(error([0x28, 0x4E, 0x4E, 0x4E, 0x6C, 0x2E], options: options)?.code == .limitExceeded)
        options = UnpicklerOptions()
        options.maxStackDepth = 2
        #expect(error([0x4E, 0x4E, 0x4E, 0x2E], options: options)?.code == .limitExceeded)
    }

    @Test("a sparse memo index far beyond the memo allocates nothing")
    func sparseMemo() throws {
        let v = try Unpickler().load([0x4E, 0x72, 0xFF, 0xFF, 0xFF, 0x7F, 0x30, 0x6A, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E])
        #expect(v.isNone)
    }

    /// Found by the mutation test above: BINPUT turned LONG_BINPUT reads four
    /// bytes of index. Memoized strings keep identity tokens, which once grew
    /// a table up to the index (16 GiB, 75 s) and truncated it to 32 bits.
    @Test("a huge memo index on a string allocates nothing and takes no other value's identity")
    func sparseStringMemo() throws {
        // [ 'a' put at 5, 'b' put at 2^32 - 1 (truncated: -1, the encoder's first own token),
        //   'c' put at 2^31 + 5 (truncated: an interned string's), then a GET of each ]
        func put(_ index: UInt32) -> [UInt8] { [0x72] + withUnsafeBytes(of: index.littleEndian, Array.init) }
        func str(_ c: Character) -> [UInt8] { [0x58, 1, 0, 0, 0, c.asciiValue!] }
        func get(_ index: UInt32) -> [UInt8] { [0x6A] + withUnsafeBytes(of: index.littleEndian, Array.init) }
        let bytes: [UInt8] = [0x80, 0x02, 0x5D, 0x28]
            + str("a") + put(5) + str("b") + put(0xFFFF_FFFF) + str("c") + put(0x8000_0005)
            + get(5) + get(0xFFFF_FFFF) + get(0x8000_0005) + [0x65, 0x2E]
        let decoded = try bytes.withUnsafeBytes { buffer throws(PickleError) in try Unpickler().decode(buffer) }
        let expected = ["a", "b", "c", "a", "b", "c"]
        #expect(decoded.value.list?.items.map(\.string) == expected)
        // Written again, each string is itself: no other string's memo slot.
        let encoded = try PickleEncoder(protocolVersion: 2, provenance: decoded.provenance).encode(decoded.value)
        #expect(try Unpickler().load(encoded).list?.items.map(\.string) == expected)
    }

    @Test("features that need Python code or outside data are refused")
    func unsupported() {
        #expect(error([0x80, 0x02, 0x82, 0x01, 0x2E])?.code == .unsupported)           // EXT1
        #expect(error([0x80, 0x05, 0x97, 0x2E])?.code == .unsupported)                 // NEXT_BUFFER
        #expect(error([0x50] + Array("id\n".utf8) + [0x2E])?.code == .unsupported)     // PERSID without a loader
    }

    @Test("odd items for a dict, and unhashable keys")
    func badDicts() {
        #expect(error([0x7D, 0x28, 0x4E, 0x75, 0x2E])?.code == .invalidArgument)              // SETITEMS with 1 item
        #expect(error([0x7D, 0x5D, 0x4E, 0x73, 0x2E])?.code == .invalidArgument)              // a list as key
    }

    @Test("invalid UTF-8 in a str is an error, not replacement characters")
    func invalidUTF8() {
        #expect(error([0x8C, 0x02, 0xC3, 0x28, 0x2E])?.code == .invalidArgument)
    }

    @Test("a persistent-id loader's error surfaces with the offset")
    func persistentLoadError() throws {
        struct Missing: Error {}
        let u = Unpickler { _ in throw Missing() }
        do {
            _ = try u.load([0x4E, 0x51, 0x2E])
            Issue.record("loaded")
        } catch {
            #expect(error.code == .persistentLoad)
            #expect(error.offset == 1)
            #expect(error.opcode == .binPersID)
        }
    }

    @Test("a view beyond its storage names the storage, as PyTorch refuses it")
    func viewBeyondStorage() throws {
        let storage = Storage(key: "0", dtype: .float32, bytes: RawBytes([UInt8](repeating: 0, count: 16)))
        // _rebuild_tensor_v2(storage, 0, (5,), (1,), False, OrderedDict())
        var b: [UInt8] = [0x80, 0x02]
        b += [0x63] + Array("torch._utils\n_rebuild_tensor_v2\n".utf8)
        b += [0x28, 0x4E, 0x51]                     // MARK, pid None → storage
        b += [0x4B, 0x00, 0x4B, 0x05, 0x85, 0x4B, 0x01, 0x85, 0x89]
        b += [0x63] + Array("collections\nOrderedDict\n".utf8) + [0x29, 0x52]
        b += [0x74, 0x52, 0x2E]
        let u = Unpickler { _ in .storage(storage) }
        do {
            _ = try u.load(b)
            Issue.record("loaded a view past its storage")
        } catch {
            #expect(error.code == .invalidTensor)
            #expect(error.message.contains("storage '0'"))
            #expect(error.message.contains("20 bytes"))
        }
    }

    @Test("two strings memoized in one slot keep their own identities, and write back as they read")
    func memoSlotPutTwice() throws {
        // {'apch': 'resnet-tiny', 'x': GET 3}: both strings are PUT in slot 3,
        // which then holds the second (the checkpoint fuzz target's finding).
        var bytes: [UInt8] = [0x80, 0x02, 0x7D, 0x71, 0x00, 0x28]
        bytes += [0x55, 0x04] + Array("apch".utf8) + [0x71, 0x03]
        bytes += [0x55, 0x0B] + Array("resnet-tiny".utf8) + [0x71, 0x03]
        bytes += [0x55, 0x01] + Array("x".utf8) + [0x68, 0x03, 0x75, 0x2E]
        let decoded = try bytes.withUnsafeBytes { raw throws(PickleError) in try Unpickler().decode(raw) }
        #expect(decoded.value["apch"]?.string == "resnet-tiny")
        #expect(decoded.value["x"]?.string == "resnet-tiny")
        let encoded = try PickleEncoder(protocolVersion: 2, provenance: decoded.provenance).encode(decoded.value)
        let again = try Unpickler().load(encoded)
        #expect(again.dict?.keys.compactMap(\.string) == ["apch", "x"])
        #expect(again["apch"]?.string == "resnet-tiny")
        #expect(again["x"]?.string == "resnet-tiny")
    }
}

import Foundation
import ListingComparison
import Testing
import TorchCheckpoint

/// Big-endian checkpoints (a `byteorder` record saying `big`), as torch.save
/// writes them on a big-endian machine: fixtures/big_endian/, from
/// tools/make_layout_fixtures.py, each with `little/FILE`, the same object as
/// torch.save writes it on this machine.
@Suite("Byte order: big-endian checkpoints")
struct ByteOrderTests {
    static let bigEndian = ["big_endian/dtypes.pth", "big_endian/views.pth", "big_endian/state_dict.pth"]

    static func twin(_ name: String) -> String {
        name.replacingOccurrences(of: "big_endian/", with: "big_endian/little/")
    }

    /// A fresh directory, removed by the caller; PTH_LAYOUT_OUT keeps what
    /// the tests write instead, for tools/layout-check.py to load with PyTorch.
    static func outputDirectory() throws -> (url: URL, remove: Bool) {
        if let keep = ProcessInfo.processInfo.environment["PTH_LAYOUT_OUT"] {
            let url = URL(fileURLWithPath: keep)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            return (url, false)
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pth-byteorder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return (url, true)
    }

    static func data(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test("the byteorder record says big, and every storage is big-endian", arguments: bigEndian)
    func recordsBig(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        guard case .zip(_, _, let order, _) = checkpoint.format else {
            Issue.record("\(name) is not read as a zip checkpoint")
            return
        }
        #expect(order == .big)
        #expect(!checkpoint.storages.isEmpty)
        #expect(checkpoint.storages.allSatisfy { $0.byteOrder == .big })
        // The twin PyTorch wrote here says little.
        #expect(try Fixtures.open(Self.twin(name)).storages.allSatisfy { $0.byteOrder == .little })
    }

    @Test("elements read as PyTorch lists them, and as the little-endian twin's", arguments: bigEndian)
    func listing(_ name: String) throws {
        let torch = try Fixtures.json(name + ".listing.json")
        let ours = try Fixtures.open(name).listingJSON()
        let problems = ListingComparison.mismatches(torch: torch, ours: ours)
        #expect(problems.isEmpty, "\(name): \(problems.prefix(5))")
        let twin = try Fixtures.open(Self.twin(name)).listingJSON()
        #expect(ListingComparison.mismatches(torch: twin, ours: ours).isEmpty)
    }

    @Test("storageBytes() are the bytes as stored: each element reversed from the twin's")
    func rawBytesAsStored() throws {
        let big = try Fixtures.open("big_endian/dtypes.pth")
        let little = try Fixtures.open("big_endian/little/dtypes.pth")
        for key in ["float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "complex64", "complex128",
                    "uint8", "bool", "float8_e4m3fn"] {
            let b = try #require(big[key]?.tensor, "\(key)"), l = try #require(little[key]?.tensor)
            let stored = try b.storageBytes().array
            // In place: the bytes of the record data/<key> in the mapped file.
            let record = try #require(big.archive?.record("data/\(b.storage!.key)"))
            #expect(stored == (try big.archive!.bytes(of: record).copyBytes()), "\(key)")
            let unit = b.dtype.byteSwapUnit
            let reversed = stride(from: 0, to: stored.count, by: unit).flatMap { stored[$0..<($0 + unit)].reversed() }
            #expect(reversed == (try l.storageBytes().array), "\(key): stored bytes are not the twin's, swapped per \(unit)")
            // Asking for big-endian elements of a contiguous tensor gives the stored bytes back.
            #expect(try b.contiguousBytes(byteOrder: .big) == stored, "\(key)")
            #expect(try b.contiguousBytes(byteOrder: .little) == (try l.contiguousBytes(byteOrder: .little)), "\(key)")
        }
    }

    @Test("scalars() converts from big-endian storages")
    func scalars() throws {
        let checkpoint = try Fixtures.open("big_endian/dtypes.pth")
        let int16: [Int16] = try #require(checkpoint["int16"]?.tensor).scalars()
        #expect(int16 == [1, -2, 0x1234, -0x5678, 32767, -32768])
        let specials: [Float] = try #require(checkpoint["float32_specials"]?.tensor).scalars()
        #expect(specials[0] == .infinity && specials[1] == -.infinity)
        #expect(specials[2] == 0 && specials[2].sign == .minus)
        #expect(specials[3] == Float(bitPattern: 1))
        #expect(specials[5...].map(\.bitPattern) == [0x7FC0_0001, 0x7F80_0001, 0xFFC1_2345])
        let bools: [Bool] = try #require(checkpoint["bool"]?.tensor).scalars()
        #expect(bools == [true, false, true, true])
        let twin = try Fixtures.open("big_endian/little/dtypes.pth")
        for key in ["float64", "float32", "float16", "bfloat16", "float8_e5m2"] {
            let a: [Double] = try #require(checkpoint[key]?.tensor).scalars()
            let b: [Double] = try #require(twin[key]?.tensor).scalars()
            #expect(a == b, "\(key)")
        }
        let int64: [Int64] = try #require(checkpoint["int64"]?.tensor).scalars()
        #expect(int64 == (try #require(twin["int64"]?.tensor).scalars()))
        #expect(try #require(checkpoint["complex64"]?.tensor).complexScalars()
            == (try #require(twin["complex64"]?.tensor).complexScalars()))
    }

    @Test("views and conj/neg bits over big-endian storages read as the twin's")
    func views() throws {
        let big = try Fixtures.open("big_endian/views.pth")
        let little = try Fixtures.open("big_endian/little/views.pth")
        for (path, b) in big.tensors {
            let l = try #require(little.tensor(at: path.map { k -> Any in
                switch k {
                case .key(let s): s
                case .index(let i): i
                }
            }))
            #expect(b.shape == l.shape && b.stride == l.stride && b.storageOffset == l.storageOffset)
            #expect(b.isConjugated == l.isConjugated && b.isNegated == l.isNegated)
            for order in [ByteOrder.little, .big] {
                #expect(try b.contiguousBytes(byteOrder: order) == (try l.contiguousBytes(byteOrder: order)), "\(path.displayPath) \(order)")
            }
        }
        // Views share one storage, as in PyTorch.
        #expect(big["row"]?.tensor?.storage === big["matrix"]?.tensor?.storage)
        #expect(big["same_again"]?.tensor === big["matrix"]?.tensor)
    }

    @Test("a big-endian file is written back byte for byte, still big-endian", arguments: bigEndian + ["big_endian/untyped_multibyte.pth"])
    func rewrite(_ name: String) throws {
        let (dir, remove) = try Self.outputDirectory()
        defer { if remove { try? FileManager.default.removeItem(at: dir) } }
        let out = dir.appendingPathComponent("rewritten-" + (name as NSString).lastPathComponent).path
        try Fixtures.open(name).write(to: out)
        #expect(try Self.data(out) == (try Self.data(Fixtures.path(name))))
    }

    @Test("SaveOptions.byteOrder = .big writes what torch.save writes on a big-endian machine", arguments: bigEndian)
    func saveBig(_ name: String) throws {
        let (dir, remove) = try Self.outputDirectory()
        defer { if remove { try? FileManager.default.removeItem(at: dir) } }
        var options = SaveOptions()
        options.byteOrder = .big
        // From the little-endian twin: every storage is swapped on the way out.
        let swapped = dir.appendingPathComponent("big-from-little")
        try FileManager.default.createDirectory(at: swapped, withIntermediateDirectories: true)
        let out = swapped.appendingPathComponent((name as NSString).lastPathComponent).path
        try Checkpoint.save(try Fixtures.open(Self.twin(name)).root, to: out, options: options)
        #expect(try Self.data(out) == (try Self.data(Fixtures.path(name))), "\(name): not the big-endian fixture")
        let back = try Checkpoint(path: out)
        #expect(back.storages.allSatisfy { $0.byteOrder == .big })
        #expect(ListingComparison.mismatches(torch: try Fixtures.json(name + ".listing.json"), ours: try back.listingJSON()).isEmpty)
        // From the big-endian file itself: nothing to swap.
        let kept = dir.appendingPathComponent("big-from-big")
        try FileManager.default.createDirectory(at: kept, withIntermediateDirectories: true)
        let again = kept.appendingPathComponent((name as NSString).lastPathComponent).path
        try Checkpoint.save(try Fixtures.open(name).root, to: again, options: options)
        #expect(try Self.data(again) == (try Self.data(Fixtures.path(name))))
    }

    @Test("a big-endian checkpoint saved little-endian is what torch.save writes here", arguments: bigEndian + ["big_endian/untyped_multibyte.pth"])
    func saveLittle(_ name: String) throws {
        let (dir, remove) = try Self.outputDirectory()
        defer { if remove { try? FileManager.default.removeItem(at: dir) } }
        let folder = dir.appendingPathComponent("little-from-big")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let out = folder.appendingPathComponent((name as NSString).lastPathComponent).path
        try Checkpoint.save(try Fixtures.open(name).root, to: out)
        #expect(try Self.data(out) == (try Self.data(Fixtures.path(Self.twin(name)))), "\(name): not the little-endian twin")
    }

    @Test("big-endian uint16/32/64 and complex32 read as the big-endian machine wrote them, unlike torch.load here")
    func untypedMultiByte() throws {
        // torch.load swaps a storage by its storage class, and UntypedStorage
        // (how these dtypes are saved) as bytes: on a little-endian machine it
        // shows them byte-swapped. The expectations file has both views.
        let facts = try #require(Fixtures.json("big_endian/untyped_multibyte.pth.expected.json") as? [String: Any])
        let ours = try Fixtures.open("big_endian/untyped_multibyte.pth").listingJSON()
        #expect(ListingComparison.mismatches(torch: try #require(facts["big_endian_values"]), ours: ours).isEmpty)
        let torchHere = ListingComparison.mismatches(torch: try #require(facts["torch_load_little_endian"]), ours: ours)
        #expect(Set(torchHere.map { String($0.prefix { $0 != ":" }) }) == [#"["complex32"]"#, #"["uint16"]"#, #"["uint32"]"#, #"["uint64"]"#])
        let values: [UInt16] = try #require(try Fixtures.open("big_endian/untyped_multibyte.pth")["uint16"]?.tensor).scalars()
        #expect(values == [1, 0x1234, 0xFFFE])
    }

    @Test("a big-endian file cannot hold uint16/32/64 or complex32; 1-byte untyped types are fine")
    func refusesUntypedMultiByte() throws {
        let (dir, remove) = try Self.outputDirectory()
        defer { if remove { try? FileManager.default.removeItem(at: dir) } }
        var options = SaveOptions()
        options.byteOrder = .big
        let twin = try Fixtures.open("big_endian/little/untyped_multibyte.pth")
        let out = dir.appendingPathComponent("refused-\(UUID().uuidString).pth").path
        for key in ["uint16", "uint32", "uint64", "complex32"] {
            let sd = PyDict(kind: .orderedDict)
            sd["nested"] = .list(PyList([.tensor(try #require(twin[key]?.tensor))]))
            do {
                try Checkpoint.save(.dict(sd), to: out, options: options)
                Issue.record("\(key) was written big-endian")
            } catch {
                #expect("\(error)".contains("\(key) tensor at ['nested'][0]"), "\(error)")
            }
            #expect(!FileManager.default.fileExists(atPath: out))
        }
        let sd = PyDict()
        sd["float8"] = twin["float8"]
        let float8 = dir.appendingPathComponent("float8_big.pth").path
        try Checkpoint.save(.dict(sd), to: float8, options: options)
        let back = try Checkpoint(path: float8)
        #expect(try back["float8"]?.tensor?.storageBytes().array == (try twin["float8"]?.tensor?.storageBytes().array))
    }

    @Test("tensors built in Swift are saved big-endian and read back equal")
    func builtInSwift() throws {
        let (dir, remove) = try Self.outputDirectory()
        defer { if remove { try? FileManager.default.removeItem(at: dir) } }
        let sd = PyDict(kind: .orderedDict)
        let w = try Tensor(scalars: (0..<12).map { Float($0) * 0.25 - 1 }, shape: [3, 4])
        sd["w"] = .tensor(w.asParameter())
        sd["w_t"] = .tensor(try w.view(shape: [4, 3], stride: [1, 4], storageOffset: 0))
        sd["ids"] = .tensor(try Tensor(scalars: [Int64(1), -2, 0x0102_0304_0506_0708], shape: [3]))
        sd["half"] = .tensor(try Tensor(bytes: [0x00, 0x3C, 0x00, 0xC0], dtype: .float16, shape: [2]))
        var options = SaveOptions()
        options.byteOrder = .big
        let out = dir.appendingPathComponent("swift_built_big.pth").path
        try Checkpoint.save(.dict(sd), to: out, options: options)
        let back = try Checkpoint(path: out)
        guard case .zip(_, _, .big, _) = back.format else {
            Issue.record("not big-endian: \(back.format)")
            return
        }
        let raw = try #require(back["ids"]?.tensor).storageBytes().array
        #expect(Array(raw[16...]) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(try #require(back["ids"]?.tensor).scalars() == [Int64(1), -2, 0x0102_0304_0506_0708])
        #expect(try #require(back["w_t"]?.tensor).scalars() == (try w.view(shape: [4, 3], stride: [1, 4], storageOffset: 0).scalars() as [Float]))
        #expect(try #require(back["half"]?.tensor).scalars() == [Float(1), -2])
        #expect(back["w"]?.tensor?.storage === back["w_t"]?.tensor?.storage)
    }
}

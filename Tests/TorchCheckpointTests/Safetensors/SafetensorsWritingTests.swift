import Foundation
import Testing
import TorchCheckpoint

/// The writer makes the bytes `safetensors.torch.save_file` makes, and
/// refuses what it refuses.
@Suite("Safetensors: writing as save_file writes")
struct SafetensorsWritingTests {
    typealias F = SafetensorsFixtures

    @Test("a fixture's tensors written back give save_file's bytes", arguments: F.files)
    func roundTrip(_ name: String) throws {
        let expected = try F.Sidecar(name)
        let file = try SafetensorsFile(path: F.path(name))
        let writer = try SafetensorsWriter(tensors: file.tensors, metadata: file.metadata)
        let bytes = try writer.bytes()
        // save(load_file(f)) where safetensors can reproduce it; else the file itself
        // (its metadata order is one a Rust HashMap happened to give).
        #expect(try F.sha256(bytes) == expected.canonicalSHA256 ?? expected.sha256)
        #expect(bytes.count == writer.byteCount)

        // The input order does not matter: prepare() sorts.
        let reversed = try SafetensorsWriter(tensors: file.tensors.reversed(), metadata: file.metadata).bytes()
        #expect(reversed == bytes)

        // Written to a file, atomically: the same bytes.
        let path = F.scratchPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writer.write(to: path)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == bytes)

        // What we wrote reads back as what safetensors wrote.
        let again = try SafetensorsFile(path: path)
        #expect(again.tensors.count == file.tensors.count)
        for (name, tensor) in again.tensors {
            let original = try #require(file.tensor(named: name))
            #expect(try Listing.sha256(of: tensor) == Listing.sha256(of: original))
        }
    }

    /// One entry of from_pth.json.
    struct FromCheckpoint: Sendable, CustomTestStringConvertible {
        let source: String
        let names: [String]
        let unsupported: [String]
        let sharedGroups: [[String]]
        let canonicalSHA256: String?
        var testDescription: String { source }

        static let all: [FromCheckpoint] = {
            guard let list = try? F.json("from_pth.json") as? [[String: Any]] else { return [] }
            return list.map { o in
                FromCheckpoint(source: o["source"] as? String ?? "", names: o["names"] as? [String] ?? [],
                               unsupported: ((o["unsupported"] as? [String: Any]) ?? [:]).keys.sorted(),
                               sharedGroups: o["shared_groups"] as? [[String]] ?? [],
                               canonicalSHA256: o["canonical_sha256"] as? String)
            }
        }()
    }

    @Test("tensors from a checkpoint write as save_file writes their contiguous, resolved copies",
          arguments: FromCheckpoint.all)
    func fromCheckpoint(_ expected: FromCheckpoint) throws {
        let checkpoint = try Checkpoint(path: Fixtures.path(expected.source))
        guard case .dict(let dict) = checkpoint.root else {
            Issue.record("\(expected.source) holds no dict")
            return
        }
        var tensors: [String: Tensor] = [:]
        for (key, value) in dict.items {
            if case .string(let name) = key, case .tensor(let tensor) = value { tensors[name] = tensor }
        }

        // What save_file refuses for its type or layout, we refuse, naming the tensor.
        for name in expected.unsupported {
            let tensor = try #require(tensors[name])
            #expect {
                _ = try SafetensorsWriter(tensors: [(name, tensor)])
            } throws: { error in
                let e = error as? SafetensorsError
                return (e?.code == .unsupportedDType || e?.code == .unsupportedTensor) && e?.tensor == name
            }
        }

        let ready = try expected.names.map { name in (name: name, tensor: try #require(tensors[name])) }
        // Sharing among the contiguous tensors, as _find_shared_tensors finds it.
        let contiguous = ready.filter { $0.tensor.isContiguous }
        if expected.sharedGroups.isEmpty {
            _ = try SafetensorsWriter(tensors: contiguous)
        } else {
            #expect {
                _ = try SafetensorsWriter(tensors: contiguous)
            } throws: { error in
                guard let e = error as? SafetensorsError, e.code == .sharedStorage else { return false }
                return e.sharedTensors.map(F.utf8) == expected.sharedGroups.map(F.utf8)
            }
        }

        guard let canonical = expected.canonicalSHA256 else { return }
        let writer = try SafetensorsWriter(tensors: ready, options: .init(duplicateSharedTensors: true))
        #expect(try F.sha256(writer.bytes()) == canonical)
        #expect(writer.duplicatedTensors.isEmpty == expected.sharedGroups.isEmpty)
    }

    /// Where to leave files for tools/safetensors-roundtrip-check.py, when CI asks.
    static let checkDirectory = ProcessInfo.processInfo.environment["SAFETENSORS_CHECK_DIR"]

    @Test("files for tools/safetensors-roundtrip-check.py (SAFETENSORS_CHECK_DIR)", .enabled(if: checkDirectory != nil))
    func filesForPythonCheck() throws {
        let dir = try #require(Self.checkDirectory)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var manifest: [[String: Any]] = []
        for name in F.files {
            let file = try SafetensorsFile(path: F.path(name))
            try SafetensorsWriter(tensors: file.tensors, metadata: file.metadata).write(to: dir + "/" + name)
            manifest.append(["out": name, "expect": F.path(name)])
        }
        for entry in FromCheckpoint.all where entry.canonicalSHA256 != nil {
            let checkpoint = try Checkpoint(path: Fixtures.path(entry.source))
            guard case .dict(let dict) = checkpoint.root else { continue }
            var tensors: [String: Tensor] = [:]
            for (key, value) in dict.items {
                if case .string(let name) = key, case .tensor(let tensor) = value { tensors[name] = tensor }
            }
            let ready = try entry.names.map { name in (name: name, tensor: try #require(tensors[name])) }
            let out = entry.source + ".safetensors"
            try SafetensorsWriter(tensors: ready, options: .init(duplicateSharedTensors: true)).write(to: dir + "/" + out)
            manifest.append(["out": out, "expect": Fixtures.path(entry.source), "names": entry.names])
        }
        let data = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: dir + "/manifest.json"))
    }

    @Test("tensors sharing memory are refused, listing every group; duplicated on request")
    func sharedStorage() throws {
        let base = F.floatTensor([0, 1, 2, 3, 4, 5, 6, 7])
        let storage = try #require(base.storage)
        let head = Tensor(dtype: .float32, shape: [4], stride: [1], storageOffset: 0, storage: storage)
        let tail = Tensor(dtype: .float32, shape: [4], stride: [1], storageOffset: 4, storage: storage)
        let middle = Tensor(dtype: .float32, shape: [2], stride: [1], storageOffset: 3, storage: storage)
        let empty = Tensor(dtype: .float32, shape: [0], stride: [1], storageOffset: 2, storage: storage)

        // Disjoint views of one storage are fine (save_file writes them too), and so is an empty view.
        let disjoint = try SafetensorsWriter(tensors: [("head", head), ("tail", tail), ("empty", empty)])
        #expect(disjoint.duplicatedTensors.isEmpty)

        let tensors = [("all", base), ("head", head), ("tail", tail), ("middle", middle), ("other", F.floatTensor([1]))]
        #expect {
            _ = try SafetensorsWriter(tensors: tensors)
        } throws: { error in
            let e = error as? SafetensorsError
            return e?.code == .sharedStorage && e?.sharedTensors == [["all", "head", "middle", "tail"]]
                && e?.message.contains("'middle'") == true
        }
        let writer = try SafetensorsWriter(tensors: tensors, options: .init(duplicateSharedTensors: true))
        #expect(writer.duplicatedTensors == [["all", "head", "middle", "tail"]])
        let file = try SafetensorsFile(file: MappedFile(copying: writer.bytes()))
        let middleValues: [Float] = try #require(file.tensor(named: "middle")).scalars()
        #expect(middleValues == [3, 4])
    }

    @Test("names: __metadata__ is reserved, duplicates are refused, canonically equivalent names are two names")
    func names() throws {
        let t = F.floatTensor([1])
        #expect {
            _ = try SafetensorsWriter(tensors: [("__metadata__", t)])
        } throws: { ($0 as? SafetensorsError)?.code == .reservedName }
        #expect {
            _ = try SafetensorsWriter(tensors: [("a", t), ("a", F.floatTensor([2]))])
        } throws: { ($0 as? SafetensorsError)?.code == .duplicateName && ($0 as? SafetensorsError)?.tensor == "a" }
        #expect {
            _ = try SafetensorsWriter(tensors: [], metadata: [("k", "1"), ("k", "2")])
        } throws: { ($0 as? SafetensorsError)?.code == .duplicateName }
        let writer = try SafetensorsWriter(tensors: [("\u{E9}", t), ("e\u{301}", F.floatTensor([2]))])
        #expect(F.utf8(writer.items.map(\.name)) == F.utf8(["e\u{301}", "\u{E9}"]))
    }

    @Test("types safetensors cannot hold are refused, naming the tensor")
    func unsupported() throws {
        let bytes = RawBytes([UInt8](repeating: 0, count: 16))
        for dtype in [DType.complex32, .complex128, .bcomplex32, .qint8, .quint4x2, .bits8, .uint4, .int2] {
            let tensor = Tensor(dtype: dtype, shape: [1], stride: [1], storage: Storage(key: "s", dtype: dtype, bytes: bytes))
            #expect {
                _ = try SafetensorsWriter(tensors: [("w", tensor)])
            } throws: { ($0 as? SafetensorsError)?.code == .unsupportedDType && ($0 as? SafetensorsError)?.tensor == "w" }
        }
        // One F4 element is half a byte: Rust's prepare() refuses it.
        let f4 = Tensor(dtype: .float4_e2m1fn_x2, shape: [], stride: [], storage: Storage(key: "s", dtype: .float4_e2m1fn_x2, bytes: bytes))
        #expect {
            _ = try SafetensorsWriter(tensors: [("f4", f4)])
        } throws: { ($0 as? SafetensorsError)?.code == .misalignedSlice }
        let meta = Tensor(dtype: .float32, shape: [2], stride: [1], storage: nil, device: Device(type: "meta"))
        #expect {
            _ = try SafetensorsWriter(tensors: [("m", meta)])
        } throws: { ($0 as? SafetensorsError)?.code == .unsupportedTensor }
    }

    @Test("a storage shorter than the view is an error naming the tensor, not a read past its end")
    func shortStorage() throws {
        let storage = Storage(key: "s", dtype: .float32, bytes: RawBytes([UInt8](repeating: 0, count: 8)))
        let tensor = Tensor(dtype: .float32, shape: [4], stride: [1], storage: storage)
        let writer = try SafetensorsWriter(tensors: [("w", tensor)])
        #expect {
            _ = try writer.bytes()
        } throws: { ($0 as? SafetensorsError)?.code == .tensorData && ($0 as? SafetensorsError)?.tensor == "w" }
    }

    @Test("shapes from an untrusted checkpoint cannot overflow the layout")
    func hostileShapes() throws {
        let storage = Storage(key: "s", dtype: .float32, bytes: RawBytes([UInt8](repeating: 0, count: 8)))
        let huge = Tensor(dtype: .float32, shape: [Int.max / 2, 3], stride: [3, 1], storage: storage)
        #expect {
            _ = try SafetensorsWriter(tensors: [("huge", huge)])
        } throws: { ($0 as? SafetensorsError)?.code == .validationOverflow && ($0 as? SafetensorsError)?.tensor == "huge" }
        let negative = Tensor(dtype: .float32, shape: [-1, -2], stride: [1, 1], storage: storage)
        #expect {
            _ = try SafetensorsWriter(tensors: [("negative", negative)])
        } throws: { ($0 as? SafetensorsError)?.code == .tensorData }
        let halves = Tensor(dtype: .float32, shape: [Int.max / 4], stride: [1], storage: storage)
        #expect {
            _ = try SafetensorsWriter(tensors: [("a", halves), ("b", halves)], options: .init(duplicateSharedTensors: true))
        } throws: { ($0 as? SafetensorsError)?.code == .validationOverflow }
    }

    @Test("no tensors and empty metadata make a valid file (save_file writes invalid JSON there)")
    func emptyMetadata() throws {
        let writer = try SafetensorsWriter(tensors: [], metadata: [])
        #expect(String(decoding: writer.header, as: UTF8.self) == #"{"__metadata__":{}}     "#)
        let file = try SafetensorsFile(file: MappedFile(copying: writer.bytes()))
        #expect(file.metadata?.isEmpty == true)
        #expect(file.tensors.isEmpty)
    }

    @Test("the header limit applies to writing too")
    func headerLimit() {
        #expect {
            _ = try SafetensorsWriter(tensors: [("w", F.floatTensor([1]))], options: .init(maximumHeaderSize: 16))
        } throws: { ($0 as? SafetensorsError)?.code == .headerTooLarge }
    }
}

/// Writing replaces a file atomically, or leaves it alone.
@Suite("Safetensors: atomic writes")
struct SafetensorsAtomicWriteTests {
    typealias F = SafetensorsFixtures

    /// A fresh directory, removed by the caller.
    func directory() throws -> String {
        let path = F.scratchPath()
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    struct LoadFailure: Error {}

    @Test("a failure while writing leaves the old file and no temporary file")
    func failureKeepsOldFile() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/model.safetensors"
        let old = try SafetensorsWriter(tensors: [("w", F.floatTensor([1, 2]))]).bytes()
        try Data(old).write(to: URL(fileURLWithPath: path))

        // The header goes out, then the second tensor's storage fails to load.
        let failing = Storage(key: "bad", dtype: .float32, isUntyped: false, location: "cpu", elementCount: 2) {
            throw LoadFailure()
        }
        let writer = try SafetensorsWriter(tensors: [
            ("a", F.floatTensor([1, 2])),
            ("b", Tensor(dtype: .float32, shape: [2], stride: [1], storage: failing)),
        ])
        #expect {
            try writer.write(to: path)
        } throws: { error in
            let e = error as? SafetensorsError
            return e?.code == .tensorData && e?.tensor == "b" && e?.path == path
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.safetensors"])
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == old)
    }

    @Test("a destination whose directory is missing is an I/O error, and nothing is created")
    func missingDirectory() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let writer = try SafetensorsWriter(tensors: [("w", F.floatTensor([1]))])
        #expect {
            try writer.write(to: dir + "/absent/model.safetensors")
        } throws: { ($0 as? SafetensorsError)?.code == .io }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test("a file can be rewritten from its own mapped tensors; the old mapping stays valid")
    func rewriteInPlace() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/names.safetensors"
        try FileManager.default.copyItem(atPath: F.path("names.safetensors"), toPath: path)
        let file = try SafetensorsFile(path: path)
        let before = try file.tensors.map { try Listing.sha256(of: $0.tensor) }
        try SafetensorsWriter(tensors: file.tensors, metadata: file.metadata).write(to: path)
        #expect(try file.tensors.map { try Listing.sha256(of: $0.tensor) } == before)
        #expect(try F.sha256([UInt8](Data(contentsOf: URL(fileURLWithPath: path)))) == F.Sidecar("names.safetensors").sha256)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["names.safetensors"])
    }
}

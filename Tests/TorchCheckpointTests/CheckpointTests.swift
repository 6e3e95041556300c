import Foundation
import Testing
import TorchCheckpoint

@Suite("Opening checkpoints")
struct CheckpointTests {
    @Test("the prefix comes from the first entry, whatever the file name was", arguments: [
        ("prefixes/model.tar.gz", "model.tar"), ("prefixes/noext", "noext"),
        ("prefixes/pytorch_model.bin", "pytorch_model"), ("prefixes/weights.pt", "weights"),
        ("prefixes/from_stream.pth", "archive"), ("state_dict.pth", "state_dict"),
    ])
    func prefix(_ name: String, _ prefix: String) throws {
        let checkpoint = try Fixtures.open(name)
        guard case .zip(let p, let version, let order, let ts) = checkpoint.format else {
            Issue.record("not zip")
            return
        }
        #expect(p == prefix)
        #expect(version == 3)
        #expect(order == .little)
        #expect(!ts)
    }

    @Test("a state dict keeps PyTorch's key order and its _metadata")
    func stateDict() throws {
        let checkpoint = try Fixtures.open("state_dict.pth")
        let dict = try #require(checkpoint.root.dict)
        guard case .orderedDict = dict.kind else {
            Issue.record("state_dict() is an OrderedDict")
            return
        }
        let expected = try #require(Fixtures.json("state_dict.pth.listing.json") as? [[String: Any]])
        #expect(dict.keys.compactMap(\.string) == expected.compactMap { ($0["path"] as? [String])?.first })
        let metadata = try #require(dict.attribute("_metadata")?.dict)
        #expect(metadata[""]?["version"]?.int == 1)
    }

    @Test("views and tied weights share one storage object; strides and offsets are kept")
    func views() throws {
        let checkpoint = try Fixtures.open("views.pth")
        let base = try #require(checkpoint["base"]?.tensor)
        let t = try #require(checkpoint["t"]?.tensor)
        let slice = try #require(checkpoint["slice"]?.tensor)
        let expand = try #require(checkpoint["expand"]?.tensor)
        #expect(base.storage === t.storage && base.storage === slice.storage)
        #expect(t.stride == [1, 6] && !t.isContiguous)
        #expect(slice.storageOffset == 6)
        #expect(expand.stride == [0, 1])
        // The same tensor object under two keys is one node.
        #expect(checkpoint["tied_a"]?.tensor === checkpoint["tied_b"]?.tensor)
        let transposed: [Float] = try t.scalars()
        let original: [Float] = try base.scalars()
        #expect(transposed[1] == original[6])
    }

    @Test("stored tensors are read in place from the mapped file, without a copy")
    func inPlace() throws {
        let checkpoint = try Fixtures.open("state_dict.pth")
        let storage = try #require(checkpoint.storages.first)
        let bytes = try storage.bytes()
        let archive = try #require(checkpoint.archive)
        let entry = try #require(archive.record("data/\(storage.key)"))
        let fileBase = archive.file.bytes.baseAddress!
        #expect(bytes.baseAddress == fileBase + Int(entry.dataOffset))
        #expect(Int(entry.dataOffset) % 64 == 0)
    }

    @Test("every record's CRC-32 verifies")
    func crc() throws {
        for name in Fixtures.checkpoints { try Fixtures.open(name).verifyRecords() }
    }

    @Test("extra state of nested modules keeps its values")
    func extraState() throws {
        let checkpoint = try Fixtures.open("extra_state.pth")
        let keys = try #require(checkpoint.root.dict).keys.compactMap(\.string)
        #expect(keys.contains("encoder.layers.0.conv2._extra_state"))
    }

    @Test("opaque objects keep their class, arguments and state")
    func opaque() throws {
        let checkpoint = try Fixtures.open("values.pth")
        guard case .object(let o)? = checkpoint["opaque"] else {
            Issue.record("expected an opaque object")
            return
        }
        #expect(o.className == "fixture_classes.OpaqueRecord")
        #expect(o.attribute("name")?.string == "opaque")
        #expect(o.attribute("version")?.int == 2)
    }

    @Test("values PyTorch does not list keep their type and repr", arguments: ["values.pth"])
    func objectReprs(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        let objects = try #require((Fixtures.expectations[name] as? [String: Any])?["objects"] as? [[String: Any]])
        for o in objects {
            guard let path = o["path"] as? [String], let key = path.first, path.count == 1,
                  let type = o["type"] as? String, let repr = o["repr"] as? String else { continue }
            let value = try #require(checkpoint[key], "\(key)")
            switch type {
            case "builtins.complex", "builtins.set", "builtins.frozenset", "torch.dtype", "torch.device":
                #expect(value.pythonRepr == repr, "\(key)")
            case "torch.layout", "torch.qscheme":
                guard case .global(let g) = value else { Issue.record("\(key): \(value.typeName)"); continue }
                #expect("torch." + g.name == repr, "\(key)")
            case "numpy.ndarray":
                guard case .ndarray(let a) = value else { Issue.record("\(key)"); continue }
                #expect(!a.isScalar && a.dtype != nil, "\(key)")
            case _ where type.hasPrefix("numpy."):
                guard case .ndarray(let a) = value else { Issue.record("\(key)"); continue }
                #expect(a.isScalar && "numpy." + (a.dtype?.name ?? "") == type, "\(key)")
            default:
                guard case .object(let object) = value else { Issue.record("\(key): \(value.typeName)"); continue }
                #expect(object.className == type, "\(key)")
            }
        }
    }
}

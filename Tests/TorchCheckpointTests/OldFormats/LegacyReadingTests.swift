import Foundation
import ListingComparison
import Testing
import TorchCheckpoint

/// Reading the legacy format of `torch.save` (PyTorch before 1.6, or
/// `_use_new_zipfile_serialization=False`): what torch.load sees, storages in
/// place. Listings against PyTorch's run in ListingConformanceTests, which
/// picks up every fixture under fixtures/legacy.
@Suite("Legacy format: reading")
struct LegacyReadingTests {
    @Test("every legacy fixture is recognised by content, with its sys_info", arguments: Fixtures.legacyCheckpoints)
    func format(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        guard case .legacy(let info) = checkpoint.format else {
            Issue.record("\(name) opened as \(checkpoint.format)")
            return
        }
        #expect(info.protocolVersion == 1001)
        #expect(info.littleEndian == !name.hasSuffix("big_endian.pth"))
        #expect(info.shortSize == 2 && info.intSize == 4 && info.longSize == 4)
        #expect(checkpoint.archive == nil)
        #expect("\(checkpoint.format)".hasPrefix("legacy (PyTorch before 1.6"))
    }

    @Test("the object's pickle protocol is reported, whatever the header bytes", arguments: [
        ("legacy/state_dict.pth", 2), ("legacy/protocol1.pth", 1), ("legacy/protocol3.pth", 3),
        ("legacy/protocol4.pth", 4), ("legacy/protocol5.pth", 5), ("proto1.pth", 1), ("legacy/python2_cpickle.pth", 2),
    ])
    func pickleProtocol(_ name: String, _ expected: Int) throws {
        #expect(try Fixtures.open(name).pickleProtocol == expected)
    }

    @Test("storages are used in place from the mapped file, one after another as the file lays them out")
    func inPlace() throws {
        let checkpoint = try Fixtures.open("legacy/views_tied.pth")
        let storages = checkpoint.storages.sorted { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) }
        #expect(storages.count == 5)   // embedding (tied), base (and its views), other_storage, empty, scalar
        let file = try Fixtures.data("legacy/views_tied.pth")
        var previous: (address: UnsafeRawPointer, count: Int)?
        for storage in storages {
            let bytes = try storage.bytes()
            #expect(bytes.count == storage.byteCount)
            // Reading twice hands out the same memory: nothing is copied.
            #expect(try storage.bytes().baseAddress == bytes.baseAddress)
            if let previous, let base = bytes.baseAddress {
                // Each storage follows the previous one's bytes and its own 8-byte count.
                #expect(base == previous.address + previous.count + 8)
            }
            if let base = bytes.baseAddress { previous = (base, bytes.count) } else if let p = previous { previous = (p.address + p.count + 8, 0) }
        }
        // The last storage ends the file.
        let last = try #require(storages.last)
        let tail = Array(file.suffix(last.byteCount))
        #expect(try last.bytes().array == tail)
    }

    @Test("views and tied weights share one storage object, as in torch")
    func sharing() throws {
        let checkpoint = try Fixtures.open("legacy/views_tied.pth")
        let embedding = try checkpoint.tensor("embedding.weight"), decoder = try checkpoint.tensor("decoder.weight")
        #expect(embedding === decoder)
        #expect(embedding.isParameter)
        let base = try checkpoint.tensor("base")
        for key in ["row", "column", "transposed", "narrow"] {
            #expect(try checkpoint.tensor(key).storage === base.storage, "\(key)")
        }
        let column = try checkpoint.tensor("column")
        #expect(column.stride == [6] && column.storageOffset == 2)
        #expect(try column.scalars(as: Double.self) == [2, 8, 14, 20])
    }

    @Test("views in persistent ids (view_key, offset, size) show the root's bytes, as torch 0.3 wrote them")
    func oldStyleViews() throws {
        let checkpoint = try Fixtures.open("legacy/old_views.pth")
        let whole = try checkpoint.tensor("whole"), tail = try checkpoint.tensor("tail")
        let strided = try checkpoint.tensor("tail_strided"), middle = try checkpoint.tensor("middle")
        #expect(try tail.scalars(as: Float.self) == [4, 5, 6, 7, 8, 9])
        #expect(try strided.scalars(as: Float.self) == [5, 7, 9])
        #expect(try middle.scalars(as: Float.self) == [3, 4, 5, 6])
        // One view object per view key; its bytes are the root's, in place.
        #expect(tail.storage === strided.storage)
        #expect(tail.storage !== whole.storage)
        let root = try whole.storageBytes(), view = try tail.storageBytes()
        #expect(view.baseAddress == root.baseAddress.map { $0 + 16 })
        #expect(tail.storage?.elementCount == 6 && middle.storage?.elementCount == 5)
        #expect(tail.storage?.key == "94000000004096")
    }

    @Test("sys_info saying big-endian changes nothing: the storages are little-endian, as torch reads them")
    func bigEndianSysInfo() throws {
        let checkpoint = try Fixtures.open("legacy/sys_info_big_endian.pth")
        #expect(try checkpoint.tensor("weight").scalars(as: Float.self) == [0, 1, 2, 3, 4, 5])
        #expect(try checkpoint.tensor("ids").scalars(as: Int64.self) == [0, 1, 2])
        #expect(checkpoint.storages.allSatisfy { $0.byteOrder == .little })
    }

    @Test("Python 2 str is decoded as stringEncoding says, like torch.load's encoding=")
    func python2Strings() throws {
        let name = "legacy/python2_latin1.pth"
        // UTF-8, torch.load's default, fails on Latin-1 text, as torch.load does.
        do {
            _ = try Fixtures.open(name)
            Issue.record("Latin-1 text decoded as UTF-8")
        } catch let error as CheckpointError {
            guard case .pickle(_, let record, let e) = error else { Issue.record("wrong error \(error)"); return }
            #expect(record == "pickle 4 (the object)")
            #expect(e.code == .invalidArgument)
            #expect(e.message.contains("latin1"))
        }
        var options = LoadOptions()
        options.unpickler.stringEncoding = .latin1
        let checkpoint = try Fixtures.open(name, options: options)
        let torch = try Fixtures.json(name + ".latin1-listing.json")
        let problems = ListingComparison.mismatches(torch: torch, ours: try checkpoint.listingJSON())
        #expect(problems.isEmpty, "\(problems)")
        #expect(checkpoint["label"]?.string == "na\u{EF}ve \u{E0} la carte")

        // As bytes (encoding='bytes'): keys are bytes, and storage keys and locations still resolve.
        options.unpickler.stringEncoding = .bytes
        let raw = try Fixtures.open(name, options: options)
        let key = Value.bytes([0x63, 0x61, 0x66, 0xE9])
        #expect(raw.root.dict?[key]?.tensor?.shape == [3])
        #expect(raw.storages.allSatisfy { $0.location == "cpu" })
    }

    @Test("Python 2 str that is ASCII reads with the default options")
    func python2Ascii() throws {
        let checkpoint = try Fixtures.open("legacy/python2_strings.pth")
        #expect(checkpoint["arch"]?.string == "resnet-tiny")
        #expect(checkpoint["tags"]?.items?.compactMap(\.string) == ["a", "bb", ""])
        #expect(checkpoint["state_dict"]?["fc.weight"]?.tensor?.shape == [2, 3])
    }

    @Test("a uint16 tensor torch.save wrote as an UntypedStorage, which torch.load refuses, reads here")
    func untyped() throws {
        let checkpoint = try Fixtures.open("legacy/uint16_unloadable.pth")
        let ids = try checkpoint.tensor("ids")
        #expect(ids.dtype == .uint16)
        #expect(ids.storage?.isUntyped == true)
        #expect(try ids.scalars(as: UInt16.self) == [1, 2, 65535])
    }

    @Test("a whole nn.Module: its class comes from a ('module', class, file, source) persistent id")
    func wholeModule() throws {
        let checkpoint = try Fixtures.open("legacy/whole_module.pth")
        guard case .object(let model)? = checkpoint["model"] else {
            Issue.record("model is \(checkpoint["model"]?.typeName ?? "missing")")
            return
        }
        #expect(model.className.hasSuffix("Linear"))
        // The listing (and `tensors`) does not enter objects, as torch-listing.py
        // does not; the weights are in the object's state.
        #expect(checkpoint.tensors.isEmpty)
        #expect(model.state?["_parameters"]?["weight"]?.tensor?.shape == [2, 3])
        #expect(checkpoint.writeBackLimitation == nil)
    }

    @Test("nested whole modules: every reference to a class is its own persistent id, and the file is written back byte for byte")
    func wholeModel() throws {
        let checkpoint = try Fixtures.open("legacy/whole_model.pth")
        guard case .object(let model)? = checkpoint["model"] else {
            Issue.record("model is \(checkpoint["model"]?.typeName ?? "missing")")
            return
        }
        func state(_ value: Value?) -> Value? { if case .object(let o)? = value { o.state } else { nil } }
        #expect(model.className.hasSuffix("Sequential"))
        let inner = model.state?["_modules"]?["3"]
        #expect(inner?.typeName.hasSuffix("Sequential") == true)
        #expect(state(state(inner)?["_modules"]?["0"])?["_parameters"]?["weight"]?.tensor?.shape == [2, 2])
        let scratch = try ScratchDirectory()
        try checkpoint.write(to: scratch.path("whole_model.pth"))
        #expect(try Fixtures.data("legacy/whole_model.pth") == Array(Data(contentsOf: scratch.url.appendingPathComponent("whole_model.pth"))))
    }

    @Test("a zip file pickled at protocol 1 is read, and refused for writing with a reason that says protocol 1")
    func zipProtocolOne() throws {
        let checkpoint = try Fixtures.open("proto1.pth")
        #expect(checkpoint.pickleProtocol == 1)
        #expect(checkpoint["weight"]?.tensor?.shape == [3, 4])
        #expect(checkpoint.writeBackLimitation == "its pickle has no PROTO opcode (protocol 1), and the encoder writes protocols 2 to 5")
        let scratch = try ScratchDirectory()
        #expect {
            try checkpoint.write(to: scratch.path("out.pth"))
        } throws: { error in
            "\(error)".contains("protocol 1") && !"\(error)".contains("protocol 0")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)
    }

    @Test("the legacy protocol-1 file (text LONG magic, no PROTO) is read, and cannot be written back")
    func protocolOne() throws {
        let checkpoint = try Fixtures.open("legacy/protocol1.pth")
        #expect(checkpoint["step"]?.int == 7)
        #expect(checkpoint["big"]?.integerDescription == "1208925819614629174706176")
        let reason = try #require(checkpoint.writeBackLimitation)
        #expect(reason.contains("no PROTO opcode (protocol 1)"))
        let scratch = try ScratchDirectory()
        #expect(throws: CheckpointError.self) { try checkpoint.write(to: scratch.path("out.pth")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)
    }
}

import Foundation
import ListingComparison
import Testing
import TorchCheckpoint

/// torch.export archives (fixtures/pt2/, from tools/make_multifile_fixtures.py). Their listing,
/// compared in the listing conformance tests, is PyTorch's of the loaded program's state_dict
/// followed by its tensor constants.
@Suite("torch.export archives (.pt2): weights and constants")
struct ExportArchiveTests {
    @Test("the archive's models, parameters, buffers and constants, as torch.export.load gives them")
    func model() throws {
        let checkpoint = try Fixtures.open("pt2/model.pt2")
        #expect(checkpoint.format == .exportArchive(models: ["model"]))
        // torch.export.load's order: the weights config's (grouped by storage), then the constants'.
        #expect(checkpoint.root.dict?.keys.compactMap(\.string)
                == ["lin.weight", "lin.bias", "running", "running_tail", "count", "const_t", "scratch"])
        let weight = try #require(checkpoint["lin.weight"]?.tensor)
        #expect(weight.isParameter && weight.requiresGrad)
        // Two names that view one storage still share it, as torch.as_strided over one record.
        let running = try #require(checkpoint["running"]?.tensor)
        let tail = try #require(checkpoint["running_tail"]?.tensor)
        #expect(running.storage === tail.storage && tail.storageOffset == 2)
        #expect(try tail.scalars(as: Float.self) == Array(running.scalars(as: Float.self)[2..<5]))
        // A transposed constant keeps its strides over the whole storage.
        #expect(checkpoint["const_t"]?.tensor?.stride == [1, 3])
    }

    @Test("a tensor subclass is stored as a torch.save archive inside the .pt2, and named as a global torch.load would import")
    func pickled() throws {
        let checkpoint = try Fixtures.open("pt2/pickled.pt2")
        #expect(checkpoint["w"]?.tensor?.subclass?.qualifiedName == "torch.testing._internal.two_tensor.TwoTensor")
        #expect(checkpoint.globals.contains("torch.testing._internal.two_tensor.TwoTensor"))
        #expect(try checkpoint["plain"]?.tensor?.scalars(as: Float.self).count == 2)
    }
}

/// Bare pickles (fixtures/bare/, pickle.dump output): read on purpose, safely, with the listing
/// tools/torch_listing.py makes of pickle.load's value.
@Suite("Bare pickles read as pickle.load reads them, running nothing")
struct BarePickleTests {
    @Test("each bare pickle lists as pickle.load's value lists", arguments: ["dict_proto4.pkl", "list_proto5.pkl"])
    func listing(_ name: String) throws {
        let expectations = try #require(Fixtures.json("bare/expectations.json") as? [String: Any])
        let files = try #require(expectations["files"] as? [[String: Any]])
        let expected = try #require(files.first { $0["file"] as? String == name })
        let checkpoint = try Checkpoint(picklePath: Fixtures.path("bare/\(name)"))
        #expect(checkpoint.format == .pickle(protocol: expected["protocol"] as? Int ?? -1))
        let problems = ListingComparison.mismatches(torch: try #require(expected["listing"]), ours: try checkpoint.listingJSON())
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        // Checkpoint(path:) refuses it, as torch.load does.
        #expect(throws: CheckpointError.self) { try Checkpoint(path: Fixtures.path("bare/\(name)")) }
    }

    @Test("pickles back to back are all read, and what the later ones would call is named")
    func backToBack() throws {
        let scratch = try ScratchDirectory()
        // 1, then os.system('id'): a reader that loads twice runs the second.
        let bytes: [UInt8] = [0x80, 0x02, 0x4B, 0x01, 0x2E] + Array("\u{80}\u{02}cos\nsystem\nX\u{02}\u{00}\u{00}\u{00}id\u{85}R.".unicodeScalars.map { UInt8($0.value) })
        let checkpoint = try Checkpoint(picklePath: try scratch.write(bytes, "two.pkl"))
        #expect(checkpoint.root.items?.count == 2)
        #expect(checkpoint.root.items?.first == 1)
        #expect(checkpoint.globals.contains("posix.system") || checkpoint.globals.contains("os.system"))
        #expect(checkpoint.calls.count == 1)
    }

    @Test("a distributed checkpoint's .metadata reads as the Metadata object it pickles")
    func metadata() throws {
        let checkpoint = try Checkpoint(picklePath: Fixtures.path("dcp/single/.metadata"))
        guard case .object(let metadata) = checkpoint.root else { Issue.record("\(checkpoint.root)"); return }
        #expect(metadata.attribute("version")?.string == "1.0.0")
        #expect(checkpoint.globals.contains("torch.distributed.checkpoint.metadata.Metadata"))
    }
}

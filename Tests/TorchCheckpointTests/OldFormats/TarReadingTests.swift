import Foundation
import ListingComparison
import Testing
import TorchCheckpoint

/// Reading the tar format of PyTorch 0.1 (fixtures built by
/// tools/make_old_fixtures.py after 0.1's `_save`, confirmed by torch.load).
@Suite("Tar format (PyTorch 0.1): reading")
struct TarReadingTests {
    @Test("tar fixtures are recognised by content, with their sys_info", arguments: Fixtures.tarCheckpoints)
    func format(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        #expect(checkpoint.format == .tar(systemInfo: LegacySystemInfo(protocolVersion: 1000, littleEndian: true,
                                                                        shortSize: 2, intSize: 4, longSize: 4)))
        #expect("\(checkpoint.format)".hasPrefix("tar (PyTorch 0.1"))
    }

    @Test("a state dict of 0.1: tensors over their storages, in place")
    func stateDict() throws {
        let checkpoint = try Fixtures.open("tar/state_dict_0_1.pt")
        let keys = try #require(checkpoint.root.dict).keys.compactMap(\.string)
        #expect(keys == ["fc.weight", "fc.bias", "bn.running_mean"])
        let weight = try checkpoint.tensor("fc.weight")
        #expect(weight.dtype == .float32 && weight.shape == [3, 4] && weight.stride == [4, 1])
        #expect(checkpoint.storages.count == 3)
        // In place: the bytes lie in the file, after the storage's 8-byte count.
        let file = try Fixtures.data("tar/state_dict_0_1.pt")
        let bytes = try weight.storageBytes().array
        let index = try #require((0...(file.count - bytes.count)).first { Array(file[$0..<($0 + bytes.count)]) == bytes })
        #expect(Array(file[(index - 8)..<index]) == [12, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test("views of storages, a tensor referenced twice, a storage on its own, garbage padding, PAX headers")
    func views() throws {
        let checkpoint = try Fixtures.open("tar/views_0_1.pt")
        let matrix = try checkpoint.tensor("matrix"), view = try checkpoint.tensor("view")
        #expect(try checkpoint.tensor("again") === matrix)
        #expect(try matrix.scalars(as: Double.self) == (0..<12).map(Double.init))
        // The view storage starts at element 2 of the root; the tensor 1 further, transposed.
        #expect(view.storage?.elementCount == 8)
        #expect(view.storageOffset == 1 && view.stride == [1, 4])
        #expect(try view.scalars(as: Double.self) == [3, 7, 4, 8])
        #expect(try view.storageBytes().baseAddress == matrix.storageBytes().baseAddress.map { $0 + 16 })
        let list = try #require(checkpoint["list"]?.items)
        #expect(try list[0].tensor?.scalars(as: Int64.self) == [3, 1, 4, 1, 5])
        #expect(list[2].string == "text" && list[3].int == 3)
        guard case .storage(let raw)? = checkpoint["raw_storage"] else {
            Issue.record("raw_storage is \(checkpoint["raw_storage"]?.typeName ?? "missing")")
            return
        }
        #expect(try raw.bytes().array == [1, 0, 1, 1])
        #expect(raw === list[1].tensor?.storage)
    }

    @Test("tar files are read only: write(to:) says why and writes nothing", arguments: Fixtures.tarCheckpoints)
    func readOnly(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        let reason = try #require(checkpoint.writeBackLimitation)
        #expect(reason.contains("read only"))
        let scratch = try ScratchDirectory()
        do {
            try checkpoint.write(to: scratch.path("out.pt"))
            Issue.record("wrote a tar checkpoint")
        } catch {
            guard case .cannotWrite(_, let message) = error else { Issue.record("wrong error \(error)"); return }
            #expect(message == reason)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)
        // Its value can be saved in another format.
        try Checkpoint.save(checkpoint.root, to: scratch.path("converted.pth"))
        let converted = try Checkpoint(path: scratch.path("converted.pth"))
        #expect(ListingComparison.pathKey(try converted.listingJSON()) == ListingComparison.pathKey(try checkpoint.listingJSON()))
    }

    @Test("a damaged tar header is a typed error naming its offset")
    func badHeader() throws {
        var bytes = try Fixtures.data("tar/state_dict_0_1.pt")
        bytes[1536 - 512 + 10] ^= 0xFF        // inside the header of the second member ('pickle')
        let scratch = try ScratchDirectory()
        do {
            _ = try Checkpoint(path: try scratch.write(bytes, "bad.pt"))
            Issue.record("read a damaged header")
        } catch let error as CheckpointError {
            guard case .invalidRecord(_, let record, let reason) = error else { Issue.record("wrong error \(error)"); return }
            #expect(record == "tar header at byte 1024")
            #expect(reason.contains("checksum"))
        }
    }
}

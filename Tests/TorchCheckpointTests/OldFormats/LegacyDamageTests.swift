import Foundation
import ListingComparison
import Testing
import TorchCheckpoint

/// Damaged legacy and tar files give typed errors that say what and where,
/// never a crash or silently wrong tensors.
@Suite("Legacy and tar formats: damaged files")
struct LegacyDamageTests {
    /// Opens and reads every tensor's data.
    static func readAll(_ path: String) throws {
        let checkpoint = try Checkpoint(path: path)
        _ = try Listing.entries(of: checkpoint.root)
    }

    @Test("a legacy file cut at any byte gives a typed error", arguments: ["legacy/state_dict.pth", "legacy/old_views.pth", "legacy/protocol4.pth"])
    func truncation(_ name: String) throws {
        let original = try Fixtures.data(name)
        let scratch = try ScratchDirectory()
        for length in 0..<original.count {
            let path = try scratch.write(Array(original[0..<length]), "cut.pth")
            #expect(throws: CheckpointError.self, "cut at \(length)") { try Self.readAll(path) }
        }
    }

    @Test("a tar file cut at any byte gives a typed error or, past its last member, the same listing", arguments: Fixtures.tarCheckpoints)
    func tarTruncation(_ name: String) throws {
        let original = try Fixtures.data(name)
        let reference = ListingComparison.pathKey(try Fixtures.open(name).listingJSON())
        let scratch = try ScratchDirectory()
        for length in stride(from: 0, to: original.count, by: 5) {
            let path = try scratch.write(Array(original[0..<length]), "cut.pt")
            do {
                let c = try Checkpoint(path: path)
                // Only the end-of-archive blocks and padding may go missing, as Python's tarfile allows.
                #expect(ListingComparison.pathKey(try c.listingJSON()) == reference, "cut at \(length)")
            } catch is CheckpointError {
            } catch {
                Issue.record("cut at \(length): untyped error \(error)")
            }
        }
    }

    @Test("storage data running past the end of the file names the storage key and the byte offsets")
    func storagePastEnd() throws {
        // A file whose storages all hold data (an empty last storage would end
        // the file with its element count instead).
        let name = "legacy/state_dict.pth"
        let original = try Fixtures.data(name)
        let checkpoint = try Fixtures.open(name)
        #expect(checkpoint.storages.allSatisfy { $0.elementCount > 0 })
        // Storages are written in the order of their keys sorted as strings: the last one ends the file.
        let sortedKeys = checkpoint.storages.map(\.key).sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        let scratch = try ScratchDirectory()
        let path = try scratch.write(Array(original.dropLast(3)), "short.pth")
        do {
            try Self.readAll(path)
            Issue.record("read a file whose last storage is cut")
        } catch let error as CheckpointError {
            guard case .invalidRecord(_, let record, let reason) = error else { Issue.record("wrong error \(error)"); return }
            #expect(record == "storage '\(sortedKeys.last!)'")
            #expect(reason.contains("run past the end of the file at byte \(original.count - 3)"))
            #expect("\(error)".contains(sortedKeys.last!))
        }
    }

    @Test("an element count that disagrees with the pickle is refused, as torch's 'storage has wrong byte size'")
    func wrongCount() throws {
        let name = "legacy/sys_info_big_endian.pth"
        var bytes = try Fixtures.data(name)
        let checkpoint = try Fixtures.open(name)
        // The last storage: 3 int64 or 6 float32; its count sits 8 bytes before its data.
        let keys = checkpoint.storages.map(\.key).sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        let last = try #require(checkpoint.storages.first { $0.key == keys.last })
        let countOffset = bytes.count - last.byteCount - 8
        #expect(bytes[countOffset] == UInt8(last.elementCount))
        bytes[countOffset] &+= 1
        let scratch = try ScratchDirectory()
        let path = try scratch.write(bytes, "count.pth")
        do {
            try Self.readAll(path)
            Issue.record("read a wrong element count")
        } catch let error as CheckpointError {
            guard case .invalidRecord(_, let record, let reason) = error else { Issue.record("wrong error \(error)"); return }
            #expect(record == "storage '\(keys.last!)'")
            #expect(reason.contains("byte \(countOffset)"))
            #expect(reason.contains("wrong byte size"))
        }
    }

    @Test("a huge element count allocates nothing and is an error")
    func hugeCount() throws {
        let name = "legacy/state_dict.pth"
        var bytes = try Fixtures.data(name)
        let checkpoint = try Fixtures.open(name)
        let keys = checkpoint.storages.map(\.key).sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        let last = try #require(checkpoint.storages.first { $0.key == keys.last })
        let countOffset = bytes.count - last.byteCount - 8
        for i in 0..<8 { bytes[countOffset + i] = i == 7 ? 0x7F : 0xFF }
        let scratch = try ScratchDirectory()
        #expect(throws: CheckpointError.self) { try Self.readAll(try scratch.write(bytes, "huge.pth")) }
    }

    /// Legacy and tar files carry no checksum: a flipped byte in a pickle may
    /// change a value (an int, a letter of a key) and still read, as it does
    /// in torch.load. What must never happen is a crash or an untyped error.
    @Test("a flipped byte anywhere gives a typed error or a file that still reads", arguments: ["legacy/views_tied.pth", "legacy/python2_strings.pth", "tar/views_0_1.pt"])
    func flippedBytes(_ name: String) throws {
        let original = try Fixtures.data(name)
        let scratch = try ScratchDirectory()
        var failures = 0, reads = 0
        for i in stride(from: 0, to: original.count, by: name.hasPrefix("tar/") ? 7 : 2) {
            var damaged = original
            damaged[i] ^= 0x5A
            let path = try scratch.write(damaged, "flipped")
            do {
                let c = try Checkpoint(path: path)
                _ = try c.listingJSON()
                reads += 1
            } catch is CheckpointError {
                failures += 1
            } catch {
                Issue.record("flip at \(i): untyped error \(error)")
            }
        }
        #expect(failures > 0 && reads > 0)
    }

    @Test("a wrong magic number or protocol version is refused as torch.load refuses it")
    func header() throws {
        let original = try Fixtures.data("legacy/state_dict.pth")
        let scratch = try ScratchDirectory()
        // Protocol version 1001 is BININT2 0xe9 0x03 at bytes 18-19 of a protocol-2 file.
        #expect(Array(original[17..<20]) == [0x4D, 0xE9, 0x03])
        var bytes = original
        bytes[18] = 0xE8
        do {
            _ = try Checkpoint(path: try scratch.write(bytes, "version.pth"))
            Issue.record("read protocol version 1000")
        } catch let error as CheckpointError {
            guard case .invalidRecord(_, let record, let reason) = error else { Issue.record("wrong error \(error)"); return }
            #expect(record == "pickle 2 (protocol version)")
            #expect(reason.contains("1000"))
        }
    }

    @Test("a storage the object names but the keys do not list is an error, not uninitialised data")
    func unlisted() throws {
        // The keys pickle rewritten to list nothing (EMPTY_LIST BINPUT 0 STOP), and no storage data after it.
        let name = "legacy/sys_info_big_endian.pth"
        let checkpoint = try Fixtures.open(name)
        let original = try Fixtures.data(name)
        let keys = checkpoint.storages.map(\.key).sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        // Find the keys pickle: PROTO 2, EMPTY_LIST, BINPUT 0, MARK, BINUNICODE first key.
        let pattern: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0x00, 0x28, 0x58]
        let start = try #require((0...(original.count - pattern.count)).last { Array(original[$0..<($0 + pattern.count)]) == pattern })
        let replaced = Array(original[..<start]) + [0x80, 0x02, 0x5D, 0x71, 0x00, 0x2E]
        let scratch = try ScratchDirectory()
        do {
            try Self.readAll(try scratch.write(replaced, "unlisted.pth"))
            Issue.record("read a storage with no data")
        } catch let error as CheckpointError {
            guard case .invalidRecord(_, let record, _) = error else { Issue.record("wrong error \(error)"); return }
            #expect(keys.map { "storage '\($0)'" }.contains(record))
        }
    }
}

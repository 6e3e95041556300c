import Foundation
import ListingComparison
import Testing
import TorchCheckpoint
import TorchZip

/// Bad input gets a typed error naming what and where, never a crash or
/// wrong data.
@Suite("Damaged and foreign files")
struct DamagedFileTests {
    func write(_ bytes: [UInt8], _ name: String = UUID().uuidString) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pth-test-\(name)").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("a record name no writer makes (absolute, climbing out with '..', or twice) is refused, naming the record",
          arguments: [("state_dict/byteorder", "/state_dict/byteorde", "an absolute record name"),
                      ("state_dict/byteorder", "state_dict/../byteor", "climbs out of the archive with '..'"),
                      ("state_dict/data/11", "state_dict/data/10", "the record appears twice")])
    func unsafeRecordName(_ original: String, _ renamed: String, _ message: String) throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("state_dict.pth"))))
        // The name in the local header and in the central directory, same length.
        let from = Array(original.utf8), to = Array(renamed.utf8)
        #expect(to.count == from.count)
        var replaced = 0
        var i = 0
        while i + from.count <= bytes.count {
            if Array(bytes[i..<(i + from.count)]) == from {
                bytes.replaceSubrange(i..<(i + from.count), with: to)
                replaced += 1
            }
            i += 1
        }
        #expect(replaced == 2)
        let path = try write(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try Checkpoint(path: path)
            Issue.record("a record named '\(renamed)' was read")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
            #expect("\(error)".contains(renamed), "\(error)")
        }
    }

    @Test("a storage declared again with another type or size is refused, naming the key",
          arguments: [("DoubleStorage", 2, "is declared as float32 and as float64"),
                      ("FloatStorage", 2, "is declared with 4 and with 2 elements")])
    func storageDeclaredTwice(_ secondClass: String, _ secondCount: UInt8, _ message: String) throws {
        func text(_ s: String) -> [UInt8] { [0x58] + withUnsafeBytes(of: UInt32(s.utf8.count).littleEndian, Array.init) + Array(s.utf8) }
        func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
        func tensor(_ storageClass: String, _ count: UInt8) -> [UInt8] {
            let pid = [0x28] + text("storage") + global("torch", storageClass) + text("0") + text("cpu") + [0x4B, count, 0x74, 0x51]
            return global("torch._utils", "_rebuild_tensor_v2") + [0x28] + pid
                + [0x4B, 0, 0x4B, count, 0x85, 0x4B, 1, 0x85, 0x89] + global("collections", "OrderedDict") + [0x29, 0x52, 0x74, 0x52]
        }
        // Two tensors over storage '0': 4 float32 elements, then as declared here.
        let pickle: [UInt8] = [0x80, 2, 0x5D, 0x28] + tensor("FloatStorage", 4) + tensor(secondClass, secondCount) + [0x65, 0x2E]
        let sink = MemorySink()
        let writer = try PyTorchZipWriter(sink: sink, prefix: "archive")
        try writer.writeRecord("data.pkl", bytes: pickle)
        try writer.writeRecord("data/0", bytes: [UInt8](repeating: 0, count: 16))
        try writer.finish()
        let path = try write(sink.bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try Checkpoint(path: path)
            Issue.record("a storage declared twice was read")
        } catch {
            #expect("\(error)".contains("storage '0' \(message)"), "\(error)")
        }
    }

    @Test("a checkpoint cut at any byte gives a typed error")
    func truncation() throws {
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("scalar_root.pth"))))
        let path = try write([], "truncated")
        defer { try? FileManager.default.removeItem(atPath: path) }
        for length in 0..<original.count {
            try Data(original[0..<length]).write(to: URL(fileURLWithPath: path))
            #expect(throws: CheckpointError.self, "cut at \(length)") {
                let c = try Checkpoint(path: path)
                _ = try Listing.entries(of: c.root)
            }
        }
    }

    @Test("a flipped byte anywhere gives an error or, where the byte is unused, the same listing")
    func flippedBytes() throws {
        let name = "list_root.pth"
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name))))
        let reference = ListingComparison.pathKey(try Fixtures.open(name).listingJSON())
        let path = try write([], "flipped")
        defer { try? FileManager.default.removeItem(atPath: path) }
        for i in stride(from: 0, to: original.count, by: 3) {
            var damaged = original
            damaged[i] ^= 0x5A
            try Data(damaged).write(to: URL(fileURLWithPath: path))
            do {
                let c = try Checkpoint(path: path)
                try c.verifyRecords()
                // Bytes the format ignores (padding, timestamps) may change; what loads must be what PyTorch lists.
                #expect(ListingComparison.pathKey(try c.listingJSON()) == reference, "flip at \(i) changed the contents silently")
            } catch is CheckpointError {
            } catch {
                Issue.record("flip at \(i): untyped error \(error)")
            }
        }
    }

    @Test("a damaged pickle names the record, byte offset and opcode")
    func pickleError() throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("scalar_root.pth"))))
        let checkpoint = try Fixtures.open("scalar_root.pth")
        let entry = try #require(checkpoint.archive?.record("data.pkl"))
        bytes[Int(entry.dataOffset) + 2] = 0xFF   // an invalid opcode after PROTO 2
        let path = try write(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var options = LoadOptions()
        options.verifyPickleCRC = false
        do {
            _ = try Checkpoint(path: path, options: options)
            Issue.record("loaded a damaged pickle")
        } catch {
            guard case .pickle(_, let record, let e) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(record == "scalar_root/data.pkl")
            #expect(e.code == .unknownOpcode)
            #expect(e.offset == 2)
            #expect("\(error)".contains("byte 2"))
        }
    }

    static let foreignFiles: [([UInt8], String)] = {
        let numpy: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, 0, 0]
        let safetensors: [UInt8] = [0x10, 0, 0, 0, 0, 0, 0, 0] + Array("{\"a\":{}}        ".utf8)
        return [
            ([], "empty"),
            (Array("hello, this is text\n".utf8), "text"),
            ([0x80, 0x02, 0x4E, 0x2E], "bare pickle"),
            (numpy, "numpy"),
            (safetensors, "safetensors"),
            ([0x1F, 0x8B, 8, 0, 0, 0, 0, 0], "gzip"),
        ]
    }()

    @Test("files that are not checkpoints say what they look like", arguments: foreignFiles)
    func foreign(_ bytes: [UInt8], _ what: String) throws {
        let path = try write(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try Checkpoint(path: path)
            Issue.record("opened \(what)")
        } catch {
            guard case .unrecognizedFormat(_, let looksLike) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(looksLike.contains(what == "bare pickle" ? "pickle" : what), "\(looksLike)")
        }
    }

    @Test("a missing file is a typed error")
    func missing() {
        #expect(throws: CheckpointError.self) { try Checkpoint(path: "/nonexistent/model.pth") }
    }
}

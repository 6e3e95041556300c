import Foundation
import Testing
import TorchCheckpoint

/// Formats are recognised by content, never by extension, and files that are
/// no checkpoint say what they look like.
@Suite("Format detection")
struct FormatDetectionTests {
    enum Kind: String { case zip, legacy, tar, distributed, sharded, pickle, exportArchive }

    static func kind(_ format: CheckpointFormat) -> Kind {
        switch format {
        case .zip: .zip
        case .legacy: .legacy
        case .tar: .tar
        case .distributed: .distributed
        case .sharded: .sharded
        case .pickle: .pickle
        case .exportArchive: .exportArchive
        }
    }

    @Test("every fixture opens in the format its folder says, whatever its extension", arguments: Fixtures.checkpoints)
    func fixtures(_ name: String) throws {
        let expected: Kind = name.hasPrefix("legacy/") ? .legacy : name.hasPrefix("tar/") ? .tar
            : name.hasPrefix("sharded/") ? .sharded : name.hasSuffix(".pt2") ? .exportArchive : .zip
        #expect(Self.kind(try Fixtures.open(name).format) == expected)
    }

    @Test("the legacy magic number is found behind any protocol's header", arguments: [1, 2, 3, 4, 5])
    func legacyAnyProtocol(_ proto: Int) throws {
        // A legacy file of each protocol, renamed to look like something else.
        let scratch = try ScratchDirectory()
        let source = proto == 2 ? "legacy/state_dict.pth" : "legacy/protocol\(proto).pth"
        let path = try scratch.write(try Fixtures.data(source), "weights.safetensors")
        #expect(Self.kind(try Checkpoint(path: path).format) == .legacy)
    }

    static let foreign: [(bytes: [UInt8], says: String)] = {
        var h5: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        h5 += [UInt8](repeating: 0, count: 40)
        var v7tar = [UInt8](repeating: 0, count: 1024)
        for (i, c) in "weights.bin".utf8.enumerated() { v7tar[i] = c }
        for (i, c) in "0000644\0".utf8.enumerated() { v7tar[100 + i] = c }
        for (i, c) in "00000000000\0".utf8.enumerated() { v7tar[124 + i] = c }
        let sum = v7tar[0..<512].enumerated().reduce(0) { $0 + Int((148..<156).contains($1.offset) ? 0x20 : $1.element) }
        for (i, c) in (String(sum, radix: 8).leftPadded(6) + "\0 ").utf8.enumerated() { v7tar[148 + i] = c }
        return [
            (h5, "HDF5"),
            (Array("BZh91AY&SY".utf8) + [0, 0, 0], "bzip2"),
            ([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 0, 0], "xz"),
            ([0x28, 0xB5, 0x2F, 0xFD, 0, 0, 0, 0], "zstd"),
            ([0x1F, 0x8B, 8, 0, 0, 0, 0, 0], "gzip"),
            (Array("GGUF".utf8) + [3, 0, 0, 0], "GGUF"),
            ([0x80, 0x04, 0x95, 5, 0, 0, 0, 0, 0, 0, 0, 0x4B, 0x01, 0x2E], "bare pickle (protocol 4) without torch's magic number"),
            ([0x80, 0x02, 0x4B, 0x01, 0x2E], "bare pickle (protocol 2)"),
            (v7tar, "V7 tar"),
            ([0x00, 0xFF, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70], "unknown content starting with bytes 00 ff 10"),
        ]
    }()

    @Test("a file that is no checkpoint says what it looks like", arguments: foreign)
    func foreignFiles(_ bytes: [UInt8], _ says: String) throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.write(bytes, "model.pth")
        do {
            _ = try Checkpoint(path: path)
            Issue.record("opened \(says)")
        } catch {
            guard case .unrecognizedFormat(_, let looksLike) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(looksLike.contains(says), "\(looksLike)")
        }
    }

    @Test("a legacy file whose first pickle is torch's magic number but whose rest is not a checkpoint is a typed error")
    func magicOnly() throws {
        let bytes = Array(try Fixtures.data("legacy/state_dict.pth").prefix(15)) + [0x80, 0x02, 0x4B, 0x07, 0x2E]
        let scratch = try ScratchDirectory()
        do {
            _ = try Checkpoint(path: try scratch.write(bytes, "magic.pth"))
            Issue.record("opened a file with a bad protocol version")
        } catch let error as CheckpointError {
            guard case .invalidRecord(_, let record, let reason) = error else { Issue.record("wrong error \(error)"); return }
            #expect(record == "pickle 2 (protocol version)")
            #expect(reason.contains("protocol version 7"))
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

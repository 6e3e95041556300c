import Foundation
import Testing
import TorchCheckpoint

/// Strings Python shares (one literal used twice is one object) are written
/// as torch.save writes them with `SaveOptions.sharesEqualStrings`
/// (fixtures/sharing/, from tools/make_sharing_fixtures.py).
@Suite("Strings that are one Python object")
struct SharedStringTests {
    static func twin() -> Value {
        ["labels": ["cat", "dog", "cat"], "cat": 0, "dog": 1, "names": ["cat": "dog"],
         "weight": .tensor(.ones([2])), "note": "a longer shared note", "again": "a longer shared note"]
    }

    static func saved(_ options: SaveOptions) throws -> Data {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pth-sharing-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("shared_strings.pth").path
        try Checkpoint.save(twin(), to: path, options: options)
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    @Test("with sharesEqualStrings, the Swift value is written as torch.save writes its Python twin")
    func sharedTwin() throws {
        var options = SaveOptions()
        options.sharesEqualStrings = true
        #expect(try Self.saved(options) == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("sharing/shared_strings.pth"))))
    }

    @Test("without it, each string is its own object: the same value, other bytes, and it loads the same")
    func distinct() throws {
        let bytes = try Self.saved(SaveOptions())
        #expect(bytes != (try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("sharing/shared_strings.pth")))))
    }
}

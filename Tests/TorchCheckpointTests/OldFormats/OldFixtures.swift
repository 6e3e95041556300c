import Foundation
import Testing
import TorchCheckpoint

/// The fixtures of PyTorch's pre-1.6 formats (tools/make_old_fixtures.py).
extension Fixtures {
    /// Fixtures in the legacy pickle format, with a listing.
    static let legacyCheckpoints = checkpoints.filter { $0.hasPrefix("legacy/") }
    /// Fixtures in the tar format of PyTorch 0.1, with a listing.
    static let tarCheckpoints = checkpoints.filter { $0.hasPrefix("tar/") }
    /// Fixtures in the zip format: one `data.pkl` each.
    /// The fixtures `torch.save` (or `torch.jit.save`) wrote as zip files: not legacy or tar files,
    /// sharded sets (directories) or torch.export archives (zip, but no pickle).
    static let zipCheckpoints = checkpoints.filter {
        !$0.hasPrefix("legacy/") && !$0.hasPrefix("tar/") && !$0.hasPrefix("sharded/") && !$0.hasSuffix(".pt2")
    }

    static func open(_ name: String, options: LoadOptions) throws -> Checkpoint {
        try Checkpoint(path: path(name), options: options)
    }

    static func data(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: path(name))))
    }
}

/// A scratch directory removed when the test ends.
final class ScratchDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("pth-old-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let p = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    func read(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: path(name))))
    }
}

extension Checkpoint {
    /// The tensor under a string key of the root dict.
    func tensor(_ key: String) throws -> Tensor {
        try #require(root[key]?.tensor, "no tensor '\(key)'")
    }
}

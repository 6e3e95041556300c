import Foundation
import ListingComparison
import Testing
@testable import TorchCheckpoint

/// One opened checkpoint read from many tasks at once gives what one task
/// reading alone gets: the checkpoint, its tensors and storages are Sendable
/// and reading never mutates them (compressed records are inflated once,
/// under a lock).
@Suite("Reading one checkpoint from many tasks")
struct ConcurrentReadingTests {
    /// The listing with every tensor's SHA-256: it reads every byte.
    static func listing(_ checkpoint: Checkpoint) throws -> String {
        Listing.json(try Listing.entries(of: checkpoint))
    }

    @Test("16 tasks listing and hashing the same checkpoint agree with a lone reader and with PyTorch's listing", arguments: [
        "training_checkpoint.ckpt", "views.pth", "dtypes.pth", "rezipped/deflated.pth", "legacy/views_tied.pth",
        "big_endian/dtypes.pth", "torchscript/scripted.pt",
    ])
    func sameResults(_ name: String) async throws {
        let alone = try Self.listing(try Fixtures.open(name))
        let shared = try Fixtures.open(name)
        let results = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<16 {
                group.addTask { try Self.listing(shared) }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(results.count == 16)
        #expect(results.allSatisfy { $0 == alone })
        let torch = try Fixtures.json(name + ".listing.json")
        for result in Set(results) {
            let ours = try JSONSerialization.jsonObject(with: Data(result.utf8))
            #expect(ListingComparison.mismatches(torch: torch, ours: ours).isEmpty)
        }
    }

    @Test("tensors copied out concurrently equal those copied by one task")
    func scalars() async throws {
        let checkpoint = try Fixtures.open("training_checkpoint.ckpt")
        let floats = checkpoint.tensors.filter { $0.tensor.dtype == .float32 }.map(\.tensor)
        let expected = try floats.map { try $0.scalars(as: Float.self) }
        let copies = try await withThrowingTaskGroup(of: [[Float]].self) { group in
            for _ in 0..<8 {
                group.addTask { try floats.map { try $0.scalars(as: Float.self) } }
            }
            return try await group.reduce(into: [[[Float]]]()) { $0.append($1) }
        }
        #expect(copies.allSatisfy { $0 == expected })
    }

    @Test("8 tasks verifying every record and writing the checkpoint back, each to its own file, all get torch.save's bytes",
          arguments: ["training_checkpoint.ckpt", "rezipped/deflated.pth", "legacy/views_tied.pth", "torchscript/scripted.pt"])
    func writeBackConcurrently(_ name: String) async throws {
        let shared = try Fixtures.open(name)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pth-concurrent-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // What one task alone writes (for a re-zipped file: PyTorch's own layout of it).
        let alonePath = directory + "/alone"
        try shared.write(to: alonePath)
        let alone = try Data(contentsOf: URL(fileURLWithPath: alonePath))
        let written = try await withThrowingTaskGroup(of: Data.self) { group in
            for task in 0..<8 {
                group.addTask {
                    try shared.verifyRecords()
                    let path = directory + "/\(task)"
                    try shared.write(to: path)
                    return try Data(contentsOf: URL(fileURLWithPath: path))
                }
            }
            return try await group.reduce(into: [Data]()) { $0.append($1) }
        }
        #expect(written.count == 8)
        #expect(written.allSatisfy { $0 == alone })
        if !name.hasPrefix("rezipped/") {
            #expect(alone == (try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name)))))
        }
    }
}

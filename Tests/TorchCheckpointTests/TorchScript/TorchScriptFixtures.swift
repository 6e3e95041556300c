import Foundation
import TorchCheckpoint

extension Fixtures {
    /// The fixtures that are TorchScript archives (tools/make_torchscript_fixtures.py).
    static let torchScript: [String] = checkpoints.filter { (try? open($0))?.torchScript != nil }

    /// What torch.jit.load says of a TorchScript fixture beyond its state_dict (FILE.torchscript.json).
    static func torchScriptFacts(_ name: String) throws -> [String: Any] {
        try json(name + ".torchscript.json") as? [String: Any] ?? [:]
    }
}

/// Archives made from a fixture with some records replaced or left out, for
/// damaged-input tests: written with PyTorch's layout, the rest as stored.
enum ArchiveSurgery {
    /// A temporary file holding `fixture` with `replacing` records (by name
    /// without the prefix) and without `removing`; the caller removes it.
    static func write(from fixture: String, replacing: [String: [UInt8]] = [:], removing: Set<String> = []) throws -> String {
        let source = try ZipArchive(path: Fixtures.path(fixture))
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("pth-surgery-\(UUID().uuidString)-\((fixture as NSString).lastPathComponent)").path
        let sink = try AtomicFileSink(destination: path)
        let writer = try PyTorchZipWriter(sink: sink, prefix: source.prefix)
        for name in source.recordNames where !removing.contains(name) && name != ".data/serialization_id" {
            let bytes = try replacing[name] ?? source.bytes(of: try require(source.record(name), name)).copyBytes()
            try writer.writeRecord(name, bytes: bytes)
        }
        try writer.finish()
        try sink.commit()
        return path
    }

    /// A record's text, edited.
    static func edited(_ fixture: String, _ record: String, _ edit: (String) -> String) throws -> [UInt8] {
        let source = try ZipArchive(path: Fixtures.path(fixture))
        let text = String(decoding: try source.bytes(of: try require(source.record(record), record)).copyBytes(), as: UTF8.self)
        let changed = edit(text)
        guard changed != text else { throw FixtureError("the edit changed nothing in \(record)") }
        return Array(changed.utf8)
    }
}

/// The value, or an error naming what is missing (for helpers outside a test).
func require<T>(_ value: T?, _ what: String = "value") throws -> T {
    guard let value else { throw FixtureError("missing \(what)") }
    return value
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ArchiveSurgery {
    /// A temporary TorchScript archive of exactly these records (prefix `archive`); the caller removes it.
    static func write(records: [(String, [UInt8])]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pth-surgery-\(UUID().uuidString).pt").path
        let sink = try AtomicFileSink(destination: path)
        let writer = try PyTorchZipWriter(sink: sink, prefix: "archive")
        for (name, bytes) in records { try writer.writeRecord(name, bytes: bytes) }
        try writer.finish()
        try sink.commit()
        return path
    }
}

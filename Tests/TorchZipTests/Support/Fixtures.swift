import Testing
import TorchZip

/// Deterministic bytes for record contents.
func pattern(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
    (0 ..< count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &* 7 &+ ($0 >> 8)) }
}

/// Opens built bytes as an archive from memory.
func open(_ bytes: [UInt8], options: ZipArchive.Options = .init()) throws(ZipError) -> ZipArchive {
    try ZipArchive(file: MappedFile(copying: bytes, path: "test.zip"), options: options)
}

/// The ``ZipError`` thrown by `body`, or `nil` when it returns.
///
/// Any other error is recorded as a test issue (and gives `nil`).
func zipError<T>(_ body: () throws -> T) -> ZipError? {
    do {
        _ = try body()
        return nil
    } catch let error as ZipError {
        return error
    } catch {
        Issue.record("expected a ZipError, got \(error)")
        return nil
    }
}

/// A typical small PyTorch checkpoint: pickle, version files, storages, one empty.
func pytorchRecords(prefix: String = "archive") -> [ZipBuilder.Record] {
    [
        .stored("\(prefix)/data.pkl", pattern(93, seed: 3)),
        .stored("\(prefix)/.format_version", "1"),
        .stored("\(prefix)/.storage_alignment", "64"),
        .stored("\(prefix)/byteorder", "little"),
        .stored("\(prefix)/data/0", pattern(200, seed: 5)),
        .stored("\(prefix)/data/1", []),
        .stored("\(prefix)/data/2", pattern(13, seed: 9)),
        .stored("\(prefix)/version", "3\n"),
        .stored("\(prefix)/.data/serialization_id", "1234567890123456789012345678901234567890"),
    ]
}

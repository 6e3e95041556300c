import Foundation
import Testing
import TorchZip

/// Fixtures written by real PyTorch (tools/make_fixtures.py); they may not exist yet.
private let stateDictFixture = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // TorchZipTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // package root
    .appendingPathComponent("fixtures/state_dict.pth").path

@Suite("A checkpoint written by real PyTorch")
struct RealCheckpointTests {
    @Test(
        "fixtures/state_dict.pth opens, and every record's CRC verifies",
        .enabled(if: FileManager.default.fileExists(atPath: stateDictFixture), "fixtures/state_dict.pth is not there yet"))
    func stateDict() throws {
        let archive = try ZipArchive(path: stateDictFixture)
        #expect(!archive.prefix.isEmpty)
        #expect(archive.recordNames.contains("data.pkl"))
        #expect(archive.recordNames.contains("version"))
        for entry in archive.entries {
            #expect(entry.isStored)
            try archive.verifyCRC(of: entry)
            let bytes = try archive.bytes(of: entry)
            #expect(bytes.isInPlace)
            if entry.name.contains("/data/") && !entry.name.contains("/.data/") {
                #expect(entry.dataOffset % 64 == 0, "\(entry.name) is not 64-byte aligned")
            }
        }
        try archive.checkConsistencyWithLibzip()
    }
}

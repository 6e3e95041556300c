import Foundation
import Testing
import TorchZip

@Suite("Memory-mapped files")
struct MappedFileTests {
    @Test("a file maps with its size and bytes")
    func mapsFile() throws {
        let contents = pattern(10_000)
        let path = try temporaryFile(contents, suffix: ".bin")
        defer { removeFile(path) }
        let file = try MappedFile(path: path)
        #expect(file.path == path)
        #expect(file.count == 10_000)
        #expect(Array(file.bytes) == contents)
    }

    @Test("an empty file maps with count 0")
    func emptyFile() throws {
        let path = try temporaryFile([], suffix: ".bin")
        defer { removeFile(path) }
        let file = try MappedFile(path: path)
        #expect(file.count == 0)
        #expect(file.bytes.isEmpty)
        #expect(zipError { try ZipArchive(file: file) }?.code == .notAZip)
    }

    @Test("a missing file cannot be opened")
    func missingFile() {
        let error = zipError { try MappedFile(path: "/nonexistent/dir/model.pth") }
        #expect(error?.code == .cannotOpen)
        #expect(error?.message.contains("/nonexistent/dir/model.pth") == true)
        #expect(zipError { try ZipArchive(path: "/nonexistent/dir/model.pth") }?.code == .cannotOpen)
    }

    @Test("a directory cannot be mapped")
    func directory() {
        #expect(zipError { try MappedFile(path: NSTemporaryDirectory()) }?.code == .cannotOpen)
    }

    @Test("bytes copied into an anonymous mapping read back")
    func copying() throws {
        let contents = pattern(5000)
        let file = try MappedFile(copying: contents, path: "memory")
        #expect(Array(file.bytes) == contents)
        #expect(file.path == "memory")
        let raw = try contents.withUnsafeBytes { try MappedFile(copying: $0) }
        #expect(Array(raw.bytes) == contents)
        #expect(try MappedFile(copying: []).count == 0)
    }
}

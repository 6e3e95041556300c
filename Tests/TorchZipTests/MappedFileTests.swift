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

    @Test("bytes read without the map equal the mapped bytes, until the descriptor is closed; copies have none")
    func readWithoutMapping() throws {
        let contents = pattern(100_000)
        let path = try temporaryFile(contents, suffix: ".bin")
        defer { removeFile(path) }
        let file = try MappedFile(path: path)
        var buffer = [UInt8](repeating: 0, count: 4096)
        for offset in [0, 1, 65_537, 100_000 - 4096] {
            #expect(buffer.withUnsafeMutableBytes { file.readWithoutMapping(at: offset, into: $0) })
            #expect(buffer == Array(contents[offset ..< offset + 4096]))
        }
        // Past the end, or closed: false, and the caller reads the map.
        #expect(!buffer.withUnsafeMutableBytes { file.readWithoutMapping(at: 100_000 - 4095, into: $0) })
        file.closeDescriptor()
        #expect(!buffer.withUnsafeMutableBytes { file.readWithoutMapping(at: 0, into: $0) })
        #expect(Array(file.bytes) == contents)
        let copy = try MappedFile(copying: contents, path: "memory")
        #expect(!buffer.withUnsafeMutableBytes { copy.readWithoutMapping(at: 0, into: $0) })
    }

    @Test("local headers read without the map place every record where reading through the map does, for every fixture")
    func headersWithoutMapping() throws {
        let names = (FileManager.default.enumerator(atPath: fixturesDirectory.path)?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".pth") || $0.hasSuffix(".pt") || $0.hasSuffix(".ckpt") || $0.hasSuffix(".bin") }
        var zips = 0
        for name in names.sorted() {
            let path = fixturesDirectory.path + "/" + name
            guard let viaRead = try? ZipArchive(path: path) else { continue }
            let viaMap = try ZipArchive(file: try MappedFile(copying: Array(try Data(contentsOf: URL(fileURLWithPath: path))), path: path))
            #expect(viaRead.entries.map(\.dataOffset) == viaMap.entries.map(\.dataOffset), "\(name)")
            #expect(viaRead.entries.map(\.name) == viaMap.entries.map(\.name), "\(name)")
            zips += 1
        }
        #expect(zips > 50)
    }
}

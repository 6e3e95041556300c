import Testing
import TorchZip

@Suite("libzip's second opinion (ZIP_CHECKCONS)")
struct LibzipOpinionTests {
    @Test("libzip agrees with this parser on PyTorch's and the plain layout")
    func agrees() throws {
        for layout in [ZipBuilder.Layout.pytorch, .plain] {
            var records = pytorchRecords(prefix: "p")
            records.append(.deflatedByZlib("p/data/9", pattern(3000)))
            let archive = try open(ZipBuilder(layout: layout, records: records).build().bytes)
            try archive.checkConsistencyWithLibzip()
        }
    }

    @Test("libzip refuses duplicate names, which this parser keeps")
    func duplicateNames() throws {
        let archive = try open(ZipBuilder(layout: .pytorch, records: [.stored("a/x", "1"), .stored("a/x", "2")]).build().bytes)
        let error = zipError { try archive.checkConsistencyWithLibzip() }
        #expect(error?.code == .libzip)
        #expect(error?.message.contains("ZIP_CHECKCONS") == true)
    }

    @Test("libzip refuses bytes after the end record, which this parser tolerates")
    func trailingBytes() throws {
        let archive = try open(ZipBuilder(layout: .pytorch, records: [.stored("a/x", "1")], trailer: pattern(10)).build().bytes)
        #expect(zipError { try archive.checkConsistencyWithLibzip() }?.code == .libzip)
    }

    @Test("libzip compares local headers with the central directory")
    func localHeaderDiffers() throws {
        var built = ZipBuilder(layout: .pytorch, records: pytorchRecords()).build()
        // Local header time and date, which this parser does not read.
        built.bytes.put32(0x1234_5678, at: built.localHeaderOffsets[2] + 10)
        let archive = try open(built.bytes)
        #expect(zipError { try archive.checkConsistencyWithLibzip() }?.code == .libzip)
    }
}

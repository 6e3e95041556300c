import Foundation
import Testing
import TorchCheckpoint

/// Files the real safetensors package wrote read as it and PyTorch say they do.
@Suite("Safetensors: reading files safetensors wrote")
struct SafetensorsReadingTests {
    typealias F = SafetensorsFixtures

    @Test("a fixture reads as safetensors and PyTorch say", arguments: F.files)
    func fixture(_ name: String) throws {
        let expected = try F.Sidecar(name)
        let file = try SafetensorsFile(path: F.path(name))

        // Header text order, as json.loads(object_pairs_hook=…) sees it.
        let headerNames = expected.headerKeys.filter { !$0.utf8.elementsEqual("__metadata__".utf8) }
        #expect(F.utf8(file.tensors.map(\.name)) == F.utf8(headerNames))
        #expect(F.utf8(file.header.entries.map(\.name)) == F.utf8(expected.tensors.map(\.name)))
        // load_file's order is the data order.
        let byOffset = file.header.entries.sorted { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound) }
        #expect(F.utf8(byOffset.map(\.name)) == F.utf8(expected.offsetKeys))

        #expect((file.metadata == nil) == (expected.metadata == nil))
        #expect(F.utf8(file.metadata?.map(\.key) ?? []) == F.utf8(expected.metadata?.map(\.key) ?? []))
        #expect(F.utf8(file.metadata?.map(\.value) ?? []) == F.utf8(expected.metadata?.map(\.value) ?? []))

        let base = try #require(file.file.bytes.baseAddress)
        for ((entry, (_, tensor)), want) in zip(zip(file.header.entries, file.tensors), expected.tensors) {
            let label = Comment(rawValue: "\(name): \(want.name.debugDescription)")
            #expect(entry.dtype.rawValue == want.dtype, label)
            #expect(entry.shape == want.shape, label)
            #expect([entry.dataOffsets.lowerBound, entry.dataOffsets.upperBound] == want.dataOffsets, label)
            #expect(tensor.dtype.rawValue == want.torchDType, label)
            #expect(tensor.shape == want.torchShape, label)
            #expect(tensor.isContiguous && tensor.storageOffset == 0, label)
            #expect(try Listing.sha256(of: tensor) == want.sha256, label)
            // In place: the storage's bytes are the file's.
            let raw = try tensor.storageBytes()
            #expect(raw.count == entry.byteCount, label)
            if raw.count > 0 {
                #expect(raw.baseAddress == UnsafeRawPointer(base + file.header.dataOffset + entry.dataOffsets.lowerBound), label)
            }
        }
    }

    @Test("names are told apart by bytes: é and e + combining acute are two tensors")
    func namesByBytes() throws {
        let file = try SafetensorsFile(path: F.path("names.safetensors"))
        let precomposed = try #require(file.tensor(named: "\u{E9}"))
        let decomposed = try #require(file.tensor(named: "e\u{301}"))
        #expect(precomposed !== decomposed)
        #expect(file.tensor(named: "\u{E9}\u{301}") == nil)
        #expect(file.header.metadataValue(forKey: "\u{FC}n\u{EF}") == "\u{E7}\u{F8}d\u{E9} \u{1F600}")
        #expect(file.header.metadataValue(forKey: "u\u{308}n\u{EF}") == nil)
        #expect(file.tensor(named: "nul\u{0}byte") != nil)
    }

    @Test("values read back as PyTorch holds them")
    func values() throws {
        let file = try SafetensorsFile(path: F.path("dtypes.safetensors"))
        let i64: [Int64] = try #require(file.tensor(named: "i64")).scalars()
        #expect(i64 == [Int64.min, -1, 0, 1, Int64.max])
        let u64: [UInt64] = try #require(file.tensor(named: "u64")).scalars()
        #expect(u64 == [0, 1, UInt64(Int64.max), 1 << 63, UInt64.max])
        let flags: [UInt8] = try #require(file.tensor(named: "bool")).scalars()
        #expect(flags == [1, 0, 1, 1])
        let complex = try #require(file.tensor(named: "c64")).complexScalars()
        #expect(complex.first == Complex(real: 1, imag: 2))
        let shapes = try SafetensorsFile(path: F.path("shapes.safetensors"))
        let scalar: [Float] = try #require(shapes.tensor(named: "scalar_f32")).scalars()
        #expect(scalar == [3.25])
        #expect(try #require(shapes.tensor(named: "empty_2x0x3_f16")).contiguousBytes().isEmpty)
    }

    @Test("tensors stay readable after the file value is gone")
    func tensorsOutliveTheFile() throws {
        func open() throws -> Tensor {
            try #require(try SafetensorsFile(path: F.path("shapes.safetensors")).tensor(named: "vec_i32"))
        }
        let tensor = try open()
        let values: [Int32] = try tensor.scalars()
        #expect(values == [0, 1, 2, 3, 4])
    }

    @Test("a file that cannot be opened is a typed error naming it")
    func cannotOpen() {
        let path = F.scratchPath("missing.safetensors")
        #expect {
            _ = try SafetensorsFile(path: path)
        } throws: { error in
            let e = error as? SafetensorsError
            return e?.code == .cannotOpen && e?.path == path
        }
    }
}

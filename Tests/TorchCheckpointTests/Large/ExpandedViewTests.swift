import Foundation
import ListingComparison
import Testing
import TorchCheckpoint

/// Views whose logical size dwarfs their storage (fixtures/expanded/, from
/// tools/make_view_fixtures.py): `expand`'s stride 0 and overlapping
/// `as_strided`. Every operation is bounded by what the file holds or by a
/// limit: over it, a typed error or an entry that says so, never hours of
/// work or a failed allocation.
@Suite("Views larger than their storage")
struct ExpandedViewTests {
    static let mebibyte = 1 << 20

    static func tensor(_ file: String, _ key: String) throws -> Tensor {
        try #require(try Fixtures.open("expanded/\(file)")[key]?.tensor)
    }

    /// PyTorch's listing entry for `key` of `file`.
    static func torchEntry(_ file: String, _ key: String) throws -> [String: Any] {
        let entries = try #require(try Fixtures.json("expanded/\(file).listing.json") as? [[String: Any]])
        let entry = try #require(entries.first { ($0["path"] as? [Any])?.first as? String == key })
        return try #require(entry["tensor"] as? [String: Any])
    }

    static func overLimit(_ error: any Error, logical: Int, limit: Int) -> Bool {
        guard let error = error as? TensorError else { return false }
        return error.code == .expandedViewOverLimit && error.logicalByteCount == logical && error.limit == limit
    }

    // MARK: Facts

    @Test("a view larger than its storage is told apart from every ordinary tensor, position ids included")
    func facts() throws {
        let checkpoint = try Fixtures.open("expanded/views.pth")
        let expanded = Set(checkpoint.tensors.filter { $0.tensor.isExpandedView }.map { $0.path.displayPath })
        #expect(expanded == ["rows_repeated", "middle_stride0", "overlapping", "strided_overlap", "half", "bool",
                             "int8_at_limit", "under_limit", "at_limit", "over_limit"])
        let w = try Self.tensor("expand40.pth", "w")
        #expect(w.elementCount == 1 << 40 && w.byteCount == 4 << 40 && w.logicalByteCount == 4 << 40)
        #expect(w.expandedViewDescription == "a float32 view of 1,099,511,627,776 elements (4.0 TiB, shape [1099511627776], stride [0]) over 4 B of storage")
    }

    @Test("sizes past 2^63 bytes saturate instead of wrapping: 2^60 int64 and 2^62 float32 elements")
    func saturation() throws {
        for key in ["int64_2_60", "float32_2_62"] {
            let t = try Self.tensor("huge.pth", key)
            #expect(t.logicalByteCount == nil)
            #expect(t.byteCount == .max)
            #expect(t.isExpandedView)
            #expect(throws: TensorError.self) { _ = try t.contiguousBytes() }
        }
        #expect(try Self.tensor("huge.pth", "float32_2_62").elementCount == 1 << 62)
        // The tree and its totals render without overflowing.
        let text = Inspection(try Fixtures.open("expanded/huge.pth")).render()
        #expect(text.contains("8.0 EiB or more"))
    }

    // MARK: Tensor API

    @Test("scalars, bytes, casts and streaming of a 4 TiB view throw before allocating or reading")
    func tensorAPIThrows() throws {
        let w = try Self.tensor("expand40.pth", "w")
        let logical = 4 << 40, limit = Tensor.defaultExpandedViewLimit
        #expect { _ = try w.scalars(as: Float.self) } throws: { Self.overLimit($0, logical: logical, limit: limit) }
        #expect { _ = try w.scalars(as: Double.self) } throws: { Self.overLimit($0, logical: logical, limit: limit) }
        #expect { _ = try w.complexScalars() } throws: { Self.overLimit($0, logical: logical, limit: limit) }
        #expect { _ = try w.contiguousBytes() } throws: { Self.overLimit($0, logical: logical, limit: limit) }
        #expect { _ = try w.converted(to: .float16) } throws: { Self.overLimit($0, logical: logical, limit: limit) }
        #expect { _ = try w.converted(toFloatingPoint: .bfloat16) } throws: { Self.overLimit($0, logical: logical, limit: limit) }
        var called = false
        #expect { try w.forEachContiguousChunk { _ in called = true } } throws: { Self.overLimit($0, logical: logical, limit: limit) }
        #expect(!called)
        #expect { try w.checkExpandedView(limit: 1 << 30) } throws: { error in
            "\(error)".contains("exceeds the limit of 1.0 GiB") && "\(error)".contains("4.0 TiB")
        }
    }

    @Test("under, at and over a 1 MiB limit: read in full up to it, refused past it")
    func limitEdges() throws {
        let under = try Self.tensor("views.pth", "under_limit"), at = try Self.tensor("views.pth", "at_limit")
        let over = try Self.tensor("views.pth", "over_limit")
        let row: [Float] = try at.element(at: 0).scalars()
        #expect(try under.scalars(as: Float.self, expandedViewLimit: Self.mebibyte).count == 1023 * 256)
        let values: [Float] = try at.scalars(expandedViewLimit: Self.mebibyte)
        #expect(values == Array([[Float]](repeating: row, count: 1024).joined()))
        #expect { _ = try over.scalars(as: Float.self, expandedViewLimit: Self.mebibyte) } throws: {
            Self.overLimit($0, logical: 1025 * 1024, limit: Self.mebibyte)
        }
        // The limit is the caller's to raise.
        #expect(try over.scalars(as: Float.self, expandedViewLimit: 2 * Self.mebibyte).count == 1025 * 256)
        // A view that is no larger than its storage needs no limit at all.
        let ids = try Self.tensor("views.pth", "position_ids")
        #expect(try ids.scalars(as: Int64.self, expandedViewLimit: 0) == (0..<512).map(Int64.init))
    }

    // MARK: Listing

    @Test("every view in views.pth hashes as PyTorch hashes it, stride-0 rows streamed by repetition")
    func listingEqualsTorch() throws {
        let checkpoint = try Fixtures.open("expanded/views.pth")
        let problems = ListingComparison.mismatches(torch: try Fixtures.json("expanded/views.pth.listing.json"),
                                                    ours: try checkpoint.listingJSON())
        #expect(problems.isEmpty, "\(problems)")
        #expect(try Listing.entries(of: checkpoint).allSatisfy { entry in
            if case .tensor(let r) = entry.content { return r.sha256 != nil && r.unhashed == nil }
            return true
        })
    }

    @Test("a tensor over the limit is listed without its hash and says why; those within it keep PyTorch's hash")
    func listingPerTensorLimit() throws {
        for (key, hashed) in [("under_limit", true), ("at_limit", true), ("int8_at_limit", true), ("over_limit", false)] {
            let record = try Listing.record(try Self.tensor("views.pth", key), expandedViewLimit: Self.mebibyte)
            if hashed {
                #expect(record.sha256 == (try Self.torchEntry("views.pth", key))["sha256"] as? String, "\(key)")
                #expect(record.unhashed == nil)
            } else {
                #expect(record.sha256 == nil)
                #expect(record.unhashed?.contains("exceeds the listing's limit of 1.0 MiB") == true, "\(record.unhashed ?? "")")
            }
        }
    }

    @Test("the limit is a budget for the whole listing, and a view met twice is hashed once")
    func listingBudget() throws {
        let checkpoint = try Fixtures.open("expanded/views.pth")
        let entries = try Listing.entries(of: checkpoint, expandedViewLimit: Self.mebibyte)
        var unhashed: [String] = []
        for entry in entries {
            guard case .tensor(let r) = entry.content else { continue }
            if let why = r.unhashed {
                unhashed.append(entry.path.displayPath)
                #expect(why.contains("limit of 1.0 MiB"))
            } else {
                #expect(r.sha256 == (try Self.torchEntry("views.pth", entry.path.displayPath))["sha256"] as? String)
            }
        }
        // The small views fit; of the four views of about 1 MiB, the first fits what is left, the rest do not.
        #expect(unhashed == ["int8_at_limit", "under_limit", "at_limit", "over_limit"])
        let problems = ListingComparison.mismatches(torch: try Fixtures.json("expanded/views.pth.listing.json"),
                                                    ours: try JSONSerialization.jsonObject(with: Data(Listing.json(entries).utf8)),
                                                    allowingUnhashed: true)
        #expect(problems.isEmpty, "\(problems)")
        // One view reached under two paths costs the budget once.
        let at = try Self.tensor("views.pth", "at_limit")
        let twice = try Listing.entries(of: .list(PyList([.tensor(at), .tensor(at)])), expandedViewLimit: Self.mebibyte)
        #expect(twice.allSatisfy { if case .tensor(let r) = $0.content { r.sha256 != nil } else { false } })
    }

    @Test("the listing of 4 TiB and 2^64-byte views comes back at once, every entry PyTorch lists matched")
    func hugeListing() throws {
        for name in ["expand40.pth", "huge.pth"] {
            let checkpoint = try Fixtures.open("expanded/\(name)")
            let problems = ListingComparison.mismatches(torch: try Fixtures.json("expanded/\(name).listing.json"),
                                                        ours: try checkpoint.listingJSON())
            #expect(problems.isEmpty, "\(problems)")
            for entry in try Listing.entries(of: checkpoint) {
                guard case .tensor(let r) = entry.content else { continue }
                #expect((r.sha256 == nil) == (r.unhashed != nil), "\(entry.path.displayPath)")
            }
        }
    }

    // MARK: Conversion and diff

    @Test("safetensors refuses a view over the limit before writing anything, and keeps an existing file")
    func safetensorsRefuses() throws {
        let scratch = try ScratchDirectory()
        let out = scratch.path("out.safetensors")
        try Data("previous".utf8).write(to: URL(fileURLWithPath: out))
        let value = try Fixtures.open("expanded/expand40.pth").root
        #expect {
            _ = try Conversion.safetensors(from: value, to: out)
        } throws: { error in
            guard let error = error as? SafetensorsError else { return false }
            return error.code == .expandedViewOverLimit && error.tensor == "w" && error.message.contains("4.0 TiB")
                && error.message.contains("1.0 GiB")
        }
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "previous")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["out.safetensors"])
    }

    @Test("views within the limit become safetensors tensors holding PyTorch's logical elements")
    func safetensorsWrites() throws {
        let scratch = try ScratchDirectory()
        let out = scratch.path("views.safetensors")
        // overlapping and strided_overlap view one storage: each is written as its own copy.
        _ = try Conversion.safetensors(from: try Fixtures.open("expanded/views.pth").root, to: out, duplicateSharedTensors: true)
        let file = try SafetensorsFile(path: out)
        #expect(file.tensors.count == 12)
        for (name, tensor) in file.tensors {
            #expect(try Listing.sha256(of: tensor) == (try Self.torchEntry("views.pth", name))["sha256"] as? String, "\(name)")
        }
        #expect {
            _ = try Conversion.safetensors(from: try Fixtures.open("expanded/views.pth").root, to: scratch.path("x.safetensors"),
                                           duplicateSharedTensors: true, expandedViewLimit: Self.mebibyte)
        } throws: { ($0 as? SafetensorsError)?.code == .expandedViewOverLimit && ($0 as? SafetensorsError)?.tensor == "over_limit" }
    }

    @Test("a cast of a view over the limit names the tensor and the limit")
    func castRefuses() throws {
        var options = ConversionOptions()
        options.floatingPointType = .float16
        #expect {
            _ = try Conversion.transform(try Fixtures.open("expanded/expand40.pth").root, options: options)
        } throws: { error in
            guard case .cannotCast(let place, let reason)? = error as? ConversionError else { return false }
            return place.contains("['w']") && reason.contains("exceeds the limit of 1.0 GiB")
        }
        options.expandedViewLimit = Self.mebibyte
        options.floatingPointType = .float64
        #expect(throws: ConversionError.self) { _ = try Conversion.transform(try Fixtures.open("expanded/views.pth").root, options: options) }
    }

    static func expanded(_ values: [Float], shape: [Int], stride: [Int]) throws -> Tensor {
        let storage = try #require(try Tensor(scalars: values, shape: [values.count]).storage)
        return Tensor(dtype: .float32, shape: shape, stride: stride, storage: storage)
    }

    @Test("dimensions both tensors repeat are compared once, exactly, at any size")
    func diffCollapsesRepeats() throws {
        let a = try Self.expanded([1, 2, 3], shape: [1 << 40, 3], stride: [0, 1])
        let b = try Self.expanded([1, 2, 5], shape: [1 << 40, 3], stride: [0, 1])
        let (kinds, comparison) = try CheckpointDiff.compare(a, b)
        #expect(kinds.count == 1)
        let c = try #require(comparison)
        #expect(c.elementCount == 3 << 40)
        #expect(c.mismatchCount == 1 << 40)
        #expect(c.firstMismatch == [0, 2])
        #expect(c.maxAbsoluteDifference == 2)
        // Equal views of equal storages compare equal.
        let same = try CheckpointDiff.compare(a, try Self.expanded([1, 2, 3], shape: [1 << 40, 3], stride: [0, 1]))
        #expect(same.differences.isEmpty && same.comparison?.mismatchCount == 0)
    }

    @Test("two views over the limit that repeat differently are reported as not compared")
    func diffOverLimit() throws {
        // Overlapping rows (stride [1, 1]) against repeated rows (stride [0, 1]): 4 GiB each, no common repeat.
        let a = try Self.expanded([Float](repeating: 1, count: (1 << 20) + (1 << 10)), shape: [1 << 20, 1 << 10], stride: [1, 1])
        let b = try Self.expanded([Float](repeating: 1, count: 1 << 10), shape: [1 << 20, 1 << 10], stride: [0, 1])
        let (kinds, comparison) = try CheckpointDiff.compare(a, b)
        #expect(comparison == nil)
        guard case .notCompared(let reason)? = kinds.first else {
            Issue.record("expected not compared, got \(kinds)")
            return
        }
        #expect(reason.contains("exceeds the limit of 1.0 GiB"))
        // Raised, it compares: a smaller pair does.
        let small = try CheckpointDiff.compare(
            try Self.expanded([Float](repeating: 1, count: 64 + 8), shape: [64, 8], stride: [1, 1]),
            try Self.expanded([Float](repeating: 1, count: 8), shape: [64, 8], stride: [0, 1]),
            options: .init(expandedViewLimit: 4 << 10))
        #expect(small.differences.isEmpty && small.comparison?.elementCount == 512)
    }

    @Test("a file of views compares equal to itself at once")
    func diffItself() throws {
        for name in ["expand40.pth", "huge.pth", "views.pth"] {
            let report = try CheckpointDiff.compare(try Fixtures.open("expanded/\(name)"), try Fixtures.open("expanded/\(name)"))
            #expect(report.entries.isEmpty, "\(name): \(report.entries)")
        }
    }
}

@Suite("Printing views larger than their storage")
struct ExpandedViewPrintingTests {
    @Test("a 4 TiB view prints at once, summarized as repr() prints it")
    func printsSummarized() throws {
        let w = try ExpandedViewTests.tensor("expand40.pth", "w")
        #expect(w.description == "tensor([0., 0., 0.,  ..., 0., 0., 0.])")
    }
}

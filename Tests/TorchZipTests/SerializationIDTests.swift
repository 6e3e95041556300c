import Foundation
import Testing
import TorchZip

@Suite("The serialization id, as PyTorch's Linux builds compute it")
struct SerializationIDTests {
    @Test("std::hash<std::string> is libstdc++'s _Hash_bytes with seed 0xc70f6907", arguments: [
        // Values printed by a program built with g++ 12 against libstdc++.
        ("", 6_142_509_188_972_423_790 as UInt64),
        ("a", 4_993_892_634_952_068_459),
        ("data.pkl", 4_941_642_132_189_851_806),
        ("version", 1_565_691_551_459_181_974),
        ("byteorder", 17_475_754_552_457_364_548),
        ("data/0", 476_597_642_816_643_211),
        ("12345678", 10_113_836_418_918_046_885),
        ("123456789abcdefg", 5_023_196_434_294_505_884),
        (".data/serialization_id", 6_612_201_020_302_693_182),
        ("été", 13_865_135_146_258_435_707),
    ])
    func stringHash(text: String, expected: UInt64) {
        #expect(LibstdcxxHash.hash(text) == expected)
    }

    @Test("the set grows through the bucket counts libstdc++'s prime rehash policy gives")
    func bucketGrowth() {
        // Sizes at which an std::unordered_set<std::string> rehashed, from g++ 12.
        let expected: [(size: Int, buckets: Int)] = [
            (1, 13), (14, 29), (30, 59), (60, 127), (128, 257), (258, 541), (542, 1109),
            (1110, 2357), (2358, 5087), (5088, 10273), (10274, 20753), (20754, 42043),
            (42044, 85229), (85230, 172_933), (172_934, 351_061),
        ]
        var set = LibstdcxxUnorderedSetOrder()
        #expect(set.bucketCount == 1)
        var seen: [(size: Int, buckets: Int)] = []
        var generator = SplitMix64(seed: 7)
        for _ in 0 ..< 200_000 {
            let before = set.bucketCount
            set.insert(hash: generator.next())
            if set.bucketCount != before {
                seen.append((set.count, set.bucketCount))
            }
        }
        #expect(seen.map(\.size) == expected.map(\.size))
        #expect(seen.map(\.buckets) == expected.map(\.buckets))
        #expect(set.iterationOrder().count == 200_000)
        #expect(Set(set.iterationOrder()).count == 200_000)
    }

    @Test("the iteration order is libstdc++'s: new nodes first in their bucket, empty buckets at the front")
    func smallOrder() {
        // Hashes chosen by bucket (13 buckets): 1, 1, 2, 1.
        var set = LibstdcxxUnorderedSetOrder()
        for hash: UInt64 in [1, 14, 2, 27] {
            set.insert(hash: hash)
        }
        // 1 → [1]; 14 (bucket 1) → [14, 1]; 2 (bucket 2, empty) → [2, 14, 1]; 27 (bucket 1) → [2, 27, 14, 1].
        #expect(set.iterationOrder() == [2, 3, 1, 0])
    }

    @Test("every fixture's stored id is recomputed from its records")
    func fixtureIDs() throws {
        for fixture in torchFixtures {
            let archive = try ZipArchive(path: fixturesDirectory.path + "/" + fixture)
            var records: [SerializationID.Record] = []
            for (entry, name) in zip(archive.entries, archive.recordNames) where name != ".data/serialization_id" {
                let bytes = try archive.bytes(of: entry).copyBytes()
                records.append(.init(name: name, crc32: entry.crc32, size: entry.uncompressedSize, leadingBytes: Array(bytes.prefix(8))))
            }
            let stored = try archive.bytes(of: try #require(archive.record(".data/serialization_id"))).copyBytes()
            let id = SerializationID.compute(prefix: archive.prefix, records: records)
            #expect(id.description == String(decoding: stored, as: UTF8.self), "\(fixture)")
        }
    }

    /// The names torch.save gives the records of a dict of `count` tensors
    /// (the id excluded), in write order.
    static func torchSaveNames(tensors count: Int) -> [String] {
        ["data.pkl", ".format_version", ".storage_alignment", "byteorder"] + (0 ..< count).map { "data/\($0)" } + ["version"]
    }

    @Test("name hashes match real torch.save for dicts of 0 to 2000 tensors (every rehash up to 2357 buckets)")
    func torchSaveSweep() {
        // torch 2.15 wrote `torch.save({f'k{i}': torch.zeros(1, dtype=torch.uint8) for i in range(n)})`
        // for n in 0...2000; these are the first 20 digits of some of those ids,
        // and all 2001 of them folded with hash_combine.
        let spotChecks: [Int: UInt64] = [
            0: 2_908_468_677_762_923_104, 1: 15_728_199_511_854_643_026,
            8: 8_268_647_735_604_577_700, 9: 1_977_860_353_369_201_443,
            24: 12_647_775_507_600_111_753, 25: 14_750_728_607_576_356_699,
            54: 17_381_657_268_951_784_543, 55: 7_763_250_659_416_188_633,
            122: 8_650_282_948_963_040_436, 123: 10_757_249_306_875_524_792,
            252: 6_532_828_694_587_645_195, 253: 13_359_072_007_816_355_221,
            536: 1_116_815_760_007_543_440, 537: 3_830_092_836_126_400_321,
            1104: 4_447_586_268_992_823_642, 1105: 8_983_343_781_592_930_482,
            2000: 12_381_208_094_054_884_420,
        ]
        // Hash the 2,005 names once; each count then fills a fresh set in write order.
        let allNames = Self.torchSaveNames(tensors: 2000)
        let hashes = allNames.map { LibstdcxxHash.hash($0) }
        var folded: UInt64 = 0
        for count in 0 ... 2000 {
            var set = LibstdcxxUnorderedSetOrder()
            for index in 0 ..< 4 + count {
                set.insert(hash: hashes[index])
            }
            set.insert(hash: hashes[allNames.count - 1])  // version
            var nameHash: UInt64 = 0
            for node in set.iterationOrder() {
                nameHash = nameHash ^ (set.hashes[node] &+ 0x9E37_79B9 &+ (nameHash << 6) &+ (nameHash >> 2))
            }
            if let expected = spotChecks[count] {
                #expect(nameHash == expected, "\(count) tensors")
            }
            folded = folded ^ (nameHash &+ 0x9E37_79B9 &+ (folded << 6) &+ (folded >> 2))
        }
        #expect(folded == 17_354_284_854_945_538_948)
        // The public entry point agrees on the largest one.
        let records = allNames.map { SerializationID.Record(name: $0, crc32: 0, size: 0, leadingBytes: []) }
        #expect(SerializationID.compute(prefix: "archive", records: records).nameHash == spotChecks[2000])
    }

    @Test("the description is both halves as 20 zero-padded digits")
    func description() {
        #expect(SerializationID(nameHash: 7, crcHash: UInt64.max).description == "00000000000000000007" + "18446744073709551615")
    }
}

@Suite("The PK\\x07\\x08 quirk of PyTorch's CRC fold, against files written by real torch")
struct SerializationIDQuirkTests {
    /// The records of `torch.save(obj, 'crafted.pth')` with uint8 tensors
    /// `PK\x07\x08` + 4 bytes, `PK\x07\x08` + 3 bytes, `PK\x07\x08` + 96 bytes,
    /// `XPK\x07\x08abcdefg` and an empty one.
    static let records: [(String, [UInt8])] = [
        ("data.pkl", bytes(base64: """
            gAJ9cQAoWAIAAABhOHEBY3RvcmNoLl91dGlscwpfcmVidWlsZF90ZW5zb3JfdjIKcQIoKFgHAAAAc3RvcmFnZXEDY3RvcmNoCkJ5dGVTdG9yYWdlCnEEWAEAAAAwcQVYAwAAAGNwdXEGSwh0cQdRSwBLCIVxCEsBhXEJiWNjb2xsZWN0aW9ucwpPcmRlcmVkRGljdApxCilScQt0cQxScQ1YAgAAAGE3cQ5oAigoaANoBFgBAAAAMXEPaAZLB3RxEFFLAEsHhXERSwGFcRKJaAopUnETdHEUUnEVWAQAAABhMTAwcRZoAigoaANoBFgBAAAAMnEXaAZLZHRxGFFLAEtkhXEZSwGFcRqJaAopUnEbdHEcUnEdWAQAAABub3BlcR5oAigoaANoBFgBAAAAM3EfaAZLDHRxIFFLAEsMhXEhSwGFcSKJaAopUnEjdHEkUnElWAUAAABlbXB0eXEmaAIoKGgDaARYAQAAADRxJ2gGSwB0cShRSwBLAIVxKUsBhXEqiWgKKVJxK3RxLFJxLXUu
            """.replacingOccurrences(of: "\n", with: "").replacingOccurrences(of: " ", with: ""))),
        (".format_version", Array("1".utf8)),
        (".storage_alignment", Array("64".utf8)),
        ("byteorder", Array("little".utf8)),
        ("data/0", [0x50, 0x4B, 0x07, 0x08, 1, 2, 3, 4]),
        ("data/1", [0x50, 0x4B, 0x07, 0x08, 1, 2, 3]),
        ("data/2", [0x50, 0x4B, 0x07, 0x08] + (0 ..< 96).map { UInt8($0) }),
        ("data/3", Array("XPK".utf8) + [0x07, 0x08] + Array("abcdefg".utf8)),
        ("data/4", []),
        ("version", Array("3\n".utf8)),
    ]

    /// Writes ``records`` under `prefix` and returns the archive's bytes and id.
    static func write(prefix: String) throws -> (bytes: [UInt8], id: String) {
        let sink = MemorySink()
        let writer = try PyTorchZipWriter(sink: sink, prefix: prefix)
        for (name, contents) in records {
            try writer.writeRecord(name, bytes: contents)
        }
        let id = try writer.finish()
        return (sink.bytes, id)
    }

    @Test("data that starts with PK\\x07\\x08 and has 8 bytes or more folds its bytes 4 to 7 before its CRC")
    func dataQuirk() throws {
        let (bytes, id) = try Self.write(prefix: "crafted")
        #expect(id == "0055190185320359078712315268739730520438")
        #expect(bytes.count == 2585)
        #expect(bytes.withUnsafeBytes { crc32($0) } == 0xB151_2D4B)
    }

    @Test("a prefix that starts with PK\\x07\\x08 folds bytes 4 to 7 of every record name")
    func nameQuirk() throws {
        // torch.save(obj, 'PK\x07\x08wxyz.pth')
        let (bytes, id) = try Self.write(prefix: "PK\u{07}\u{08}wxyz")
        #expect(id == "0055190185320359078717652081108030059205")
        #expect(bytes.count == 2596)
        #expect(bytes.withUnsafeBytes { crc32($0) } == 0xC2FF_A077)
    }

    @Test("compute(prefix:records:) agrees with the writer on the quirks")
    func computeAgrees() {
        let records = Self.records.map { name, contents in
            SerializationID.Record(
                name: name, crc32: contents.withUnsafeBytes { crc32($0) },
                size: UInt64(contents.count), leadingBytes: Array(contents.prefix(8)))
        }
        #expect(SerializationID.compute(prefix: "crafted", records: records).description == "0055190185320359078712315268739730520438")
        #expect(SerializationID.compute(prefix: "PK\u{07}\u{08}wxyz", records: records).description == "0055190185320359078717652081108030059205")
    }
}

import Foundation
import Testing
import TorchCheckpoint

/// Damaged and unusual files get the reference implementation's verdict, as a
/// typed error naming what and where; never a crash.
@Suite("Safetensors: damaged and unusual files")
struct SafetensorsMalformedTests {
    typealias F = SafetensorsFixtures

    /// One hand-made file of malformed.json and what safetensors said about it.
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        /// "ok", or the error message of `safetensors.deserialize`.
        let deserialize: String
        /// "name bytes|dtype|shape", sorted, when deserialize accepted it.
        let tensors: [String]
        /// "ok", "same error", or load_file's message.
        let loadFile: String
        /// "name bytes|torch dtype|shape", sorted, when load_file accepted it.
        let torch: [String]
        var testDescription: String { name }

        static let all: [Case] = {
            guard let list = try? F.json("malformed.json") as? [[String: Any]] else { return [] }
            func rows(_ any: Any?) -> [String] {
                (any as? [[Any]] ?? []).map { item in
                    SafetensorsMalformedTests.row(item[0] as? String ?? "?", item[1] as? String ?? "?", item[2] as? [Int] ?? [-1])
                }.sorted()
            }
            return list.map { o in
                Case(name: o["name"] as? String ?? "",
                     bytes: [UInt8](Data(base64Encoded: o["base64"] as? String ?? "") ?? Data()),
                     deserialize: o["deserialize"] as? String ?? "", tensors: rows(o["tensors"]),
                     loadFile: o["load_file"] as? String ?? "", torch: rows(o["torch"]))
            }
        }()
    }

    /// A tensor's name (as bytes, so that canonically equivalent names stay apart), type and shape.
    static func row(_ name: String, _ dtype: String, _ shape: [Int]) -> String {
        "\(Array(name.utf8))|\(dtype)|\(shape)"
    }

    /// The code of ours that stands for a reference implementation's message.
    static func code(forReference message: String) -> SafetensorsError.Code? {
        let table: [(String, SafetensorsError.Code)] = [
            ("header too small", .headerTooSmall), ("header too large", .headerTooLarge),
            ("invalid header length", .invalidHeaderLength), ("invalid UTF-8 in header", .invalidHeaderUTF8),
            ("invalid JSON in header", .invalidHeaderJSON), ("invalid offset for tensor", .invalidOffset),
            ("overflow computing buffer size", .validationOverflow), ("The slice is slicing for subbytes", .misalignedSlice),
            ("invalid shape, data type, or offset for tensor", .tensorInvalidInfo),
            ("incomplete metadata, file not fully covered", .metadataIncompleteBuffer),
        ]
        return table.first { message.contains($0.0) }?.1
    }

    /// The reference message without its prefix and serde_json's " at line L column C".
    static func referenceText(_ message: String) -> String {
        var text = message.replacingOccurrences(of: "Error while deserializing: ", with: "")
        if let r = text.range(of: #" at line \d+ column \d+$"#, options: .regularExpression) {
            text.removeSubrange(r)
        }
        return text
    }

    @Test("a hand-made file gets safetensors' verdict", arguments: Case.all)
    func verdict(_ c: Case) throws {
        let mapped = try MappedFile(copying: c.bytes, path: c.name)
        if c.deserialize == "ok" {
            let header: SafetensorsHeader
            do {
                header = try SafetensorsHeader(file: mapped)
            } catch {
                // The one deliberate difference: a dimension over Int.max (only with a
                // zero beside it) is valid to safetensors, impossible for PyTorch.
                #expect(c.name == "shape_u64_max_with_zero" && error.code == .unrepresentableShape, "\(error)")
                #expect(c.loadFile != "ok")
                return
            }
            #expect(header.entries.map { Self.row($0.name, $0.dtype.rawValue, $0.shape) }.sorted() == c.tensors)
            if c.loadFile == "ok" {
                let file = try SafetensorsFile(file: mapped)
                #expect(file.tensors.map { Self.row($0.name, $0.tensor.dtype.rawValue, $0.tensor.shape) }.sorted() == c.torch)
            } else {
                #expect {
                    _ = try SafetensorsFile(file: mapped)
                } throws: { error in
                    guard let e = error as? SafetensorsError else { return false }
                    return [.unsupportedDType, .unrepresentableShape].contains(e.code) && e.tensor != nil && e.path == c.name
                }
            }
            return
        }

        let want = try #require(Self.code(forReference: c.deserialize), "unknown reference message \(c.deserialize)")
        do {
            _ = try SafetensorsHeader(file: mapped)
            Issue.record("accepted what safetensors refuses: \(c.deserialize)")
        } catch {
            #expect(error.code == want, "\(error) ≠ \(c.deserialize)")
            // Our message carries the reference text (serde_json's, for JSON errors).
            let text = Self.referenceText(c.deserialize)
            #expect(error.message.contains(text), "\(error.message) lacks \(text)")
            #expect(error.offset != nil)
            if want == .invalidOffset, let open = text.firstIndex(of: "`") {
                #expect("`" + (error.tensor ?? "") + "`" == text[open...])
            }
            if want == .invalidHeaderUTF8, let r = c.deserialize.range(of: #"from index \d+"#, options: .regularExpression) {
                let index = Int(c.deserialize[r].split(separator: " ").last ?? "")
                #expect(error.offset == index.map { $0 + 8 })
            }
        }
        // Opening the file says the same, naming it.
        #expect {
            _ = try SafetensorsFile(file: mapped)
        } throws: { ($0 as? SafetensorsError)?.code == want && ($0 as? SafetensorsError)?.path == c.name }
    }

    @Test("a file cut at any byte is a typed error", arguments: ["shapes.safetensors", "names.safetensors", "hand_ordered.safetensors"])
    func truncation(_ name: String) throws {
        let bytes = try F.bytes(name)
        for length in 0..<bytes.count {
            let cut = try MappedFile(copying: Array(bytes[0..<length]), path: "\(name)[..<\(length)]")
            #expect(throws: SafetensorsError.self, "cut at \(length)") {
                _ = try SafetensorsFile(file: cut)
            }
        }
        _ = try SafetensorsFile(file: MappedFile(copying: bytes))
    }

    @Test("a flipped header byte is an error or a header that still validates, never a crash")
    func flippedBytes() throws {
        let bytes = try F.bytes("shapes.safetensors")
        let header = try SafetensorsHeader(file: MappedFile(copying: bytes))
        for i in 0..<header.dataOffset {
            for mask: UInt8 in [0x01, 0x20, 0x80] {
                var damaged = bytes
                damaged[i] ^= mask
                let mapped = try MappedFile(copying: damaged)
                do {
                    let file = try SafetensorsFile(file: mapped)
                    // A change the format allows (a name, a metadata value, padding): still consistent.
                    #expect(file.tensors.count == header.entries.count)
                } catch {
                    #expect(error.offset != nil || error.tensor != nil, "flip \(mask) at \(i): \(error)")
                }
            }
        }
    }

    @Test("header lengths: past the file, past the limit, at the limit option")
    func headerLengths() throws {
        func file(length: UInt64, body: [UInt8]) throws -> MappedFile {
            try MappedFile(copying: (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + body)
        }
        let body = Array(#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#.utf8) + [1, 2]
        let ok = try file(length: UInt64(body.count - 2), body: body)
        #expect(try SafetensorsFile(file: ok).tensors.count == 1)
        #expect {
            _ = try SafetensorsFile(file: ok, options: .init(maximumHeaderSize: 8))
        } throws: { ($0 as? SafetensorsError)?.code == .headerTooLarge }
        for length: UInt64 in [UInt64(body.count + 1), 100_000_000, UInt64(Int.max)] {
            let e = #expect(throws: SafetensorsError.self) { _ = try SafetensorsFile(file: file(length: length, body: body)) }
            #expect(e?.code == (length > 100_000_000 ? .headerTooLarge : .invalidHeaderLength))
        }
        let huge = #expect(throws: SafetensorsError.self) { _ = try SafetensorsFile(file: file(length: .max, body: body)) }
        #expect(huge?.code == .headerTooLarge && huge?.offset == 0)
    }

    @Test("an error names the tensor and the byte where its entry is")
    func errorContext() throws {
        let text = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"bad":{"dtype":"F32","shape":[2],"data_offsets":[4,8]}}"#
        let header = Array(text.utf8)
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) } + header + [UInt8](repeating: 0, count: 8)
        let e = #expect(throws: SafetensorsError.self) {
            _ = try SafetensorsFile(file: MappedFile(copying: bytes, path: "x.safetensors"))
        }
        #expect(e?.code == .tensorInvalidInfo)
        #expect(e?.tensor == "bad")
        #expect(e?.offset == 8 + (text.range(of: #""bad""#).map { text.utf8.distance(from: text.startIndex, to: $0.lowerBound) } ?? -1))
        #expect(e?.description.hasPrefix("x.safetensors: tensor 'bad' at byte ") == true)
    }
}

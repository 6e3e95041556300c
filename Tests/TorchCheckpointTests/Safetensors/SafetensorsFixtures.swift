import Foundation
import TorchCheckpoint

/// The safetensors fixtures written by the real safetensors package
/// (tools/make_safetensors_fixtures.py) and what it says about them.
enum SafetensorsFixtures {
    static let directory = Fixtures.directory.appendingPathComponent("safetensors")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Every fixture file with a sidecar, by name.
    static let files: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".safetensors") && names.contains($0 + ".json") }.sorted()
    }()

    static func json(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// One tensor as the sidecar describes it.
    struct ExpectedTensor {
        let name: String
        let dtype: String
        let shape: [Int]
        let dataOffsets: [Int]
        let torchDType: String
        let torchShape: [Int]
        let sha256: String
    }

    /// What safetensors and PyTorch say about a fixture.
    struct Sidecar {
        let sha256: String
        let canonicalSHA256: String?
        let headerKeys: [String]
        let offsetKeys: [String]
        let metadata: [(key: String, value: String)]?
        let tensors: [ExpectedTensor]

        init(_ name: String) throws {
            guard let o = try SafetensorsFixtures.json(name + ".json") as? [String: Any] else {
                throw FixtureError("\(name).json is not an object")
            }
            sha256 = o["sha256"] as? String ?? ""
            canonicalSHA256 = o["canonical_sha256"] as? String
            headerKeys = o["header_keys"] as? [String] ?? []
            offsetKeys = o["offset_keys"] as? [String] ?? []
            metadata = (o["metadata"] as? [[String]])?.map { ($0[0], $0[1]) }
            tensors = (o["tensors"] as? [[String: Any]] ?? []).map { t in
                ExpectedTensor(name: t["name"] as? String ?? "", dtype: t["dtype"] as? String ?? "",
                               shape: t["shape"] as? [Int] ?? [], dataOffsets: t["data_offsets"] as? [Int] ?? [],
                               torchDType: t["torch_dtype"] as? String ?? "", torchShape: t["torch_shape"] as? [Int] ?? [],
                               sha256: t["sha256"] as? String ?? "")
            }
        }
    }

    struct FixtureError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// The file's bytes.
    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    // MARK: Helpers

    /// Names as their UTF-8 bytes: Swift's `==` on strings is canonical
    /// equivalence, under which `"é" == "e\u{301}"`; safetensors compares bytes.
    static func utf8(_ names: [String]) -> [[UInt8]] { names.map { Array($0.utf8) } }

    /// SHA-256 of bytes, in lowercase hex, through the library's own digest of a uint8 tensor.
    static func sha256(_ bytes: [UInt8]) throws -> String {
        let storage = Storage(key: "bytes", dtype: .uint8, bytes: RawBytes(bytes))
        return try Listing.sha256(of: Tensor(dtype: .uint8, shape: [bytes.count], stride: [1], storage: storage))
    }

    /// A path for a scratch file, removed by the caller.
    static func scratchPath(_ name: String = UUID().uuidString) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("st-test-\(name)").path
    }

    /// A float32 tensor over its own storage.
    static func floatTensor(_ values: [Float], shape: [Int]? = nil, key: String = "t") -> Tensor {
        let bytes = values.withUnsafeBytes { Array($0) }
        let storage = Storage(key: key, dtype: .float32, bytes: RawBytes(bytes))
        let shape = shape ?? [values.count]
        return Tensor(dtype: .float32, shape: shape, stride: Tensor.contiguousStrides(shape), storage: storage)
    }

}

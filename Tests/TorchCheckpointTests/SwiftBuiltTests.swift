import Foundation
import Testing
import TorchCheckpoint

/// Objects built in Swift and saved are byte-identical to what torch.save
/// writes for the same objects (specs and torch's files from
/// tools/make_swift_built.py; CI adds 1,001 and 5,000 tensors through
/// PTH_SWIFT_BUILT_DIR).
@Suite("Saving objects built in Swift")
struct SwiftBuiltTests {
    static let directory: URL = {
        if let dir = ProcessInfo.processInfo.environment["PTH_SWIFT_BUILT_DIR"] { return URL(fileURLWithPath: dir) }
        return Fixtures.directory.appendingPathComponent("swift_built")
    }()

    static let specs: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }()

    @Test("byte-identical to torch.save", arguments: specs)
    func identical(_ name: String) throws {
        let spec = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.directory.appendingPathComponent(name + ".json")))
        var tensors: [String: Tensor] = [:]
        let value = try Self.build(spec, &tensors)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pth-built-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // PTH_SWIFT_BUILT_OUT keeps what we wrote, for tools/interop-check.sh to load with PyTorch.
        let keep = ProcessInfo.processInfo.environment["PTH_SWIFT_BUILT_OUT"].map(URL.init(fileURLWithPath:))
        let out = (keep ?? dir).appendingPathComponent(name + ".pth").path
        try Checkpoint.save(value, to: out)
        let ours = try Data(contentsOf: URL(fileURLWithPath: out))
        let torch = try Data(contentsOf: Self.directory.appendingPathComponent(name + ".pth"))
        let same = ours == torch
        #expect(same, "\(name): \(ours.count) bytes, torch.save wrote \(torch.count)")
        // And it reads back as the objects it was built from.
        let back = try Checkpoint(path: out)
        #expect(back.storages.count == Set(tensors.values.compactMap { $0.storage.map(ObjectIdentifier.init) }).count)
    }

    /// Builds the value a spec node describes, with the library's public API.
    static func build(_ node: Any, _ tensors: inout [String: Tensor]) throws -> Value {
        let n = try #require(node as? [String: Any])
        let kind = n["kind"] as? String ?? ""
        func items() -> [Any] { n["items"] as? [Any] ?? [] }
        switch kind {
        case "odict", "dict":
            let d = PyDict(kind: kind == "odict" ? .orderedDict : .dict)
            for case let pair as [Any] in items() {
                let key = (pair[0] as? [String] ?? []).joined()
                try d.set(try build(pair[1], &tensors), for: .string(key))
            }
            return .dict(d)
        case "list":
            return .list(PyList(try items().map { try build($0, &tensors) }))
        case "tuple":
            return .tuple(PyTuple(try items().map { try build($0, &tensors) }))
        case "tensor":
            let bytes = TorchCheckpointTests.bytes(hex: n["hex"] as? String ?? "")
            let dtype = try #require(DType(rawValue: n["dtype"] as? String ?? ""))
            let t = try Tensor(bytes: bytes, dtype: dtype, shape: n["shape"] as? [Int] ?? [])
            tensors[n["id"] as? String ?? ""] = t
            return .tensor(t)
        case "view":
            let base = try #require(tensors[n["of"] as? String ?? ""])
            return .tensor(try base.view(shape: n["shape"] as? [Int] ?? [], stride: n["stride"] as? [Int] ?? [],
                                         storageOffset: n["offset"] as? Int ?? 0))
        case "param":
            let base = try #require(tensors[n["of"] as? String ?? ""])
            return .tensor(base.asParameter(requiresGrad: n["requires_grad"] as? Bool ?? true))
        case "ref":
            return .tensor(try #require(tensors[n["of"] as? String ?? ""]))
        case "int":
            let text = n["value"] as? String ?? "0"
            if let i = Int(text) { return .int(i) }
            return .integer(try #require(PythonInt(decimal: Substring(text))))
        case "float":
            return .float(Double(n["value"] as? String ?? "0") ?? 0)
        case "str":
            return .string((n["value"] as? [String] ?? []).joined())
        case "bool":
            return .bool(n["value"] as? Bool ?? false)
        default:
            return .None
        }
    }
}

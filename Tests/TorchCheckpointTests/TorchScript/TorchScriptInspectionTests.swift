import Foundation
import Testing
import TorchCheckpoint

/// `pth inspect`'s tree of a TorchScript archive: the module tree's
/// parameters and buffers by dotted name with dtype and shape, then the
/// constants, against PyTorch's listings of them.
@Suite("TorchScript archives: the inspection tree")
struct TorchScriptInspectionTests {
    static func line(for entry: [String: Any]) -> String? {
        guard let tensor = entry["tensor"] as? [String: Any], let dtype = tensor["dtype"] as? String,
              let shape = tensor["shape"] as? [Int] else { return nil }
        return "\(dtype) \(shape)"
    }

    @Test("every state_dict entry is shown by its dotted name, as parameter or buffer, with dtype and shape", arguments: Fixtures.torchScript)
    func stateDict(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        let tree = Inspection(checkpoint).render()
        let modules = try #require(try Fixtures.torchScriptFacts(name)["modules"] as? [[String: Any]])
        var roles: [String: String] = [:]
        for module in modules {
            let prefix = (module["name"] as? String).map { $0.isEmpty ? "" : $0 + "." } ?? ""
            for p in module["parameters"] as? [String] ?? [] { roles[prefix + p] = "parameter" }
            for b in module["buffers"] as? [String] ?? [] { roles[prefix + b] = "buffer" }
        }
        let torch = try #require(try Fixtures.json(name + ".listing.json") as? [[String: Any]])
        for entry in torch {
            let dotted = try #require((entry["path"] as? [String])?.first)
            let role = try #require(roles[dotted], "\(dotted)")
            let expected = "─ \(dotted): \(role) \(try #require(Self.line(for: entry)))"
            #expect(tree.contains(expected), "\(expected)")
        }
        #expect(tree.contains("\(torch.count) state_dict entr"))
    }

    @Test("the constants are shown as CONSTANTS.cN with dtype and shape", arguments: Fixtures.torchScript)
    func constants(_ name: String) throws {
        let tree = Inspection(try Fixtures.open(name)).render()
        let torch = try #require(try Fixtures.torchScriptFacts(name)["constants"] as? [[String: Any]])
        for entry in torch {
            let key = try #require((entry["path"] as? [String])?.first)
            #expect(tree.contains("─ CONSTANTS.\(key): tensor \(try #require(Self.line(for: entry)))"), "\(key)")
        }
        #expect(tree.contains(torch.isEmpty ? "and 0 constants" : "constants (\(torch.count)):"))
    }

    @Test("--filter and --depth apply to dotted names and module depth")
    func filterAndDepth() throws {
        let checkpoint = try Fixtures.open("torchscript/scripted.pt")
        let filtered = Inspection(checkpoint, options: .init(filter: "layers.1.running_*")).render()
        #expect(filtered.contains("layers.1.running_mean: buffer") && filtered.contains("layers.1.running_var: buffer"))
        #expect(!filtered.contains("layers.0") && !filtered.contains("inner"))
        let shallow = Inspection(checkpoint, options: .init(maxDepth: 1)).render()
        #expect(shallow.contains("─ inner: __torch__.Inner") && !shallow.contains("inner.codes"))
    }
}

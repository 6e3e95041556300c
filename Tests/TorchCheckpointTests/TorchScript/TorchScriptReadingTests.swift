import Foundation
import ListingComparison
import Testing
import TorchCheckpoint

/// TorchScript archives (torch.jit.save) read as torch.jit.load reads them:
/// each fixture's module tree, state_dict and constants against what PyTorch
/// said of it (FILE.listing.json and FILE.torchscript.json).
@Suite("TorchScript archives: reading")
struct TorchScriptReadingTests {
    @Test("the fixtures are there", .enabled(if: FileManager.default.fileExists(atPath: Fixtures.path("torchscript"))))
    func fixtures() {
        #expect(Fixtures.torchScript == ["torchscript/attributes.pt", "torchscript/quantized.pt", "torchscript/scripted.pt",
                                         "torchscript/tied.pt", "torchscript/traced.pt", "torchscript/unnamed.pt"])
    }

    @Test("every module, in named_modules order, has PyTorch's type, training flag, parameters, buffers and children",
          arguments: Fixtures.torchScript)
    func moduleTree(_ name: String) throws {
        let ts = try #require(try Fixtures.open(name).torchScript)
        let expected = try #require(try Fixtures.torchScriptFacts(name)["modules"] as? [[String: Any]])
        // named_modules(remove_duplicate=False): depth first, a module before its children.
        var ours: [(String, TorchScriptModule)] = []
        var stack: [(String, TorchScriptModule)] = [("", ts.module)]
        while let (path, module) = stack.popLast() {
            ours.append((path, module))
            for (child, sub) in module.submodules.reversed() { stack.append((path.isEmpty ? child : path + "." + child, sub)) }
        }
        #expect(ours.map(\.0) == expected.compactMap { $0["name"] as? String })
        for ((path, module), torch) in zip(ours, expected) {
            #expect(module.qualifiedTypeName == torch["type"] as? String, "\(path)")
            #expect(module.training == torch["training"] as? Bool, "\(path)")
            #expect(module.parameters.map(\.name) == torch["parameters"] as? [String], "\(path)")
            #expect(module.buffers.map(\.name) == torch["buffers"] as? [String], "\(path)")
            #expect(module.submodules.map(\.name) == torch["children"] as? [String], "\(path)")
            #expect(module.definition.isModule)
            #expect(ts.module.submodule(path) === module)
        }
    }

    @Test("the state_dict has PyTorch's names in PyTorch's order", arguments: Fixtures.torchScript)
    func stateDictOrder(_ name: String) throws {
        let ts = try #require(try Fixtures.open(name).torchScript)
        let torch = try #require(try Fixtures.json(name + ".listing.json") as? [[String: Any]])
        let torchNames = torch.compactMap { ($0["path"] as? [String])?.first }
        #expect(torchNames.count == torch.count)
        #expect(ts.stateDict.map(\.name) == torchNames)
        #expect(try ts.module.stateDict().map(\.name) == torchNames)
    }

    @Test("state_dict entries share storages as PyTorch's do", arguments: Fixtures.torchScript)
    func storageSharing(_ name: String) throws {
        let ts = try #require(try Fixtures.open(name).torchScript)
        let torch = try #require(try Fixtures.torchScriptFacts(name)["storage_groups"] as? [String: Int])
        var groups: [ObjectIdentifier: Int] = [:]
        for (entry, tensor) in ts.stateDict {
            let storage = try #require(tensor.storage)
            let group = groups[ObjectIdentifier(storage)] ?? groups.count
            groups[ObjectIdentifier(storage)] = group
            #expect(group == torch[entry], "\(entry)")
        }
        #expect(groups.count == Set(torch.values).count)
    }

    @Test("a tied weight is one tensor; a module assigned under two names is two objects of one type with the same tensors")
    func tied() throws {
        let ts = try #require(try Fixtures.open("torchscript/tied.pt").torchScript)
        let encoder: Tensor = try #require(ts["encoder.weight"])
        #expect(encoder === ts["decoder.weight"])
        let left = try #require(ts.module.submodule("left")), right = try #require(ts.module.submodule("right"))
        #expect(left !== right && left.qualifiedTypeName == right.qualifiedTypeName)
        let leftWeight: Tensor = try #require(ts["left.weight"])
        #expect(leftWeight === ts["right.weight"])
        let high = try #require(ts["high"])
        #expect(high.storageOffset == 4 && high.shape == [2, 3])
        #expect(high.storage === ts["low"]?.storage)
    }

    @Test("the constants table matches code_with_constants", arguments: Fixtures.torchScript)
    func constants(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        let ts = try #require(checkpoint.torchScript)
        let torch = try #require(try Fixtures.torchScriptFacts(name)["constants"] as? [[String: Any]])
        #expect(ts.constants.count == torch.count)
        // const_mapping is a dict c0, c1, …: list ours the same way.
        let table = PyDict()
        for (i, value) in ts.constants.enumerated() { table["c\(i)"] = value }
        let ours = try JSONSerialization.jsonObject(with: Data(Listing.json(try Listing.entries(of: .dict(table))).utf8))
        let problems = ListingComparison.mismatches(torch: torch, ours: ours)
        #expect(problems.isEmpty, "\(problems)")
        // Constants are read from constants/<key>, their own numbering.
        let archive = try #require(checkpoint.archive)
        for storage in ts.constantStorages { #expect(archive.record("constants/\(storage.key)") != nil) }
    }

    @Test("traced constants: two views share constants/0")
    func tracedConstants() throws {
        let ts = try #require(try Fixtures.open("torchscript/traced.pt").torchScript)
        #expect(ts.constantStorages.map(\.key) == ["0", "1"])
        #expect(ts.constants[0].tensor?.storage === ts.constants[1].tensor?.storage)
        #expect(ts.constants[1].tensor?.storageOffset == 2)
    }

    @Test("plain attributes keep the values torch.jit.load gives", arguments: Fixtures.torchScript)
    func attributes(_ name: String) throws {
        let ts = try #require(try Fixtures.open(name).torchScript)
        let torch = try #require(try Fixtures.torchScriptFacts(name)["attributes"] as? [String: Any])
        for (dotted, expected) in torch {
            let path = dotted.split(separator: ".").map(String.init)
            let module = try #require(ts.module.submodule(path.dropLast().joined(separator: ".")))
            let last = try #require(path.last)
            let value = try #require(module.attribute(last), "\(dotted)")
            // As JSON, so that Python's and our numbers, lists and dicts compare alike.
            func json(_ v: Any) throws -> String {
                String(decoding: try JSONSerialization.data(withJSONObject: [v], options: [.sortedKeys]), as: UTF8.self)
            }
            #expect(try json(Self.plain(value) as Any) == json(expected), "\(dotted)")
        }
        if name == "torchscript/scripted.pt" {
            // A tensor attribute that is no parameter or buffer is an attribute, not in the state_dict.
            #expect(ts.module.submodule("inner")?.attribute("plain")?.tensor?.shape == [3])
            #expect(ts["inner.plain"] == nil)
        }
    }

    /// A plain value as Python's json module would give it back: TorchScript's
    /// `build_intlist(list)` and `restore_type_tag(container, type)` are their container.
    static func plain(_ value: Value) -> Any? {
        switch value {
        case .None: NSNull()
        case .bool(let b): b
        case .int(let i): i
        case .float(let d): d
        case .string(let s): s
        case .list(let l): l.items.map { plain($0) ?? NSNull() }
        case .tuple(let t): t.items.map { plain($0) ?? NSNull() }
        case .dict(let d):
            Dictionary(d.items.compactMap { k, v in k.string.map { ($0, plain(v) ?? NSNull()) } }, uniquingKeysWith: { a, _ in a })
        case .object(let o) where o.module == "torch.jit._pickle": o.arguments.first.flatMap(plain)
        default: nil
        }
    }

    @Test("the archive's records: version or .data/version as PyTorch wrote it, TorchScript format", arguments: Fixtures.torchScript)
    func records(_ name: String) throws {
        let checkpoint = try Fixtures.open(name)
        let archive = try #require(checkpoint.archive)
        let entry = try #require(archive.record("version") ?? archive.record(".data/version"))
        let written = String(decoding: try archive.bytes(of: entry).copyBytes(), as: UTF8.self)
        guard case .zip(_, let version, _, let isTorchScript) = checkpoint.format else {
            Issue.record("not a zip format")
            return
        }
        #expect(isTorchScript)
        #expect("\(version)\n" == written)
        // PyTorch writes `.data/version` from version 6 on, `version` below.
        #expect((entry.name.hasSuffix(".data/version")) == (version >= 6))
        #expect(archive.record("constants.pkl") != nil)
    }

    @Test("the listing of a checkpoint lists a TorchScript archive's state_dict, of any other file its root")
    func listingEntryPoint() throws {
        let ts = try Fixtures.open("torchscript/tied.pt")
        #expect(try Listing.entries(of: ts).map(\.path) == ts.torchScript?.stateDict.map { [PathKey.key($0.name)] })
        #expect(try Listing.entries(of: ts.root).isEmpty)
        let plain = try Fixtures.open("state_dict.pth")
        #expect(plain.torchScript == nil)
        #expect(try Listing.entries(of: plain).map(\.path) == Listing.entries(of: plain.root).map(\.path))
    }
}


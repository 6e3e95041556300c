/// One line to save a model, one to load it from whatever file training wrote.
///
/// ```swift
/// let model = Classifier()
/// try model.save(to: "classifier.pth")               // torch.save(model.state_dict(), "classifier.pth")
/// try model.load(from: "checkpoint.ckpt")            // the state dict inside, found and loaded strictly
/// ```
extension Module {
    /// Saves the module's state dict as `torch.save(model.state_dict(), path)`
    /// writes it (atomically: on failure an existing file is unchanged).
    public func save(to path: String, options: SaveOptions = .init()) throws {
        try Checkpoint.save(.dict(try stateDict()), to: path, options: options)
    }

    /// Loads the module's state from a checkpoint file of any format.
    ///
    /// The state dict is found as people save it: the file's root when it is
    /// the state dict itself, otherwise the first of ``stateDictKeys``
    /// (`state_dict`, `model_state_dict`, `model`, …) that holds a dict of
    /// this module's keys; a TorchScript archive's is its module's
    /// `state_dict()`. Keys that all begin with a prefix the module's do not
    /// have — `module.` from `nn.DataParallel` or `DistributedDataParallel`,
    /// `model.` from a Lightning module — lose it, as
    /// `torch.nn.modules.utils.consume_prefix_in_state_dict_if_present` does.
    /// Then ``loadStateDict(_:strict:)`` loads it, with PyTorch's checks and
    /// messages.
    ///
    /// - Throws: ``CheckpointError`` when the file cannot be read,
    ///   ``StateDictError`` when no state dict is found or it does not fit.
    @discardableResult
    public func load(from path: String, strict: Bool = true, options: LoadOptions = .init()) throws -> IncompatibleKeys {
        let checkpoint = try Checkpoint(path: path, options: options)
        return try loadStateDict(try Self.findStateDict(in: checkpoint, for: self), strict: strict)
    }

    /// Where ``load(from:strict:options:)`` looks for a state dict inside a
    /// training checkpoint, in order.
    public static var stateDictKeys: [String] {
        ["state_dict", "model_state_dict", "model", "module", "net", "network", "model_state", "weights", "params"]
    }

    /// The state dict for `module` inside a checkpoint (see ``load(from:strict:options:)``).
    public static func findStateDict(in checkpoint: Checkpoint, for module: Module) throws -> PyDict {
        let expected = Set(module.stateDictKeys())
        func fits(_ d: PyDict) -> Bool { d.keys.contains { $0.string.map(expected.contains) ?? false } }
        var candidates: [PyDict] = []
        if let torchScript = checkpoint.torchScript {
            let d = PyDict(kind: .orderedDict)
            for (name, tensor) in torchScript.stateDict { d[name] = .tensor(tensor) }
            candidates.append(d)
        } else if let root = checkpoint.root.dict {
            candidates.append(root)
            for key in stateDictKeys { if let d = root[key]?.dict { candidates.append(d) } }
        }
        for candidate in candidates {
            if fits(candidate) { return candidate }
            if let stripped = strippingPrefix(candidate, expected: expected), fits(stripped) { return stripped }
        }
        // Nothing fits: load the likeliest, so that PyTorch's message names what is missing and unexpected.
        guard let best = candidates.dropFirst().first(where: { d in d.keys.allSatisfy { $0.string != nil } }) ?? candidates.first else {
            throw StateDictError(moduleName: module.typeName, missingKeys: [], unexpectedKeys: [],
                                 errors: ["\(checkpoint.path) holds no state dict: its root is \(checkpoint.root.typeName), not a dict"])
        }
        return strippingPrefix(best, expected: expected) ?? best
    }

    /// The dict without a first key component that every string key has and
    /// no expected key has (`module.`, `model.`), or nil when there is none.
    /// `_metadata`'s keys lose it too, as `consume_prefix_in_state_dict_if_present` does.
    static func strippingPrefix(_ d: PyDict, expected: Set<String>) -> PyDict? {
        let names = d.keys.compactMap(\.string)
        guard names.count == d.count, let first = names.first, let dot = first.firstIndex(of: ".") else { return nil }
        let prefix = String(first[...dot])
        guard names.allSatisfy({ $0.hasPrefix(prefix) }), !expected.contains(where: { $0.hasPrefix(prefix) }) else { return nil }
        let out = PyDict(kind: d.kind)
        for (key, value) in d.items { out[String(key.string!.dropFirst(prefix.count))] = value }
        if let metadata = d.attribute("_metadata")?.dict {
            let renamed = PyDict(kind: metadata.kind)
            let bare = String(prefix.dropLast())
            for (key, value) in metadata.items {
                guard let name = key.string else { continue }
                if name == bare { renamed[""] = value }
                else if name.hasPrefix(prefix) { renamed[String(name.dropFirst(prefix.count))] = value }
                else { renamed[name] = value }
            }
            out.setAttribute("_metadata", .dict(renamed))
        }
        return out
    }
}

extension Inspection {
    /// For a module `__setstate__` restores: the tensors of its pickled state
    /// tuple that fill no slot read here, by index: a quantized module's
    /// weight and bias, which `__setstate__` packs into its packed params.
    static func unassignedStateTensors(of module: TorchScriptModule) -> [(index: Int, tensor: Tensor)] {
        guard module.definition.usesSetState, case .tuple(let state)? = module.object.state else { return [] }
        let assigned = Set(module.definition.setState?.assignments.compactMap { a -> Int? in
            if case .index(let i) = a.key { i } else { nil }
        } ?? [])
        return state.items.enumerated().compactMap { i, value in
            guard !assigned.contains(i), case .tensor(let t) = value else { return nil }
            return (i, t)
        }
    }

    /// The tree of a TorchScript archive: its modules with their parameters
    /// and buffers by dotted name (the state_dict's names), tensors held as
    /// plain attributes, then the constants table; totals count the
    /// state_dict and the constants. Reads no tensor data.
    func renderTorchScript(_ archive: TorchScriptArchive) -> String {
        var lines = ["\(checkpoint.path): \(checkpoint.format)"]
        var totals: [DType: DTypeTotal] = [:]
        var firstName: [ObjectIdentifier: String] = [:]
        // Distinct tensors (a tied weight is one), and how many of them view each storage.
        var distinct: [Tensor] = []
        var seenTensors = Set<ObjectIdentifier>()
        for tensor in archive.stateDict.map(\.tensor) + archive.constants.compactMap(\.tensor)
        where seenTensors.insert(ObjectIdentifier(tensor)).inserted {
            distinct.append(tensor)
        }
        var storageViews: [ObjectIdentifier: Int] = [:]
        for tensor in distinct {
            if let s = tensor.storage { storageViews[ObjectIdentifier(s), default: 0] += 1 }
        }

        func matches(_ name: String) -> Bool {
            options.filter.map { PathFilter.matches($0, [.key(name)]) } ?? true
        }
        func withinDepth(_ depth: Int) -> Bool { options.maxDepth.map { depth <= $0 } ?? true }
        func describe(_ tensor: Tensor, _ name: String, role: String, folder: String) -> String {
            var text = "\(role) " + Self.describe(tensor)
            if let first = firstName[ObjectIdentifier(tensor)] {
                text += "  [same tensor as \(first)]"
            } else if let s = tensor.storage, (storageViews[ObjectIdentifier(s)] ?? 0) > 1 {
                text += "  [shares storage \(folder)/\(s.key)]"
            }
            firstName[ObjectIdentifier(tensor)] = firstName[ObjectIdentifier(tensor)] ?? name
            return text
        }
        for tensor in distinct {
            var total = totals[tensor.dtype] ?? DTypeTotal(dtype: tensor.dtype)
            total.tensors += 1
            total.elements += tensor.elementCount
            total.bytes += tensor.byteCount
            totals[tensor.dtype] = total
        }

        /// One module's lines: its tensors, then its submodules, as `state_dict()` orders them.
        struct Item {
            let label: String
            let module: TorchScriptModule?
            let prefix: String
        }
        func items(of module: TorchScriptModule, prefix: String) -> [Item] {
            var items: [Item] = []
            for (name, t) in module.parameters where matches(prefix + name) {
                items.append(Item(label: prefix + name + ": " + describe(t, prefix + name, role: "parameter", folder: "data"), module: nil, prefix: ""))
            }
            for (name, t) in module.buffers where matches(prefix + name) {
                items.append(Item(label: prefix + name + ": " + describe(t, prefix + name, role: "buffer", folder: "data"), module: nil, prefix: ""))
            }
            let declared = Set(module.definition.parameterNames + module.definition.bufferNames)
            for (name, value) in module.attributes where !declared.contains(name) && matches(prefix + name) {
                guard case .tensor(let t) = value else { continue }
                items.append(Item(label: prefix + name + ": " + describe(t, prefix + name, role: "attribute (not in the state_dict)", folder: "data"),
                                  module: nil, prefix: ""))
            }
            for (index, t) in Self.unassignedStateTensors(of: module) where matches(prefix + "__getstate__()[\(index)]") {
                let name = prefix + "__getstate__()[\(index)]"
                items.append(Item(label: name + ": " + describe(t, name, role: "state tensor (not in the state_dict)", folder: "data"),
                                  module: nil, prefix: ""))
            }
            for (name, child) in module.submodules {
                items.append(Item(label: prefix + name + ": " + child.qualifiedTypeName, module: child, prefix: prefix + name + "."))
            }
            return items
        }
        func anyMatch(_ module: TorchScriptModule, prefix: String) -> Bool {
            guard options.filter != nil else { return true }
            return (try? module.stateDict(prefix: prefix))?.contains { matches($0.name) } ?? false
                || module.attributes.contains { $0.value.tensor != nil && matches(prefix + $0.name) }
        }

        lines.append("(root): \(archive.module.qualifiedTypeName)")
        // Depth first with an explicit stack: (item, indent, is last, depth).
        var stack: [(Item, String, Bool, Int)] = []
        func push(_ module: TorchScriptModule, prefix: String, indent: String, depth: Int) {
            let children = items(of: module, prefix: prefix).filter { item in item.module.map { anyMatch($0, prefix: item.prefix) } ?? true }
            for (i, item) in children.enumerated().reversed() { stack.append((item, indent, i == children.count - 1, depth)) }
        }
        push(archive.module, prefix: "", indent: "", depth: 1)
        var visited = 0
        while let (item, indent, isLast, depth) = stack.popLast(), visited < TorchScriptArchive.maxStateDictEntries {
            visited += 1
            if withinDepth(depth) { lines.append(indent + (isLast ? "└─ " : "├─ ") + item.label) }
            if let module = item.module {
                push(module, prefix: item.prefix, indent: indent + (isLast ? "   " : "│  "), depth: depth + 1)
            }
        }

        let constants = archive.constants.enumerated().filter { matches("CONSTANTS.c\($0.offset)") }
        if !archive.constants.isEmpty && !constants.isEmpty {
            lines.append("constants (\(archive.constants.count)):")
            for (n, (i, value)) in constants.enumerated() {
                let name = "CONSTANTS.c\(i)"
                let text: String
                if case .tensor(let t) = value {
                    text = describe(t, name, role: "tensor", folder: "constants")
                } else {
                    text = String(Self.describeLeaf(value).dropFirst(2))
                }
                lines.append((n == constants.count - 1 ? "└─ " : "├─ ") + name + ": " + text)
            }
        }

        lines.append("")
        let storages = checkpoint.storages.count + archive.constantStorages.count
        let storageBytes = (checkpoint.storages + archive.constantStorages).reduce(0) { $0 + $1.byteCount }
        let elements = totals.values.reduce(0) { $0 + $1.elements }
        let entries = archive.stateDict.count, constantCount = archive.constants.count
        lines.append("\(entries) state_dict entr\(entries == 1 ? "y" : "ies") and \(constantCount) constant\(constantCount == 1 ? "" : "s"): "
                     + "\(distinct.count) distinct tensor\(distinct.count == 1 ? "" : "s"), \(Format.grouped(elements)) elements, "
                     + "\(storages) storage\(storages == 1 ? "" : "s") holding \(Format.bytes(storageBytes))")
        for total in totals.values.sorted(by: { $0.bytes > $1.bytes || ($0.bytes == $1.bytes && $0.dtype.name < $1.dtype.name) }) {
            lines.append("  \(total.dtype.name.padding(16)) \(String(total.tensors).leftPadding(6)) tensors  "
                         + "\(Format.grouped(total.elements).leftPadding(16)) elements  \(Format.bytes(total.bytes).leftPadding(10))")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

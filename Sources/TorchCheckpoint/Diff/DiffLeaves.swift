/// The leaves ``CheckpointDiff`` matches by path: those of ``Listing/walk(_:)``,
/// and the values the listing leaves out, so that no change goes unseen.
enum DiffLeaves {
    /// A value at a path.
    struct Leaf {
        let path: [PathKey]
        let value: Value
    }

    /// The leaves of a checkpoint: its state_dict for a TorchScript archive
    /// (``Checkpoint/tensors``), otherwise the walk of its root.
    static func of(_ checkpoint: Checkpoint) -> [Leaf] {
        if checkpoint.torchScript != nil { return checkpoint.tensors.map { Leaf(path: $0.path, value: .tensor($0.tensor)) } }
        return walk(checkpoint.root)
    }

    /// Walks as ``Listing/walk(_:)`` does (same paths, same order, shared
    /// containers once), and also yields what the listing passes over: empty
    /// containers, and values that are neither leaves nor containers
    /// (complex numbers, sets, dtypes, devices, numpy arrays, storages,
    /// objects with no items). An object whose only content is its `BUILD`
    /// state dict (a class instance's `__dict__`) is walked through that dict.
    static func walk(_ root: Value) -> [Leaf] {
        var leaves: [Leaf] = []
        var seen = Set<ObjectIdentifier>()
        var stack: [(Value, [PathKey])] = [(root, [])]
        while let (value, path) = stack.popLast() {
            if Listing.isLeaf(value) {
                leaves.append(Leaf(path: path, value: value))
                continue
            }
            var children: [(Value, [PathKey])]
            switch Listing.expand(value, path: path, seen: &seen) {
            case .seen: continue
            case .notContainer: children = []
            case .children(let items): children = items
            }
            if children.isEmpty, case .object(let o) = value, o.dictItems == nil, o.listItems.isEmpty,
               o.arguments.isEmpty, case .dict(let state)? = o.state {
                children = state.items.map { ($1, path + [PathKey(dictKey: $0)]) }
            }
            if children.isEmpty {
                leaves.append(Leaf(path: path, value: value))
                continue
            }
            stack.append(contentsOf: children.reversed())
        }
        return leaves
    }

    /// What an entry says a leaf is.
    static func describe(_ value: Value) -> DiffEntry.Leaf {
        if case .tensor(let t) = value { return .tensor(dtype: t.dtype, shape: t.shape) }
        return .value(type: typeName(value), repr: PythonRepr.repr(plain(value)))
    }

    /// Python's type name, with a numpy float64 scalar as the float the listing shows.
    static func typeName(_ value: Value) -> String {
        if case .ndarray(let a) = value, a.isNumpyFloat64Scalar { return "float" }
        return value.typeName
    }

    /// A numpy float64 scalar as a float; anything else as it is.
    static func plain(_ value: Value) -> Value {
        if case .ndarray(let a) = value, let d = a.numpyFloat64Value { return .float(d) }
        return value
    }

    /// Text that is equal for two values exactly when their contents are
    /// (Python's `==` for values of one type, but with containers and objects
    /// compared by their whole content): `repr` for what Python prints in
    /// full, and for arrays, storages, tensors and objects their type,
    /// geometry and a SHA-256 of their bytes.
    static func fingerprint(_ value: Value) throws -> String {
        var seen = Set<ObjectIdentifier>()
        return try fingerprint(value, seen: &seen)
    }

    private static func fingerprint(_ value: Value, seen: inout Set<ObjectIdentifier>) throws -> String {
        func all(_ items: [Value]) throws -> String {
            try items.map { try fingerprint($0, seen: &seen) }.joined(separator: ", ")
        }
        switch value {
        case .float(let d):
            // NaN equals NaN, and 0.0 equals -0.0, as == says for floats.
            return d == 0 ? "float 0" : "float " + PythonRepr.float(d)
        case .list(let l):
            guard seen.insert(ObjectIdentifier(l)).inserted else { return "list <cycle>" }
            return "list [\(try all(l.items))]"
        case .tuple(let t):
            guard seen.insert(ObjectIdentifier(t)).inserted else { return "tuple <cycle>" }
            return "\(value.typeName) (\(try all(t.items)))"
        case .dict(let d):
            guard seen.insert(ObjectIdentifier(d)).inserted else { return "dict <cycle>" }
            let items = try d.items.map { "\(try fingerprint($0, seen: &seen)): \(try fingerprint($1, seen: &seen))" }
            return "\(d.kind.pythonName) {\(items.joined(separator: ", "))}"
        case .set(let s):
            // Sets are unordered: compare their members' texts sorted.
            let members = try s.items.map { try fingerprint($0, seen: &seen) }.sorted()
            return "\(value.typeName) {\(members.joined(separator: ", "))}"
        case .tensor(let t):
            let digest: String
            if t.layout != .strided || t.isMeta {
                digest = "no data"
            } else if t.isExpandedView, let storage = t.storage {
                // A view larger than its storage, by what the file holds: its geometry and its storage's bytes.
                digest = "view \(t.stride) +\(t.storageOffset) conj \(t.isConjugated) neg \(t.isNegated) of "
                    + (try storage.bytes().withUnsafeBytes { hex(SHA256.hash(data: $0)) })
            } else {
                digest = try Listing.sha256(of: t)
            }
            return "tensor \(t.dtype.name) \(t.shape) \(t.layout.rawValue) \(digest)"
        case .storage(let s):
            return "storage \(s.dtype.name) \(s.elementCount) \(try s.bytes().withUnsafeBytes { hex(SHA256.hash(data: $0)) })"
        case .ndarray(let a):
            let objects = try a.objects.map { try all($0) } ?? ""
            return "ndarray \(a.dtype?.name ?? "object") \(a.shape) \(a.isFortranOrder) \(hex(SHA256.hash(data: a.data))) [\(objects)]"
        case .object(let o):
            guard seen.insert(ObjectIdentifier(o)).inserted else { return "object <cycle>" }
            var parts = [o.className, try fingerprint(o.callable, seen: &seen), "args (\(try all(o.arguments)))"]
            if let k = o.keywordArguments { parts.append("kwargs \(try fingerprint(k, seen: &seen))") }
            if let s = o.state { parts.append("state \(try fingerprint(s, seen: &seen))") }
            if !o.listItems.isEmpty { parts.append("items [\(try all(o.listItems))]") }
            if let d = o.dictItems { parts.append("dict items \(try fingerprint(.dict(d), seen: &seen))") }
            return "object " + parts.joined(separator: " ")
        default:
            return "\(value.typeName) \(PythonRepr.repr(value))"
        }
    }

    private static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

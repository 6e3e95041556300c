import TorchCheckpoint

/// What one entry of a state dict must be: a tensor of this dtype and shape
/// (either left out: not checked).
public struct TensorSpec: Sendable, Hashable, CustomStringConvertible {
    /// The dtype, or nil for any.
    public var dtype: DType?
    /// The shape, or nil for any.
    public var shape: [Int]?
    /// Whether the entry may be any value, not only a tensor: a module's
    /// extra state (`_extra_state`), which PyTorch saves as whatever
    /// `get_extra_state()` returns.
    public var allowsAnyValue = false

    /// A spec; what is nil is not checked.
    public init(dtype: DType? = nil, shape: [Int]? = nil) {
        self.dtype = dtype
        self.shape = shape
    }

    /// An entry that must be present, with any value: a module's extra state.
    public static var anyValue: TensorSpec {
        var spec = TensorSpec()
        spec.allowsAnyValue = true
        return spec
    }

    /// `torch.float32 [10, 4]`, `torch.float32`, `[10, 4]`, `a tensor`, or `any value`.
    public var description: String {
        if allowsAnyValue { return "any value" }
        return switch (dtype, shape) {
        case (let d?, let s?): "\(d) \(s)"
        case (let d?, nil): d.description
        case (nil, let s?): "\(s)"
        case (nil, nil): "a tensor"
        }
    }
}

/// The keys of a state dict with the dtype and shape of each tensor, written
/// as a dictionary literal:
///
/// ```swift
/// let schema: StateDictSchema = ["fc.weight": (.float32, [10, 4]), "fc.bias": (.float32, [10])]
/// expectStateDict(try Checkpoint(path: "model.pth"), matches: schema)
/// ```
///
/// The order of the literal is kept (reports follow it); a key given twice keeps its last spec.
public struct StateDictSchema: Sendable, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// The keys and what each must be, in order.
    public private(set) var entries: [(key: String, spec: TensorSpec)] = []

    /// A schema of dtypes and shapes: `["fc.weight": (.float32, [10, 4])]`.
    public init(dictionaryLiteral elements: (String, (DType, [Int]))...) {
        for (key, (dtype, shape)) in elements { self[key] = TensorSpec(dtype: dtype, shape: shape) }
    }

    /// A schema of specs that may leave the dtype or the shape out.
    public init(_ entries: [(key: String, spec: TensorSpec)]) {
        for (key, spec) in entries { self[key] = spec }
    }

    /// The schema of a reference state dict: every entry that is a tensor,
    /// with its dtype and shape, and every module's extra state (a key
    /// `_extra_state` or ending in `._extra_state`) as ``TensorSpec/anyValue``;
    /// other entries that are not tensors are left out. A value that is not a
    /// mapping gives an empty schema.
    public init(describing stateDict: some CheckpointValueConvertible) {
        guard case .dict(let dict) = stateDict.checkpointValue else { return }
        for (key, value) in dict.items {
            let name = StateDictEntries.name(key)
            if case .tensor(let t) = value {
                self[name] = TensorSpec(dtype: t.dtype, shape: t.shape)
            } else if name == "_extra_state" || name.hasSuffix("._extra_state") {
                self[name] = .anyValue
            }
        }
    }

    /// The spec of a key; setting one replaces it in place or appends it.
    public subscript(key: String) -> TensorSpec? {
        get { entries.first { $0.key == key }?.spec }
        set {
            let index = entries.firstIndex { $0.key == key }
            switch (index, newValue) {
            case (let i?, let spec?): entries[i].spec = spec
            case (let i?, nil): entries.remove(at: i)
            case (nil, let spec?): entries.append((key, spec))
            case (nil, nil): break
            }
        }
    }

    /// The keys, in order.
    public var keys: [String] { entries.map(\.key) }

    /// As a Swift dictionary literal: `["fc.weight": torch.float32 [10, 4], …]`.
    public var description: String {
        entries.isEmpty ? "[:]" : "[" + entries.map { "\(PythonText.string($0.key)): \($0.spec)" }.joined(separator: ", ") + "]"
    }
}

/// The entries of a state dict, as the schema checks read them.
enum StateDictEntries {
    /// A key as a state dict names it: a `str` as itself, any other key as its repr.
    static func name(_ key: Value) -> String {
        if case .string(let s) = key { return s }
        return key.pythonRepr
    }

    /// The entries of a mapping in order, or nil (and the type's name) when the value is not one.
    static func of(_ value: Value) -> Result<[(key: String, value: Value)], SchemaFailure> {
        guard case .dict(let dict) = value else {
            let type = value.typeName
            return .failure(SchemaFailure(key: nil, kind: .notAMapping(type: type),
                                          description: "The state_dict is not a mapping: \(type)."))
        }
        return .success(dict.items.map { (name($0), $1) })
    }
}

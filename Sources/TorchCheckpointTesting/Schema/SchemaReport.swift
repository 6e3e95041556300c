import TorchCheckpoint

/// The outcome of a schema check: each key missing, unexpected or of the
/// wrong dtype or shape, as its own failure.
public struct SchemaReport: Sendable, CustomStringConvertible {
    /// Every failure: missing keys (in the schema's order), unexpected keys,
    /// then wrong entries (in the state dict's order).
    public let failures: [SchemaFailure]
    /// How many entries the state dict has.
    public let entryCount: Int

    /// Creates a report (the checks make them; this is for tests of code that consumes reports).
    public init(failures: [SchemaFailure], entryCount: Int) {
        self.failures = failures
        self.entryCount = entryCount
    }

    /// Whether the state dict matches.
    public var matches: Bool { failures.isEmpty }

    /// `matches (N entries)`, or every failure on its own line.
    public var description: String {
        failures.isEmpty ? "matches (\(entryCount) \(entryCount == 1 ? "entry" : "entries"))"
            : failures.map(\.description).joined(separator: "\n")
    }
}

/// One thing about a state dict that the schema does not allow.
public struct SchemaFailure: Sendable, CustomStringConvertible, Error {
    /// What is wrong.
    public enum Kind: Sendable, Equatable {
        /// A key the schema names is not in the state dict.
        case missingKey
        /// A key the state dict has is not in the schema (strict checks only).
        case unexpectedKey
        /// The tensor's dtype is not the schema's.
        case dtypeMismatch(actual: DType, expected: DType)
        /// The tensor's shape is not the schema's.
        case shapeMismatch(actual: [Int], expected: [Int])
        /// The entry is not a tensor (its Python type's name).
        case notATensor(type: String)
        /// What was checked is not a mapping (its Python type's name).
        case notAMapping(type: String)
    }

    /// The key concerned (nil when the whole value is not a mapping).
    public let key: String?
    /// What is wrong.
    public let kind: Kind
    /// The message, in the words of `load_state_dict`'s:
    /// `Missing key in state_dict: "fc.bias" (torch.float32 [10]).`,
    /// `size mismatch for fc.weight: the shape in state_dict is torch.Size([10, 3]), the schema's is torch.Size([10, 4]).`
    public let description: String

    /// Creates a failure (the checks make them; this is for tests of code that consumes reports).
    public init(key: String?, kind: Kind, description: String) {
        self.key = key
        self.kind = kind
        self.description = description
    }
}

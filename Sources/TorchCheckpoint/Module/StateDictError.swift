/// What `loadStateDict(_:strict:)` found that does not fit the model.
///
/// Its ``description`` is PyTorch's message, line for line:
/// ```
/// Error(s) in loading state_dict for Net:
/// 	Missing key(s) in state_dict: "a", "b".
/// 	Unexpected key(s) in state_dict: "q".
/// 	size mismatch for p: copying a param with shape torch.Size([3]) from checkpoint, the shape in current model is torch.Size([1]).
/// ```
public struct StateDictError: Error, Sendable, CustomStringConvertible {
    /// The model's class name.
    public let moduleName: String
    /// Keys the model has and the state dict lacks.
    public let missingKeys: [String]
    /// Keys the state dict has and the model lacks.
    public let unexpectedKeys: [String]
    /// The other errors, in the order found (size mismatches, values that are not tensors, …).
    public let errors: [String]

    /// PyTorch's message.
    public var description: String {
        var messages = errors
        if !unexpectedKeys.isEmpty {
            messages.insert("Unexpected key(s) in state_dict: \(unexpectedKeys.map { "\"\($0)\"" }.joined(separator: ", ")). ", at: 0)
        }
        if !missingKeys.isEmpty {
            messages.insert("Missing key(s) in state_dict: \(missingKeys.map { "\"\($0)\"" }.joined(separator: ", ")). ", at: 0)
        }
        return "Error(s) in loading state_dict for \(moduleName):\n\t" + messages.joined(separator: "\n\t")
    }
}

/// The keys that did not match when loading with `strict: false`
/// (PyTorch's `_IncompatibleKeys`).
public struct IncompatibleKeys: Sendable, Equatable, CustomStringConvertible {
    /// Keys the model has and the state dict lacks.
    public let missingKeys: [String]
    /// Keys the state dict has and the model lacks.
    public let unexpectedKeys: [String]

    /// Whether every key matched.
    public var allMatched: Bool { missingKeys.isEmpty && unexpectedKeys.isEmpty }

    /// As PyTorch prints it.
    public var description: String {
        if allMatched { return "<All keys matched successfully>" }
        func list(_ keys: [String]) -> String { "[" + keys.map { "'\($0)'" }.joined(separator: ", ") + "]" }
        return "_IncompatibleKeys(missing_keys=\(list(missingKeys)), unexpected_keys=\(list(unexpectedKeys)))"
    }
}

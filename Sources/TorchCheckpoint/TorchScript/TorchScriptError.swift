/// Why a TorchScript archive's module tree could not be read: which class,
/// which record (relative to the archive's prefix), and what was wrong.
///
/// Opening a checkpoint reports it as ``CheckpointError/invalidRecord(path:record:reason:)``
/// for the same record, with ``description`` as the reason.
public enum TorchScriptError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The role an attribute plays in its class.
    public enum Role: String, Sendable {
        /// Listed in the class's `__parameters__`.
        case parameter
        /// Listed in the class's `__buffers__`.
        case buffer
    }

    /// The class of a pickled object has no definition: `record` (where
    /// TorchScript puts it) is missing, or does not define the class.
    case missingClassDefinition(className: String, record: String)
    /// The definition of `className` in `record` could not be read, at `line` (1-based).
    case malformedClassDefinition(className: String, record: String, line: Int, reason: String)
    /// The class (defined in `record`) lists `attribute` in `__parameters__`
    /// or `__buffers__`, but its pickled object in `data.pkl` has no such attribute.
    case missingAttribute(className: String, record: String, attribute: String, role: Role)
    /// A parameter or buffer holds something other than a tensor or `None`.
    case notATensor(className: String, record: String, attribute: String, role: Role, found: String)
    /// A pickle holds something TorchScript never writes there (`className` when an object is involved).
    case unexpectedValue(record: String, className: String?, reason: String)
    /// An object of `className` is restored by its `__setstate__` (defined in
    /// `record`, the statement or method at `line`), which does not fit the
    /// pickled state, or restores a parameter, buffer or submodule in a way
    /// this reader does not follow without running the code.
    case setState(className: String, record: String, line: Int, reason: String)

    /// The record the error is about, relative to the archive's prefix
    /// (`code/__torch__.py`, `data.pkl`, `constants.pkl`).
    public var record: String {
        switch self {
        case .missingClassDefinition(_, let r), .malformedClassDefinition(_, let r, _, _),
             .missingAttribute(_, let r, _, _), .notATensor(_, let r, _, _, _), .unexpectedValue(let r, _, _),
             .setState(_, let r, _, _):
            r
        }
    }

    /// The qualified name of the class involved (`__torch__.torch.nn.modules.linear.Linear`), if any.
    public var className: String? {
        switch self {
        case .missingClassDefinition(let c, _), .malformedClassDefinition(let c, _, _, _),
             .missingAttribute(let c, _, _, _), .notATensor(let c, _, _, _, _), .setState(let c, _, _, _):
            c
        case .unexpectedValue(_, let c, _):
            c
        }
    }

    public var description: String {
        switch self {
        case .missingClassDefinition(let c, let r):
            "class \(c) has no definition (expected in record '\(r)')"
        case .malformedClassDefinition(let c, let r, let line, let reason):
            "class \(c), record '\(r)' line \(line): \(reason)"
        case .missingAttribute(let c, let r, let a, let role):
            "class \(c) (record '\(r)') declares \(role.rawValue) '\(a)', which its pickled object in data.pkl lacks"
        case .notATensor(let c, let r, let a, let role, let found):
            "\(role.rawValue) '\(a)' of class \(c) (record '\(r)') is a \(found), not a tensor or None"
        case .unexpectedValue(let r, let c, let reason):
            "record '\(r)'\(c.map { ", class \($0)" } ?? ""): \(reason)"
        case .setState(let c, let r, let line, let reason):
            "class \(c), record '\(r)' line \(line), __setstate__: \(reason)"
        }
    }
}

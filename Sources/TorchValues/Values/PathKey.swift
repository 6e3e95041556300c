/// One step of a path from the root of a checkpoint to a leaf: a dict key or
/// a list/tuple index.
///
/// As in the canonical listing (LISTING.md): a `str` key is a string, an
/// `int` key or an index is an integer, and any other key is the text of its
/// Python `repr`.
public enum PathKey: Sendable, Hashable, CustomStringConvertible {
    /// A `str` key, or the `repr` of a key of another type.
    case key(String)
    /// An `int` key or a sequence index.
    case index(Int)

    /// The path step for a dict key.
    package init(dictKey: Value) {
        switch dictKey {
        case .string(let s): self = .key(s)
        case .int(let i): self = .index(i)
        default: self = .key(PythonRepr.repr(dictKey))
        }
    }

    public var description: String {
        switch self {
        case .key(let s): s
        case .index(let i): String(i)
        }
    }
}

extension Array where Element == PathKey {
    /// The path written with `/` between steps, as `pth` prints it.
    public var displayPath: String { map(\.description).joined(separator: "/") }
}

/// Why two checkpoints could not be compared: a bad tolerance, or data that
/// could not be read (the file, the path of the entry, and what went wrong).
public enum DiffError: Error, Sendable, CustomStringConvertible {
    /// A tolerance that is negative, NaN or infinite.
    case invalidTolerance(name: String, value: Double)
    /// The data of the entry at `path` in `file` could not be read.
    case unreadable(file: String, path: [PathKey], reason: String)

    public var description: String {
        switch self {
        case .invalidTolerance(let name, let value):
            "\(name) must be a finite number ≥ 0, not \(PythonRepr.float(value))"
        case .unreadable(let file, let path, let reason):
            "\(file): \(path.isEmpty ? "(root)" : path.displayPath): cannot read: \(reason)"
        }
    }
}

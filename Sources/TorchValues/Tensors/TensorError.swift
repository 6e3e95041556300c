/// An error reading a tensor's elements.
public struct TensorError: Error, Sendable, CustomStringConvertible {
    /// What kind of error it is.
    public enum Code: Sendable, Equatable {
        /// The tensor cannot be read as asked (no storage, a packed view, an
        /// element the target type cannot hold, …): ``message`` says why.
        case invalid
        /// The tensor is a view whose logical elements take more bytes than
        /// its storage holds (a stride-0 dimension from `expand`, an
        /// overlapping `as_strided`), and more than the limit the caller
        /// allowed: ``logicalByteCount`` and ``limit`` say how much.
        case expandedViewOverLimit
    }

    /// What kind of error it is.
    public let code: Code
    /// What is wrong, naming the tensor's storage and geometry.
    public let message: String
    /// For ``Code/expandedViewOverLimit``: the bytes of the tensor's logical
    /// elements (`Int.max` where that count overflows 64 bits).
    public let logicalByteCount: Int?
    /// For ``Code/expandedViewOverLimit``: the limit, in logical bytes.
    public let limit: Int?

    /// Creates an error of code ``Code/invalid``.
    public init(_ message: String) {
        self.code = .invalid
        self.message = message
        self.logicalByteCount = nil
        self.limit = nil
    }

    /// Creates an ``Code/expandedViewOverLimit`` error.
    public init(expandedView message: String, logicalByteCount: Int, limit: Int) {
        self.code = .expandedViewOverLimit
        self.message = message
        self.logicalByteCount = logicalByteCount
        self.limit = limit
    }

    public var description: String { message }
}

/// An error reading a tensor's elements.
public struct TensorError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, naming the tensor's storage and geometry.
    public let message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

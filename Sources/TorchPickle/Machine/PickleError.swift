/// An error found while reading a pickle: what went wrong, at which byte, in
/// which opcode.
public struct PickleError: Error, Sendable, CustomStringConvertible {
    /// The kind of problem.
    public enum Code: Sendable, Equatable {
        /// The pickle ends before an opcode's argument, or before `STOP`.
        case truncated
        /// A byte that is no opcode of protocols 0 to 5.
        case unknownOpcode
        /// A `PROTO` beyond 5.
        case unsupportedProtocol
        /// An opcode found too few items on the stack, or none above the mark.
        case stackUnderflow
        /// An opcode that needs a `MARK` found none.
        case missingMark
        /// A `GET` of a memo slot that was never set.
        case memoMissing
        /// An argument that is not what the opcode requires (bad text, negative length, wrong type).
        case invalidArgument
        /// Something PyTorch's own loader would also refuse (a view beyond its storage, a storage key with two types).
        case invalidTensor
        /// A configured limit was exceeded (see ``UnpicklerOptions``).
        case limitExceeded
        /// The pickle uses a feature that needs Python code or outside data (extension codes, out-of-band buffers).
        case unsupported
        /// An object reaches itself (a list that contains itself), and
        /// ``UnpicklerOptions/referenceCycles`` refuses that.
        case referenceCycle
        /// The persistent-id loader failed (a missing or short storage record).
        case persistentLoad
    }

    /// The kind of problem.
    public let code: Code
    /// What went wrong, in words.
    public let message: String
    /// The offset of the opcode in the pickle.
    public let offset: Int
    /// The opcode being executed, if known.
    public let opcode: Opcode?
    /// The record the pickle came from, such as `archive/data.pkl`, when known.
    public var record: String?

    /// Creates an error.
    public init(_ code: Code, _ message: String, offset: Int, opcode: Opcode?, record: String? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
        self.opcode = opcode
        self.record = record
    }

    public var description: String {
        var where_ = "at byte \(offset)"
        if let opcode { where_ += " (\(opcode.name))" }
        if let record { where_ = "in \(record) " + where_ }
        return "pickle error \(where_): \(message)"
    }
}

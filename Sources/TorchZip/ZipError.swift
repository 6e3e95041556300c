/// An error reading or writing a zip archive: what went wrong, and where.
///
/// Every error carries a ``Code`` to switch on and a ``message`` written for
/// people, which names the record and the byte offset when they are known, as
/// well as the expected and found values where a check failed. The same
/// context is available as values in ``record`` and ``offset``.
///
/// ```swift
/// do {
///     let archive = try ZipArchive(path: "model.pth")
///     …
/// } catch {
///     print(error)   // "record 'model/data/3' at byte 4160: data (…) runs past …"
/// }
/// ```
public struct ZipError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem was found.
    public let code: Code

    /// A sentence that says what was wrong and where: the record name, the
    /// byte offset in the file, and the expected and found values.
    public let message: String

    /// The byte offset in the file where the problem was found, where meaningful.
    public let offset: UInt64?

    /// The full name of the record (as stored in the central directory) the
    /// problem concerns, where meaningful.
    public let record: String?

    /// Creates an error, composing ``message`` from `what` and the context.
    ///
    /// - Parameters:
    ///   - code: The kind of problem.
    ///   - what: What was wrong, without the location.
    ///   - record: The full record name, when the problem concerns one record.
    ///   - offset: The byte offset in the file, when one is meaningful.
    public init(_ code: Code, _ what: String, record: String? = nil, offset: UInt64? = nil) {
        self.code = code
        self.record = record
        self.offset = offset
        var context: [String] = []
        if let record { context.append("record '\(record)'") }
        if let offset { context.append("at byte \(offset)") }
        self.message = context.isEmpty ? what : context.joined(separator: " ") + ": " + what
    }

    /// The ``message``.
    public var description: String { message }
}

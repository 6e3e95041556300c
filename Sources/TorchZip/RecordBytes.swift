/// The bytes of one record: borrowed from the mapped file, or owned after inflation.
///
/// Keeps its owner (the archive's ``MappedFile`` or the inflated buffer)
/// alive, so the bytes stay valid as long as this value exists, even after
/// the ``ZipArchive`` itself is gone. Copying the value copies no bytes.
public struct RecordBytes: @unchecked Sendable {
    /// The number of bytes.
    public let count: Int

    /// The file offset where the bytes start when they lie in place in the
    /// mapped file (stored records); `nil` for inflated records.
    public let fileOffset: UInt64?

    /// The first byte; `nil` only when `count` is 0 and nothing backs it.
    private let start: UnsafeRawPointer?

    /// What keeps `start` valid: a ``MappedFile`` or an inflated buffer.
    private let owner: AnyObject?

    /// Bytes at `start`, kept valid by `owner`.
    init(start: UnsafeRawPointer?, count: Int, owner: AnyObject?, fileOffset: UInt64?) {
        self.start = start
        self.count = count
        self.owner = owner
        self.fileOffset = fileOffset
    }

    /// The mapped file the bytes lie in, for stored records.
    package var file: MappedFile? { fileOffset == nil ? nil : owner as? MappedFile }

    /// Whether the bytes point into the mapped file (no copy was made).
    public var isInPlace: Bool { fileOffset != nil }

    /// Calls `body` with the bytes; they are valid only inside `body`
    /// (escaping the pointer past the life of this value is not allowed).
    ///
    /// - Parameter body: A closure that reads the bytes.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        defer { withExtendedLifetime(owner) {} }
        return try body(UnsafeRawBufferPointer(start: start, count: count))
    }

    /// A copy of the bytes in a new array.
    public func copyBytes() -> [UInt8] {
        withUnsafeBytes { Array($0) }
    }
}

/// A ``ZipSink`` that keeps the archive in memory, for tests and small archives.
///
/// ```swift
/// let sink = MemorySink()
/// let writer = try PyTorchZipWriter(sink: sink, prefix: "archive")
/// …
/// try writer.finish()
/// let archive = try ZipArchive(file: MappedFile(copying: sink.bytes))
/// ```
public final class MemorySink: ZipSink {
    /// Everything written so far.
    public private(set) var bytes: [UInt8] = []

    /// Creates an empty sink.
    ///
    /// - Parameter capacity: Bytes to reserve up front, when the size is roughly known.
    public init(reservingCapacity capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// The number of bytes written.
    public var position: UInt64 { UInt64(bytes.count) }

    /// Appends `bytes` to ``bytes``.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(ZipError) {
        self.bytes.append(contentsOf: bytes)
    }
}

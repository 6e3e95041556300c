/// Where a ``PyTorchZipWriter`` sends the bytes of an archive, in order.
///
/// The archive starts at position 0 of the sink: the offsets written into
/// local headers and the central directory are the sink's ``position`` values.
/// A sink that already holds bytes therefore makes an archive that starts
/// after them, with offsets counted from the sink's start (as in a
/// self-extracting archive).
///
/// Conformers are classes, so that the caller keeps access to what was
/// written (``MemorySink/bytes``) or to the file (``AtomicFileSink/commit()``).
/// Writers hand over small blocks (headers, descriptors) and large ones
/// (record data, passed through without a copy); a sink that writes to a
/// file should gather the small ones.
public protocol ZipSink: AnyObject {
    /// The number of bytes written so far: the offset the next byte will have.
    var position: UInt64 { get }

    /// Appends `bytes`.
    ///
    /// - Parameter bytes: The bytes; valid only during the call.
    /// - Throws: ``ZipError`` with code ``ZipError/Code/io`` when they cannot be written.
    func write(_ bytes: UnsafeRawBufferPointer) throws(ZipError)

    /// Appends `count` bytes of the file open as `descriptor`, from `offset`,
    /// letting the kernel copy them where it can (`copy_file_range(2)`).
    ///
    /// - Returns: How many bytes were appended, from the first on; the caller
    ///   writes the rest with ``write(_:)``. The default appends none.
    /// - Throws: ``ZipError`` with code ``ZipError/Code/io`` when the copy fails.
    func append(copying count: Int, of descriptor: Int32, at offset: Int64) throws(ZipError) -> Int
}

extension ZipSink {
    public func append(copying count: Int, of descriptor: Int32, at offset: Int64) throws(ZipError) -> Int { 0 }
}

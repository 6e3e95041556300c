/// Choices and limits for reading a checkpoint.
public struct LoadOptions: Sendable {
    /// Limits and text decoding for the pickle machine.
    public var unpickler = UnpicklerOptions()
    /// Limits for the zip container.
    public var zip = ZipArchive.Options()
    /// Verify the CRC-32 of every record that is read while loading
    /// (the pickle; storages are verified by ``Checkpoint/verifyRecords()``).
    public var verifyPickleCRC = true
    /// The most bytes one compressed object of a distributed checkpoint (a
    /// value saved as bytes, zstd-compressed) may decompress to: 1 GiB. A
    /// tensor chunk may decompress to its own size and a little more.
    public var maxDecompressedObjectBytes = 1 << 30

    /// The default options.
    public init() {}
}

extension PyTorchZipWriter {
    /// How the writer lays out an archive; the defaults are what `torch.save` does.
    public struct Options: Sendable {
        /// The alignment of every record's data in the file, in bytes
        /// (`torch.utils.serialization.config.save.storage_alignment`, 64 by default).
        ///
        /// Any value from 1 to ``maxAlignment`` works, as in PyTorch (not only
        /// powers of two): each local header's `FB` extra field is padded with
        /// `Z`s until the data starts at a multiple of it. `torch.save` also
        /// records it in the `.storage_alignment` record, which is the
        /// caller's to write.
        public var alignment: Int = 64

        /// Whether to compute each record's CRC-32
        /// (`torch.utils.serialization.config.save.compute_crc32`, on by default).
        ///
        /// When off, as in PyTorch, every CRC field (data descriptors and
        /// central directory) holds 0 and the serialization id folds those
        /// zeros; zip tools then report CRC errors, but PyTorch loads the file.
        public var computeCRC32: Bool = true

        /// The file format version ``PyTorchZipWriter/finish(serializationID:)``
        /// writes when no version record was written: PyTorch's
        /// `kMinProducedFileFormatVersion` (3) unless raised, as
        /// `PyTorchStreamWriter::setMinVersion` does for TorchScript archives.
        /// From 6 on, it goes to `.data/version` instead of `version`.
        public var version: UInt64 = 3

        /// The largest ``alignment``: the padding, the 4 bytes of the `FB`
        /// field's header and a 28-byte zip64 extra field must fit in a local
        /// header's 16-bit extra field length.
        public static let maxAlignment = 0xFFFF - 4 - 28 + 1

        /// The defaults, as `torch.save` writes.
        public init() {}
    }
}

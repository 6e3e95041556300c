extension ZipError {
    /// The kinds of problem ``ZipError`` reports.
    public enum Code: Sendable, Equatable, Hashable {
        /// The file could not be opened, is not a regular file, or could not be mapped.
        case cannotOpen
        /// No end-of-central-directory record: the file is not a zip archive (or is empty).
        case notAZip
        /// A structure runs past the end of the bytes that should hold it.
        case truncated
        /// A record signature (`PK…`) is not where the archive says it is.
        case badSignature
        /// The end records or the central directory are inconsistent or unsupported
        /// (for example multi-disk archives, or a missing zip64 extra field).
        case badCentralDirectory
        /// A local file header is inconsistent with the central directory or the file.
        case badLocalHeader
        /// A local header or a record's data lies outside the file (or overlaps the central directory).
        case entryOutOfBounds
        /// The archive declares or holds more entries than ``ZipArchive/Options/maxEntryCount`` allows.
        case tooManyEntries
        /// The first entry's name has no `/`, so there is no prefix folder (or the archive is empty).
        case noPrefix
        /// The record uses a compression method that is not supported.
        case unsupportedCompression
        /// The record is encrypted.
        case encrypted
        /// Decompression failed: the compressed data is invalid.
        case inflateFailed
        /// A size does not match: stored record with different sizes, or
        /// inflated data longer or shorter than declared.
        case sizeMismatch
        /// The record's CRC-32 differs from the one in the central directory.
        case crcMismatch
        /// The record is larger than ``ZipArchive/Options/maxInflatedRecordSize`` or than memory can address.
        case tooLarge
        /// The entry passed in does not belong to this archive.
        case unknownEntry
        /// libzip reported an error not covered by a more specific code; the message is libzip's.
        case libzip
        /// A system call failed (memory mapping, allocation, writing a file); the message has the system's reason.
        case io
        /// A writer was given an argument it cannot write: an empty or
        /// malformed prefix or record name, or an alignment out of range.
        case invalidArgument
        /// A record with this name was already written to the archive.
        case duplicateRecord
        /// Two entries share their data, or their data overlap: how a zip
        /// bomb makes a small file inflate many times over. No writer of
        /// checkpoints lays records out so.
        case overlappingRecords
        /// The writer accepts no more records: ``PyTorchZipWriter/finish(serializationID:)``
        /// was called, or an earlier error left the archive incomplete.
        case writerClosed
    }
}

/// Why a checkpoint could not be read: what went wrong and where (the file,
/// the record, the byte offset, the opcode).
public enum CheckpointError: Error, Sendable, CustomStringConvertible {
    /// The file could not be opened or mapped.
    case cannotOpen(path: String, reason: String)
    /// The content is no checkpoint format this library reads; `looksLike` says what it resembles.
    case unrecognizedFormat(path: String, looksLike: String)
    /// The zip container is damaged (see ``ZipError`` for record and offset).
    case container(path: String, ZipError)
    /// The pickle in `record` is damaged or describes something invalid
    /// (see ``PickleError`` for the byte offset and opcode).
    case pickle(path: String, record: String, PickleError)
    /// A record the format requires is missing.
    case missingRecord(path: String, record: String)
    /// A record holds something the format does not allow.
    case invalidRecord(path: String, record: String, reason: String)
    /// The checkpoint could not be written; the previous file at `path`, if any, is unchanged.
    case cannotWrite(path: String, reason: String)
    /// A checkpoint that spans many files (a distributed checkpoint, a sharded
    /// set) is damaged or inconsistent: a file is missing or short, an index
    /// names what a file lacks, chunks overlap. `path` is the set (its
    /// directory or index), `file` the file at fault, relative to it, and
    /// `key` the state-dict key, where known.
    case damagedSet(path: String, file: String?, key: String?, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "\(path): cannot open: \(reason)"
        case .unrecognizedFormat(let path, let looksLike):
            "\(path): not a PyTorch checkpoint: \(looksLike)"
        case .container(let path, let error):
            "\(path): damaged zip container: \(error.message)"
        case .pickle(let path, let record, let error):
            "\(path): record '\(record)': \(error.description)"
        case .missingRecord(let path, let record):
            "\(path): the archive has no record '\(record)'"
        case .invalidRecord(let path, let record, let reason):
            "\(path): record '\(record)': \(reason)"
        case .cannotWrite(let path, let reason):
            "\(path): cannot write: \(reason) (any previous file is unchanged)"
        case .damagedSet(let path, let file, let key, let reason):
            "\(path)" + (file.map { ": \($0)" } ?? "") + (key.map { ": key '\($0)'" } ?? "") + ": \(reason)"
        }
    }
}

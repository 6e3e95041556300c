/// How a new checkpoint is written.
public struct SaveOptions: Sendable {
    /// The pickle protocol (`torch.save`'s `pickle_protocol`): 2, as torch.save writes by default, up to 5.
    public var protocolVersion = 2
    /// Where storages start: a multiple of this many bytes (64, as torch 2.15).
    public var alignment = 64
    /// The byte order of the storages and of the `byteorder` record: `.little`,
    /// as `torch.save` writes on every machine PyTorch ships for but IBM Z
    /// (s390x), or `.big`, as it writes there.
    ///
    /// Storages are byte-swapped on the way out whenever their own
    /// ``Storage/byteOrder`` differs, by element, and each half of a complex
    /// element on its own: what `torch.load` undoes with
    /// `UntypedStorage.byteswap(dtype)`. A big-endian file cannot hold
    /// multi-byte elements whose storage `torch.save` writes as
    /// `UntypedStorage` (uint16, uint32, uint64, complex32, bits16):
    /// `torch.load` does not swap those (it treats them as bytes), so no
    /// byte order of them would read back equal both here and in PyTorch
    /// on a little-endian machine; saving one throws.
    public var byteOrder: ByteOrder = .little

    /// The file format a new checkpoint is written in.
    public enum Format: Sendable {
        /// The zip format of `torch.save` (PyTorch 1.6 and later): the default.
        case zip
        /// The legacy format, as `torch.save(..., _use_new_zipfile_serialization=False)`
        /// writes it (and PyTorch before 1.6 did): what PyTorch 1.0 to 1.5 can read.
        /// Storages are little-endian whatever ``byteOrder`` says (it only sets
        /// sys_info's `little_endian`, as torch.save on a machine of that order does).
        case legacy
    }

    /// The file format: `.zip` (the default) or `.legacy`.
    public var format: Format = .zip

    /// Whether saving also syncs the file to the disk. Saving is atomic either
    /// way (a temporary file renamed over the destination once complete: a
    /// killed process or an error leaves the old file). `.atomic`, the
    /// default, does not `fsync`, as `torch.save` does not; `.durable` does,
    /// so the file survives a power loss once saving returns, at the cost of
    /// writing it to the disk (about 6 s per GiB on the disk of the machine
    /// the benchmark ran on, where saving without it takes a fraction of a second).
    public var durability: AtomicFileSink.Durability = .atomic

    /// The storage keys of a legacy file, from each storage's index in the
    /// order the pickle first meets it; nil gives `"0"`, `"1"`, ….
    /// `torch.save` names them `str(storage._cdata)`, a memory address no other
    /// process can reproduce; PyTorch only needs them distinct. Ignored for zip files.
    public var legacyStorageKey: (@Sendable (_ index: Int, _ storage: Storage) -> String)?

    /// Called as tensor data is written: bytes of storage written so far, of
    /// all the file's storages (pickles and zip headers are not counted).
    public var progress: ProgressHandler?

    /// Whether every `str` with the same text is written as one Python
    /// object (the first time in full, then as a memo reference), as
    /// `torch.save` writes a twin whose strings come from one literal or are
    /// interned: `{"labels": ["cat", "dog"], "cat": 0}` written in one
    /// Python function shares its `"cat"`. Off (the default), each string
    /// built in Swift is its own object, as strings Python builds at run
    /// time are; a value loaded from a file keeps the file's identities
    /// either way. See `PickleEncoder.sharesEqualStrings`.
    public var sharesEqualStrings = false

    /// The default options: what `torch.save` 2.15 writes on Linux.
    public init() {}
}

/// Called as a long operation advances: `completed` bytes of `total`, from
/// the thread doing the work (keep it quick; rate-limit any drawing).
public typealias ProgressHandler = @Sendable (_ completed: Int64, _ total: Int64) -> Void

/// Limits and choices for reading a pickle.
///
/// The limits protect against hostile files: a pickle can describe deep
/// nesting or huge containers in a few bytes. Going past a limit throws
/// ``PickleError/Code/limitExceeded``; it never crashes. Memory the machine
/// allocates is otherwise bounded by the input: every length field is checked
/// against the bytes that remain before anything is allocated.
public struct UnpicklerOptions: Sendable {
    /// How deeply containers may nest (lists in dicts in tuples …). Default 1,000,
    /// like CPython's recursion limit.
    public var maxNestingDepth = 1000
    /// The most memo entries. Default 2²⁴.
    public var maxMemoEntries = 1 << 24
    /// The most items on the stack at once. Default 2²⁴.
    public var maxStackDepth = 1 << 24
    /// The most open `MARK`s at once. Default 100,000.
    public var maxMarkDepth = 100_000
    /// The most items in one container. Default 2²⁶.
    public var maxContainerSize = 1 << 26
    /// Whether pickles of plain data go through the fast path (``PlainDecoder``)
    /// first; off only in tests that compare it with the full machine.
    package var usesPlainDecoder = true
    /// Whether the persistent loader gives the same value when called again
    /// with the same id, with no other effect (the checkpoint readers' storage
    /// tables): only then does the fast path resolve persistent ids, since
    /// the full machine calls the loader again when the fast path gives up.
    package var persistentLoadIsRepeatable = false

    /// What to do with objects that reach themselves, such as a list that
    /// contains itself.
    public enum ReferenceCycles: Sendable {
        /// Refuse the pickle with ``PickleError/Code/referenceCycle``, naming
        /// the object and the path by which it reaches itself (the default).
        case refuse
        /// Keep them, as Python does. Swift frees objects by reference
        /// counting, so the objects of a cycle are never freed: only for
        /// trusted files, or a process that loads a few and exits.
        case keep
    }

    /// What to do with objects that reach themselves. `torch.load` accepts
    /// them (Python's cycle collector frees them); this library refuses them
    /// by default, because in Swift every load of such a file would leak.
    /// Checkpoints hold none: state dicts, optimizer states and whole
    /// pickled modules are trees with shared leaves.
    public var referenceCycles: ReferenceCycles = .refuse

    /// How Python 2 `str` values (`STRING`, `BINSTRING`, `SHORT_BINSTRING`) are decoded,
    /// like `torch.load(..., encoding=...)`.
    public enum StringEncoding: Sendable {
        /// Decode as UTF-8 (the default of `torch.load`); invalid text is an error.
        case utf8
        /// Decode as Latin-1: every byte is one character (never fails).
        case latin1
        /// Keep the bytes as `bytes`.
        case bytes
    }

    /// How Python 2 `str` values are decoded.
    public var stringEncoding: StringEncoding = .utf8

    /// The default options.
    public init() {}
}

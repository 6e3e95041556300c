import Synchronization

/// Object identities of strings a pickle used but the value model does not
/// keep: the items of persistent ids, and the module and name strings of
/// protocol-4 globals.
///
/// Python shares interned strings across a whole pickle: the `'cpu'` of a
/// storage's location is the same object as a dict key `'cpu'`, and the
/// storage key `'0'` the same as a `_metadata` key `'0'`. The encoder reads
/// these identities back so a decoded file is written byte for byte.
public final class PickleProvenance: @unchecked Sendable {
    /// For each storage, the identity tokens of the items of each persistent
    /// id that referenced it, in order of reference: built from
    /// ``referenceOwners`` and ``referenceTokens`` when first asked (by the
    /// encoder), since a checkpoint is often read and never written back.
    var storageReferences: [ObjectIdentifier: [TokenTable]] {
        referenceTable.withLock { table in
            if let table { return table }
            var built: [ObjectIdentifier: [TokenTable]] = [:]
            built.reserveCapacity(referenceOwners.count)
            for (owner, tokens) in zip(referenceOwners, referenceTokens) { built[owner, default: []].append(tokens) }
            table = built
            return built
        }
    }
    /// Each persistent id's storage, and its items' tokens, in the order the pickle referred to them.
    private var referenceOwners: [ObjectIdentifier] = []
    private var referenceTokens: [TokenTable] = []
    private let referenceTable = Mutex<[ObjectIdentifier: [TokenTable]]?>(nil)
    /// For each global (`module\nname`), the tokens of its module and name strings.
    var globalNames: [String: (module: Int32?, name: Int32?)] = [:]
    /// For an immutable value rebuilt by a call (bytes from `_codecs.encode(text, 'latin1')`,
    /// a bytearray, a device), by the value's token: the tokens of the call's arguments.
    var callArguments: [Int32: TokenTable] = [:]
    /// The token of the interned `'latin1'` of `_codecs.encode` calls (one object in CPython).
    var latin1: Int32?
    /// Python 2 `str` values (`BINSTRING`, `SHORT_BINSTRING`), by token: their bytes as
    /// pickled, so they are written back as Python 2 wrote them whatever the text decoding.
    var legacyStrings: [Int32: [UInt8]] = [:]
    /// The index of the pickle's first memo slot: 0 as `pickle` numbers them,
    /// 1 for Python 2's `cPickle`, which numbers its memo from 1 (every
    /// legacy file PyTorch saved under Python 2).
    var memoBase = 0
    /// `OrderedDict`s built from key–value pairs, and how the pairs were
    /// pickled: Python 2.7's `OrderedDict.__reduce__` gives
    /// `OrderedDict([[key, value], ...])` (every state dict PyTorch saved under
    /// Python 2), where Python 3 sets the items after an empty call.
    var pairsForms: [ObjectIdentifier: PairsForm] = [:]

    struct PairsForm: Sendable {
        /// The pairs came in a list (not a tuple).
        var inList: Bool
        /// Each pair is a list (not a tuple).
        var pairsAreLists: Bool
    }

    /// Tensors whose rebuild call pickled `None` as the backward hooks (torch
    /// 0.4 wrote `tensor._backward_hooks`, which is `None` for a tensor without
    /// hooks; later versions write an empty `OrderedDict`).
    var hooksPickledAsNone: Set<ObjectIdentifier> = []
    // Keeps the storages (and tensors above) alive, so their identifiers stay unique.
    var storages: [AnyObject] = []

    /// An empty provenance (what a value built in Swift has).
    public init() {}

    /// Notes a persistent id's reference to a storage: only while decoding,
    /// before ``storageReferences`` is first read (which keeps what it built).
    func recordReference(_ storage: AnyObject, tokens: TokenTable) {
        assert(referenceTable.withLock { $0 == nil }, "a storage reference recorded after the table was built")
        referenceOwners.append(ObjectIdentifier(storage))
        referenceTokens.append(tokens)
        // Kept alive (once per reference: cheaper than asking whether it already is).
        storages.append(storage)
    }

    func recordHooksPickledAsNone(_ tensor: AnyObject) {
        if hooksPickledAsNone.insert(ObjectIdentifier(tensor)).inserted { storages.append(tensor) }
    }

    func recordPairsForm(_ dict: PyDict, _ form: PairsForm) {
        if pairsForms.updateValue(form, forKey: ObjectIdentifier(dict)) == nil { storages.append(dict) }
    }

    func picklesHooksAsNone(_ tensor: AnyObject) -> Bool {
        hooksPickledAsNone.contains(ObjectIdentifier(tensor))
    }
}

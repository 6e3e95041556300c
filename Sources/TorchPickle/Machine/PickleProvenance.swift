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
    /// ``references`` when first asked (by the encoder), since a checkpoint
    /// is often read and never written back.
    var storageReferences: [ObjectIdentifier: [TokenTable]] {
        referenceTable.withLock { table in
            if let table { return table }
            let built = references.table()
            table = built
            return built
        }
    }
    /// Each persistent id's storage and its items' tokens, in the order the pickle referred to them.
    /// (No property observer: one would copy the whole log at every reference the machine notes.)
    private(set) var references = StorageReferenceLog()
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
    // Keeps the tensors above and the dicts below alive, so their identifiers stay unique.
    var keptAlive: [AnyObject] = []

    /// An empty provenance (what a value built in Swift has).
    public init() {}

    /// Notes a persistent id's reference to a storage: only while decoding,
    /// before ``storageReferences`` is first read (which keeps what it built).
    func recordReference(_ storage: Storage, tokens: TokenTable) {
        assert(referenceTable.withLock { $0 == nil }, "a storage reference recorded after the table was built")
        references.record(storage)
        for (position, token) in tokens { references.recordToken(position: position, token: token) }
    }

    /// Takes the references the fast path noted, all at once, while decoding.
    func adopt(_ log: StorageReferenceLog) {
        assert(referenceTable.withLock { $0 == nil }, "storage references recorded after the table was built")
        references = log
    }

    func recordHooksPickledAsNone(_ tensor: AnyObject) {
        if hooksPickledAsNone.insert(ObjectIdentifier(tensor)).inserted { keptAlive.append(tensor) }
    }

    func recordPairsForm(_ dict: PyDict, _ form: PairsForm) {
        if pairsForms.updateValue(form, forKey: ObjectIdentifier(dict)) == nil { keptAlive.append(dict) }
    }

    func picklesHooksAsNone(_ tensor: AnyObject) -> Bool {
        hooksPickledAsNone.contains(ObjectIdentifier(tensor))
    }
}

/// The storage references of a pickle, in order, with the identity tokens of
/// each persistent id's items: flat arrays, no table per reference (a
/// checkpoint of 100,000 tensors makes 100,000 references while decoding).
struct StorageReferenceLog: Sendable {
    /// Each reference's storage (kept alive, so its identifier stays unique).
    private var storages: [Storage] = []
    /// The (position, token) pairs of every reference's items, flat.
    private var tokenPairs: [Int32] = []
    /// Where each reference's pairs end in `tokenPairs`.
    private var tokenEnds: [Int] = []

    /// Room for `count` references.
    mutating func reserve(_ count: Int) {
        storages.reserveCapacity(count)
        tokenEnds.reserveCapacity(count)
        tokenPairs.reserveCapacity(4 * count)
    }

    /// Notes a reference, whose items' tokens ``recordToken(position:token:)`` then adds.
    mutating func record(_ storage: Storage) {
        storages.append(storage)
        tokenEnds.append(tokenPairs.count)
    }

    /// The token of an item of the reference last noted, by position.
    mutating func recordToken(position: Int, token: Int32) {
        tokenPairs.append(Int32(truncatingIfNeeded: position))
        tokenPairs.append(token)
        tokenEnds[tokenEnds.count - 1] = tokenPairs.count
    }

    /// For each storage, its references' tokens, in order.
    func table() -> [ObjectIdentifier: [TokenTable]] {
        var table: [ObjectIdentifier: [TokenTable]] = [:]
        table.reserveCapacity(storages.count)
        var pair = 0
        for (storage, end) in zip(storages, tokenEnds) {
            var tokens = TokenTable()
            while pair < end {
                tokens[Int(tokenPairs[pair])] = tokenPairs[pair + 1]
                pair += 2
            }
            table[ObjectIdentifier(storage), default: []].append(tokens)
        }
        return table
    }
}

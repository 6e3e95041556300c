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
    /// id that referenced it, in order of reference.
    var storageReferences: [ObjectIdentifier: [TokenTable]] = [:]
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
    // Keeps the storages alive, so their identifiers stay unique.
    var storages: [AnyObject] = []

    /// An empty provenance (what a value built in Swift has).
    public init() {}

    func recordReference(_ storage: AnyObject, tokens: TokenTable) {
        let id = ObjectIdentifier(storage)
        if storageReferences[id] == nil { storages.append(storage) }
        storageReferences[id, default: []].append(tokens)
    }
}

/// A Python `dict` (or `OrderedDict`, `Counter`, `defaultdict`) in insertion
/// order, with any hashable key.
///
/// Keys compare as Python compares them: `1`, `1.0` and `True` are the same
/// key; tuples compare by content; objects by identity.
public final class PyDict: @unchecked Sendable {
    /// Which mapping class the pickle built.
    public enum Kind: Sendable {
        /// `dict`.
        case dict
        /// `collections.OrderedDict`.
        case orderedDict
        /// `collections.Counter`.
        case counter
        /// `collections.defaultdict` with its default factory.
        case defaultDict(factory: Value)

        /// The Python class name.
        public var pythonName: String {
            switch self {
            case .dict: "dict"
            case .orderedDict: "OrderedDict"
            case .counter: "Counter"
            case .defaultDict: "defaultdict"
            }
        }
    }

    /// Which mapping class this is.
    public var kind: Kind
    @exclusivity(unchecked) private var _keys: [Value] = []
    @exclusivity(unchecked) private var _values: [Value] = []
    /// The keys, in insertion order.
    public var keys: [Value] {
        fillIfNeeded()
        return _keys
    }
    /// The values, in the order of ``keys``.
    public var values: [Value] {
        fillIfNeeded()
        return _values
    }
    /// Instance attributes set by the pickle's `BUILD` (a module's
    /// `state_dict()` carries `_metadata` here), in the order they were set.
    public var attributes: [(name: String, value: Value)] = []
    /// The state `BUILD` gave, as pickled (the source of ``attributes``).
    public package(set) var state: Value?
    /// Positions by key, built once the dict outgrows ``linearScanLimit``:
    /// most dicts in a checkpoint are small (an optimizer's per-parameter
    /// state, a record), and comparing a handful of keys is cheaper than
    /// hashing one (tools/benchmark.py, the pickle-machine case).
    @exclusivity(unchecked) private var index: [HashKey: Int] = [:]
    @exclusivity(unchecked) private var indexed = false
    private static let linearScanLimit = 8
    @exclusivity(unchecked) package var depth = 1
    @exclusivity(unchecked) package var _itemTokens: TokenTable = [:]
    private let source: TapeSource

    /// Item position → identity token (see ``TokenHolder``): keys `2i`, values `2i + 1`.
    package var itemTokens: TokenTable {
        get { fillIfNeeded(); return _itemTokens }
        set { fillIfNeeded(); _itemTokens = newValue }
        _modify { fillIfNeeded(); yield &_itemTokens }
    }

    /// Creates an empty mapping.
    public init(kind: Kind = .dict) {
        self.kind = kind
        self.source = TapeSource()
    }

    /// A dict of a decoded pickle, filled from it when first read.
    package init(tape: PickleTape, node: Int32, depth: Int, kind: Kind = .dict) {
        self.kind = kind
        self.depth = depth
        self.source = TapeSource(tape: tape, node: node)
    }

    /// Whether the dict may hold a tensor (or another object a pickle's call
    /// made): false only for a dict decoded from a tape that says it holds
    /// none, while it has not filled itself. A walk for tensors skips it.
    package var mayHoldObjects: Bool { source.mayHoldObjects }

    @inline(__always) private func fillIfNeeded() {
        source.fillIfNeeded { tape, node in tape.fill(self, from: node) }
    }

    /// Creates a dict with string keys, in the given order.
    public convenience init(_ pairs: KeyValuePairs<String, Value>, kind: Kind = .dict) {
        self.init(kind: kind)
        for (k, v) in pairs { self[k] = v }
    }

    /// The number of items.
    public var count: Int { keys.count }
    /// Whether the dict is empty.
    public var isEmpty: Bool { keys.isEmpty }

    /// The items as key–value pairs, in insertion order.
    public var items: Zip2Sequence<[Value], [Value]> {
        fillIfNeeded()
        return zip(_keys, _values)
    }

    /// Sets the value for a key: a new key goes last, an existing key keeps
    /// its place (as in Python). Throws when the key is not hashable in Python.
    public func set(_ value: Value, for key: Value) throws(ValueError) {
        _ = try setReturningIndex(value, for: key)
    }

    /// Sets the value for a key and returns the entry's position.
    package func setReturningIndex(_ value: Value, for key: Value) throws(ValueError) -> Int {
        fillIfNeeded()
        indexIfNeeded()
        return set(value, for: key, hashKey: try HashKey(key))
    }

    /// Sets a key the decoder found hashable, while the dict fills itself from its pickle.
    package func setUnfilled(_ value: Value, for key: Value) -> Int {
        set(value, for: key, hashKey: HashKey(validated: key))
    }

    /// Takes keys no two of which are equal, and their values, while the
    /// dict fills itself from its pickle (an empty dict); the positions by
    /// key are built when a key is first looked up (a walk over the items
    /// never needs them).
    package func adoptUnfilled(keys: [Value], values: [Value], depth: Int, itemTokens: TokenTable) {
        precondition(_keys.isEmpty && keys.count == values.count)
        _keys = keys
        _values = values
        self.depth = max(self.depth, depth)
        _itemTokens = itemTokens
    }

    /// Builds the positions by key, once the dict has outgrown ``linearScanLimit``.
    private func buildIndex() {
        guard !indexed, _keys.count > Self.linearScanLimit else { return }
        index.reserveCapacity(_keys.count)
        for (i, k) in _keys.enumerated() { index[HashKey(validated: k)] = i }
        indexed = true
    }

    /// Builds the positions by key of a dict filled from a tape without them, once, under the tape's lock.
    @inline(__always) private func indexIfNeeded() {
        source.indexIfNeeded { buildIndex() }
    }

    private func set(_ value: Value, for key: Value, hashKey: HashKey) -> Int {
        let position: Int
        // With an index, one hash for a new key (the common case): insert, and put the old position back if it was there.
        if let existing = indexed ? index.updateValue(_keys.count, forKey: hashKey) : storedPosition(of: hashKey) {
            if indexed { index[hashKey] = existing }
            _values[existing] = value
            position = existing
        } else {
            position = _keys.count
            _keys.append(key)
            _values.append(value)
            buildIndex()
        }
        depth = max(depth, max(key.nestingDepth, value.nestingDepth) + 1)
        return position
    }

    /// Where a key is, by Python's equality.
    private func position(of key: HashKey) -> Int? {
        fillIfNeeded()
        indexIfNeeded()
        return storedPosition(of: key)
    }

    private func storedPosition(of key: HashKey) -> Int? {
        if indexed { return index[key] }
        if case .string(let text) = key.value {
            // A str equals only a str with the same code points (the common key).
            let n = text.utf8.count
            return _keys.firstIndex {
                if case .string(let k) = $0 { k.utf8.count == n && k.utf8.elementsEqual(text.utf8) } else { false }
            }
        }
        return _keys.firstIndex { HashKey.equal($0, key.value) }
    }

    /// A shallow copy: the same keys and values (and their identities), kind and attributes.
    public func copy() -> PyDict {
        fillIfNeeded()
        indexIfNeeded()
        let d = PyDict(kind: kind)
        d._keys = _keys
        d._values = _values
        d.index = index
        d.indexed = indexed
        d.attributes = attributes
        d.state = state
        d.depth = depth
        d._itemTokens = _itemTokens
        return d
    }

    /// Removes a key; returns its value, or nil when absent. Later entries keep their order.
    @discardableResult
    public func removeValue(forKey key: Value) -> Value? {
        guard let hashKey = try? HashKey(key), let i = position(of: hashKey) else { return nil }
        let value = _values[i]
        _keys.remove(at: i)
        _values.remove(at: i)
        if indexed {
            index[hashKey] = nil
            for (k, position) in index where position > i { index[k] = position - 1 }
        }
        var tokens: TokenTable = [:]
        for (slot, token) in _itemTokens where slot / 2 != i {
            tokens[slot / 2 > i ? slot - 2 : slot] = token
        }
        _itemTokens = tokens
        return value
    }

    /// Removes every item.
    package func removeAll() {
        fillIfNeeded()
        _keys = []
        _values = []
        index = [:]
        indexed = false
        _itemTokens = [:]
    }

    /// Removes a string key; returns its value, or nil when absent.
    @discardableResult
    public func removeValue(forKey key: String) -> Value? { removeValue(forKey: .string(key)) }

    /// Reserves room for `count` more items when the dict is empty. Only
    /// then: reserving an exact capacity again at every batch of a growing
    /// dict (SETITEMS comes in batches of 1000) would copy it every time,
    /// where letting it grow doubles its storage.
    package func reserve(_ count: Int) {
        fillIfNeeded()
        reserveUnfilled(count)
    }

    package func reserveUnfilled(_ count: Int) {
        guard _keys.isEmpty else { return }
        _keys.reserveCapacity(count)
        _values.reserveCapacity(count)
        if count > Self.linearScanLimit { index.reserveCapacity(count) }
    }

    /// Whether a dict of `count` items looks keys up through positions by key.
    package static func isIndexed(count: Int) -> Bool { count > linearScanLimit }

    /// The value for a key, compared with Python's equality.
    public subscript(key: Value) -> Value? {
        guard let hashKey = try? HashKey(key), let i = position(of: hashKey) else { return nil }
        return _values[i]
    }

    /// The value for a string key. Setting a value appends the key or
    /// replaces its value in place; setting `nil` removes the key, as
    /// Python's `del d[key]`.
    public subscript(key: String) -> Value? {
        get { position(of: HashKey(string: key)).map { _values[$0] } }
        set {
            guard let newValue else {
                removeValue(forKey: key)
                return
            }
            // A string key is always hashable.
            try? set(newValue, for: .string(key))
        }
    }

    /// Sets a value under a key that Python would intern (an identifier
    /// written in source code, such as the `'version'` of a module's
    /// `_metadata`): every such key with the same text is one string object in
    /// the pickle, as it is in Python.
    public func set(_ value: Value, forInternedKey key: String) {
        // A string key is always hashable.
        guard let entry = try? setReturningIndex(value, for: .string(key)) else { return }
        itemTokens[2 * entry] = InternedStrings.token(for: key)
    }

    /// Sets an instance attribute, as Python's `d.name = value` does on an
    /// `OrderedDict` (a state dict's `_metadata`): it is pickled as the dict's
    /// `BUILD` state.
    public func setAttribute(_ name: String, _ value: Value) {
        attributes.removeAll { $0.name == name }
        attributes.append((name, value))
        let stateDict = PyDict()
        for (n, v) in attributes { stateDict.set(v, forInternedKey: n) }
        state = .dict(stateDict)
        depth = max(depth, stateDict.depth + 1)
    }

    /// The attribute set by `BUILD`, such as `_metadata`.
    public func attribute(_ name: String) -> Value? {
        attributes.last(where: { $0.name == name })?.value
    }
}

/// A Python `list`: a reference type, so a list reached twice is one list.
///
/// Values are built once by the unpickler and then only read; mutating a list
/// while another thread reads it is not supported. A list the unpickler read
/// from a pickle of plain data holds its items in the decoded pickle until
/// they are first read (from any thread).
public final class PyList: @unchecked Sendable {
    @exclusivity(unchecked) private var _items: [Value]
    @exclusivity(unchecked) package var _itemTokens: TokenTable = [:]
    /// Nesting depth bookkeeping for the unpickler's limits.
    @exclusivity(unchecked) package var depth: Int
    private let source: TapeSource

    /// The items, in order.
    public var items: [Value] {
        get { fillIfNeeded(); return _items }
        set { fillIfNeeded(); _items = newValue }
        _modify { fillIfNeeded(); yield &_items }
    }
    /// Item position → identity token (see ``TokenHolder``).
    package var itemTokens: TokenTable {
        get { fillIfNeeded(); return _itemTokens }
        set { fillIfNeeded(); _itemTokens = newValue }
        _modify { fillIfNeeded(); yield &_itemTokens }
    }

    /// Creates a list.
    public init(_ items: [Value] = []) {
        self._items = items
        self.depth = 1 + (items.lazy.map(\.nestingDepth).max() ?? 0)
        self.source = TapeSource()
    }

    package init(tape: PickleTape, node: Int32, depth: Int) {
        self._items = []
        self.depth = depth
        self.source = TapeSource(tape: tape, node: node)
    }

    /// Whether the list may hold a tensor (or another object a pickle's call
    /// made): false only for a list decoded from a tape that says it holds
    /// none, while it has not filled itself. A walk for tensors skips it.
    package var mayHoldObjects: Bool { source.mayHoldObjects }

    @inline(__always) private func fillIfNeeded() {
        source.fillIfNeeded { tape, node in (_items, _itemTokens) = tape.sequence(node) }
    }

    /// The number of items.
    public var count: Int { items.count }
}

/// A Python `tuple`, or a `torch.Size`.
public final class PyTuple: @unchecked Sendable {
    /// What kind of tuple the pickle built.
    public enum Kind: Sendable, Equatable {
        /// A plain `tuple`.
        case tuple
        /// A `torch.Size`.
        case torchSize
    }
    /// The items, in order.
    public let items: [Value]
    /// Whether this is a plain tuple or a `torch.Size`.
    public let kind: Kind
    @exclusivity(unchecked) package var depth: Int
    // Hashing a tuple used as a dict key is cached: a DAG of tuples shared
    // through the memo would otherwise cost exponential time.
    @exclusivity(unchecked) package var cachedHash: Int?
    @exclusivity(unchecked) package var itemTokens: TokenTable = [:]

    /// Creates a tuple.
    public init(_ items: [Value], kind: Kind = .tuple) {
        self.items = items
        self.kind = kind
        self.depth = 1 + (items.lazy.map(\.nestingDepth).max() ?? 0)
    }

    /// A tuple of a decoded pickle of plain data. Made whole at once (a tuple
    /// may be a dict key, which its dict compares while filling itself); its
    /// lists and dicts fill themselves when read.
    package init(_ items: [Value], tokens: TokenTable, depth: Int) {
        self.items = items
        self.kind = .tuple
        self.depth = depth
        self.itemTokens = tokens
    }

    /// The number of items.
    public var count: Int { items.count }

    /// The items as integers, when every item is an `int` (as in a `torch.Size`).
    public var integers: [Int]? {
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case .int(let i) = item else { return nil }
            out.append(i)
        }
        return out
    }
}

/// A Python `set` or `frozenset`, in the order the pickle added the items.
public final class PySet: @unchecked Sendable {
    /// The items, in the order they were added; duplicates are dropped.
    public private(set) var items: [Value] = []
    /// `true` for a `frozenset`.
    public let isFrozen: Bool
    private var index: Set<HashKey> = []
    package var depth = 1
    package var itemTokens: TokenTable = [:]

    /// Creates an empty set.
    public init(frozen: Bool = false) { self.isFrozen = frozen }

    /// Adds an item; throws when the item is not hashable in Python.
    public func insert(_ item: Value) throws(ValueError) {
        let key = try HashKey(item)
        if index.insert(key).inserted {
            items.append(item)
            depth = max(depth, item.nestingDepth + 1)
        }
    }

    /// Removes every item.
    package func removeAll() {
        items = []
        index = []
        itemTokens = [:]
    }

    /// Whether the set holds an item equal to `item` under Python's equality.
    public func contains(_ item: Value) -> Bool {
        guard let key = try? HashKey(item) else { return false }
        return index.contains(key)
    }

    /// The number of items.
    public var count: Int { items.count }
}

/// An error about a value itself, such as an unhashable dict key.
public struct ValueError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public let message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

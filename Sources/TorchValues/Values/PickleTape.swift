import Synchronization

/// A pickle decoded into flat arrays: what ``PlainDecoder`` builds, and what
/// the containers it returns fill themselves from the first time their items
/// are read.
///
/// A node is one Python object: its kind and a 64-bit payload (the number
/// itself, or an index into ``spans``, ``containers`` or ``objects``). An
/// object node is a value made while decoding: a global, a tensor rebuilt by
/// its call, a storage a persistent id named. A container's items
/// are node numbers in ``children``, in segments (one per `APPENDS`,
/// `SETITEMS`, `LIST`, `TUPLE` or `DICT`, chained in order). Strings and bytes
/// are ranges of a copy of the pickle's bytes, validated while decoding and
/// made `String`s only when their container is read.
///
/// A node's number is its identity: a string the pickle reached twice (memo
/// `GET`, `DUP`) is one node, and its number is the identity token the
/// encoder needs to write it back as one object. That costs a bit per node.
/// No container is reached twice here (the decoder hands such pickles to the
/// full machine), so a container is filled by exactly one parent. Lists and
/// dicts fill themselves when first read; a tuple is made whole with its
/// parent, since a dict compares its tuple keys while it fills itself.
package final class PickleTape: @unchecked Sendable {
    /// What a node is (the low bits of its kind byte).
    @frozen package enum Kind: UInt8 {
        case none = 0, bool, int, float, string, bytes, object, list, tuple, dict
    }
    /// Kind-byte flags.
    /// A dict node made by `collections.OrderedDict()`.
    package static let ordered: UInt8 = 0x10
    package static let memoized: UInt8 = 0x40
    package static let shared: UInt8 = 0x80
    package static let unhashable: UInt8 = 0x20
    package static let kindMask: UInt8 = 0x0F

    /// Where a `str` or `bytes` lies in ``bytes`` (which the decoder keeps
    /// under 4 GiB): 8 bytes a string, not 16.
    package struct Span: BitwiseCopyable {
        private var start: UInt32
        private var length: UInt32
        package var offset: Int { Int(start) }
        package var count: Int { Int(length) }
        package init(offset: Int, count: Int) {
            precondition(offset >= 0 && count >= 0 && offset + count <= Int(UInt32.max), "a tape's text is under 4 GiB")
            start = UInt32(offset)
            length = UInt32(count)
        }
    }
    package struct Container: BitwiseCopyable {
        /// The first and last segment (-1: none yet), for chaining.
        package var first: Int32 = -1
        package var last: Int32 = -1
        /// Item nodes over all segments (key and value nodes for a dict).
        package var count: Int32 = 0
        /// Nesting depth, as the unpickler's limit counts it.
        package var depth: Int32 = 1
        /// Whether an object node (a tensor, a storage, a global) is among the items, at any depth.
        package var holdsObjects = false
        /// The dict node `BUILD` gave an `OrderedDict` as its state (a state dict's `_metadata`), or -1.
        package var state: Int32 = -1
        @inlinable package init() {}
    }
    package struct Segment: BitwiseCopyable {
        package var start: Int32
        package var count: Int32
        package var next: Int32 = -1
        @inlinable package init(start: Int32, count: Int32) {
            self.start = start
            self.count = count
        }
    }

    /// The bytes of every `str` and `bytes`, one after another.
    package let bytes: TapeBuffer<UInt8>
    package let kinds: TapeBuffer<UInt8>
    package let payloads: TapeBuffer<Int64>
    package let spans: TapeBuffer<Span>
    package let containers: TapeBuffer<Container>
    package let segments: TapeBuffer<Segment>
    package let children: TapeBuffer<Int32>
    /// The values of object nodes.
    package let objects: [Value]
    /// Held while a container fills itself, so that readers on several threads fill it once.
    package let lock = Mutex<Void>(())

    package init(bytes: consuming TapeBuffer<UInt8>, kinds: consuming TapeBuffer<UInt8>, payloads: consuming TapeBuffer<Int64>,
                 spans: consuming TapeBuffer<Span>, containers: consuming TapeBuffer<Container>,
                 segments: consuming TapeBuffer<Segment>, children: consuming TapeBuffer<Int32>, objects: [Value] = []) {
        self.bytes = bytes
        self.kinds = kinds
        self.payloads = payloads
        self.spans = spans
        self.containers = containers
        self.segments = segments
        self.children = children
        self.objects = objects
    }

    /// Whether a list or dict node holds an object node (a tensor among them) at any depth.
    package func holdsObjects(_ node: Int32) -> Bool {
        containers[Int(payloads[Int(node)])].holdsObjects
    }

    package func kind(_ node: Int32) -> Kind { Kind(rawValue: kinds[Int(node)] & Self.kindMask) ?? .none }

    /// The identity token of a node that a container holds: strings and bytes reached more than once.
    package func token(_ node: Int32) -> Int32? {
        let k = kinds[Int(node)]
        guard k & Self.shared != 0 else { return nil }
        let kind = k & Self.kindMask
        return kind == Kind.string.rawValue || kind == Kind.bytes.rawValue ? node : nil
    }

    /// The value of a node that holds nothing else (`None`, a bool, an int, a
    /// float, a `str`, `bytes`), from its kind, payload and the text it
    /// points into; nil for an object or a container. The decoder uses it too.
    @inline(__always)
    package static func leafValue(_ kind: Kind, _ payload: Int64, bytes: borrowing TapeBuffer<UInt8>,
                                  spans: borrowing TapeBuffer<Span>) -> Value? {
        switch kind {
        case .none: return .None
        case .bool: return .bool(payload != 0)
        case .int: return .int(Int(payload))
        case .float: return .float(Double(bitPattern: UInt64(bitPattern: payload)))
        case .string:
            let span = spans[Int(payload)]
            return .string(bytes.withElements(span.offset..<(span.offset + span.count)) { String(decoding: $0, as: UTF8.self) })
        case .bytes:
            let span = spans[Int(payload)]
            return .bytes(bytes.withElements(span.offset..<(span.offset + span.count)) { Array($0) })
        case .object, .list, .tuple, .dict: return nil
        }
    }

    /// The value of a node; a container comes back empty-handed, filling itself when read.
    package func value(_ node: Int32) -> Value {
        let payload = payloads[Int(node)]
        let kind = kind(node)
        switch kind {
        case .none, .bool, .int, .float, .string, .bytes:
            return Self.leafValue(kind, payload, bytes: bytes, spans: spans) ?? .None
        case .object: return objects[Int(payload)]
        case .list: return .list(PyList(tape: self, node: node, depth: Int(containers[Int(payload)].depth)))
        case .tuple:
            let (items, tokens) = sequence(node)
            return .tuple(PyTuple(items, tokens: tokens, depth: Int(containers[Int(payload)].depth)))
        case .dict:
            let container = containers[Int(payload)]
            let d = PyDict(tape: self, node: node, depth: Int(container.depth),
                           kind: kinds[Int(node)] & Self.ordered != 0 ? .orderedDict : .dict)
            if container.state >= 0 { build(d, state: container.state) }
            return .dict(d)
        }
    }

    /// Calls `body` with each segment's item nodes, in order.
    package func forEachSegment(of node: Int32, _ body: (UnsafeBufferPointer<Int32>) -> Void) {
        var s = containers[Int(payloads[Int(node)])].first
        while s >= 0 {
            let segment = segments[Int(s)]
            children.withElements(Int(segment.start)..<Int(segment.start + segment.count), body)
            s = segment.next
        }
    }

    /// The items of a list or tuple node, with the tokens of those that were one object with another.
    package func sequence(_ node: Int32) -> (items: [Value], tokens: TokenTable) {
        var items: [Value] = []
        items.reserveCapacity(Int(containers[Int(payloads[Int(node)])].count))
        var tokens = TokenTable()
        forEachSegment(of: node) { segment in
            for child in segment {
                if let token = token(child) { tokens[items.count] = token }
                items.append(value(child))
            }
        }
        return (items, tokens)
    }

    /// The token a memoized string or bytes node carries while its container
    /// is filled (kept afterwards only when the node was reached again).
    private func memoToken(_ node: Int32) -> Int32? {
        let k = kinds[Int(node)]
        guard k & Self.memoized != 0 else { return nil }
        let kind = k & Self.kindMask
        return kind == Kind.string.rawValue || kind == Kind.bytes.rawValue ? node : nil
    }

    /// Gives a dict the state `BUILD` gave it, as the machine's `BUILD` does:
    /// the state dict's items become its attributes. The state dict is filled
    /// now, on its own (the caller may hold the tape's lock); the decoder let
    /// through only a dict with `str` keys.
    private func build(_ d: PyDict, state node: Int32) {
        let state = PyDict(kind: .dict)
        // Built in Swift, it has no tape to build its positions by key later.
        fill(state, from: node, defersIndex: false)
        state.depth = Int(containers[Int(payloads[Int(node)])].depth)
        for (key, value) in state.items {
            if case .string(let name) = key { d.attributes.append((name, value)) }
        }
        d.state = .dict(state)
    }

    /// Fills a dict from its node, with the machine's rules: a key set again
    /// keeps its place and its first key object, and takes the new value.
    /// A large dict whose keys are all distinct `str`s (a state dict) is
    /// filled without its positions by key, which it builds when a key is
    /// first looked up (`defersIndex`, for a dict that fills itself from
    /// this tape).
    package func fill(_ dict: PyDict, from node: Int32, defersIndex: Bool = true) {
        let count = Int(containers[Int(payloads[Int(node)])].count) / 2
        if defersIndex && PyDict.isIndexed(count: count) && keysAreDistinctStrings(node) {
            fill(dict, fromDistinct: node, count: count)
            return
        }
        dict.reserveUnfilled(count)
        var anyTokens = false
        forEachSegment(of: node) { segment in
            // As the machine does per SETITEMS: tokens are recorded for a
            // batch only when one of its items has one.
            guard segment.contains(where: { memoToken($0) != nil }) else {
                var i = segment.startIndex
                while i + 1 < segment.endIndex {
                    // The decoder let only hashable keys through.
                    _ = dict.setUnfilled(value(segment[i + 1]), for: value(segment[i]))
                    i += 2
                }
                return
            }
            anyTokens = true
            var i = segment.startIndex
            while i + 1 < segment.endIndex {
                let key = segment[i], item = segment[i + 1]
                let entry = dict.setUnfilled(value(item), for: value(key))
                if let keyToken = memoToken(key), dict._itemTokens[2 * entry] == nil { dict._itemTokens[2 * entry] = keyToken }
                dict._itemTokens[2 * entry + 1] = memoToken(item)
                i += 2
            }
        }
        // Only objects reached more than once keep their identity.
        if anyTokens { dict._itemTokens.removeAll { kinds[Int($0)] & Self.shared == 0 } }
    }

    /// Fills a dict whose keys are distinct `str`s: in one step, without its
    /// positions by key (built when a key is first looked up). Only strings
    /// reached more than once keep their identity, as after ``fill(_:from:defersIndex:)``.
    private func fill(_ dict: PyDict, fromDistinct node: Int32, count: Int) {
        var keys: [Value] = [], values: [Value] = []
        keys.reserveCapacity(count)
        values.reserveCapacity(count)
        var depth = 1
        var tokens = TokenTable()
        forEachSegment(of: node) { segment in
            var i = segment.startIndex
            while i + 1 < segment.endIndex {
                let key = segment[i], item = segment[i + 1]
                if let token = token(key) { tokens[2 * keys.count] = token }
                if let token = token(item) { tokens[2 * keys.count + 1] = token }
                let v = value(item)
                // A str key is no deeper than its dict.
                depth = max(depth, v.nestingDepth + 1)
                keys.append(value(key))
                values.append(v)
                i += 2
            }
        }
        dict.adoptUnfilled(keys: keys, values: values, depth: depth, itemTokens: tokens)
    }

    /// Whether every key of a dict node is a `str` node and no two are equal
    /// (the same code points: the same UTF-8 bytes), found by hashing their
    /// bytes in place, without making a `String` of any.
    private func keysAreDistinctStrings(_ node: Int32) -> Bool {
        let count = Int(containers[Int(payloads[Int(node)])].count) / 2
        var capacity = 16
        while capacity < 2 * count { capacity <<= 1 }
        let mask = capacity - 1
        var distinct = true
        bytes.withUnsafeBufferPointer { text in
            func span(_ key: Int32) -> UnsafeRawBufferPointer {
                let s = spans[Int(payloads[Int(key)])]
                return UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: text[s.offset..<(s.offset + s.count)]))
            }
            // First every key's hash, reading the keys in order; then the table,
            // whose scattered slots are all that the second pass touches.
            var hashes: [Int] = []
            var keys: [Int32] = []
            hashes.reserveCapacity(count)
            keys.reserveCapacity(count)
            forEachSegment(of: node) { segment in
                guard distinct else { return }
                var i = segment.startIndex
                while i + 1 < segment.endIndex {
                    let key = segment[i]
                    guard kind(key) == .string else {
                        distinct = false
                        return
                    }
                    var hasher = Hasher()
                    hasher.combine(bytes: span(key))
                    hashes.append(hasher.finalize())
                    keys.append(key)
                    i += 2
                }
            }
            guard distinct else { return }
            // Each slot holds a key's hash in its high half and its node + 1 in
            // its low half (0: empty): keys whose hashes differ are told apart
            // without reading their bytes again.
            var table = [UInt64](repeating: 0, count: capacity)
            for (hash, key) in zip(hashes, keys) {
                let high = UInt64(truncatingIfNeeded: hash) & 0xFFFF_FFFF_0000_0000
                var slot = hash & mask
                while table[slot] != 0 {
                    if table[slot] & 0xFFFF_FFFF_0000_0000 == high,
                       span(Int32(truncatingIfNeeded: table[slot] & 0xFFFF_FFFF) - 1).elementsEqual(span(key)) {
                        distinct = false
                        return
                    }
                    slot = (slot + 1) & mask
                }
                table[slot] = high | UInt64(UInt32(bitPattern: key + 1))
            }
        }
        return distinct
    }
}

/// Where a list or dict that the fast path decoded gets its items: its
/// tape and node, and whether it has filled itself yet. Built in Swift, a
/// container has no tape and counts as filled.
package struct TapeSource: ~Copyable {
    private let tape: PickleTape?
    private let node: Int32
    private let filled: Atomic<Bool>
    /// Whether a dict filled from the tape has built its positions by key.
    private let indexed: Atomic<Bool>

    /// No tape: the items are the container's own.
    package init() {
        tape = nil
        node = 0
        filled = Atomic(true)
        indexed = Atomic(true)
    }

    /// The items are `node`'s, in `tape`.
    package init(tape: PickleTape, node: Int32) {
        self.tape = tape
        self.node = node
        filled = Atomic(false)
        indexed = Atomic(false)
    }

    /// Runs `build` the first time any thread asks after the fill, once, under the tape's lock.
    @inline(__always)
    package func indexIfNeeded(_ build: () -> Void) {
        guard let tape, !indexed.load(ordering: .acquiring) else { return }
        tape.lock.withLock { _ in
            guard !indexed.load(ordering: .acquiring) else { return }
            build()
            indexed.store(true, ordering: .releasing)
        }
    }

    /// Whether the container may hold an object (a tensor among them): false
    /// only while it has not filled itself and its tape says it holds none.
    package var mayHoldObjects: Bool {
        guard let tape, !filled.load(ordering: .acquiring) else { return true }
        return tape.holdsObjects(node)
    }

    /// Runs `fill` the first time any thread asks, once, under the tape's lock.
    @inline(__always)
    package func fillIfNeeded(_ fill: (PickleTape, Int32) -> Void) {
        guard let tape, !filled.load(ordering: .acquiring) else { return }
        tape.lock.withLock { _ in
            // Acquiring: the lock (a futex) is not a happens-before edge every checker sees.
            guard !filled.load(ordering: .acquiring) else { return }
            fill(tape, node)
            filled.store(true, ordering: .releasing)
        }
    }
}

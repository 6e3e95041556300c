@_spi(Tape) import TorchValues

/// The pickle machine's fast path, for pickles of plain data and for what
/// `torch.save` writes: `None`, booleans, integers that fit in 64 bits,
/// floats, `str`, `bytes`, lists, tuples and dicts, with the memo and frames
/// of protocols 1 to 5 (what `pickle.dumps` writes for a dataset of records,
/// a vocabulary, a table); and `GLOBAL`, `REDUCE` and `BINPERSID` where they
/// rebuild a tensor, an empty `OrderedDict` or a storage (a state dict).
///
/// It decodes into a ``PickleTape``: flat arrays of nodes, no object per
/// plain value, strings validated but kept as bytes. The containers it
/// returns fill themselves from the tape when first read. Tensors and
/// storages are made when their call is met, by the same code the machine
/// calls, so every check on them runs while decoding.
///
/// Anything else (another global or call, `BUILD`, protocol 0's text
/// opcodes, a set, a container reached twice, a key that is not hashable, an
/// error of any kind, a limit reached) makes it give up, returning nil: the
/// full machine then reads the pickle from the start, with every rule and
/// every error message it has. Its limits are never looser than the machine's.
/// A persistent id is resolved here only when the loader may be called again
/// for the same id (``UnpicklerOptions/persistentLoadIsRepeatable``), since
/// the machine calls it again after a give-up.
package struct PlainDecoder: ~Copyable {
    let input: UnsafeRawBufferPointer
    let start: Int
    var position: Int
    let options: UnpicklerOptions
    let persistentLoad: (@Sendable (Value) throws -> Value)?
    let storageLoad: (@Sendable (StorageReference) throws -> Storage)?

    // The tape's arrays, and the machine's stack, marks and memo: buffers
    // with one owner (no copy-on-write checks on every append and write).
    var kinds: TapeBuffer<UInt8>
    var payloads: TapeBuffer<Int64>
    var spans: TapeBuffer<PickleTape.Span>
    var text: TapeBuffer<UInt8>
    var containers: TapeBuffer<PickleTape.Container>
    var segments: TapeBuffer<PickleTape.Segment>
    var children: TapeBuffer<Int32>
    var objects: [Value] = []
    /// Every global named, once each, in order, as the machine lists them.
    var namedGlobals: [String] = []
    var namedGlobalSet = Set<String>()
    /// Created at the first `STACK_GLOBAL`.
    var provenance: PickleProvenance?
    /// The storage references, which the provenance takes at the end.
    var references = StorageReferenceLog()

    /// The last int tuples made into arrays (shapes and strides), to share; the next slot to replace.
    var recentIntegers: [[Int]] = []
    var nextRecentInteger = 0

    var stack = TapeBuffer<Int32>(capacity: 64)
    /// The items of the container ``reclaim(_:)`` dropped first.
    var reclaimed = TapeBuffer<Int32>(capacity: 16)
    var marks = TapeBuffer<Int>(capacity: 16)
    var memo: TapeBuffer<Int32>
    var protocolVersion = 0
    var frameEnd = -1

    package init(input: UnsafeRawBufferPointer, position: Int, options: UnpicklerOptions,
                 persistentLoad: (@Sendable (Value) throws -> Value)? = nil,
                 storageLoad: (@Sendable (StorageReference) throws -> Storage)? = nil) {
        self.input = input
        self.start = position
        self.position = position
        self.options = options
        self.persistentLoad = options.persistentLoadIsRepeatable ? persistentLoad : nil
        self.storageLoad = options.persistentLoadIsRepeatable ? storageLoad : nil
        // Room for what the input holds in what torch.save and pickle.dumps
        // write, reserved up front: pages are touched only as they fill, and the
        // buffers seldom copy themselves to grow (each copy faults every page in
        // again). torch.save writes a node every 8 bytes or so, a container every
        // 20 and memoizes an object every 15. Not much more: a reservation past
        // what the allocator keeps for reuse (32 MiB in glibc) is mapped afresh,
        // and faulted in again, at every load. Up to 2^24 entries each.
        let size = max(input.count - position, 0)
        let cap = 1 << 24
        kinds = TapeBuffer(capacity: min(size / 4, cap))
        payloads = TapeBuffer(capacity: min(size / 4, cap))
        children = TapeBuffer(capacity: min(size / 4, cap))
        spans = TapeBuffer(capacity: min(size / 8, cap))
        containers = TapeBuffer(capacity: min(size / 16, cap))
        segments = TapeBuffer(capacity: min(size / 16, cap))
        memo = TapeBuffer(capacity: min(size / 8, cap))
        text = TapeBuffer(capacity: min(size / 2, cap * 8))
        // A tensor and its storage every 150 bytes or so.
        objects.reserveCapacity(min(size / 64, cap))
        references.reserve(min(size / 128, cap))
    }

    /// The decoded pickle: its value, the offset past `STOP`, its protocol,
    /// the globals it names and the identities of its storage references;
    /// nil when the full machine must read it.
    package consuming func run() -> Unpickler.Decoded? {
        guard start >= 0, start <= input.count, let root = decode() else { return nil }
        let tape = PickleTape(bytes: text, kinds: kinds, payloads: payloads, spans: spans,
                              containers: containers, segments: segments, children: children, objects: objects)
        let provenance = provenance ?? PickleProvenance()
        provenance.adopt(references)
        return Unpickler.Decoded(value: tape.value(root), end: position, protocolVersion: protocolVersion,
                                 provenance: provenance, calls: [], globals: namedGlobals)
    }

    // MARK: Reading

    mutating func byte() -> UInt8? {
        guard position < input.count else { return nil }
        defer { position += 1 }
        return input[position]
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard input.count - position >= size else { return nil }
        defer { position += size }
        return T(littleEndian: input.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    /// Skips `count` bytes that must exist; returns where they start.
    mutating func skip(_ count: UInt64) -> Int? {
        guard count <= UInt64(input.count - position) else { return nil }
        defer { position += Int(count) }
        return position
    }

    // MARK: Nodes

    var fence: Int { marks.last ?? 0 }

    mutating func node(_ kind: NodeKind, _ payload: Int64, flags: UInt8 = 0) -> Int32? {
        guard kinds.count < Int(Int32.max) else { return nil }
        kinds.append(kind.rawValue | flags)
        payloads.append(payload)
        return Int32(kinds.count - 1)
    }

    mutating func push(_ node: Int32?) -> Bool {
        guard let node, stack.count < options.maxStackDepth else { return false }
        stack.append(node)
        return true
    }

    mutating func push(_ kind: NodeKind, _ payload: Int64) -> Bool {
        push(node(kind, payload))
    }

    /// A `str` (validated as the machine validates it) or `bytes` of `count` bytes at the position.
    mutating func pushText(_ kind: NodeKind, count: UInt64?) -> Bool {
        guard let count, let offset = skip(count) else { return false }
        let bytes = UnsafeRawBufferPointer(rebasing: input[offset..<position])
        if kind == .string {
            var high: UInt8 = 0
            for b in bytes { high |= b }
            if high >= 0x80, String(validating: bytes, as: UTF8.self) == nil { return false }
        }
        // Spans count in 32 bits: a pickle with 4 GiB of text is the machine's.
        guard text.count + bytes.count <= Int(UInt32.max) else { return false }
        spans.append(.init(offset: text.count, count: bytes.count))
        bytes.withMemoryRebound(to: UInt8.self) { text.append(contentsOf: $0) }
        return push(kind, Int64(spans.count - 1))
    }

    // The helpers the opcodes call are mutating: a non-mutating call that is
    // not inlined would copy the decoder (retaining every array) each time.
    mutating func kind(_ node: Int32) -> NodeKind {
        NodeKind(rawValue: kinds[Int(node)] & NodeKind.mask) ?? .none
    }

    mutating func isContainer(_ node: Int32) -> Bool {
        // list, tuple and dict are the last three kinds.
        kinds[Int(node)] & NodeKind.mask >= NodeKind.list.rawValue
    }

    /// Whether Python could use the node as a dict key.
    mutating func isHashable(_ node: Int32) -> Bool {
        switch kind(node) {
        // An object as a key is the machine's to hash.
        case .list, .dict, .object: false
        case .tuple: kinds[Int(node)] & NodeKind.unhashable == 0
        default: true
        }
    }

    /// A new container holding the stack's items from `from` (which it pops).
    mutating func pushContainer(_ kind: NodeKind, from: Int) -> Bool {
        var flags: UInt8 = 0
        if kind == .tuple {
            for i in from..<stack.count where !isHashable(stack[i]) {
                flags = NodeKind.unhashable
                break
            }
        }
        containers.append(.init())
        guard let n = node(kind, Int64(containers.count - 1), flags: flags), add(from: from, to: n) else { return false }
        return push(n)
    }

    /// Adds the stack's items from `from` (which it pops) to a container, as one segment.
    mutating func add(from: Int, to container: Int32) -> Bool {
        let count = stack.count - from
        guard count > 0 else { return true }
        let c = Int(payloads[Int(container)])
        // Read and written back once: each subscript of the array is a uniqueness check.
        var record = containers[c]
        guard Int(record.count) + count <= (kind(container) == .dict ? 2 : 1) * options.maxContainerSize,
              Int(record.count) + count < Int(Int32.max), children.count + count < Int(Int32.max),
              segments.count < Int(Int32.max) else { return false }
        var depth = record.depth
        var holds = record.holdsObjects
        for i in from..<stack.count {
            let item = stack[i]
            let k = kinds[Int(item)] & NodeKind.mask
            if k >= NodeKind.list.rawValue {
                let inner = containers[Int(payloads[Int(item)])]
                depth = max(depth, inner.depth + 1)
                holds = holds || inner.holdsObjects
            } else if k == NodeKind.object.rawValue {
                holds = true
            }
            children.append(item)
        }
        guard depth <= options.maxNestingDepth else { return false }
        record.depth = depth
        record.holdsObjects = holds
        let s = Int32(segments.count)
        segments.append(.init(start: Int32(children.count - count), count: Int32(count)))
        if record.last >= 0 { segments[Int(record.last)].next = s } else { record.first = s }
        record.last = s
        record.count += Int32(count)
        containers[c] = record
        stack.removeLast(count)
        return true
    }

    /// The topmost mark's position, popped, with the container below it when `target` is asked for.
    mutating func popMark() -> Int? {
        guard let mark = marks.popLast(), stack.count - mark <= options.maxContainerSize else { return nil }
        return mark
    }

    // MARK: Running

    mutating func decode() -> Int32? {
        while true {
            guard let op = byte() else { return nil }
            if protocolVersion == 0, let known = Opcode(rawValue: op), known.introducedIn == 1 { protocolVersion = 1 }
            switch op {
            case 0x2E: // STOP
                guard stack.count > fence else { return nil }
                return stack.removeLast()
            case 0x80: // PROTO
                guard let v = byte(), v <= 5 else { return nil }
                protocolVersion = Int(v)
            case 0x95: // FRAME
                guard frameEnd < 0, let length = integer(UInt64.self), length <= UInt64(input.count - position) else { return nil }
                frameEnd = position + Int(length)
            case 0x28: // MARK
                guard marks.count < options.maxMarkDepth else { return nil }
                marks.append(stack.count)
            case 0x30: // POP
                if let m = marks.last, m == stack.count {
                    marks.removeLast()
                } else {
                    guard stack.count > fence else { return nil }
                    stack.removeLast()
                }
            case 0x31: // POP_MARK
                guard let mark = popMark() else { return nil }
                stack.removeLast(stack.count - mark)
            case 0x32: // DUP
                // A str or bytes not yet memoized is left to the machine: its identity belongs to
                // the stack slot there, so a PUT of one copy would not give the other a token.
                guard stack.count > fence, let top = stack.last, !isContainer(top),
                      memoToken(top) != nil || !isText(top), push(top) else { return nil }
                if kinds[Int(top)] & NodeKind.memoized != 0 { kinds[Int(top)] |= NodeKind.shared }

            case 0x4E: guard push(.none, 0) else { return nil }                 // NONE
            case 0x88: guard push(.bool, 1) else { return nil }                 // NEWTRUE
            case 0x89: guard push(.bool, 0) else { return nil }                 // NEWFALSE
            case 0x4A: guard let v = integer(Int32.self), push(.int, Int64(v)) else { return nil }   // BININT
            case 0x4B: guard let v = byte(), push(.int, Int64(v)) else { return nil }                // BININT1
            case 0x4D: guard let v = integer(UInt16.self), push(.int, Int64(v)) else { return nil }  // BININT2
            case 0x8A: // LONG1, when it fits in 64 bits
                guard let n = byte(), n <= 8, let offset = skip(UInt64(n)) else { return nil }
                var v: Int64 = 0
                if n > 0 {
                    for i in (0..<Int(n)).reversed() { v = v << 8 | Int64(input[offset + i]) }
                    // Sign-extend from the top byte.
                    let shift = Int64(64 - 8 * Int(n))
                    v = (v << shift) >> shift
                }
                guard push(.int, v) else { return nil }
            case 0x47: // BINFLOAT
                guard let offset = skip(8) else { return nil }
                let bits = UInt64(bigEndian: input.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                guard push(.float, Int64(bitPattern: bits)) else { return nil }

            case 0x58: guard pushText(.string, count: integer(UInt32.self).map(UInt64.init)) else { return nil }  // BINUNICODE
            case 0x8C: guard pushText(.string, count: byte().map(UInt64.init)) else { return nil }            // SHORT_BINUNICODE
            case 0x8D: guard pushText(.string, count: integer(UInt64.self)) else { return nil }               // BINUNICODE8
            case 0x42: guard pushText(.bytes, count: integer(UInt32.self).map(UInt64.init)) else { return nil }   // BINBYTES
            case 0x43: guard pushText(.bytes, count: byte().map(UInt64.init)) else { return nil }             // SHORT_BINBYTES
            case 0x8E: guard pushText(.bytes, count: integer(UInt64.self)) else { return nil }                // BINBYTES8

            case 0x5D: guard pushContainer(.list, from: stack.count) else { return nil }   // EMPTY_LIST
            case 0x7D: guard pushContainer(.dict, from: stack.count) else { return nil }   // EMPTY_DICT
            case 0x29: guard pushContainer(.tuple, from: stack.count) else { return nil }  // EMPTY_TUPLE
            case 0x6C, 0x74: // LIST, TUPLE
                guard let mark = popMark(), pushContainer(op == 0x6C ? .list : .tuple, from: mark) else { return nil }
            case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
                let n = Int(op - 0x85) + 1
                guard stack.count - fence >= n, pushContainer(.tuple, from: stack.count - n) else { return nil }
            case 0x64: // DICT
                guard let mark = popMark(), (stack.count - mark) % 2 == 0, keysAreHashable(from: mark) else { return nil }
                containers.append(.init())
                guard let d = node(.dict, Int64(containers.count - 1)), add(from: mark, to: d), push(d) else { return nil }
            case 0x61: // APPEND
                guard stack.count - fence >= 2, kind(stack[stack.count - 2]) == .list,
                      add(from: stack.count - 1, to: stack[stack.count - 2]) else { return nil }
            case 0x65: // APPENDS
                guard let mark = popMark(), mark > fence, kind(stack[mark - 1]) == .list,
                      add(from: mark, to: stack[mark - 1]) else { return nil }
            case 0x73: // SETITEM
                guard stack.count - fence >= 3, kind(stack[stack.count - 3]) == .dict, isHashable(stack[stack.count - 2]),
                      add(from: stack.count - 2, to: stack[stack.count - 3]) else { return nil }
            case 0x75: // SETITEMS
                guard let mark = popMark(), mark > fence, kind(stack[mark - 1]) == .dict, (stack.count - mark) % 2 == 0,
                      keysAreHashable(from: mark), add(from: mark, to: stack[mark - 1]) else { return nil }

            case 0x71: guard let i = byte(), put(Int(i)) else { return nil }                    // BINPUT
            case 0x72: guard let i = integer(UInt32.self), put(Int(i)) else { return nil }      // LONG_BINPUT
            case 0x94: guard put(memo.count) else { return nil }                                // MEMOIZE
            case 0x68: guard let i = byte(), get(Int(i)) else { return nil }                    // BINGET
            case 0x6A: guard let i = integer(UInt32.self), get(Int(i)) else { return nil }      // LONG_BINGET

            case 0x63: guard global() else { return nil }           // GLOBAL
            case 0x93: guard stackGlobal() else { return nil }      // STACK_GLOBAL
            case 0x52: guard reduce() else { return nil }           // REDUCE
            case 0x51: guard persistentID() else { return nil }     // BINPERSID
            case 0x62: guard build() else { return nil }            // BUILD
            default:
                return nil
            }
            if frameEnd >= 0 {
                // An opcode may not straddle a frame's end (the machine says where).
                if position > frameEnd { return nil }
                if position == frameEnd { frameEnd = -1 }
            }
        }
    }

    mutating func keysAreHashable(from: Int) -> Bool {
        var i = from
        while i < stack.count {
            if !isHashable(stack[i]) { return false }
            i += 2
        }
        return true
    }

    /// Memoizes the top of the stack at a dense index (the numbering every
    /// pickler uses from 0; anything else is the machine's to handle).
    mutating func put(_ index: Int) -> Bool {
        guard stack.count > fence, let top = stack.last else { return false }
        if index < memo.count {
            memo[index] = top
        } else if index == memo.count, memo.count < options.maxMemoEntries {
            memo.append(top)
        } else {
            return false
        }
        kinds[Int(top)] |= NodeKind.memoized
        return true
    }

    /// Pushes a memo entry: a string or bytes reached again is one object with its first
    /// occurrence; a container reached again is the machine's (it may close a cycle).
    mutating func get(_ index: Int) -> Bool {
        guard index < memo.count else { return false }
        let node = memo[index]
        guard !isContainer(node), push(node) else { return false }
        kinds[Int(node)] |= NodeKind.shared
        return true
    }
}

// MARK: Globals, calls and persistent ids

extension PlainDecoder {
    /// A new object node.
    mutating func object(_ value: Value) -> Int32? {
        objects.append(value)
        return node(.object, Int64(objects.count - 1))
    }

    /// The text of a line that ends with a newline, decoded as the machine decodes it.
    mutating func line() -> String? {
        let from = position
        var i = position
        while i < input.count {
            if input[i] == 0x0A {
                position = i + 1
                return String(decoding: UnsafeRawBufferPointer(rebasing: input[from..<i]), as: UTF8.self)
            }
            i += 1
        }
        return nil
    }

    /// `GLOBAL`: the global as the machine makes it, noted in the globals named.
    mutating func global() -> Bool {
        guard let module = line(), let name = line() else { return false }
        return push(global(module: module, name: name))
    }

    mutating func global(module: String, name: String) -> Int32? {
        let qualified = GlobalRegistry.python3Name(module: module, name: name)
        if namedGlobalSet.insert(qualified).inserted { namedGlobals.append(qualified) }
        return object(Machine.global(module: module, name: name))
    }

    /// `STACK_GLOBAL` (protocols 4 and 5): the module and name strings'
    /// identities are noted, as the machine notes them, so that a string used
    /// as both a module name and a key is written back as one object.
    mutating func stackGlobal() -> Bool {
        guard stack.count - fence >= 2 else { return false }
        let nameNode = stack[stack.count - 1], moduleNode = stack[stack.count - 2]
        guard kind(nameNode) == .string, kind(moduleNode) == .string else { return false }
        let name = text(of: nameNode), module = text(of: moduleNode)
        stack.removeLast(2)
        if provenance == nil { provenance = PickleProvenance() }
        provenance?.globalNames[module + "\n" + name] = (memoToken(moduleNode), memoToken(nameNode))
        return push(global(module: module, name: name))
    }

    /// The text of a `str` node.
    mutating func text(of node: Int32) -> String {
        let span = spans[Int(payloads[Int(node)])]
        return text.withElements(span.offset..<(span.offset + span.count)) { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether a `str` node's text is `tag`.
    mutating func text(of node: Int32, is tag: StaticString) -> Bool {
        let span = spans[Int(payloads[Int(node)])]
        let count = span.count, offset = span.offset
        guard count == tag.utf8CodeUnitCount else { return false }
        let expected = UnsafeBufferPointer(start: tag.utf8Start, count: count)
        return text.withElements(offset..<(offset + count)) { text in
            for i in 0..<count where text[i] != expected[i] { return false }
            return true
        }
    }

    /// Whether the node is a `str` or `bytes`.
    mutating func isText(_ node: Int32) -> Bool {
        let kind = kinds[Int(node)] & NodeKind.mask
        return kind == NodeKind.string.rawValue || kind == NodeKind.bytes.rawValue
    }

    /// The identity token a memoized `str` or `bytes` node has while the machine runs: its number.
    mutating func memoToken(_ node: Int32) -> Int32? {
        isText(node) && kinds[Int(node)] & NodeKind.memoized != 0 ? node : nil
    }

    /// `REDUCE` of a global this library rebuilds, where the machine would
    /// record nothing beside the result: a tensor (its hooks an
    /// `OrderedDict`), or an empty `OrderedDict` (a dict node, which
    /// `SETITEMS` then fills). The call is the machine's own.
    mutating func reduce() -> Bool {
        guard stack.count - fence >= 2 else { return false }
        let argumentNode = stack[stack.count - 1], callable = stack[stack.count - 2]
        guard kind(argumentNode) == .tuple, kind(callable) == .object,
              case .global(let g) = objects[Int(payloads[Int(callable)])], let known = g.known else { return false }
        // Matched, not compared: KnownGlobal's == is a call through its Equatable witness.
        if case .rebuildTensorV2 = known, let tensor = rebuildTensorV2(argumentNode) {
            stack.removeLast(2)
            reclaim(argumentNode)
            return push(object(.tensor(tensor)))
        }
        if case .orderedDict = known, containers[Int(payloads[Int(argumentNode)])].count == 0 {
            // `OrderedDict()`: what the call makes, an empty OrderedDict, as a dict node SETITEMS fills.
            stack.removeLast(2)
            reclaim(argumentNode)
            containers.append(.init())
            return push(node(.dict, Int64(containers.count - 1), flags: NodeKind.ordered))
        }
        guard case .tuple(let arguments)? = materialize(argumentNode, memoTokens: false) else { return false }
        let result: Value?
        do {
            result = try known.call(arguments.items, construction: .reduce)
        } catch {
            return false
        }
        stack.removeLast(2)
        reclaim(argumentNode)
        switch result {
        case .tensor(let t)?:
            // Hooks pickled as None are noted in the provenance by the machine.
            if case .None = t.backwardHooks { return false }
            return push(object(.tensor(t)))
        default:
            return false
        }
    }

    /// Drops a container that a call or a persistent id consumed, and then
    /// the containers among its items, each while it is the last one made:
    /// a tensor's arguments (the persistent id, shape, stride, hooks and the
    /// tuple of them) are a third of a state dict's tape, dead once the
    /// tensor is made.
    ///
    /// Nothing reaches them any more: a container is never reached twice on
    /// the fast path (a memo `GET` of one gives up, so a node still in the
    /// memo is never read), and the items of a dead container are dead. A
    /// container made later takes the index again.
    mutating func reclaim(_ node: Int32) {
        guard dropLastContainer(node) else { return }
        // The items' containers were made before their parent, in order: the
        // last of them is now the last container.
        var i = reclaimed.count
        while i > 0 {
            i -= 1
            guard dropLastContainer(reclaimed[i]) else { break }
        }
        reclaimed.removeAll()
    }

    /// Drops `node`'s container when it is the last one made and its items
    /// are the last ones added (noting the containers among its items in `reclaimed`).
    mutating func dropLastContainer(_ node: Int32) -> Bool {
        guard isContainer(node) else { return false }
        let c = Int(payloads[Int(node)])
        guard c == containers.count - 1 else { return false }
        let record = containers[c]
        if record.first >= 0 {
            guard record.first == record.last, Int(record.first) == segments.count - 1 else { return false }
            let segment = segments[Int(record.first)]
            guard Int(segment.start + segment.count) == children.count else { return false }
            if reclaimed.isEmpty {
                for j in Int(segment.start)..<children.count where isContainer(children[j]) { reclaimed.append(children[j]) }
            }
            children.removeLast(Int(segment.count))
            segments.removeLast()
        }
        containers.removeLast()
        return true
    }

    /// Where the items of a tuple node lie in `children`, when it has one segment.
    mutating func items(_ tuple: Int32) -> Range<Int>? {
        let c = containers[Int(payloads[Int(tuple)])]
        if c.count == 0 { return 0..<0 }
        guard c.first == c.last, c.first >= 0 else { return nil }
        let segment = segments[Int(c.first)]
        return Int(segment.start)..<Int(segment.start + segment.count)
    }

    /// The ints of a tuple node of ints.
    ///
    /// Tensors share shapes and strides (every layer of a block, every
    /// element of a list): an array equal to one of the last few made is
    /// that one again, not a new allocation.
    mutating func integers(_ node: Int32) -> [Int]? {
        guard kind(node) == .tuple, let items = items(node) else { return nil }
        for j in items where kinds[Int(children[j])] & NodeKind.mask != NodeKind.int.rawValue { return nil }
        for cached in recentIntegers where cached.count == items.count {
            var same = true
            for j in items where cached[j - items.lowerBound] != Int(payloads[Int(children[j])]) {
                same = false
                break
            }
            if same { return cached }
        }
        var values: [Int] = []
        values.reserveCapacity(items.count)
        for j in items { values.append(Int(payloads[Int(children[j])])) }
        if recentIntegers.count < 16 {
            recentIntegers.append(values)
        } else {
            recentIntegers[nextRecentInteger] = values
            nextRecentInteger = (nextRecentInteger + 1) % 16
        }
        return values
    }

    /// `_rebuild_tensor_v2` in the form `torch.save` writes it (a storage, an
    /// int offset, tuples of ints, a bool and an empty `OrderedDict()` of
    /// hooks), without making its argument tuples: nil for any other form,
    /// which the machine's call then takes, or for a check that fails.
    mutating func rebuildTensorV2(_ arguments: Int32) -> Tensor? {
        guard let items = items(arguments), items.count == 6 else { return nil }
        let i = items.lowerBound
        let storageNode = children[i], offset = children[i + 1], shapeNode = children[i + 2], strideNode = children[i + 3]
        let requiresGrad = children[i + 4], hooks = children[i + 5]
        guard kind(storageNode) == .object, case .storage(let storage) = objects[Int(payloads[Int(storageNode)])],
              kind(offset) == .int, let shape = integers(shapeNode), let stride = integers(strideNode),
              kind(requiresGrad) == .bool, kind(hooks) == .dict, kinds[Int(hooks)] & NodeKind.ordered != 0,
              containers[Int(payloads[Int(hooks)])].count == 0, containers[Int(payloads[Int(hooks)])].state < 0
        else { return nil }
        return try? TensorRebuild.rebuildTensorV2(storage: storage, offset: Int(payloads[Int(offset)]), shape: shape,
                                                  stride: stride, requiresGrad: payloads[Int(requiresGrad)] != 0)
    }

    /// `BUILD` of an `OrderedDict` with a dict of attributes (a state dict's
    /// `_metadata`), once: recorded on the dict node, which takes the state
    /// and its attributes when it is made.
    mutating func build() -> Bool {
        guard stack.count - fence >= 2 else { return false }
        let state = stack[stack.count - 1], target = stack[stack.count - 2]
        // The state is a plain dict without a state of its own (the machine keeps an
        // OrderedDict state as it is, which a tape dict made here would not).
        guard kind(target) == .dict, kinds[Int(target)] & NodeKind.ordered != 0, kind(state) == .dict,
              kinds[Int(state)] & NodeKind.ordered == 0 else { return false }
        let t = Int(payloads[Int(target)]), s = Int(payloads[Int(state)])
        guard containers[t].state < 0, containers[s].state < 0 else { return false }
        // Attribute names are str.
        var segment = containers[s].first
        while segment >= 0 {
            let g = segments[Int(segment)]
            var i = Int(g.start)
            while i < Int(g.start + g.count) {
                guard kind(children[i]) == .string else { return false }
                i += 2
            }
            segment = g.next
        }
        let depth = max(containers[t].depth, containers[s].depth + 1)
        guard depth <= options.maxNestingDepth else { return false }
        containers[t].depth = depth
        containers[t].state = state
        if containers[s].holdsObjects { containers[t].holdsObjects = true }
        stack.removeLast()
        return true
    }

    /// `BINPERSID`: the loader's value for the id, a storage's reference noted
    /// with the identities of the id's items, as the machine notes them.
    mutating func persistentID() -> Bool {
        guard stack.count > fence else { return false }
        let pid = stack[stack.count - 1]
        if let storageLoad, let (reference, items) = storageReference(pid) {
            // The form torch.save writes, resolved from its nodes.
            let storage: Storage
            do {
                storage = try storageLoad(reference)
            } catch {
                return false
            }
            stack.removeLast()
            references.record(storage)
            for j in items {
                if let token = memoToken(children[j]) { references.recordToken(position: j - items.lowerBound, token: token) }
            }
            reclaim(pid)
            return push(object(.storage(storage)))
        }
        guard let persistentLoad, let value = materialize(pid, memoTokens: true) else { return false }
        let loaded: Value
        do {
            loaded = try persistentLoad(value)
        } catch {
            return false
        }
        guard case .storage(let storage) = loaded else { return false }
        stack.removeLast()
        if case .tuple(let t) = value {
            references.record(storage)
            for (position, token) in t.itemTokens { references.recordToken(position: position, token: token) }
        }
        return push(object(loaded))
    }

    /// A persistent id in the form `torch.save` writes, `('storage', class,
    /// key, location, numel)` with str key and location, read from its nodes:
    /// nil for any other form, which the loader then takes as a value. With
    /// it, where the id's items lie in `children`.
    mutating func storageReference(_ pid: Int32) -> (reference: StorageReference, items: Range<Int>)? {
        guard kind(pid) == .tuple, let items = items(pid), items.count == 5 else { return nil }
        let i = items.lowerBound
        let tag = children[i], type = children[i + 1], key = children[i + 2], location = children[i + 3], count = children[i + 4]
        guard kind(tag) == .string, kind(type) == .object, kind(key) == .string, kind(location) == .string, kind(count) == .int,
              case .global(let storageClass) = objects[Int(payloads[Int(type)])], text(of: tag, is: "storage") else { return nil }
        guard let reference = StorageReference(storageClass: storageClass, key: text(of: key), location: text(of: location),
                                                elementCount: Int(payloads[Int(count)])) else { return nil }
        return (reference, items)
    }

    /// The value of a node that a call takes as an argument: plain values,
    /// tuples of them, objects and empty dicts; nil for anything else (a list,
    /// or a dict with items, is the machine's). With `memoTokens` (a
    /// persistent id), a tuple's memoized strings carry their identity, as
    /// the machine's tuples do while it runs; without (a call's arguments), a
    /// memoized string or bytes anywhere in them gives up.
    mutating func materialize(_ node: Int32, memoTokens: Bool) -> Value? {
        let payload = payloads[Int(node)]
        let kind = kind(node)
        switch kind {
        case .none, .bool, .int, .float, .string, .bytes:
            return PickleTape.leafValue(PickleTape.Kind(rawValue: kind.rawValue) ?? .none, payload, bytes: text, spans: spans)
        case .object: return objects[Int(payload)]
        case .list: return nil
        case .dict:
            let c = containers[Int(payload)]
            guard c.count == 0, c.state < 0 else { return nil }
            return .dict(PyDict(kind: kinds[Int(node)] & NodeKind.ordered != 0 ? .orderedDict : .dict))
        case .tuple:
            // A tuple is made whole by one opcode: its items are one segment.
            guard let range = items(node) else { return nil }
            var items: [Value] = []
            items.reserveCapacity(range.count)
            var tokens = TokenTable()
            for j in range {
                let child = children[j]
                guard let item = materialize(child, memoTokens: memoTokens) else { return nil }
                if let token = memoToken(child) {
                    // A call's result may keep its arguments (a parameter's state), whose
                    // tokens the machine prunes only at STOP: such calls are the machine's.
                    guard memoTokens else { return nil }
                    tokens[items.count] = token
                }
                items.append(item)
            }
            return .tuple(PyTuple(items, tokens: tokens, depth: Int(containers[Int(payload)].depth)))
        }
    }
}

/// ``PickleTape/Kind`` and the tape's kind-byte flags, as this module's own
/// constants: the enum's `rawValue` and `==` are calls across the module
/// boundary, made several times per opcode (a tenth of the fast path's time).
/// A test checks that they are the tape's.
package enum NodeKind: UInt8, CaseIterable {
    case none = 0, bool, int, float, string, bytes, object, list, tuple, dict

    package static let mask: UInt8 = 0x0F
    package static let ordered: UInt8 = 0x10
    package static let memoized: UInt8 = 0x40
    package static let shared: UInt8 = 0x80
    package static let unhashable: UInt8 = 0x20
}

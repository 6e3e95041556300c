/// The canonical listing of a checkpoint (LISTING.md): one entry per tensor
/// and per plain leaf value, depth first, the contract between `pth inspect
/// --json` and PyTorch.
public enum Listing {
    /// A leaf reached by the walk: a tensor or a plain value, with its path.
    public struct Leaf: Sendable {
        /// The keys and indices from the root.
        public let path: [PathKey]
        /// The tensor or plain value.
        public let value: Value
    }

    /// One entry of the listing.
    public struct Entry: Sendable {
        /// The keys and indices from the root.
        public let path: [PathKey]
        /// What the entry describes.
        public let content: Content
    }

    /// What an entry describes.
    public enum Content: Sendable {
        /// A tensor, as LISTING.md describes it.
        case tensor(TensorRecord)
        /// A plain value: none, bool, int, float, str or bytes.
        case value(Value)
    }

    /// A tensor's entry.
    public struct TensorRecord: Sendable {
        public var dtype: DType
        public var shape: [Int]
        /// Nil for sparse and meta tensors, which list no strides.
        public var stride: [Int]?
        public var storageOffset: Int?
        public var requiresGrad: Bool?
        public var isParameter: Bool?
        /// Hex SHA-256 of the logical elements, little-endian, row-major; nil when not computed.
        public var sha256: String?
        /// Why ``sha256`` was not computed although digests were asked for:
        /// the tensor is a view larger than its storage whose logical
        /// elements would take the listing past its expanded-view limit
        /// (see `Listing.entries(of:digests:expandedViewLimit:)`).
        public var unhashed: String?
        public var isQuantized: Bool
        /// `torch.sparse_coo` and the like, for non-strided tensors.
        public var layout: String?
        /// `meta`, for meta tensors.
        public var device: String?
    }

    /// Walks the object tree as the listing does: dict items in insertion
    /// order, list and tuple items by index, tensors and plain values as
    /// leaves; a container reached a second time is not walked again.
    ///
    /// Objects this library keeps opaque are walked through their dict items,
    /// list items or `NEWOBJ` arguments, so a `dict` subclass or a namedtuple
    /// lists what PyTorch lists for it.
    public static func walk(_ root: Value) -> [Leaf] {
        var leaves: [Leaf] = []
        var seen = Set<ObjectIdentifier>()
        var stack: [(Value, [PathKey])] = [(root, [])]
        while let (value, path) = stack.popLast() {
            if isLeaf(value) {
                leaves.append(Leaf(path: path, value: value))
                continue
            }
            if case .children(let children) = expand(value, path: path, seen: &seen) {
                stack.append(contentsOf: children.reversed())
            }
        }
        return leaves
    }

    /// The tensors among ``walk(_:)``'s leaves, in its order, without
    /// building a path for any other leaf (a checkpoint's records and numbers).
    package static func walkTensors(_ root: Value) -> [(path: [PathKey], tensor: Tensor)] {
        if case .tensor(let t) = root { return [([], t)] }
        guard var current = Container(root) else { return [] }
        var tensors: [(path: [PathKey], tensor: Tensor)] = []
        var seen: Set<ObjectIdentifier> = [ObjectIdentifier(current.object)]
        // The container being walked and the next child to visit are locals;
        // the containers around it wait in `frames`, and `path` holds the
        // keys down to it.
        var next = 0
        var frames: [(container: Container, next: Int)] = []
        var path: [PathKey] = []
        while true {
            guard next < current.items.count else {
                guard let (outer, resume) = frames.popLast() else { break }
                (current, next) = (outer, resume)
                path.removeLast()
                continue
            }
            let position = next
            next += 1
            let child = current.items[position]
            if case .tensor(let t) = child {
                tensors.append((extend(path, by: current.key(at: position)), t))
                continue
            }
            guard mayHoldTensors(child), let inner = Container(child),
                  seen.insert(ObjectIdentifier(inner.object)).inserted else { continue }
            path.append(current.key(at: position))
            frames.append((current, next))
            (current, next) = (inner, 0)
        }
        return tensors
    }

    /// Whether a value is a tensor or may hold one.
    static func mayHoldTensors(_ v: Value) -> Bool {
        switch v {
        case .tensor, .tuple, .object: true
        // A container decoded from a tape that holds no object is skipped unread.
        case .dict(let d): d.mayHoldObjects
        case .list(let l): l.mayHoldObjects
        default: false
        }
    }

    /// What the walk finds inside a value that is not a leaf.
    enum Expansion {
        /// A container (or an object walked through its items) already walked.
        case seen
        /// Its items with their paths, in order (possibly none).
        case children([(Value, [PathKey])])
        /// Not a container.
        case notContainer
    }

    /// The items the walk visits in a container: dict items in insertion
    /// order, list and tuple items by index, an opaque object's dict items,
    /// list items or `NEWOBJ` arguments; `.seen` the second time.
    static func expand(_ value: Value, path: [PathKey], seen: inout Set<ObjectIdentifier>) -> Expansion {
        guard let container = Container(value) else { return .notContainer }
        guard seen.insert(ObjectIdentifier(container.object)).inserted else { return .seen }
        return .children(container.items.indices.map { i in (container.items[i], extend(path, by: container.key(at: i))) })
    }

    /// The path one key longer, in one allocation (`path + [key]` makes two):
    /// the shared copy of `path` grows into a new buffer on the append.
    static func extend(_ path: [PathKey], by key: PathKey) -> [PathKey] {
        var longer = path
        longer.append(key)
        return longer
    }

    /// A container as the walk sees it: the object that is its identity, and
    /// its children with their keys.
    struct Container {
        let object: AnyObject
        /// A dict's keys, in the order of ``items``; nil for items by index.
        let keys: [Value]?
        let items: [Value]

        /// Nil for a value that is not a container.
        init?(_ value: Value) {
            switch value {
            case .dict(let d): (object, keys, items) = (d, d.keys, d.values)
            case .list(let l): (object, keys, items) = (l, nil, l.items)
            case .tuple(let t): (object, keys, items) = (t, nil, t.items)
            case .object(let o):
                object = o
                if let d = o.dictItems {
                    (keys, items) = (d.keys, d.values)
                } else if !o.listItems.isEmpty {
                    (keys, items) = (nil, o.listItems)
                } else if o.construction == .newObject {
                    (keys, items) = (nil, o.arguments)
                } else {
                    (keys, items) = (nil, [])
                }
            default:
                return nil
            }
        }

        /// The key of the child at `position`.
        func key(at position: Int) -> PathKey {
            if let keys { return PathKey(dictKey: keys[position]) }
            return .index(position)
        }
    }

    /// Whether the listing shows a value as one entry.
    static func isLeaf(_ v: Value) -> Bool {
        switch v {
        case .tensor, .None, .bool, .int, .bigInt, .float, .string, .bytes, .byteArray: true
        case .ndarray(let a): a.isNumpyFloat64Scalar
        default: false
        }
    }

    /// The listing of a value tree. With `digests`, every tensor's elements
    /// are read and hashed; without, no tensor data is touched.
    ///
    /// Hashing costs time in proportion to a tensor's logical size. For every
    /// ordinary tensor that is bounded by the file, but a view larger than
    /// its storage (``Tensor/isExpandedView``: `expand`, an overlapping
    /// `as_strided`) can stand for terabytes in a few bytes. Such views are
    /// hashed until their logical bytes, summed over the listing, would pass
    /// `expandedViewLimit`; the rest are listed without ``TensorRecord/sha256``
    /// and with ``TensorRecord/unhashed`` saying why. The same view met twice
    /// (tied weights) is hashed once.
    public static func entries(of root: Value, digests: Bool = true,
                               expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) throws -> [Entry] {
        var hasher = ListingHasher(budget: expandedViewLimit)
        return try walk(root).map { leaf in
            switch leaf.value {
            case .tensor(let t): Entry(path: leaf.path, content: .tensor(try record(t, digest: digests, hasher: &hasher)))
            case .ndarray(let a): Entry(path: leaf.path, content: .value(a.numpyFloat64Value.map(Value.float) ?? .None))
            default: Entry(path: leaf.path, content: .value(leaf.value))
            }
        }
    }

    /// The listing of a checkpoint: of its root object, or for a TorchScript
    /// archive, of its module's `state_dict()` (LISTING.md: one entry per
    /// parameter and buffer, the dotted name as a one-element path), as
    /// `torch.jit.load(f).state_dict()` lists it. Views larger than their
    /// storage are hashed up to `expandedViewLimit` logical bytes in all (see
    /// `entries(of:digests:expandedViewLimit:)` of a value).
    public static func entries(of checkpoint: Checkpoint, digests: Bool = true,
                               expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) throws -> [Entry] {
        guard let torchScript = checkpoint.torchScript else {
            return try entries(of: checkpoint.root, digests: digests, expandedViewLimit: expandedViewLimit)
        }
        var hasher = ListingHasher(budget: expandedViewLimit)
        return try torchScript.stateDict.map { name, tensor in
            Entry(path: [.key(name)], content: .tensor(try record(tensor, digest: digests, hasher: &hasher)))
        }
    }

    /// A tensor's entry, as torch-listing.py computes it; a view larger than
    /// its storage whose logical elements take more than `expandedViewLimit`
    /// bytes is not hashed (``TensorRecord/unhashed`` says so).
    public static func record(_ t: Tensor, digest: Bool = true,
                              expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) throws -> TensorRecord {
        var hasher = ListingHasher(budget: expandedViewLimit)
        return try record(t, digest: digest, hasher: &hasher)
    }

    static func record(_ t: Tensor, digest: Bool, hasher: inout ListingHasher) throws -> TensorRecord {
        var r = TensorRecord(dtype: t.dtype, shape: t.shape, isQuantized: t.dtype.isQuantized)
        if t.layout != .strided {
            r.layout = t.layout.rawValue
            return r
        }
        if t.isMeta {
            r.device = "meta"
            return r
        }
        if t.dtype.elementsPerByte > 1 {
            // `int_repr()` of a packed type is a flat uint8 tensor of the packed bytes.
            r.stride = [1]
            r.storageOffset = 0
        } else if t.dtype.isQuantized {
            // PyTorch lists `int_repr()`, a new contiguous tensor.
            r.stride = Tensor.contiguousStrides(t.shape)
            r.storageOffset = 0
        } else {
            r.stride = t.stride
            r.storageOffset = t.storageOffset
        }
        // torch-listing.py reads these after `t.detach()`, which clears both
        // flags: the contract follows PyTorch's listing. `pth inspect` shows
        // the flags as saved.
        r.requiresGrad = false
        r.isParameter = false
        if digest {
            switch try hasher.digest(of: t) {
            case .hashed(let hex): r.sha256 = hex
            case .unhashed(let reason): r.unhashed = reason
            }
        }
        return r
    }

    /// SHA-256 of the logical elements in row-major order, little-endian.
    ///
    /// - Throws: ``TensorError`` with ``TensorError/Code/expandedViewOverLimit``
    ///   for a view larger than its storage whose logical elements take more
    ///   than `expandedViewLimit` bytes, before reading any.
    public static func sha256(of t: Tensor, expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) throws -> String {
        var hasher = SHA256()
        try t.forEachContiguousChunk(byteOrder: .little, chunkBytes: 4 << 20, expandedViewLimit: expandedViewLimit) {
            hasher.update(bufferPointer: $0)
        }
        return hasher.finalize().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

}

extension NDArray {
    /// numpy's float64 scalar is a subclass of Python's float, so PyTorch's
    /// listing shows it as a float.
    var isNumpyFloat64Scalar: Bool {
        isScalar && dtype?.kind == "f" && dtype?.itemSize == 8 && data.count == 8
    }

    var numpyFloat64Value: Double? {
        guard isNumpyFloat64Scalar, let dtype else { return nil }
        var bits = data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        bits = dtype.byteOrder == .big ? UInt64(bigEndian: bits) : UInt64(littleEndian: bits)
        return Double(bitPattern: bits)
    }
}

/// Hashes the tensors of one listing, with one budget for views larger than
/// their storage, and each distinct view once.
struct ListingHasher {
    enum Digest { case hashed(String), unhashed(String) }

    /// Logical bytes of expanded views still allowed.
    var budget: Int
    let limit: Int
    /// Digests of expanded views by geometry: the same view of the same storage hashes the same.
    var done: [ViewKey: String] = [:]

    init(budget: Int) {
        self.budget = max(budget, 0)
        self.limit = max(budget, 0)
    }

    struct ViewKey: Hashable {
        let storage: ObjectIdentifier
        let dtype: String
        let shape: [Int], stride: [Int]
        let offset: Int
        let conjugated: Bool, negated: Bool
    }

    mutating func digest(of t: Tensor) throws -> Digest {
        guard t.isExpandedView, let storage = t.storage else { return .hashed(try Listing.sha256(of: t, expandedViewLimit: .max)) }
        let key = ViewKey(storage: ObjectIdentifier(storage), dtype: t.dtype.name, shape: t.shape, stride: t.stride,
                          offset: t.storageOffset, conjugated: t.isConjugated, negated: t.isNegated)
        if let hex = done[key] { return .hashed(hex) }
        let bytes = t.logicalByteCount ?? .max
        guard bytes <= budget else {
            let why = bytes > limit
                ? "exceeds the listing's limit of \(Format.bytes(limit)) for views larger than their storage"
                : "would take the listing past its limit of \(Format.bytes(limit)) for views larger than their storage "
                  + "(\(Format.bytes(budget)) left)"
            return .unhashed("not hashed: \(t.expandedViewDescription) \(why)")
        }
        budget -= bytes
        let hex = try Listing.sha256(of: t, expandedViewLimit: .max)
        done[key] = hex
        return .hashed(hex)
    }
}

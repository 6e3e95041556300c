extension Conversion {
    /// Applies a conversion's selection, map location and cast to `value`,
    /// in that order (see ``ConversionOptions``). The source is not changed:
    /// containers on the way to a changed tensor are copied.
    public static func transform(_ value: Value, options: ConversionOptions) throws(ConversionError) -> Value {
        var result = try select(options.selection, in: value)
        if let location = options.mapLocation { result = try mappingLocation(of: result, to: location) }
        if let dtype = options.floatingPointType {
            result = try castingFloatingPoint(result, to: dtype, expandedViewLimit: options.expandedViewLimit)
        }
        return result
    }

    /// The value at a path of keys (see ``ConversionOptions/selection``):
    /// `obj[k₀][k₁]…`, as `torch.save(torch.load(f)["model_state_dict"], out)` picks it.
    ///
    /// - Throws: ``ConversionError/noSuchKey(_:place:available:)`` naming the
    ///   missing step and the keys that are there.
    public static func select(_ path: [String], in value: Value) throws(ConversionError) -> Value {
        var current = value
        var place = ValuePlace.root
        for step in path {
            switch current {
            case .dict(let d):
                if let found = d[step] {
                    current = found
                    place = place.appending(.string(step))
                } else if let i = Int(step), let found = d[.int(i)] {
                    current = found
                    place = place.appending(.int(i))
                } else {
                    throw .noSuchKey(step, place: place.description, available: d.keys.map(\.pythonRepr))
                }
            case .list, .tuple:
                let items = current.items ?? []
                guard let i = Int(step), items.indices.contains(i) else {
                    throw .noSuchKey(step, place: place.description, available: items.isEmpty ? [] : ["0…\(items.count - 1)"])
                }
                current = items[i]
                place = place.appending(.int(i))
            default:
                throw .notAContainer(step, place: place.description, typeName: current.typeName)
            }
        }
        return current
    }

    /// The value with every storage at `location`, as `torch.load(f,
    /// map_location=location)` gives it: tensors view relocated storages,
    /// storages shared before are shared after; meta tensors stay on meta.
    ///
    /// - Parameters:
    ///   - value: The object tree, as a checkpoint's root.
    ///   - location: `cpu`, or a device type with its index (`cuda:0`).
    public static func mappingLocation(of value: Value, to location: String) throws(ConversionError) -> Value {
        try validate(mapLocation: location)
        var storages: [ObjectIdentifier: Storage] = [:]
        func relocated(_ storage: Storage) -> Storage {
            if storage.location == location || storage.device.type == "meta" { return storage }
            if let known = storages[ObjectIdentifier(storage)] { return known }
            let moved = Storage(key: storage.key, dtype: storage.dtype, isUntyped: storage.isUntyped, location: location,
                                elementCount: storage.elementCount, byteOrder: storage.byteOrder) { try storage.bytes() }
            storages[ObjectIdentifier(storage)] = moved
            return moved
        }
        func relocated(_ t: Tensor) -> Tensor {
            if t.isMeta { return t }
            let storage = t.storage.map(relocated)
            let sparse: SparseComponents? = switch t.sparse {
            case .coo(let indices, let values, let coalesced)?:
                .coo(indices: relocated(indices), values: relocated(values), isCoalesced: coalesced)
            case .compressed(let compressed, let plain, let values)?:
                .compressed(compressedIndices: relocated(compressed), plainIndices: relocated(plain), values: relocated(values))
            case nil: nil
            }
            let quantization: Quantization? = switch t.quantization {
            case .perChannelAffine(let scales, let zeroPoints, let axis, let floatQParams)?:
                .perChannelAffine(scales: relocated(scales), zeroPoints: relocated(zeroPoints), axis: axis, floatQParams: floatQParams)
            case let other: other
            }
            if storage === t.storage && t.device.description == location { return t }
            return Tensor(dtype: t.dtype, shape: t.shape, stride: t.stride, storageOffset: t.storageOffset, storage: storage,
                          layout: t.layout, device: Device(location: location), requiresGrad: t.requiresGrad,
                          isParameter: t.isParameter, isConjugated: t.isConjugated, isNegated: t.isNegated,
                          quantization: quantization, sparse: sparse, backwardHooks: t.backwardHooks,
                          parameterState: t.parameterState, subclass: t.subclass, subclassState: t.subclassState)
        }
        var walk = TreeRewrite(tensor: { t, _ in relocated(t) }, storage: relocated)
        return try walk.rewrite(value, at: .root)
    }

    /// The value with every floating-point tensor cast to `dtype`, each as
    /// `tensor.to(dtype)` (see ``ConversionOptions/floatingPointType`` and
    /// `Tensor.converted(toFloatingPoint:)` for layout and rounding).
    ///
    /// - Throws: ``ConversionError/cannotCast(place:reason:)`` for a target
    ///   that is not float16, bfloat16, float32 or float64, and for a
    ///   floating-point tensor this library cannot cast (sparse, a subclass,
    ///   a view larger than its storage whose logical elements take more than
    ///   `expandedViewLimit` bytes: the cast writes every one of them).
    public static func castingFloatingPoint(_ value: Value, to dtype: DType,
                                            expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) throws(ConversionError) -> Value {
        guard [.float16, .bfloat16, .float32, .float64].contains(dtype) else {
            throw .cannotCast(place: "the object", reason: "--dtype must be float16, bfloat16, float32 or float64, not \(dtype.name)")
        }
        var walk = TreeRewrite(tensor: { t, place throws(ConversionError) in
            guard t.dtype.isFloatingPoint else { return t }
            do {
                return try t.converted(toFloatingPoint: dtype, expandedViewLimit: expandedViewLimit)
            } catch {
                throw .cannotCast(place: "the \(t.dtype.name) tensor at \(place)", reason: "\(error)")
            }
        }, storage: { $0 })
        return try walk.rewrite(value, at: .root)
    }

    static func validate(mapLocation location: String) throws(ConversionError) {
        let device = Device(location: location)
        if device.type == "meta" {
            throw .invalidMapLocation(location, reason: "mapping to meta would drop every tensor's data")
        }
        guard !device.type.isEmpty, device.type.allSatisfy({ $0.isLetter || $0 == "_" }) else {
            throw .invalidMapLocation(location, reason: "expected a device such as cpu or cuda:0")
        }
        if device.type != "cpu" && device.index == nil {
            throw .invalidMapLocation(location, reason: "give the device index (\(device.type):0): torch.load puts storages on the current device, which a file cannot know")
        }
    }
}

/// Where a value is in an object, as Python subscripts: `['model']['fc.weight']`.
struct ValuePlace: CustomStringConvertible {
    static let root = ValuePlace(steps: [])
    let steps: [String]

    func appending(_ key: Value) -> ValuePlace { ValuePlace(steps: steps + ["[\(key.pythonRepr)]"]) }
    func appending(index: Int) -> ValuePlace { ValuePlace(steps: steps + ["[\(index)]"]) }

    var description: String { steps.isEmpty ? "the root" : steps.joined() }
}

/// A copy of a value tree with tensors (and storages saved on their own)
/// replaced: each object is rewritten once (a memo by identity, so shared
/// containers and tensors stay shared); containers nothing changed in are
/// the originals. Dicts (with their attributes), lists and tuples are
/// walked; sets and ``PyObject``s are kept as they are.
struct TreeRewrite {
    let tensor: (Tensor, ValuePlace) throws(ConversionError) -> Tensor
    let storage: (Storage) -> Storage
    private var memo: [ObjectIdentifier: Value] = [:]

    init(tensor: @escaping (Tensor, ValuePlace) throws(ConversionError) -> Tensor, storage: @escaping (Storage) -> Storage) {
        self.tensor = tensor
        self.storage = storage
    }

    mutating func rewrite(_ value: Value, at place: ValuePlace) throws(ConversionError) -> Value {
        switch value {
        case .tensor(let t):
            if let known = memo[ObjectIdentifier(t)] { return known }
            let result = Value.tensor(try tensor(t, place))
            memo[ObjectIdentifier(t)] = result
            return result
        case .storage(let s):
            return .storage(storage(s))
        case .dict(let d):
            if let known = memo[ObjectIdentifier(d)] { return known }
            memo[ObjectIdentifier(d)] = value
            var changed: [(key: Value, value: Value)] = []
            for (k, v) in d.items {
                let new = try rewrite(v, at: place.appending(k))
                if !new.isIdentical(to: v) { changed.append((k, new)) }
            }
            var attributes = d.attributes
            var attributesChanged = false
            for i in attributes.indices {
                let new = try rewrite(attributes[i].value, at: ValuePlace(steps: place.steps + [".\(attributes[i].name)"]))
                if !new.isIdentical(to: attributes[i].value) {
                    attributes[i].value = new
                    attributesChanged = true
                }
            }
            guard !changed.isEmpty || attributesChanged else { return value }
            let copy = d.copy()
            copy.attributes = attributes
            for (k, v) in changed {
                do { try copy.set(v, for: k) } catch { throw .cannotCast(place: place.description, reason: error.message) }
            }
            let result = Value.dict(copy)
            memo[ObjectIdentifier(d)] = result
            return result
        case .list(let l):
            if let known = memo[ObjectIdentifier(l)] { return known }
            memo[ObjectIdentifier(l)] = value
            let items = try rewrite(l.items, at: place)
            guard let items else { return value }
            let result = Value.list(PyList(items))
            memo[ObjectIdentifier(l)] = result
            return result
        case .tuple(let t):
            if let known = memo[ObjectIdentifier(t)] { return known }
            memo[ObjectIdentifier(t)] = value
            let items = try rewrite(t.items, at: place)
            guard let items else { return value }
            let result = Value.tuple(PyTuple(items, kind: t.kind))
            memo[ObjectIdentifier(t)] = result
            return result
        default:
            return value
        }
    }

    /// The items rewritten, or nil when none changed.
    private mutating func rewrite(_ items: [Value], at place: ValuePlace) throws(ConversionError) -> [Value]? {
        var result = items
        var changed = false
        for (i, item) in items.enumerated() {
            let new = try rewrite(item, at: place.appending(index: i))
            if !new.isIdentical(to: item) {
                result[i] = new
                changed = true
            }
        }
        return changed ? result : nil
    }
}

extension Value {
    /// Whether two values are the same object (for reference types) or the
    /// same case holding the same storage (the rewrite never changes scalars).
    func isIdentical(to other: Value) -> Bool {
        switch (self, other) {
        case (.tensor(let a), .tensor(let b)): a === b
        case (.storage(let a), .storage(let b)): a === b
        case (.dict(let a), .dict(let b)): a === b
        case (.list(let a), .list(let b)): a === b
        case (.tuple(let a), .tuple(let b)): a === b
        case (.tensor, _), (.storage, _), (.dict, _), (.list, _), (.tuple, _): false
        default: true
        }
    }
}

/// Writes a value as TorchScript's C++ pickler writes it
/// (torch/csrc/jit/serialization/pickler.cpp, protocol 2), for `data.pkl`
/// and `constants.pkl` of an archive `torch.jit.save` wrote.
///
/// Its dialect differs from CPython's (``PickleEncoder``): strings are
/// always `BINUNICODE` and memoized by value, globals and devices by name;
/// tuples of more than three items and a tensor's size and stride are
/// `MARK … TUPLE`; lists and dicts are `EMPTY_LIST`/`EMPTY_DICT` + `MARK …
/// APPENDS`/`SETITEMS` whatever their size, wrapped in
/// `torch.jit._pickle.restore_type_tag` or `build_intlist` and the like; an
/// object is `GLOBAL` + `EMPTY_TUPLE` + `NEWOBJ` + its state + `BUILD`; a
/// storage met again is a memo reference to its persistent id's result.
///
/// One choice of the C++ pickler is no part of the value: it memoizes a
/// tensor, tuple, list, dict or object (`BINPUT` after it) only when the
/// value had more than one reference at the time (`use_count() > 1`), which
/// depends on what held the module in memory. A value reached twice here is
/// always memoized; for the others a ``Guide`` says, taken from the pickle
/// being written back (see ``decisions(in:decodedValue:)``). Without one, tensors and
/// objects are memoized, as `torch.jit.save` from Python does.
///
/// Early torch 1.x wrote a storage's persistent id with a sixth item, an
/// always-None view slot: `('storage', class, key, location, numel, None)`.
/// Which form a pickle uses is read from it as well, and kept.
struct TorchScriptPickler {
    /// A point where the C++ pickler chose whether to memoize: what kind of value, and what it chose.
    struct Decision: Equatable {
        enum Kind { case tensor, tuple, list, dict, object, complex }
        let kind: Kind
        let memoizes: Bool
    }

    /// Where memoization choices come from.
    enum Guide {
        /// The pickle the value was decoded from: while the output equals it
        /// byte for byte, a value is memoized where it has a `BINPUT` of the
        /// next memo index.
        case original([UInt8])
        /// The choices made for the original value, in order: followed while
        /// each decision point is of the same kind (a value edited in place,
        /// a tensor replaced, keep their places), given up at the first that is not.
        case decisions(Recorded)
        /// No original: the defaults.
        case none
    }

    /// What encoding a pickle against itself tells of the pickler that wrote it.
    struct Recorded {
        /// Where it memoized, in order.
        let decisions: [Decision]
        /// Whether its persistent ids end with None (early torch 1.x).
        let storageIDsEndWithNone: Bool
    }

    struct Unsupported: Error {
        let message: String
    }

    private(set) var output: [UInt8] = []
    /// Every storage the pickle refers to, in the order first referenced.
    private(set) var storages: [Storage] = []

    private let guide: Guide
    private var verified = 0
    private var followsGuide = true
    /// The choices made, in order.
    private(set) var decisions: [Decision] = []
    private let shared: Set<ObjectIdentifier>
    /// Whether persistent ids end with None; nil until the original shows it (guide `.original`).
    private var storageIDsEndWithNone: Bool?

    private var memoCount = 0
    private var strings: [[UInt8]: Int] = [:]
    private var globals: [[UInt8]: Int] = [:]
    private var devices: [String: Int] = [:]
    private var values: [ObjectIdentifier: Int] = [:]
    private var storageMemo: [ObjectIdentifier: Int] = [:]
    // Keeps memoized objects alive, so their identifiers stay unique.
    private var keepAlive: [AnyObject] = []

    /// Encodes `value`, memoizing as `guide` says.
    static func encode(_ value: Value, guide: Guide) throws(Unsupported) -> (bytes: [UInt8], storages: [Storage]) {
        let pickler = try run(value, guide: guide)
        return (pickler.output, pickler.storages)
    }

    /// The memoization choices of a pickle and the form of its persistent ids,
    /// read by encoding the value decoded from it against it; nil when the
    /// encoding does not reproduce it exactly.
    static func decisions(in original: [UInt8], decodedValue: Value) -> Recorded? {
        guard let pickler = try? run(decodedValue, guide: .original(original)), pickler.output == original else { return nil }
        return Recorded(decisions: pickler.decisions, storageIDsEndWithNone: pickler.storageIDsEndWithNone ?? false)
    }

    private static func run(_ value: Value, guide: Guide) throws(Unsupported) -> TorchScriptPickler {
        var pickler = TorchScriptPickler(guide: guide, shared: Self.sharedValues(value))
        pickler.output.append(contentsOf: [Opcode.proto.rawValue, 2])
        try pickler.push(value)
        pickler.output.append(Opcode.stop.rawValue)
        return pickler
    }

    private init(guide: Guide, shared: Set<ObjectIdentifier>) {
        self.guide = guide
        self.shared = shared
        switch guide {
        case .original(let bytes): output.reserveCapacity(bytes.count)
        case .decisions(let recorded): storageIDsEndWithNone = recorded.storageIDsEndWithNone
        case .none: storageIDsEndWithNone = false
        }
    }

    // MARK: Memo

    private mutating func put() {
        if memoCount <= 0xFF {
            output += [Opcode.binPut.rawValue, UInt8(memoCount)]
        } else {
            output.append(Opcode.longBinPut.rawValue)
            output += withUnsafeBytes(of: UInt32(truncatingIfNeeded: memoCount).littleEndian, Array.init)
        }
        memoCount += 1
    }

    private mutating func get(_ index: Int) {
        if index <= 0xFF {
            output += [Opcode.binGet.rawValue, UInt8(index)]
        } else {
            output.append(Opcode.longBinGet.rawValue)
            output += withUnsafeBytes(of: UInt32(truncatingIfNeeded: index).littleEndian, Array.init)
        }
    }

    /// What the guide says of the decision point just reached; nil once it cannot tell.
    private mutating func guideMemoizes(_ kind: Decision.Kind) -> Bool? {
        guard followsGuide else { return nil }
        switch guide {
        case .none:
            return nil
        case .decisions(let recorded):
            let list = recorded.decisions
            guard decisions.count < list.count, list[decisions.count].kind == kind else {
                followsGuide = false
                return nil
            }
            return list[decisions.count].memoizes
        case .original(let original):
            let memoizes = originalMemoizesHere(original)
            if memoizes == nil { followsGuide = false }
            return memoizes
        }
    }

    /// Whether the original memoizes the value just written: a `BINPUT` (or
    /// `LONG_BINPUT`) of the next memo index at this offset, while the output
    /// so far equals the original. Nil when that cannot be told.
    private mutating func originalMemoizesHere(_ original: [UInt8]) -> Bool? {
        let end = output.count
        guard end <= original.count, output[verified..<end].elementsEqual(original[verified..<end]) else { return nil }
        verified = end
        guard end < original.count else { return false }
        if original[end] == Opcode.binPut.rawValue {
            return end + 1 < original.count && memoCount <= 0xFF && Int(original[end + 1]) == memoCount
        }
        if original[end] == Opcode.longBinPut.rawValue, end + 5 <= original.count {
            let index = original[(end + 1)..<(end + 5)].reversed().reduce(0) { $0 << 8 | Int($1) }
            return index == memoCount
        }
        return false
    }

    /// After a value the C++ pickler memoizes by reference count (`pushIValue`).
    private mutating func memoizeIfCounted(_ object: AnyObject?, _ kind: Decision.Kind) {
        let id = object.map(ObjectIdentifier.init)
        let isShared = id.map(shared.contains) ?? false
        let memoize = isShared || (guideMemoizes(kind) ?? (kind == .tensor || kind == .object))
        decisions.append(Decision(kind: kind, memoizes: memoize))
        guard memoize else { return }
        if let object, let id {
            values[id] = memoCount
            keepAlive.append(object)
        }
        put()
    }

    /// The reference-counted values reached more than once.
    static func sharedValues(_ root: Value) -> Set<ObjectIdentifier> {
        var seen = Set<ObjectIdentifier>()
        var shared = Set<ObjectIdentifier>()
        var stack = [root]
        while let value = stack.popLast() {
            let object: AnyObject
            var children: [Value] = []
            switch value {
            case .tensor(let t):
                object = t
                if case .perChannelAffine(let scales, let zeroPoints, _, _)? = t.quantization {
                    children = [.tensor(scales), .tensor(zeroPoints)]
                }
            case .tuple(let t): object = t; children = t.items
            case .list(let l): object = l; children = l.items
            case .dict(let d): object = d; children = d.items.flatMap { [$0, $1] }
            case .object(let o):
                object = o
                children = o.arguments + (o.state.map { [$0] } ?? [])
            default:
                continue
            }
            guard seen.insert(ObjectIdentifier(object)).inserted else {
                shared.insert(ObjectIdentifier(object))
                continue
            }
            stack.append(contentsOf: children)
        }
        return shared
    }

    // MARK: Values

    /// `Pickler::pushIValue`.
    private mutating func push(_ value: Value) throws(Unsupported) {
        switch value {
        case .None: output.append(Opcode.none.rawValue)
        case .bool(let b): pushBool(b)
        case .int(let i): pushInt(i)
        case .bigInt(let b):
            guard let i = b.exactInt else { throw Unsupported(message: "an int beyond 64 bits, which TorchScript cannot hold") }
            pushInt(i)
        case .float(let d): pushDouble(d)
        case .string(let s): pushString(s)
        case .complex(let c):
            pushGlobal("builtins", "complex")
            pushDouble(c.real)
            pushDouble(c.imag)
            output += [Opcode.tuple2.rawValue, Opcode.reduce.rawValue]
            memoizeIfCounted(nil, .complex)
        case .device(let d): pushDevice(d)
        case .tensor(let t):
            if let index = values[ObjectIdentifier(t)] { return get(index) }
            try pushTensor(t)
            memoizeIfCounted(t, .tensor)
        case .tuple(let t):
            if let index = values[ObjectIdentifier(t)] { return get(index) }
            try pushTuple(t)
            memoizeIfCounted(t, .tuple)
        case .list(let l):
            if let index = values[ObjectIdentifier(l)] { return get(index) }
            try pushList(l)
            memoizeIfCounted(l, .list)
        case .dict(let d):
            if let index = values[ObjectIdentifier(d)] { return get(index) }
            try pushDict(d)
            memoizeIfCounted(d, .dict)
        case .object(let o):
            if let index = values[ObjectIdentifier(o)] { return get(index) }
            try pushObject(o)
            memoizeIfCounted(o, .object)
        default:
            throw Unsupported(message: "a \(value.typeName), which TorchScript's pickler never writes")
        }
    }

    private mutating func pushBool(_ b: Bool) {
        output.append(b ? Opcode.newTrue.rawValue : Opcode.newFalse.rawValue)
    }

    /// `Pickler::pushInt`: the smallest of BININT1, BININT2 and BININT, else an 8-byte LONG1.
    private mutating func pushInt(_ n: Int) {
        if (0...0xFF).contains(n) {
            output += [Opcode.binInt1.rawValue, UInt8(n)]
        } else if (0...0xFFFF).contains(n) {
            output.append(Opcode.binInt2.rawValue)
            output += withUnsafeBytes(of: UInt16(n).littleEndian, Array.init)
        } else if (Int(Int32.min)...Int(Int32.max)).contains(n) {
            output.append(Opcode.binInt.rawValue)
            output += withUnsafeBytes(of: Int32(n).littleEndian, Array.init)
        } else {
            output += [Opcode.long1.rawValue, 8]
            output += withUnsafeBytes(of: Int64(n).littleEndian, Array.init)
        }
    }

    private mutating func pushDouble(_ d: Double) {
        output.append(Opcode.binFloat.rawValue)
        output += withUnsafeBytes(of: d.bitPattern.bigEndian, Array.init)
    }

    /// `Pickler::pushString`: memoized by its bytes (not by Swift's `==`, which equates canonically equivalent text).
    private mutating func pushString(_ s: String) {
        let bytes = Array(s.utf8)
        if let index = strings[bytes] { return get(index) }
        output.append(Opcode.binUnicode.rawValue)
        output += withUnsafeBytes(of: UInt32(truncatingIfNeeded: bytes.count).littleEndian, Array.init)
        output += bytes
        strings[bytes] = memoCount
        put()
    }

    private mutating func pushGlobal(_ module: String, _ name: String) {
        let key = Array(module.utf8) + [0x0A] + Array(name.utf8) + [0x0A]
        if let index = globals[key] { return get(index) }
        output.append(Opcode.global.rawValue)
        output += key
        globals[key] = memoCount
        put()
    }

    private mutating func pushDevice(_ device: Device) {
        let text = device.description
        if let index = devices[text] { return get(index) }
        pushGlobal("torch", "device")
        pushString(text)
        output += [Opcode.tuple1.rawValue, Opcode.reduce.rawValue]
        devices[text] = memoCount
        put()
    }

    private mutating func pushTuple(_ t: PyTuple) throws(Unsupported) {
        switch t.items.count {
        case 0:
            output.append(Opcode.emptyTuple.rawValue)
        case 1...3:
            for item in t.items { try push(item) }
            output.append([Opcode.tuple1, .tuple2, .tuple3][t.items.count - 1].rawValue)
        default:
            output.append(Opcode.mark.rawValue)
            for item in t.items { try push(item) }
            output.append(Opcode.tuple.rawValue)
        }
    }

    /// A list as it is (inside `restore_type_tag`, or one decoded bare).
    private mutating func pushList(_ l: PyList) throws(Unsupported) {
        output += [Opcode.emptyList.rawValue, Opcode.mark.rawValue]
        for item in l.items { try push(item) }
        output.append(Opcode.appends.rawValue)
    }

    /// A dict as it is (an object's attributes, inside `restore_type_tag`, or one decoded bare).
    private mutating func pushDict(_ d: PyDict) throws(Unsupported) {
        output += [Opcode.emptyDict.rawValue, Opcode.mark.rawValue]
        for (key, value) in d.items {
            try push(key)
            try push(value)
        }
        output.append(Opcode.setItems.rawValue)
    }

    // MARK: Objects

    private mutating func pushObject(_ o: PyObject) throws(Unsupported) {
        guard case .global(let g) = o.callable, o.listItems.isEmpty, o.dictItems == nil, o.keywordArguments == nil else {
            throw Unsupported(message: "an object of \(o.className) that TorchScript's pickler cannot have written")
        }
        switch o.construction {
        case .newObject where o.arguments.isEmpty:
            // GLOBAL, EMPTY_TUPLE, NEWOBJ, the attributes (or __getstate__'s value), BUILD.
            pushGlobal(g.module, g.name)
            output += [Opcode.emptyTuple.rawValue, Opcode.newObj.rawValue]
            switch o.state {
            case .dict(let attributes)?: try pushDict(attributes)
            case let state?: try push(state)
            case nil: throw Unsupported(message: "an object of \(o.className) without state")
            }
            output.append(Opcode.build.rawValue)
        case .reduce where g.module == "torch.jit._pickle":
            try pushJitPickleCall(g.name, o.arguments, className: o.className)
        default:
            throw Unsupported(message: "an object of \(o.className) that TorchScript's pickler cannot have written")
        }
    }

    /// `build_intlist(list)` and the like, and `restore_type_tag(container, type)`.
    private mutating func pushJitPickleCall(_ name: String, _ arguments: [Value], className: String) throws(Unsupported) {
        switch (name, arguments.first, arguments.count) {
        case ("restore_type_tag", let container?, 2):
            guard case .string(let type) = arguments[1] else { break }
            pushGlobal("torch.jit._pickle", name)
            switch container {
            case .dict(let d): try pushDict(d)
            case .list(let l): try pushList(l)
            default: throw Unsupported(message: "restore_type_tag of a \(container.typeName)")
            }
            pushString(type)
            output += [Opcode.tuple2.rawValue, Opcode.reduce.rawValue]
            return
        case ("build_intlist", .list(let l)?, 1), ("build_doublelist", .list(let l)?, 1),
             ("build_boollist", .list(let l)?, 1), ("build_tensorlist", .list(let l)?, 1):
            pushGlobal("torch.jit._pickle", name)
            output += [Opcode.mark.rawValue, Opcode.emptyList.rawValue, Opcode.mark.rawValue]
            for item in l.items {
                switch (name, item) {
                case ("build_intlist", .int(let i)): pushInt(i)
                case ("build_doublelist", .float(let d)): pushDouble(d)
                case ("build_boollist", .bool(let b)): pushBool(b)
                case ("build_tensorlist", .tensor): try push(item)
                default: throw Unsupported(message: "a \(item.typeName) in \(name)")
                }
            }
            output += [Opcode.appends.rawValue, Opcode.tuple.rawValue, Opcode.reduce.rawValue]
            return
        default:
            break
        }
        throw Unsupported(message: "a call of \(className) that TorchScript's pickler cannot have written")
    }

    // MARK: Tensors

    /// `Pickler::pushLiteralTensor`.
    private mutating func pushTensor(_ t: Tensor) throws(Unsupported) {
        guard t.layout == .strided, let storage = t.storage, t.subclass == nil, t.parameterState == nil else {
            throw Unsupported(message: "a \(t.layout == .strided ? "" : "sparse ")tensor TorchScript's pickler cannot have written this way")
        }
        guard !t.isConjugated, !t.isNegated else {
            throw Unsupported(message: "a tensor with the conjugate or negative bit")
        }
        pushGlobal("torch._utils", t.quantization == nil ? "_rebuild_tensor_v2" : "_rebuild_qtensor")
        output.append(Opcode.mark.rawValue)
        try pushStorage(storage)
        pushInt(t.storageOffset)
        output.append(Opcode.mark.rawValue)
        for size in t.shape { pushInt(size) }
        output += [Opcode.tuple.rawValue, Opcode.mark.rawValue]
        for stride in t.stride { pushInt(stride) }
        output.append(Opcode.tuple.rawValue)
        if let q = t.quantization {
            output.append(Opcode.mark.rawValue)
            pushGlobal("torch", q.qscheme)
            switch q {
            case .perTensorAffine(let scale, let zeroPoint):
                pushDouble(scale)
                pushInt(zeroPoint)
            case .perChannelAffine(let scales, let zeroPoints, let axis, _):
                // pushTensor, not pushIValue: never memoized.
                try pushTensor(scales)
                try pushTensor(zeroPoints)
                pushInt(axis)
            }
            output.append(Opcode.tuple.rawValue)
        }
        pushBool(t.requiresGrad)
        pushGlobal("collections", "OrderedDict")
        output += [Opcode.emptyTuple.rawValue, Opcode.reduce.rawValue, Opcode.tuple.rawValue, Opcode.reduce.rawValue]
    }

    /// `Pickler::pushStorageOfTensor`: the persistent id once, a memo reference after.
    private mutating func pushStorage(_ storage: Storage) throws(Unsupported) {
        let id = ObjectIdentifier(storage)
        if let index = storageMemo[id] { return get(index) }
        guard !storage.isUntyped, let className = storage.dtype.storageClassName else {
            throw Unsupported(message: "a \(storage.dtype.name) storage, which has no storage class this library knows TorchScript's name of")
        }
        output.append(Opcode.mark.rawValue)
        pushString("storage")
        pushGlobal("torch", className)
        pushString(storage.key)
        pushString(storage.location)
        pushInt(storage.elementCount)
        if storageIDsEndWithNone == nil, case .original(let original) = guide {
            // Told by the first storage of the original: NONE where the 5-item form has TUPLE.
            let end = output.count
            if end < original.count, output[verified..<end].elementsEqual(original[verified..<end]) {
                storageIDsEndWithNone = original[end] == Opcode.none.rawValue
            } else {
                storageIDsEndWithNone = false
            }
        }
        if storageIDsEndWithNone == true { output.append(Opcode.none.rawValue) }
        output += [Opcode.tuple.rawValue, Opcode.binPersID.rawValue]
        storageMemo[id] = memoCount
        keepAlive.append(storage)
        storages.append(storage)
        put()
    }
}

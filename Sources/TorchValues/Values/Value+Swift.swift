/// What Swift code expects of a value: it prints as Python prints it,
/// compares as Python compares, is written with literals, and is read with
/// subscripts that do what Python's do.
///
/// ```swift
/// let state: Value = ["labels": ["cat", "dog"], "lr": 0.1, "step": 3]
/// print(state)                        // {'labels': ['cat', 'dog'], 'lr': 0.1, 'step': 3}
/// state["step"] = 4                   // d['step'] = 4
/// state["lr"] = nil                   // del d['lr']
/// checkpoint[path: "optimizer", "state", 0, "exp_avg"]
/// ```
extension Value: CustomStringConvertible, CustomDebugStringConvertible {
    /// Python's `repr` of the value; tensors print as PyTorch prints them,
    /// with their values (see ``Tensor/description``).
    public var description: String { PythonRepr.repr(self, tensor: { $0.description }) }

    public var debugDescription: String { description }
}

// MARK: Equality

/// Python's `==`: numbers by value across `bool`, `int` and `float` (`True ==
/// 1 == 1.0`); `str`, `bytes` (and `bytearray`), lists, tuples, sets and
/// dicts by content (a dict's order does not matter, except between two
/// `OrderedDict`s); dtypes, devices and globals by what they name; tensors,
/// storages, arrays and objects of unknown classes by identity, as Python's
/// default `==` (a tensor's own `==` compares elements: use `CheckpointDiff`).
/// `nan` is not equal to itself. `Hashable` agrees with it.
extension Value: Equatable, Hashable {
    public static func == (a: Value, b: Value) -> Bool {
        var seen = Set<ValuePairKey>()
        return ValueEquality.equal(a, b, &seen)
    }

    public func hash(into hasher: inout Hasher) {
        var depth = 0
        hasher.combine(ValueEquality.hash(self, &depth))
    }
}

/// Two containers being compared, so a cycle compares as equal instead of recursing forever.
package struct ValuePairKey: Hashable {
    package let a: ObjectIdentifier, b: ObjectIdentifier
}

package enum ValueEquality {
    package static func equal(_ a: Value, _ b: Value, _ seen: inout Set<ValuePairKey>) -> Bool {
        func guarded(_ x: AnyObject, _ y: AnyObject, _ body: (inout Set<ValuePairKey>) -> Bool) -> Bool {
            if x === y { return true }
            let key = ValuePairKey(a: ObjectIdentifier(x), b: ObjectIdentifier(y))
            guard seen.insert(key).inserted else { return true }
            return body(&seen)
        }
        switch (a, b) {
        case (.list(let x), .list(let y)):
            return guarded(x, y) { seen in
                x.items.count == y.items.count && zip(x.items, y.items).allSatisfy { equal($0, $1, &seen) }
            }
        case (.tuple(let x), .tuple(let y)):
            return guarded(x, y) { seen in
                x.items.count == y.items.count && zip(x.items, y.items).allSatisfy { equal($0, $1, &seen) }
            }
        case (.dict(let x), .dict(let y)):
            return guarded(x, y) { seen in
                guard x.count == y.count else { return false }
                if case .orderedDict = x.kind, case .orderedDict = y.kind {
                    return zip(x.items, y.items).allSatisfy { p, q in HashKey.equal(p.0, q.0) && equal(p.1, q.1, &seen) }
                }
                return x.items.allSatisfy { key, value in y[key].map { equal(value, $0, &seen) } ?? false }
            }
        case (.bytes(let x), .byteArray(let y)), (.byteArray(let x), .bytes(let y)), (.byteArray(let x), .byteArray(let y)):
            return x == y
        case (.set(let x), .set(let y)):
            return x.count == y.count && x.items.allSatisfy { y.contains($0) }
        default:
            return HashKey.equal(a, b)
        }
    }

    /// A hash consistent with ``equal(_:_:_:)``; containers hash by content,
    /// to a bounded depth (deeper levels only count their items).
    package static func hash(_ v: Value, _ depth: inout Int) -> Int {
        depth += 1
        defer { depth -= 1 }
        switch v {
        case .list(let l):
            var hasher = Hasher()
            hasher.combine(l.items.count)
            if depth < 8 { for item in l.items { hasher.combine(hash(item, &depth)) } }
            return hasher.finalize()
        case .tuple(let t):
            var hasher = Hasher()
            hasher.combine(t.items.count)
            if depth < 8 { for item in t.items { hasher.combine(hash(item, &depth)) } }
            return hasher.finalize()
        case .dict(let d):
            // Order-independent, as dict equality is.
            guard depth < 8 else { return d.count }
            return d.items.reduce(d.count) { $0 ^ (HashKey.hashValue(of: $1.0) &* 31 &+ hash($1.1, &depth)) }
        case .bytes(let b), .byteArray(let b):
            return b.hashValue
        case .set(let s):
            return s.items.reduce(s.count) { $0 ^ HashKey.hashValue(of: $1) }
        default:
            return HashKey.hashValue(of: v)
        }
    }
}

// MARK: Literals

extension Value: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    /// A `str`.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An `int`.
    public init(integerLiteral value: Int) { self = .int(value) }
    /// A `float`.
    public init(floatLiteral value: Double) { self = .float(value) }
    /// A `bool`.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// A `list`.
    public init(arrayLiteral elements: Value...) { self = .list(PyList(elements)) }
    /// A `dict`, in the order written. A key Python cannot hash (a list, a
    /// dict) is a programming error and stops the program, as a duplicate
    /// key in a Swift dictionary literal does.
    public init(dictionaryLiteral elements: (Value, Value)...) {
        let d = PyDict()
        for (key, value) in elements {
            do {
                try d.set(value, for: key)
            } catch {
                preconditionFailure("dictionary literal key \(key): \(error)")
            }
        }
        self = .dict(d)
    }
}

extension PyList: ExpressibleByArrayLiteral {
    /// A list of the given items.
    public convenience init(arrayLiteral elements: Value...) { self.init(elements) }
}

extension PyDict: ExpressibleByDictionaryLiteral {
    /// A `dict` of the given items, in the order written (see ``Value/init(dictionaryLiteral:)``).
    public convenience init(dictionaryLiteral elements: (Value, Value)...) {
        self.init()
        for (key, value) in elements {
            do {
                try set(value, for: key)
            } catch {
                preconditionFailure("dictionary literal key \(key): \(error)")
            }
        }
    }
}

// MARK: Printing the containers

extension PyDict: CustomStringConvertible {
    /// Python's `repr`.
    public var description: String { Value.dict(self).description }
}

extension PyList: CustomStringConvertible {
    /// Python's `repr`.
    public var description: String { Value.list(self).description }
}

extension PyTuple: CustomStringConvertible {
    /// Python's `repr` (`torch.Size([2, 3])` for a size).
    public var description: String { Value.tuple(self).description }
}

extension PySet: CustomStringConvertible {
    /// Python's `repr`.
    public var description: String { Value.set(self).description }
}

// MARK: Subscripts

extension Value {
    /// `d[key]` for a dict (its `str` key), or nil. Setting a value sets the
    /// key (a new key goes last); setting `nil` removes it (`del d[key]`).
    /// Setting on a value that is not a dict does nothing.
    public subscript(key: String) -> Value? {
        get { dict?[key] }
        nonmutating set { dict?[key] = newValue }
    }

    /// `x[i]`: the item at an index of a list or tuple (negative indices
    /// count from the end, as in Python), or for a dict the value of the
    /// `int` key `i` (an optimizer's `state[0]`); nil when there is none.
    /// Setting replaces a list item or sets a dict's `int` key; setting
    /// `nil` removes a dict key.
    public subscript(index: Int) -> Value? {
        get {
            switch self {
            case .dict(let d): return d[.int(index)]
            case .list, .tuple:
                guard let items else { return nil }
                let i = index < 0 ? items.count + index : index
                return items.indices.contains(i) ? items[i] : nil
            default: return nil
            }
        }
        nonmutating set {
            switch self {
            case .dict(let d):
                if let newValue { try? d.set(newValue, for: .int(index)) } else { d.removeValue(forKey: .int(index)) }
            case .list(let l):
                let i = index < 0 ? l.items.count + index : index
                if let newValue, l.items.indices.contains(i) { l.items[i] = newValue }
            default:
                break
            }
        }
    }

    /// `d[key]` for any hashable key (`d[(0, 1)]`, `d[1.5]`), or nil.
    public subscript(key key: Value) -> Value? { dict?[key] }

    /// The value at the end of a path of dict keys and indices, or nil
    /// where a step finds nothing:
    /// `checkpoint.root[path: "optimizer", "state", 0, "exp_avg"]`.
    /// A string step is a `str` key; an integer step is an `int` key of a
    /// dict, or an index of a list or tuple.
    public subscript(path steps: PathKey...) -> Value? { self[path: steps] }

    /// The value at the end of a path (see ``subscript(path:)-(PathKey...)``).
    public subscript(path steps: [PathKey]) -> Value? {
        var current = self
        for step in steps {
            switch step {
            case .key(let k): guard let next = current[k] else { return nil }; current = next
            case .index(let i): guard let next = current[i] else { return nil }; current = next
            }
        }
        return current
    }
}

extension PathKey: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    /// A `str` key.
    public init(stringLiteral value: String) { self = .key(value) }
    /// An `int` key or an index.
    public init(integerLiteral value: Int) { self = .index(value) }
}

extension PyDict {
    /// `d[i]`: the value of an `int` key, or nil; setting `nil` removes the key.
    public subscript(key: Int) -> Value? {
        get { self[Value.int(key)] }
        set {
            if let newValue { try? set(newValue, for: .int(key)) } else { removeValue(forKey: .int(key)) }
        }
    }
}

// MARK: From Swift values

extension Value {
    /// A `str`.
    public init(_ string: String) { self = .string(string) }
    /// An `int`.
    public init(_ int: Int) { self = .int(int) }
    /// A `float`.
    public init(_ double: Double) { self = .float(double) }
    /// A `bool`.
    public init(_ bool: Bool) { self = .bool(bool) }
    /// A tensor.
    public init(_ tensor: Tensor) { self = .tensor(tensor) }
    /// A `list` of `str`: `Value(labels)` for `["cat", "dog"]`.
    public init(_ strings: [String]) { self = .list(PyList(strings.map(Value.string))) }
    /// A `list` of `int`.
    public init(_ ints: [Int]) { self = .list(PyList(ints.map(Value.int))) }
    /// A `list` of `float`.
    public init(_ doubles: [Double]) { self = .list(PyList(doubles.map(Value.float))) }
    /// A `dict` with `str` keys, in the order given.
    public init(_ pairs: KeyValuePairs<String, Value>) {
        let d = PyDict()
        for (key, value) in pairs { d[key] = value }
        self = .dict(d)
    }

    /// The strings of a `list` or `tuple` of `str`, or nil when it is not one.
    public var strings: [String]? {
        guard let items else { return nil }
        let strings = items.compactMap(\.string)
        return strings.count == items.count ? strings : nil
    }
}

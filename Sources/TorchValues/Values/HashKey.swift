/// A value wrapped for use as a Swift dictionary key with Python's equality.
///
/// Numbers compare by value across `bool`, `int` and `float` (and `complex`
/// with a zero imaginary part), as Python's do; `str`, `bytes`, tuples,
/// frozensets, dtypes and devices compare by content; everything else by
/// identity, as Python's default `__eq__` does. Lists, dicts and sets are not
/// hashable, in Python or here.
package struct HashKey: Hashable, @unchecked Sendable {
    package let value: Value

    package init(_ value: Value) throws(ValueError) {
        switch value {
        case .list, .dict, .byteArray:
            throw ValueError("unhashable type: '\(value.typeName)'")
        case .set(let s) where !s.isFrozen:
            throw ValueError("unhashable type: 'set'")
        case .tuple(let t):
            for item in t.items { _ = try HashKey(item) }
        default:
            break
        }
        self.value = value
    }

    package init(string: String) { self.value = .string(string) }

    /// A key already checked to be hashable (one a dict holds).
    package init(validated value: Value) { self.value = value }

    private enum Number: Hashable {
        case integer(Int)
        case big(PythonInt)
        case double(Double)
        case complex(Complex)
    }

    /// The canonical number for Python's numeric equality, or nil when not a number.
    private static func number(_ v: Value) -> Number? {
        switch v {
        case .bool(let b): return .integer(b ? 1 : 0)
        case .int(let i): return .integer(i)
        case .bigInt(let b): return .big(b)
        case .float(let d):
            if d.rounded() == d, let i = Int(exactly: d) { return .integer(i) }
            if d.rounded() == d, d.isFinite { return .big(PythonInt(exactly: d)) }
            return .double(d)
        case .complex(let c):
            if c.imag == 0 { return number(.float(c.real)) }
            return .complex(c)
        default: return nil
        }
    }

    package static func == (lhs: HashKey, rhs: HashKey) -> Bool { equal(lhs.value, rhs.value) }

    package static func equal(_ a: Value, _ b: Value) -> Bool {
        if let x = number(a) {
            guard let y = number(b) else { return false }
            return x == y
        }
        switch (a, b) {
        case (.None, .None): return true
        // Python compares code points; Swift's == would equate "é" and "e\u{301}".
        case (.string(let x), .string(let y)): return x.utf8.elementsEqual(y.utf8)
        case (.bytes(let x), .bytes(let y)): return x == y
        case (.tuple(let x), .tuple(let y)):
            if x === y { return true }
            return x.items.count == y.items.count && zip(x.items, y.items).allSatisfy { equal($0, $1) }
        case (.set(let x), .set(let y)):
            if x === y { return true }
            return x.count == y.count && x.items.allSatisfy { y.contains($0) }
        case (.dtype(let x), .dtype(let y)): return x == y
        case (.device(let x), .device(let y)): return x == y
        case (.global(let x), .global(let y)): return x.module == y.module && x.name == y.name
        case (.tensor(let x), .tensor(let y)): return x === y
        case (.storage(let x), .storage(let y)): return x === y
        case (.ndarray(let x), .ndarray(let y)): return x === y
        case (.numpyDType(let x), .numpyDType(let y)): return x === y
        case (.object(let x), .object(let y)): return x === y
        default: return false
        }
    }

    package func hash(into hasher: inout Hasher) {
        if case .string(let s) = value {
            // A str key (a state dict's) straight into the table's hasher, without a hasher of its own.
            var text = s
            text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
            return
        }
        hasher.combine(Self.hashValue(of: value))
    }

    /// A hash of the string's UTF-8 bytes, consistent with code-point equality.
    package static func utf8Hash(_ s: String) -> Int {
        var hasher = Hasher()
        var copy = s
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        return hasher.finalize()
    }

    package static func hashValue(of v: Value) -> Int {
        if let n = number(v) { return n.hashValue }
        switch v {
        case .None: return 0x4e6f6e65
        case .string(let s): return utf8Hash(s)
        case .bytes(let b): return b.hashValue
        case .tuple(let t):
            if let h = t.cachedHash { return h }
            var hasher = Hasher()
            hasher.combine(t.items.count)
            for item in t.items { hasher.combine(hashValue(of: item)) }
            let h = hasher.finalize()
            t.cachedHash = h
            return h
        case .set(let s):
            // Order-independent, as frozenset equality is.
            return s.items.reduce(s.count) { $0 ^ hashValue(of: $1) }
        case .dtype(let d): return d.hashValue
        case .device(let d): return d.hashValue
        case .global(let g): return g.module.hashValue ^ g.name.hashValue
        case .tensor(let x): return ObjectIdentifier(x).hashValue
        case .storage(let x): return ObjectIdentifier(x).hashValue
        case .ndarray(let x): return ObjectIdentifier(x).hashValue
        case .numpyDType(let x): return ObjectIdentifier(x).hashValue
        case .object(let x): return ObjectIdentifier(x).hashValue
        default: return 0
        }
    }
}

import TorchCheckpoint

/// assert_close's `originate_pairs` and `not_close_error_metas` over two
/// value trees: sequences item by item, mappings key by key (sorted), then
/// each pair of leaves by the first pair type that takes it (`NonePair`,
/// `BooleanPair`, `NumberPair`, `TensorLikePair`).
///
/// assert_close stops at the first mismatch of structure; this goes on (into
/// the keys both mappings have) and reports every failure, the structural
/// ones first, so the first is the one assert_close raises. Values
/// assert_close has no pair for (str, bytes, sets, objects…: a `TypeError`
/// there) are compared for equality here when both sides have the same type.
struct TreeComparison {
    let tolerances: (rtol: Double, atol: Double)?
    let equalNaN: Bool
    let options: CloseOptions

    private var structural: [CloseFailure] = []
    private var values: [CloseFailure] = []
    private var compared = 0

    init(tolerances: (rtol: Double, atol: Double)?, equalNaN: Bool, options: CloseOptions) {
        self.tolerances = tolerances
        self.equalNaN = equalNaN
        self.options = options
    }

    var report: CloseReport { CloseReport(failures: structural + values, comparedCount: compared) }

    /// A pair of values still to compare, and where it is.
    private struct Pending {
        let actual: Value
        let expected: Value
        let path: [PathKey]
        let item: String
    }

    mutating func run(_ actual: Value, _ expected: Value) {
        var stack = [Pending(actual: actual, expected: expected, path: [], item: "")]
        // Pairs of containers already walked: a tree that refers to itself is walked once.
        var walked = Set<[ObjectIdentifier]>()
        while let next = stack.popLast() {
            let (a, b) = (next.actual, next.expected)
            if let ia = Self.identity(a), let ib = Self.identity(b), !walked.insert([ia, ib]).inserted { continue }
            if let xs = Self.sequence(a), let ys = Self.sequence(b) {
                if xs.count != ys.count {
                    structural.append(failure(next, .lengthsDiffer(actual: xs.count, expected: ys.count),
                                              "The length of the sequences mismatch: \(xs.count) != \(ys.count)"))
                    continue
                }
                for i in xs.indices.reversed() {
                    stack.append(Pending(actual: xs[i], expected: ys[i], path: next.path + [.index(i)], item: next.item + "[\(i)]"))
                }
            } else if case .dict(let x) = a, case .dict(let y) = b {
                stack += mapping(x, y, next).reversed()
            } else {
                compared += 1
                leaf(next)
            }
        }
    }

    private func failure(_ at: Pending, _ kind: CloseFailure.Kind, _ message: String, omitsItem: Bool = false) -> CloseFailure {
        CloseFailure(path: at.path, item: at.item, kind: kind, message: message, omitsItem: omitsItem)
    }

    // MARK: Containers

    private static func identity(_ v: Value) -> ObjectIdentifier? {
        switch v {
        case .list(let l): ObjectIdentifier(l)
        case .tuple(let t): ObjectIdentifier(t)
        case .dict(let d): ObjectIdentifier(d)
        default: nil
        }
    }

    /// The items of a `collections.abc.Sequence` that assert_close walks: list, tuple, torch.Size.
    private static func sequence(_ v: Value) -> [Value]? {
        switch v {
        case .list(let l): l.items
        case .tuple(let t): t.items
        default: nil
        }
    }

    /// The pairs under two mappings' common keys, in sorted order; a failure
    /// when their key sets differ.
    private mutating func mapping(_ x: PyDict, _ y: PyDict, _ at: Pending) -> [Pending] {
        let keysA = Array(x.keys), keysB = Array(y.keys)
        let idsA = Set(keysA.map(MappingKey.init)), idsB = Set(keysB.map(MappingKey.init))
        if idsA != idsB {
            let missing = MappingKey.sorted(keysB.filter { !idsA.contains(MappingKey($0)) })
            let additional = MappingKey.sorted(keysA.filter { !idsB.contains(MappingKey($0)) })
            let list = { (keys: [Value]) in "[" + keys.map(\.pythonRepr).joined(separator: ", ") + "]" }
            structural.append(failure(at, .keysDiffer(missing: missing.map(\.pythonRepr), additional: additional.map(\.pythonRepr)),
                                      "The keys of the mappings do not match:\n"
                                      + "Missing keys in the actual mapping: \(list(missing))\n"
                                      + "Additional keys in the actual mapping: \(list(additional))"))
        }
        return MappingKey.sorted(keysA.filter { idsB.contains(MappingKey($0)) }).compactMap { key in
            guard let va = x[key], let vb = y[key] else { return nil }
            return Pending(actual: va, expected: vb, path: at.path + [Self.pathKey(key)], item: at.item + "[\(key.pythonRepr)]")
        }
    }

    /// The listing's path step for a dict key: a `str` as itself, an `int` as an index, anything else as its repr.
    private static func pathKey(_ key: Value) -> PathKey {
        switch key {
        case .string(let s): .key(s)
        case .int(let i): .index(i)
        default: .key(key.pythonRepr)
        }
    }

    // MARK: Leaves

    private mutating func leaf(_ at: Pending) {
        let (a, b) = (at.actual, at.expected)
        switch (a, b) {
        case (.None, _), (_, .None):
            // NonePair.
            if !(a.isNone && b.isNone) {
                values.append(failure(at, .notEqual(actual: Self.str(a), expected: Self.str(b)),
                                      "None mismatch: \(Self.str(a)) is not \(Self.str(b))"))
            }
        case (.bool(let x), .bool(let y)):
            // BooleanPair, which assert_close reports without the item it concerns.
            if x != y {
                values.append(failure(at, .notEqual(actual: Self.str(a), expected: Self.str(b)),
                                      "Booleans mismatch: \(Self.str(a)) is not \(Self.str(b))", omitsItem: true))
            }
        case (.tensor(let x), .tensor(let y)):
            let pair = TensorPair(tolerances: tolerances, equalNaN: equalNaN, options: options)
            if let problem = pair.compare(x, y) {
                values.append(failure(at, problem.kind, problem.message, omitsItem: problem.omitsItem))
            }
        default:
            if let x = NumberPair.Number(a), let y = NumberPair.Number(b) {
                if let (kind, message) = NumberPair(tolerances: tolerances, equalNaN: equalNaN).compare(x, y) {
                    values.append(failure(at, kind, message))
                }
            } else if Self.isOther(a) && Self.isOther(b) && a.typeName == b.typeName {
                otherPair(at)
            } else {
                let (x, y) = (PythonText.className(a), PythonText.className(b))
                structural.append(failure(at, .typesDiffer(actual: x, expected: y),
                                          "No comparison pair was able to handle inputs of type \(x) and \(y)."))
            }
        }
    }

    /// Whether a value is neither a container assert_close walks, nor a value one of its pairs takes.
    private static func isOther(_ v: Value) -> Bool {
        switch v {
        case .None, .bool, .int, .bigInt, .float, .complex, .tensor, .list, .tuple, .dict: false
        default: true
        }
    }

    /// Two values of one type that assert_close has no pair for: equal when
    /// their whole contents are (CheckpointDiff's comparison of values).
    private mutating func otherPair(_ at: Pending) {
        do {
            if try !CheckpointDiff.compare(at.actual, at.expected).isEqual {
                let (x, y) = (at.actual.pythonRepr, at.expected.pythonRepr)
                values.append(failure(at, .notEqual(actual: x, expected: y), "\(x) != \(y)"))
            }
        } catch {
            let reason = "the values could not be compared: \(error)"
            values.append(failure(at, .notCompared(reason: reason), reason))
        }
    }

    /// `str(x)` where Python's is known; a descriptive repr otherwise.
    private static func str(_ v: Value) -> String {
        if case .string(let s) = v { return s }
        return v.pythonRepr
    }
}

/// A dict key as Python's `set` and `sorted` see it.
struct MappingKey: Hashable {
    private let identity: String

    init(_ key: Value) {
        switch key {
        case .string(let s): identity = "s" + s
        case .bool(let b): identity = b ? "n1" : "n0"
        case .int(let i): identity = "n\(i)"
        case .bigInt: identity = "n" + (key.integerDescription ?? "")
        case .float(let d) where d.rounded() == d && abs(d) < 1e18: identity = "n\(Int(d))"
        default: identity = "r" + key.pythonRepr
        }
    }

    /// `sorted(keys)`: strings by code point, numbers by value; keys Python
    /// cannot order among themselves (str and int together) keep their order.
    static func sorted(_ keys: [Value]) -> [Value] {
        let strings = keys.compactMap(\.string)
        if strings.count == keys.count { return strings.sorted(by: PythonText.precedes).map(Value.string) }
        let numbers = keys.compactMap(\.double)
        if numbers.count == keys.count {
            return zip(keys, numbers).sorted { $0.1 < $1.1 }.map(\.0)
        }
        return keys
    }
}

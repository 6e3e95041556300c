/// `BUILD`: giving an object its state.
enum Rebuild {
    static func build(_ target: Value, state: Value) throws(ValueError) {
        switch target {
        case .object(let o):
            o.state = state
            o.depth = max(o.depth, state.nestingDepth + 1)
        case .dict(let d):
            // An OrderedDict's instance attributes, such as a state dict's `_metadata`.
            d.state = state
            var attributes: [Value] = []
            switch state {
            case .None: return
            case .dict(let s): attributes = [.dict(s)]
            case .tuple(let t) where t.count == 2: attributes = t.items
            default: throw ValueError("state must be a dict, got \(state.typeName)")
            }
            for case .dict(let s) in attributes {
                for (k, v) in s.items {
                    guard case .string(let name) = k else { throw ValueError("attribute names must be str") }
                    d.attributes.append((name, v))
                }
                d.depth = max(d.depth, s.depth + 1)
            }
        case .ndarray(let a):
            try buildArray(a, state)
            a.buildState = state
        case .numpyDType(let dt):
            // (version, byteorder, subarray, names, fields, elsize, alignment, flags)
            guard let items = state.items, items.count >= 6 else { throw ValueError("numpy dtype state must be a tuple") }
            if case .string(let order) = items[1] { dt.byteOrderMark = order }
            if case .int(let size) = items[5] { dt.elementSize = size }
            dt.state = state
        default:
            throw ValueError("a \(target.typeName) takes no state")
        }
    }

    /// numpy's `ndarray.__setstate__((version, shape, dtype, is_fortran, data))`.
    private static func buildArray(_ a: NDArray, _ state: Value) throws(ValueError) {
        guard var items = state.items else { throw ValueError("ndarray state must be a tuple") }
        if items.count == 5 { items.removeFirst() }
        guard items.count == 4 else { throw ValueError("ndarray state must have 4 or 5 items") }
        guard let shapeItems = items[0].items else { throw ValueError("ndarray shape must be a tuple") }
        var shape: [Int] = []
        for s in shapeItems {
            guard case .int(let n) = s, n >= 0 else { throw ValueError("ndarray shape must hold sizes") }
            shape.append(n)
        }
        guard case .numpyDType(let dtype) = items[1] else { throw ValueError("ndarray dtype must be a numpy dtype") }
        a.shape = shape
        a.dtype = dtype
        a.isFortranOrder = items[2].bool ?? false
        switch items[3] {
        case .bytes(let b), .byteArray(let b):
            let (expected, overflow) = a.elementCount.multipliedReportingOverflow(by: dtype.itemSize)
            guard !overflow, expected == b.count else {
                throw ValueError("ndarray of shape \(shape) and \(dtype.name) needs \(expected) bytes, the pickle has \(b.count)")
            }
            a.data = b
        case .string(let s):
            // Python 2 pickles carry the data as a latin-1 str.
            a.data = s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
        case .list(let l):
            a.objects = l.items
        default:
            throw ValueError("ndarray data must be bytes or a list, got \(items[3].typeName)")
        }
    }
}

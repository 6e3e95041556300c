/// A numpy dtype as a pickle rebuilds it: `numpy.dtype('f8', False, True)`
/// followed by `BUILD` with its state.
public final class NumpyDType: @unchecked Sendable {
    /// The type string given to the constructor, such as `f8`, `i4`, `b1`, `O`, `U5`.
    public let typeString: String
    /// The byte order from the `BUILD` state: `<`, `>`, `|` (not applicable) or `=` (native).
    public package(set) var byteOrderMark: String = "="
    /// The element size from the `BUILD` state (for flexible types such as `U5`), or -1.
    public package(set) var elementSize: Int = -1
    /// The whole `BUILD` state, kept for what is not interpreted here.
    public package(set) var state: Value?
    /// How the pickle constructed it (`numpy.dtype('f4', False, True)`), for writing it back.
    package var origin: (callable: Value, arguments: [Value], tokens: TokenTable)?

    package init(typeString: String) { self.typeString = typeString }

    /// The kind character: `f` float, `i` signed, `u` unsigned, `b` bool, `c` complex, `O` object, `U` unicode, `S` bytes, `V` void.
    public var kind: Character {
        typeString.first(where: { $0.isLetter }) ?? "V"
    }

    /// Bytes per element.
    public var itemSize: Int {
        if elementSize > 0 { return elementSize }
        if typeString == "O" { return 8 }
        if typeString == "b1" || typeString == "?" { return 1 }
        return Int(typeString.drop(while: { !$0.isNumber })) ?? 0
    }

    /// The byte order of the data: big only for `>`.
    public var byteOrder: ByteOrder { byteOrderMark == ">" ? .big : .little }

    /// numpy's name for the type, such as `float32` or `int64`.
    public var name: String {
        let bits = itemSize * 8
        switch kind {
        case "f": return "float\(bits)"
        case "i": return "int\(bits)"
        case "u": return "uint\(bits)"
        case "c": return "complex\(bits)"
        case "b": return "bool"
        case "O": return "object"
        case "U": return "<U\(itemSize / 4)"
        case "S": return "|S\(itemSize)"
        default: return typeString
        }
    }
}

/// A numpy array or scalar inside a checkpoint.
public final class NDArray: @unchecked Sendable {
    /// The element type (nil until the pickle's `BUILD` gives it).
    public package(set) var dtype: NumpyDType?
    /// The shape (empty for a scalar).
    public package(set) var shape: [Int]
    /// Whether the data is in Fortran (column-major) order.
    public package(set) var isFortranOrder = false
    /// The raw element bytes, for arrays of numbers.
    public package(set) var data: [UInt8] = []
    /// The elements, for arrays of Python objects (dtype `O`).
    public package(set) var objects: [Value]?
    /// Whether this is a numpy scalar (`np.float64(1.5)`) rather than an array.
    public let isScalar: Bool
    /// How the pickle constructed it, and the state `BUILD` gave it, for writing it back.
    package var origin: (callable: Value, arguments: [Value], tokens: TokenTable)?
    package var buildState: Value?

    package init(shape: [Int], isScalar: Bool) {
        self.shape = shape
        self.isScalar = isScalar
    }

    /// The number of elements.
    public var elementCount: Int { shape.reduce(1, &*) }
}

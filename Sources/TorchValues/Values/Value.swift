/// One Python object as a checkpoint's pickle describes it.
///
/// The cases mirror what `torch.load` gives back. Containers (`list`, `tuple`,
/// `dict`, `set`) and objects are reference types: an object that the pickle
/// reaches twice through its memo is one node here too, so shared references
/// stay shared (tied weights, a list referenced from two places).
///
/// Nothing is ever executed to build a value: classes this library does not
/// know become ``PyObject`` values that keep everything the pickle said about
/// them.
public enum Value: Sendable {
    /// Python's `None`. (Spelled as Python spells it, so that it never reads
    /// as `Optional.none` where a `Value?` is expected.)
    case None
    /// `True` or `False`.
    case bool(Bool)
    /// A Python `int` that fits in 64 bits.
    case int(Int)
    /// A Python `int` beyond 64 bits; its value is kept exactly.
    case bigInt(PythonInt)
    /// A Python `float`.
    case float(Double)
    /// A Python `complex`.
    case complex(Complex)
    /// A Python `str`.
    case string(String)
    /// A Python `bytes`.
    case bytes([UInt8])
    /// A Python `bytearray`.
    case byteArray([UInt8])
    /// A `list`.
    case list(PyList)
    /// A `tuple`, or a `torch.Size` (see ``PyTuple/kind``).
    case tuple(PyTuple)
    /// A `dict`, `OrderedDict`, `Counter` or `defaultdict`, in insertion order.
    case dict(PyDict)
    /// A `set` or `frozenset`.
    case set(PySet)
    /// A `torch.dtype`.
    case dtype(DType)
    /// A `torch.device`.
    case device(Device)
    /// A tensor (also a `Parameter`, a quantized, sparse or meta tensor).
    case tensor(Tensor)
    /// A storage saved on its own (`torch.save(t.untyped_storage())`).
    case storage(Storage)
    /// A numpy array or numpy scalar.
    case ndarray(NDArray)
    /// A numpy dtype.
    case numpyDType(NumpyDType)
    /// A class or function named by the pickle but not called: a layout such
    /// as `torch.sparse_coo`, a qscheme, a class reference.
    case global(PyGlobal)
    /// An instance of a class this library does not rebuild, with everything
    /// the pickle said about it.
    case object(PyObject)
}

/// A Python `complex` number.
public struct Complex: Sendable, Hashable {
    /// The real part.
    public var real: Double
    /// The imaginary part.
    public var imag: Double
    /// Creates a complex number from its parts.
    public init(real: Double, imag: Double) {
        self.real = real
        self.imag = imag
    }
}

extension Value {
    /// The Python type name of the value, as `type(x).__name__` would print it.
    public var typeName: String {
        switch self {
        case .None: "NoneType"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .complex: "complex"
        case .string: "str"
        case .bytes: "bytes"
        case .byteArray: "bytearray"
        case .list: "list"
        case .tuple(let t): t.kind == .torchSize ? "Size" : "tuple"
        case .dict(let d): d.kind.pythonName
        case .set(let s): s.isFrozen ? "frozenset" : "set"
        case .dtype: "dtype"
        case .device: "device"
        case .tensor(let t): t.isParameter ? "Parameter" : "Tensor"
        case .storage: "UntypedStorage"
        case .ndarray(let a): a.isScalar ? "numpy scalar" : "ndarray"
        case .numpyDType: "numpy.dtype"
        case .global(let g): g.qualifiedName
        case .object(let o): o.className
        }
    }

    /// The tensor, when the value is one.
    public var tensor: Tensor? { if case .tensor(let t) = self { t } else { nil } }
    /// The string, when the value is a `str`.
    public var string: String? { if case .string(let s) = self { s } else { nil } }
    /// The integer, when the value is an `int` (or a `bool`) that fits in `Int`.
    public var int: Int? {
        switch self {
        case .int(let i): i
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }
    /// The number as a `Double`, when the value is an `int`, `bool` or `float`.
    public var double: Double? {
        switch self {
        case .float(let d): d
        case .int(let i): Double(i)
        case .bigInt(let b): b.doubleValue
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }
    /// The `bool`, when the value is one.
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    /// The dictionary, when the value is a dict of any kind.
    public var dict: PyDict? { if case .dict(let d) = self { d } else { nil } }
    /// The list, when the value is a `list`.
    public var list: PyList? { if case .list(let l) = self { l } else { nil } }
    /// The items of a `list`, `tuple` or `torch.Size`.
    public var items: [Value]? {
        switch self {
        case .list(let l): l.items
        case .tuple(let t): t.items
        default: nil
        }
    }
    /// Whether the value is `None`.
    public var isNone: Bool { if case .None = self { true } else { false } }

}

extension Value {
    /// Python's `None`.
    @available(*, deprecated, renamed: "None", message: "`.none` reads as Optional.none where a Value? is expected; use Value.None")
    public static var none: Value { .None }
}

/// A PyTorch element type, named as PyTorch names it (without `torch.`).
public enum DType: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    case float64, float32, float16, bfloat16
    case float8_e5m2, float8_e4m3fn, float8_e5m2fnuz, float8_e4m3fnuz, float8_e8m0fnu
    case float4_e2m1fn_x2
    case complex32, complex64, complex128, bcomplex32
    case int8, int16, int32, int64
    case uint8, uint16, uint32, uint64
    case bool
    case qint8, quint8, qint32, quint4x2, quint2x4
    case bits1x8, bits2x4, bits4x2, bits8, bits16
    case uint1, uint2, uint3, uint4, uint5, uint6, uint7
    case int1, int2, int3, int4, int5, int6, int7

    /// PyTorch's name, such as `float32` (print `torch.` before it for Python's spelling).
    public var name: String { rawValue }
    public var description: String { "torch.\(rawValue)" }

    /// Bytes per element, as `torch.dtype.itemsize` (packed sub-byte types occupy one byte).
    public var itemSize: Int {
        switch self {
        case .float64, .int64, .uint64, .complex64: 8
        case .float32, .int32, .uint32, .complex32, .bcomplex32, .qint32: 4
        case .float16, .bfloat16, .int16, .uint16, .bits16: 2
        case .complex128: 16
        default: 1
        }
    }

    /// How many elements share one byte: 2 for `quint4x2`, 4 for `quint2x4`, 1 otherwise.
    public var elementsPerByte: Int {
        switch self {
        case .quint4x2: 2
        case .quint2x4: 4
        default: 1
        }
    }

    /// The bytes that `count` elements occupy (packed types round up).
    public func byteCount(forElements count: Int) -> Int {
        elementsPerByte == 1 ? count &* itemSize : (count + elementsPerByte - 1) / elementsPerByte
    }

    /// Whether the type is a floating-point type (`torch.dtype.is_floating_point`).
    public var isFloatingPoint: Bool {
        switch self {
        case .float64, .float32, .float16, .bfloat16, .float8_e5m2, .float8_e4m3fn,
             .float8_e5m2fnuz, .float8_e4m3fnuz, .float8_e8m0fnu, .float4_e2m1fn_x2: true
        default: false
        }
    }

    /// Whether the type is complex (`torch.dtype.is_complex`).
    public var isComplex: Bool {
        switch self {
        case .complex32, .complex64, .complex128, .bcomplex32: true
        default: false
        }
    }

    /// Whether the type is a quantized integer type.
    public var isQuantized: Bool {
        switch self {
        case .qint8, .quint8, .qint32, .quint4x2, .quint2x4: true
        default: false
        }
    }

    /// The size of the unit that is byte-swapped between byte orders: the
    /// element, or each half of a complex element.
    public var byteSwapUnit: Int { isComplex ? itemSize / 2 : itemSize }

    /// The legacy typed storage class that `torch.save` names for this type
    /// (`FloatStorage`), or nil for types written with `UntypedStorage` and
    /// `_rebuild_tensor_v3`.
    public var storageClassName: String? { Self.storageClasses.first { $0.value == self }?.key }

    /// The type a storage class such as `FloatStorage` holds.
    public init?(storageClassName: String) {
        guard let dtype = Self.storageClasses[storageClassName] else { return nil }
        self = dtype
    }

    /// Looks up a name as it appears in `torch.<name>`, aliases included (`float`, `half`, `long`, `cfloat` …).
    public init?(torchName: String) {
        if let d = DType(rawValue: torchName) {
            self = d
        } else if let d = Self.aliases[torchName] {
            self = d
        } else {
            return nil
        }
    }

    package static let storageClasses: [String: DType] = [
        "DoubleStorage": .float64, "FloatStorage": .float32, "HalfStorage": .float16,
        "BFloat16Storage": .bfloat16, "LongStorage": .int64, "IntStorage": .int32,
        "ShortStorage": .int16, "CharStorage": .int8, "ByteStorage": .uint8,
        "BoolStorage": .bool, "ComplexDoubleStorage": .complex128, "ComplexFloatStorage": .complex64,
        "QInt8Storage": .qint8, "QUInt8Storage": .quint8, "QInt32Storage": .qint32,
        "QUInt4x2Storage": .quint4x2, "QUInt2x4Storage": .quint2x4,
    ]

    package static let aliases: [String: DType] = [
        "double": .float64, "float": .float32, "half": .float16, "long": .int64, "int": .int32,
        "short": .int16, "cdouble": .complex128, "cfloat": .complex64, "chalf": .complex32,
    ]
}

/// A `torch.device`: a type such as `cpu`, `cuda` or `meta`, and an optional index.
public struct Device: Sendable, Hashable, CustomStringConvertible {
    /// The device type, such as `cpu` or `cuda`.
    public var type: String
    /// The device index, such as 1 in `cuda:1`.
    public var index: Int?

    /// Creates a device from its type and index.
    public init(type: String, index: Int? = nil) {
        self.type = type
        self.index = index
    }

    /// Parses a location tag such as `cpu` or `cuda:0`, as storages carry it.
    public init(location: String) {
        // By bytes: a search by Character would break the text into graphemes (once per storage).
        if location == "cpu" {
            self = .cpu
        } else if let colon = location.utf8.lastIndex(of: UInt8(ascii: ":")), let i = Int(location[location.utf8.index(after: colon)...]) {
            self.init(type: String(location[..<colon]), index: i)
        } else {
            self.init(type: location)
        }
    }

    /// The CPU.
    public static let cpu = Device(type: "cpu")

    /// `cuda:1`, `cpu`: as `str(torch.device)` prints it.
    public var description: String { index.map { "\(type):\($0)" } ?? type }
}

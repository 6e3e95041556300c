/// A Swift type that tensor elements can be copied into, with conversion.
///
/// Into a floating-point type, values round to nearest, as PyTorch's
/// `tensor.to(dtype)` rounds them. Into an integer type (or `Bool` from an
/// integer) a value must be representable exactly: `1.5`, NaN, ±∞ or an
/// integer out of range is an error, never a silently different number.
/// (`Tensor.to(_:)` converts as PyTorch does, truncating `1.5` to `1`.)
public protocol TensorScalar: Sendable {
    /// The dtype whose elements have exactly this type's layout, if any.
    static var dtype: DType? { get }
    /// Converts a floating-point element; nil when not representable.
    init?(fromFloatingPoint value: Double)
    /// Converts a signed integer element; nil when not representable.
    init?(fromInteger value: Int64)
    /// Converts an unsigned integer element; nil when not representable.
    init?(fromUnsignedInteger value: UInt64)
}

extension Float: TensorScalar {
    public static var dtype: DType? { .float32 }
    public init?(fromFloatingPoint value: Double) { self = Float(value) }
    public init?(fromInteger value: Int64) { self = Float(value) }
    public init?(fromUnsignedInteger value: UInt64) { self = Float(value) }
}

extension Double: TensorScalar {
    public static var dtype: DType? { .float64 }
    public init?(fromFloatingPoint value: Double) { self = value }
    public init?(fromInteger value: Int64) { self = Double(value) }
    public init?(fromUnsignedInteger value: UInt64) { self = Double(value) }
}

extension Bool: TensorScalar {
    public static var dtype: DType? { .bool }
    public init?(fromFloatingPoint value: Double) { self = value != 0 }
    public init?(fromInteger value: Int64) { self = value != 0 }
    public init?(fromUnsignedInteger value: UInt64) { self = value != 0 }
}

/// Integer conversions: exact, or none (see ``TensorScalar``).
public protocol TensorIntegerScalar: TensorScalar, FixedWidthInteger {}

extension TensorIntegerScalar {
    /// The integer equal to `value`; nil for a fraction, NaN, ±∞ or a value out of range.
    public init?(fromFloatingPoint value: Double) {
        guard value.isFinite, let v = Self(exactly: value) else { return nil }
        self = v
    }
    public init?(fromInteger value: Int64) { self.init(exactly: value) }
    public init?(fromUnsignedInteger value: UInt64) { self.init(exactly: value) }
}

extension Int8: TensorIntegerScalar { public static var dtype: DType? { .int8 } }
extension Int16: TensorIntegerScalar { public static var dtype: DType? { .int16 } }
extension Int32: TensorIntegerScalar { public static var dtype: DType? { .int32 } }
extension Int64: TensorIntegerScalar { public static var dtype: DType? { .int64 } }
extension Int: TensorIntegerScalar { public static var dtype: DType? { MemoryLayout<Int>.size == 8 ? .int64 : .int32 } }
extension UInt8: TensorIntegerScalar { public static var dtype: DType? { .uint8 } }
extension UInt16: TensorIntegerScalar { public static var dtype: DType? { .uint16 } }
extension UInt32: TensorIntegerScalar { public static var dtype: DType? { .uint32 } }
extension UInt64: TensorIntegerScalar { public static var dtype: DType? { .uint64 } }

#if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
@available(macOS 11.0, iOS 14.0, tvOS 14.0, watchOS 7.0, *)
extension Float16: TensorScalar {
    public static var dtype: DType? { .float16 }
    public init?(fromFloatingPoint value: Double) { self = Float16(value) }
    public init?(fromInteger value: Int64) { self = Float16(Float(value)) }
    public init?(fromUnsignedInteger value: UInt64) { self = Float16(Float(value)) }
}
#endif

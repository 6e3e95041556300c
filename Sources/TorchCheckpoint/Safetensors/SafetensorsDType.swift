/// An element type as a safetensors header names it (`"F32"`, `"BF16"`, `"F8_E4M3"` …).
///
/// The cases are declared in the order of the reference implementation's
/// `Dtype` enum (safetensors 0.8, `safetensors/src/tensor.rs`), which is
/// "increasing alignment": ``SafetensorsWriter`` lays tensors out by
/// descending position in this order, then by name, exactly as `save_file` does.
/// `allCases` keeps that order.
public enum SafetensorsDType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// `bool`, one byte per element.
    case bool = "BOOL"
    /// MXFP4 (`float4_e2m1fn_x2` in PyTorch): two 4-bit elements per byte.
    case f4 = "F4"
    /// MXFP6 E2M3: 6-bit elements, packed; PyTorch has no such type.
    case f6E2M3 = "F6_E2M3"
    /// MXFP6 E3M2: 6-bit elements, packed; PyTorch has no such type.
    case f6E3M2 = "F6_E3M2"
    /// `uint8`.
    case u8 = "U8"
    /// `int8`.
    case i8 = "I8"
    /// `float8_e5m2`.
    case f8E5M2 = "F8_E5M2"
    /// `float8_e4m3fn`.
    case f8E4M3 = "F8_E4M3"
    /// `float8_e8m0fnu`.
    case f8E8M0 = "F8_E8M0"
    /// `float8_e4m3fnuz`.
    case f8E4M3FNUZ = "F8_E4M3FNUZ"
    /// `float8_e5m2fnuz`.
    case f8E5M2FNUZ = "F8_E5M2FNUZ"
    /// `int16`.
    case i16 = "I16"
    /// `uint16`.
    case u16 = "U16"
    /// `float16`.
    case f16 = "F16"
    /// `bfloat16`.
    case bf16 = "BF16"
    /// `int32`.
    case i32 = "I32"
    /// `uint32`.
    case u32 = "U32"
    /// `float32`.
    case f32 = "F32"
    /// `complex64` (two `float32` parts).
    case c64 = "C64"
    /// `float64`.
    case f64 = "F64"
    /// `int64`.
    case i64 = "I64"
    /// `uint64`.
    case u64 = "U64"

    /// The name written in headers, such as `F32`.
    public var description: String { rawValue }

    /// The size of one element in bits (`Dtype::bitsize`): 4 for ``f4``, 6 for the F6 types.
    public var bitSize: Int {
        switch self {
        case .f4: 4
        case .f6E2M3, .f6E3M2: 6
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ: 8
        case .i16, .u16, .f16, .bf16: 16
        case .i32, .u32, .f32: 32
        case .c64, .f64, .i64, .u64: 64
        }
    }

    /// The PyTorch type `safetensors.torch.load_file` gives tensors of this
    /// type, or nil for the F6 types, which PyTorch cannot hold.
    ///
    /// ``f4`` becomes `float4_e2m1fn_x2`, whose elements are byte pairs: its
    /// last dimension is half the header's.
    public var torchDType: DType? {
        switch self {
        case .bool: .bool
        case .f4: .float4_e2m1fn_x2
        case .f6E2M3, .f6E3M2: nil
        case .u8: .uint8
        case .i8: .int8
        case .f8E5M2: .float8_e5m2
        case .f8E4M3: .float8_e4m3fn
        case .f8E8M0: .float8_e8m0fnu
        case .f8E4M3FNUZ: .float8_e4m3fnuz
        case .f8E5M2FNUZ: .float8_e5m2fnuz
        case .i16: .int16
        case .u16: .uint16
        case .f16: .float16
        case .bf16: .bfloat16
        case .i32: .int32
        case .u32: .uint32
        case .f32: .float32
        case .c64: .complex64
        case .f64: .float64
        case .i64: .int64
        case .u64: .uint64
        }
    }

    /// The safetensors type `save_file` writes for a PyTorch type, or nil when
    /// safetensors cannot store it (complex32/128, quantized, bits, sub-byte
    /// integers …).
    public init?(_ torch: DType) {
        guard let match = Self.allCases.first(where: { $0.torchDType == torch }) else { return nil }
        self = match
    }

    /// The position in the reference implementation's `Dtype` order (its `Ord`).
    var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
}

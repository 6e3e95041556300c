/// How far apart the elements of two tensors of one dtype and shape are.
///
/// For a quantized tensor the elements are its integer representation
/// (`int_repr()`); for a sparse tensor, its stored values (when both tensors
/// have the same indices); for a packed type (`quint4x2`, `quint2x4`), the
/// packed bytes.
public struct TensorComparison: Sendable {
    /// The path of the tensor.
    public let path: [PathKey]
    /// The dtype of the elements compared (`int8` for `qint8`'s `int_repr()`).
    public let dtype: DType
    /// The shape of the elements compared (a sparse tensor's values, packed bytes).
    public let shape: [Int]
    /// The number of elements compared.
    public let elementCount: Int
    /// The largest `|a − b|`, in `Double` (complex: the magnitude of the
    /// complex difference; integers: the exact difference, then converted).
    /// Positions that are equal or NaN on both sides count 0; a pair that is
    /// not equal and not both finite counts `+inf`.
    public let maxAbsoluteDifference: Double
    /// The largest `|a − b| / |b|` over the elements where `b ≠ 0`, counted
    /// as ``maxAbsoluteDifference`` counts them (`+inf` for a pair not both
    /// finite). Elements where `b` is 0 are left out: there the relative
    /// difference is undefined, and ``maxAbsoluteDifference`` covers them.
    public let maxRelativeDifference: Double
    /// How many elements are outside the tolerance.
    public let mismatchCount: Int
    /// The row-major index of the first element outside the tolerance, or nil.
    public let firstMismatch: [Int]?
    /// What was compared, when not the tensor's own elements (`"int_repr"`,
    /// `"sparse values"`, `"packed bytes"`).
    public let compared: String?

    /// Whether every element is within the tolerance.
    public var isWithinTolerance: Bool { mismatchCount == 0 }
}

extension CheckpointDiff {
    /// How far apart two elements may be and still count as equal, as
    /// `torch.allclose(a, b, rtol, atol, equal_nan=True)` decides it:
    /// `|a − b| ≤ atol + rtol · |b|`, where `b` is the element of the second
    /// checkpoint.
    ///
    /// Elements that are equal (`==`, so `+0` equals `−0` and `inf` equals
    /// `inf`) or NaN on both sides are always equal. A pair that is not equal
    /// and not both finite (NaN against a number, `inf` against `−inf` or a
    /// number) never is, whatever the tolerance.
    ///
    /// The default, ``exact``, is `rtol = 0` and `atol = 0`: a comparison
    /// meant as a CI assertion should fail on any change unless told how much
    /// change is acceptable. (`torch.allclose`'s own defaults are `rtol = 1e-05`
    /// and `atol = 1e-08`; pass them to match it.)
    ///
    /// The test is computed in `Double`, where PyTorch computes it in the
    /// tensors' dtype: for a pair within one rounding of `atol + rtol · |b|`
    /// of a float16, bfloat16 or float32 tensor, the verdict can differ from
    /// PyTorch's. Integers are compared exactly, by their exact difference:
    /// `torch.isclose` converts integer tensors to float32 first, so under any
    /// nonzero tolerance it calls 2⁵³ and 2⁵³ + 1 close, which this does not.
    public struct Tolerance: Sendable, Hashable, CustomStringConvertible {
        /// The relative tolerance, multiplied by `|b|`.
        public let rtol: Double
        /// The absolute tolerance.
        public let atol: Double

        /// A tolerance; both values must be finite and not negative.
        public init(rtol: Double = 0, atol: Double = 0) throws(DiffError) {
            guard rtol.isFinite, rtol >= 0 else { throw .invalidTolerance(name: "rtol", value: rtol) }
            guard atol.isFinite, atol >= 0 else { throw .invalidTolerance(name: "atol", value: atol) }
            self.rtol = rtol
            self.atol = atol
        }

        private init(checkedRtol rtol: Double, atol: Double) {
            self.rtol = rtol
            self.atol = atol
        }

        /// Exact equality: `rtol = 0`, `atol = 0` (NaN still equals NaN at the same position).
        public static let exact = Tolerance(checkedRtol: 0, atol: 0)

        /// `torch.allclose`'s defaults: `rtol = 1e-05`, `atol = 1e-08`.
        public static let allclose = Tolerance(checkedRtol: 1e-05, atol: 1e-08)

        /// Whether this is exact equality.
        public var isExact: Bool { rtol == 0 && atol == 0 }

        /// Whether a finite difference `difference` between two elements is
        /// allowed when the second element's magnitude is `magnitude`.
        @inlinable
        public func allows(_ difference: Double, magnitude: Double) -> Bool {
            difference <= atol + rtol * magnitude
        }

        /// `rtol=1e-05, atol=1e-08`, as Python writes the numbers.
        public var description: String { "rtol=\(PythonRepr.float(rtol)), atol=\(PythonRepr.float(atol))" }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TorchCheckpoint

/// assert_close's `NumberPair`: two Python numbers (`int`, `float`,
/// `complex`) of the same type (`check_dtype`), equal, or within the
/// tolerances of their type (int: exact; float and complex: float64's).
struct NumberPair {
    let tolerances: (rtol: Double, atol: Double)?
    let equalNaN: Bool

    /// A Python number; a `bool` is not one here (BooleanPair takes two bools).
    struct Number {
        let value: PythonNumber
        /// An int too large for 128 bits, as text (compared as text, differences in float64).
        let bigText: String?

        init?(_ v: Value) {
            switch v {
            case .int(let i): (value, bigText) = (.integer(Int128(i)), nil)
            case .bigInt(let b):
                if let i = Int128(b.description) { (value, bigText) = (.integer(i), nil) } else { (value, bigText) = (.float(b.doubleValue), b.description) }
            case .float(let d): (value, bigText) = (.float(d), nil)
            case .complex(let c): (value, bigText) = (.complex(c), nil)
            default: return nil
            }
        }

        /// `<class 'int'>` and the like.
        var className: String {
            if bigText != nil { return "<class 'int'>" }
            switch value {
            case .integer: return "<class 'int'>"
            case .float: return "<class 'float'>"
            case .complex: return "<class 'complex'>"
            case .bool: return "<class 'bool'>"
            }
        }

        /// `_DTYPE_PRECISIONS` of the type's dtype: int64 exact, float64 and complex128 (1e-7, 1e-7).
        var defaultTolerances: (rtol: Double, atol: Double) {
            if case .float = value, bigText == nil { return (1e-7, 1e-7) }
            if case .complex = value { return (1e-7, 1e-7) }
            return (0, 0)
        }

        var number: PythonNumber { value }
    }

    /// The failure, or nil when the numbers are close.
    func compare(_ x: Number, _ y: Number) -> (CloseFailure.Kind, String)? {
        if x.className != y.className {
            return (.notEqual(actual: x.className, expected: y.className),
                    "The (d)types do not match: \(x.className) != \(y.className).")
        }
        let (rtol, atol) = tolerances ?? {
            let a = x.defaultTolerances, b = y.defaultTolerances
            return (max(a.rtol, b.rtol), max(a.atol, b.atol))
        }()
        let equality = rtol == 0 && atol == 0
        if x.bigText != nil || y.bigText != nil {
            // Ints past 128 bits: equal when their digits are; the differences in float64.
            let (tx, ty) = (x.bigText ?? x.value.text, y.bigText ?? y.value.text)
            if tx == ty { return nil }
            let (a, b) = (x.value.complexValue.real, y.value.complexValue.real)
            let difference = abs(a - b)
            if !equality && difference.isFinite && difference <= atol + rtol * abs(b) { return nil }
            let relative = b == 0 ? Double.infinity : difference / abs(b)
            let message = ValueComparison.message(
                identifier: "Scalars", equality: equality, extra: "Expected \(ty) but got \(tx).",
                absolute: "Absolute difference: \(PythonText.float(difference))",
                relative: "Relative difference: \(PythonText.float(relative))", rtol: rtol, atol: atol)
            return (.valuesDiffer(ValueMismatch(
                identifier: "Scalars", elementCount: 1, mismatchCount: 1, firstMismatchIndex: nil,
                greatestAbsoluteDifference: difference, greatestAbsoluteDifferenceIndex: nil,
                greatestRelativeDifference: relative, greatestRelativeDifferenceIndex: nil,
                rtol: rtol, atol: atol, description: message)), message)
        }
        if Self.equal(x.value, y.value) { return nil }
        let (a, b) = (x.value.complexValue, y.value.complexValue)
        let isNaN = { (c: Complex) in c.real.isNaN || c.imag.isNaN }
        if equalNaN && isNaN(a) && isNaN(b) { return nil }
        let item = ScalarItem(x.value, y.value)
        let difference: Double = switch item.absoluteDifference {
        case .integer(let i): Double(i)
        case .float(let f): f
        default: .nan
        }
        let allowed = atol + rtol * (b.imag == 0 ? abs(b.real) : hypot(b.real, b.imag))
        if difference.isFinite && difference <= allowed { return nil }
        let mismatch = item.mismatch(identifier: "Scalars", rtol: rtol, atol: atol, equality: equality)
        return (.valuesDiffer(mismatch), mismatch.description)
    }

    /// Python's `==` on two numbers of one type.
    private static func equal(_ x: PythonNumber, _ y: PythonNumber) -> Bool {
        switch (x, y) {
        case (.integer(let a), .integer(let b)): a == b
        case (.float(let a), .float(let b)): a == b
        default: x.complexValue.real == y.complexValue.real && x.complexValue.imag == y.complexValue.imag
        }
    }
}

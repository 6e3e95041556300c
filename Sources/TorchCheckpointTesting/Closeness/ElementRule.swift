#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TorchCheckpoint

/// How the elements of a dtype are compared: the arithmetic PyTorch's
/// `torch.isclose` and assert_close's message use for it.
enum Arithmetic: Equatable {
    case float64, float32, float16, bfloat16
    case complex128, complex64, complex32
    /// Signed integers of `bits` bits (and the `int_repr()` of signed quantized types).
    case signed(bits: Int)
    /// Unsigned integers of `bits` bits.
    case unsigned(bits: Int)
    case bool
    /// One-byte floats (float8): assert_close compares them for equality
    /// only, and reports the first mismatch instead of differences.
    case bitwise

    /// The arithmetic of a dtype, or nil for types PyTorch has none for
    /// (packed sub-byte types, bits, `bcomplex32`). Quantized types are
    /// compared dequantized, elsewhere.
    init?(_ dtype: DType) {
        switch dtype {
        case .float64: self = .float64
        case .float32: self = .float32
        case .float16: self = .float16
        case .bfloat16: self = .bfloat16
        case .float8_e5m2, .float8_e4m3fn, .float8_e5m2fnuz, .float8_e4m3fnuz, .float8_e8m0fnu: self = .bitwise
        case .complex128: self = .complex128
        case .complex64: self = .complex64
        case .complex32: self = .complex32
        case .int8: self = .signed(bits: 8)
        case .int16: self = .signed(bits: 16)
        case .int32: self = .signed(bits: 32)
        case .int64: self = .signed(bits: 64)
        case .uint8: self = .unsigned(bits: 8)
        case .uint16: self = .unsigned(bits: 16)
        case .uint32: self = .unsigned(bits: 32)
        case .uint64: self = .unsigned(bits: 64)
        case .bool: self = .bool
        default: return nil
        }
    }

    /// Whether assert_close reports integer differences (the values cast to int64).
    var isInteger: Bool {
        switch self {
        case .signed, .unsigned, .bool: true
        default: false
        }
    }

    var isComplex: Bool { self == .complex128 || self == .complex64 || self == .complex32 }
}

/// The elements of one block of a tensor, decoded for comparison, with the
/// tensor's negative and conjugate bits applied.
enum Elements {
    /// float32, float16, bfloat16 and one-byte floats (widened exactly), dequantized values.
    case float([Float])
    /// float64.
    case double([Double])
    case complex([Complex])
    case signed([Int64])
    case unsigned([UInt64])
}

/// The greatest of a run of values, as `torch.max(t, 0)` finds it: the first
/// index of the maximum, and NaN greater than everything (the first NaN wins).
struct Greatest {
    var value = 0.0
    var index = 0
    var started = false

    @inline(__always)
    mutating func offer(_ v: Double, at i: Int) {
        if !started {
            (value, index, started) = (v, i, true)
        } else if !value.isNaN && (v.isNaN || v > value) {
            (value, index) = (v, i)
        }
    }
}

/// The greatest of a run of int64 values, the first index of it.
struct GreatestInteger {
    var value: Int64 = 0
    var index = 0
    var started = false

    @inline(__always)
    mutating func offer(_ v: Int64, at i: Int) {
        if !started {
            (value, index, started) = (v, i, true)
        } else if v > value {
            (value, index) = (v, i)
        }
    }
}

/// What assert_close's message reports, accumulated block by block. Matched
/// elements count 0 in both differences, as assert_close zeroes them before
/// taking the maximum.
struct Tally {
    var count = 0
    var mismatches = 0
    var firstMismatch: Int?
    var absolute = Greatest()
    var absoluteInteger = GreatestInteger()
    var relative = Greatest()

    /// An element that is close: 0 for both differences. Once a maximum is
    /// not negative (or NaN), a 0 changes nothing; only integer differences,
    /// which wrap in int64, can be negative.
    @inline(__always)
    mutating func match(at i: Int, integer: Bool) {
        count += 1
        if integer {
            if !absoluteInteger.started || absoluteInteger.value < 0 { absoluteInteger.offer(0, at: i) }
        } else if !absolute.started {
            absolute.offer(0, at: i)
        }
        if !relative.started || relative.value < 0 { relative.offer(0, at: i) }
    }

    mutating func mismatch(at i: Int) {
        count += 1
        mismatches += 1
        if firstMismatch == nil { firstMismatch = i }
    }

    mutating func mismatch(at i: Int, absolute a: Double, relative r: Double) {
        mismatch(at: i)
        absolute.offer(a, at: i)
        relative.offer(r, at: i)
    }

    mutating func mismatch(at i: Int, absolute a: Int64, relative r: Double) {
        mismatch(at: i)
        absoluteInteger.offer(a, at: i)
        relative.offer(r, at: i)
    }
}

/// Rounding a `Float` result to a narrower format, as PyTorch's CPU kernels
/// for float16 and bfloat16 compute in float and round each result.
protocol FloatRounding {
    static func round(_ x: Float) -> Float
}

/// float32 itself: no rounding.
enum Float32Rounding: FloatRounding {
    @inline(__always) static func round(_ x: Float) -> Float { x }
}

/// To the nearest float16 (ties to even), overflowing to infinity.
enum Float16Rounding: FloatRounding {
    static func round(_ x: Float) -> Float {
        guard x.isFinite, x != 0 else { return x }
        let magnitude = abs(x)
        // Half-way between float16's largest finite value and 2¹⁶ rounds up (to even): infinity.
        if magnitude >= 65520 { return x < 0 ? -.infinity : .infinity }
        // The spacing of float16 values near x: 2⁻²⁴ for subnormals, 2^(e − 10) otherwise.
        let exponent = max(Int(magnitude.exponent), -14)
        let quantum = Float(sign: .plus, exponent: exponent - 10, significand: 1)
        return (x / quantum).rounded(.toNearestOrEven) * quantum
    }
}

/// To the nearest bfloat16 (ties to even), as c10's `round_to_nearest_even`.
enum BFloat16Rounding: FloatRounding {
    static func round(_ x: Float) -> Float {
        guard !x.isNaN else { return x }
        let bits = x.bitPattern
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return Float(bitPattern: rounded & 0xFFFF_0000)
    }
}

/// `torch.isclose(actual, expected, rtol, atol, equal_nan)` element by
/// element, in the arithmetic PyTorch uses for the dtype, and the
/// differences assert_close's message reports.
struct ElementRule {
    let rtol: Double
    let atol: Double
    let equalNaN: Bool

    /// With both tolerances 0, isclose is `==` (NaN aside): no arithmetic at all.
    var isExact: Bool { rtol == 0 && atol == 0 }

    /// Adds one block of elements to the tally; `start` is the row-major index of its first element.
    func tally(_ a: Elements, _ b: Elements, as arithmetic: Arithmetic, start: Int, into t: inout Tally) {
        switch (a, b, arithmetic) {
        case (.double(let x), .double(let y), .float64): tallyDouble(x, y, start, &t)
        case (.float(let x), .float(let y), .float32): tallyFloat32(x, y, start, &t)
        case (.float(let x), .float(let y), .float16): tallyFloat(x, y, Float16Rounding.self, start, &t)
        case (.float(let x), .float(let y), .bfloat16): tallyFloat(x, y, BFloat16Rounding.self, start, &t)
        case (.float(let x), .float(let y), .bitwise): tallyBitwise(x, y, start, &t)
        case (.complex(let x), .complex(let y), .complex128): tallyComplexDouble(x, y, start, &t)
        case (.complex(let x), .complex(let y), .complex64): tallyComplexFloat(x, y, Float32Rounding.self, start, &t)
        case (.complex(let x), .complex(let y), .complex32): tallyComplexFloat(x, y, Float16Rounding.self, start, &t)
        case (.signed(let x), .signed(let y), .signed): tallySigned(x, y, start, &t)
        case (.unsigned(let x), .unsigned(let y), .unsigned): tallyUnsigned(x, y, start, &t)
        case (.unsigned(let x), .unsigned(let y), .bool): tallyBool(x, y, start, &t)
        default: break
        }
    }

    // MARK: Floating point

    private func tallyDouble(_ a: [Double], _ b: [Double], _ start: Int, _ t: inout Tally) {
        for i in a.indices {
            let x = a[i], y = b[i]
            var close = x == y || (equalNaN && x.isNaN && y.isNaN)
            if !close && !isExact {
                let error = abs(x - y)
                close = error.isFinite && error <= atol + abs(rtol * y)
            }
            if close {
                t.match(at: start + i, integer: false)
            } else {
                let error = abs(x - y)
                t.mismatch(at: start + i, absolute: error, relative: error / abs(y))
            }
        }
    }

    /// float32, float16 and bfloat16: each operation in float, rounded to the
    /// dtype; the tolerances enter as floats (PyTorch's CPU scalars of an
    /// operation in float or a reduced float type).
    private func tallyFloat<R: FloatRounding>(_ a: [Float], _ b: [Float], _: R.Type, _ start: Int, _ t: inout Tally) {
        let rt = Float(rtol), at = Float(atol)
        for i in a.indices {
            let x = a[i], y = b[i]
            var close = x == y || (equalNaN && x.isNaN && y.isNaN)
            if !close && !isExact {
                let error = abs(R.round(x - y))
                let allowed = R.round(at + abs(R.round(rt * y)))
                close = error.isFinite && error <= allowed
            }
            if close {
                t.match(at: start + i, integer: false)
            } else {
                let error = abs(R.round(x - y))
                t.mismatch(at: start + i, absolute: Double(error), relative: Double(R.round(error / abs(y))))
            }
        }
    }

    /// float32: the same rule without rounding (written apart: unoptimised
    /// test builds do not specialise the generic one).
    private func tallyFloat32(_ a: [Float], _ b: [Float], _ start: Int, _ t: inout Tally) {
        let rt = Float(rtol), at = Float(atol)
        for i in a.indices {
            let x = a[i], y = b[i]
            if x == y || (equalNaN && x.isNaN && y.isNaN) {
                t.match(at: start + i, integer: false)
                continue
            }
            let error = abs(x - y)
            if !isExact && error.isFinite && error <= at + abs(rt * y) {
                t.match(at: start + i, integer: false)
            } else {
                t.mismatch(at: start + i, absolute: Double(error), relative: Double(error / abs(y)))
            }
        }
    }

    /// One-byte floats: equality (NaN equal to NaN with `equalNaN`), nothing else.
    private func tallyBitwise(_ a: [Float], _ b: [Float], _ start: Int, _ t: inout Tally) {
        for i in a.indices {
            let x = a[i], y = b[i]
            if x == y || (equalNaN && x.isNaN && y.isNaN) { t.match(at: start + i, integer: false) } else { t.mismatch(at: start + i) }
        }
    }

    // MARK: Complex

    private static func isNaN(_ c: Complex) -> Bool { c.real.isNaN || c.imag.isNaN }

    private func tallyComplexDouble(_ a: [Complex], _ b: [Complex], _ start: Int, _ t: inout Tally) {
        for i in a.indices {
            let x = a[i], y = b[i]
            var close = (x.real == y.real && x.imag == y.imag) || (equalNaN && Self.isNaN(x) && Self.isNaN(y))
            if !close && !isExact {
                let error = hypot(x.real - y.real, x.imag - y.imag)
                close = error.isFinite && error <= atol + hypot(rtol * y.real, rtol * y.imag)
            }
            if close {
                t.match(at: start + i, integer: false)
            } else {
                let error = hypot(x.real - y.real, x.imag - y.imag)
                t.mismatch(at: start + i, absolute: error, relative: error / hypot(y.real, y.imag))
            }
        }
    }

    /// `|re + im·i|` of float components, correctly rounded to float.
    private static func magnitude(_ re: Float, _ im: Float) -> Float {
        if re.isInfinite || im.isInfinite { return .infinity }
        let r = Double(re), i = Double(im)
        return Float((r * r + i * i).squareRoot())
    }

    private func tallyComplexFloat<R: FloatRounding>(_ a: [Complex], _ b: [Complex], _: R.Type, _ start: Int, _ t: inout Tally) {
        let rt = Float(rtol), at = Float(atol)
        for i in a.indices {
            let xr = Float(a[i].real), xi = Float(a[i].imag), yr = Float(b[i].real), yi = Float(b[i].imag)
            let bothNaN = (xr.isNaN || xi.isNaN) && (yr.isNaN || yi.isNaN)
            var close = (xr == yr && xi == yi) || (equalNaN && bothNaN)
            let error = R.round(Self.magnitude(R.round(xr - yr), R.round(xi - yi)))
            if !close && !isExact {
                let allowed = R.round(at + R.round(Self.magnitude(R.round(rt * yr), R.round(rt * yi))))
                close = error.isFinite && error <= allowed
            }
            if close {
                t.match(at: start + i, integer: false)
            } else {
                let relative = R.round(error / R.round(Self.magnitude(yr, yi)))
                t.mismatch(at: start + i, absolute: Double(error), relative: Double(relative))
            }
        }
    }

    // MARK: Integers

    /// `|x|` as int64 arithmetic has it: `Int64.min` stays negative.
    private static func wrappingMagnitude(_ x: Int64) -> Int64 { x < 0 ? 0 &- x : x }

    /// The message's differences: both values cast to int64 (wrapping), the
    /// difference in int64 (wrapping), the relative difference in float32.
    private static func messageDifferences(_ x: Int64, _ y: Int64) -> (Int64, Double) {
        let difference = wrappingMagnitude(x &- y)
        return (difference, Double(Float(difference) / Float(wrappingMagnitude(y))))
    }

    /// Whether isclose calls two unequal integers close: with a tolerance, it
    /// computes in float32, the integers converted first (so 2²⁴ + 1 and 2²⁴
    /// are close under any tolerance; no difference wraps).
    private func allows(_ x: Float, _ y: Float) -> Bool {
        let error = abs(x - y)
        return error.isFinite && error <= Float(atol) + abs(Float(rtol) * y)
    }

    private func tallySigned(_ a: [Int64], _ b: [Int64], _ start: Int, _ t: inout Tally) {
        for i in a.indices {
            let x = a[i], y = b[i]
            if x == y || (!isExact && allows(Float(x), Float(y))) {
                t.match(at: start + i, integer: true)
            } else {
                let (d, r) = Self.messageDifferences(x, y)
                t.mismatch(at: start + i, absolute: d, relative: r)
            }
        }
    }

    private func tallyUnsigned(_ a: [UInt64], _ b: [UInt64], _ start: Int, _ t: inout Tally) {
        for i in a.indices {
            let x = a[i], y = b[i]
            if x == y || (!isExact && allows(Float(x), Float(y))) {
                t.match(at: start + i, integer: true)
            } else {
                let (d, r) = Self.messageDifferences(Int64(truncatingIfNeeded: x), Int64(truncatingIfNeeded: y))
                t.mismatch(at: start + i, absolute: d, relative: r)
            }
        }
    }

    /// bool: isclose converts to float32; the message casts to int64.
    private func tallyBool(_ a: [UInt64], _ b: [UInt64], _ start: Int, _ t: inout Tally) {
        for i in a.indices {
            let x = a[i] != 0 ? 1 : 0, y = b[i] != 0 ? 1 : 0
            if x == y || (!isExact && allows(Float(x), Float(y))) {
                t.match(at: start + i, integer: true)
            } else {
                let (d, r) = Self.messageDifferences(Int64(x), Int64(y))
                t.mismatch(at: start + i, absolute: d, relative: r)
            }
        }
    }
}

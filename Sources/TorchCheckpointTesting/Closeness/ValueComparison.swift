#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TorchCheckpoint

/// assert_close's `_compare_regular_values_close` on two strided tensors of
/// one dtype and shape: every element through ``ElementRule``, streamed in
/// blocks, then assert_close's message when any is not close.
struct ValueComparison {
    let rtol: Double
    let atol: Double
    let equalNaN: Bool
    let blockElements: Int
    let expandedViewLimit: Int

    /// Turns the integer representation of quantized elements into their
    /// dequantized float32 values, given the row-major index of the first.
    typealias Dequantize = (_ values: [Int64], _ start: Int) -> [Float]

    /// How the compared values are named in the message.
    enum Identifier {
        /// `Tensor-likes` (or `Scalars` for 0-dim tensors).
        case standard
        /// `Quantized tensor-likes` (or `Quantized scalars`).
        case quantized
        /// A fixed name, such as `Sparse COO values`.
        case fixed(String)

        func name(scalar: Bool) -> String {
            switch self {
            case .standard: scalar ? "Scalars" : "Tensor-likes"
            case .quantized: scalar ? "Quantized scalars" : "Quantized tensor-likes"
            case .fixed(let name): name
            }
        }
    }

    /// Compares the elements; nil when every one is close.
    ///
    /// - Parameter dequantize: for quantized tensors, how to dequantize each
    ///   side (the elements are then compared as float32).
    func compare(_ a: Tensor, _ b: Tensor, as arithmetic: Arithmetic, identifier: Identifier,
                 dequantize: (Dequantize, Dequantize)? = nil) throws -> ValueMismatch? {
        guard a.elementCount > 0 else { return nil }
        for t in [a, b] where t.isExpandedView {
            try t.checkExpandedView(limit: expandedViewLimit, option: "expandedViewLimit")
        }
        let rule = ElementRule(rtol: rtol, atol: atol, equalNaN: equalNaN)
        var tally = Tally()
        var items: (Elements, Elements)?
        try BlockPairs.forEach(a, b, blockElements: blockElements) { x, y, start in
            var ea = try Self.decode(x, of: a, as: dequantize == nil ? arithmetic : .signed(bits: 64), limit: expandedViewLimit)
            var eb = try Self.decode(y, of: b, as: dequantize == nil ? arithmetic : .signed(bits: 64), limit: expandedViewLimit)
            if let (da, db) = dequantize, case .signed(let va) = ea, case .signed(let vb) = eb {
                (ea, eb) = (.float(da(va, start)), .float(db(vb, start)))
            }
            if a.shape.isEmpty { items = (ea, eb) }
            rule.tally(ea, eb, as: arithmetic, start: start, into: &tally)
        }
        guard tally.mismatches > 0 else { return nil }
        let equality = rule.isExact
        if a.shape.isEmpty, let (ea, eb) = items {
            return scalarMismatch(ea, eb, arithmetic: arithmetic, identifier: identifier.name(scalar: true), equality: equality)
        }
        let name = identifier.name(scalar: false)
        let extra = "Mismatched elements: \(tally.mismatches) / \(tally.count) (\(PythonText.percent(tally.mismatches, of: tally.count)))"
        let first = tally.firstMismatch.map { PythonText.unravel($0, in: a.shape) }
        if arithmetic == .bitwise {
            let text = "\(name) are not 'equal'!\n\n\(extra)\nThe first mismatched element is at index \(PythonText.tuple(first ?? []))."
            return ValueMismatch(identifier: name, elementCount: tally.count, mismatchCount: tally.mismatches,
                                 firstMismatchIndex: first, greatestAbsoluteDifference: nil,
                                 greatestAbsoluteDifferenceIndex: nil, greatestRelativeDifference: nil,
                                 greatestRelativeDifferenceIndex: nil, rtol: rtol, atol: atol, description: text)
        }
        let absolute: Double, absoluteText: String, absoluteIndex: Int
        if arithmetic.isInteger {
            absolute = Double(tally.absoluteInteger.value)
            absoluteText = String(tally.absoluteInteger.value)
            absoluteIndex = tally.absoluteInteger.index
        } else {
            absolute = tally.absolute.value
            absoluteText = PythonText.float(absolute)
            absoluteIndex = tally.absolute.index
        }
        let absoluteAt = PythonText.unravel(absoluteIndex, in: a.shape)
        let relativeAt = PythonText.unravel(tally.relative.index, in: a.shape)
        let text = Self.message(
            identifier: name, equality: equality, extra: extra,
            absolute: "Greatest absolute difference: \(absoluteText) at index \(PythonText.tuple(absoluteAt))",
            relative: "Greatest relative difference: \(PythonText.float(tally.relative.value)) at index \(PythonText.tuple(relativeAt))",
            rtol: rtol, atol: atol)
        return ValueMismatch(identifier: name, elementCount: tally.count, mismatchCount: tally.mismatches,
                             firstMismatchIndex: first, greatestAbsoluteDifference: absolute,
                             greatestAbsoluteDifferenceIndex: absoluteAt,
                             greatestRelativeDifference: tally.relative.value,
                             greatestRelativeDifferenceIndex: relativeAt, rtol: rtol, atol: atol, description: text)
    }

    /// `_make_mismatch_msg`: the header, the extra line, then both differences,
    /// with the tolerances unless both are 0.
    static func message(identifier: String, equality: Bool, extra: String?, absolute: String, relative: String,
                        rtol: Double, atol: Double) -> String {
        var text = "\(identifier) are not \(equality ? "equal" : "close")!\n\n"
        if let extra { text += extra + "\n" }
        text += absolute + (equality ? "" : " (up to \(PythonText.float(atol)) allowed)") + "\n"
        text += relative + (equality ? "" : " (up to \(PythonText.float(rtol)) allowed)")
        return text
    }

    /// `make_scalar_mismatch_msg` for a 0-dim tensor: its item and the
    /// differences in Python's arithmetic (floats as float64, integers exact).
    func scalarMismatch(_ a: Elements, _ b: Elements, arithmetic: Arithmetic, identifier: String,
                        equality: Bool) -> ValueMismatch? {
        let item: ScalarItem
        switch (a, b) {
        case (.float(let x), .float(let y)): item = ScalarItem(.float(Double(x[0])), .float(Double(y[0])))
        case (.double(let x), .double(let y)): item = ScalarItem(.float(x[0]), .float(y[0]))
        case (.complex(let x), .complex(let y)): item = ScalarItem(.complex(x[0]), .complex(y[0]))
        case (.signed(let x), .signed(let y)): item = ScalarItem(.integer(Int128(x[0])), .integer(Int128(y[0])))
        case (.unsigned(let x), .unsigned(let y)) where arithmetic == .bool: item = ScalarItem(.bool(x[0] != 0), .bool(y[0] != 0))
        case (.unsigned(let x), .unsigned(let y)): item = ScalarItem(.integer(Int128(x[0])), .integer(Int128(y[0])))
        default: return nil
        }
        return item.mismatch(identifier: identifier, rtol: rtol, atol: atol, equality: equality)
    }

    /// Decodes one block, applying the tensor's negative and conjugate bits
    /// (block views carry neither).
    static func decode(_ view: Tensor, of tensor: Tensor, as arithmetic: Arithmetic, limit: Int) throws -> Elements {
        switch arithmetic {
        case .float64:
            let values: [Double] = try view.scalars(expandedViewLimit: limit)
            return .double(tensor.isNegated ? values.map { -$0 } : values)
        case .float32, .float16, .bfloat16, .bitwise:
            let values: [Float] = try view.scalars(expandedViewLimit: limit)
            return .float(tensor.isNegated ? values.map { -$0 } : values)
        case .complex128, .complex64, .complex32:
            var values = try view.complexScalars(expandedViewLimit: limit)
            if tensor.isNegated || tensor.isConjugated {
                for i in values.indices {
                    if tensor.isNegated { values[i] = Complex(real: -values[i].real, imag: -values[i].imag) }
                    if tensor.isConjugated { values[i].imag = -values[i].imag }
                }
            }
            return .complex(values)
        case .signed:
            return .signed(try view.scalars(as: Int64.self, expandedViewLimit: limit))
        case .unsigned, .bool:
            return .unsigned(try view.scalars(as: UInt64.self, expandedViewLimit: limit))
        }
    }
}

/// A Python number, as `tensor.item()` gives it or a checkpoint holds it.
enum PythonNumber {
    case bool(Bool)
    case integer(Int128)
    case float(Double)
    case complex(Complex)

    /// `str(x)`.
    var text: String {
        switch self {
        case .bool(let b): b ? "True" : "False"
        case .integer(let i): String(i)
        case .float(let d): PythonText.float(d)
        case .complex(let c): PythonText.complex(c.real, c.imag)
        }
    }

    /// The number as a complex value (for arithmetic across kinds).
    var complexValue: Complex {
        switch self {
        case .bool(let b): Complex(real: b ? 1 : 0, imag: 0)
        case .integer(let i): Complex(real: Double(i), imag: 0)
        case .float(let d): Complex(real: d, imag: 0)
        case .complex(let c): c
        }
    }

    var isZero: Bool {
        switch self {
        case .bool(let b): !b
        case .integer(let i): i == 0
        case .float(let d): d == 0
        case .complex(let c): c.real == 0 && c.imag == 0
        }
    }
}

/// Two Python numbers and `make_scalar_mismatch_msg`'s arithmetic on them.
struct ScalarItem {
    let actual: PythonNumber
    let expected: PythonNumber

    init(_ actual: PythonNumber, _ expected: PythonNumber) {
        self.actual = actual
        self.expected = expected
    }

    /// `abs(actual - expected)`: an int for ints and bools, otherwise a float.
    var absoluteDifference: PythonNumber {
        switch (actual, expected) {
        case (.integer(let x), .integer(let y)): return .integer(x > y ? x - y : y - x)
        case (.bool(let x), .bool(let y)): return .integer(x == y ? 0 : 1)
        case (.bool(let x), .integer(let y)): return .integer(abs(Int128(x ? 1 : 0) - y))
        case (.integer(let x), .bool(let y)): return .integer(abs(x - Int128(y ? 1 : 0)))
        default:
            let x = actual.complexValue, y = expected.complexValue
            if case .complex = actual { return .float(hypot(x.real - y.real, x.imag - y.imag)) }
            if case .complex = expected { return .float(hypot(x.real - y.real, x.imag - y.imag)) }
            return .float(abs(x.real - y.real))
        }
    }

    /// `float("inf") if expected == 0 else abs_diff / abs(expected)`.
    func relativeDifference(_ difference: PythonNumber) -> Double {
        if expected.isZero { return .infinity }
        let d: Double
        switch difference {
        case .integer(let i): d = Double(i)
        case .float(let f): d = f
        default: d = difference.complexValue.real
        }
        let e = expected.complexValue
        return d / (e.imag == 0 ? abs(e.real) : hypot(e.real, e.imag))
    }

    func mismatch(identifier: String, rtol: Double, atol: Double, equality: Bool) -> ValueMismatch {
        let difference = absoluteDifference
        let relative = relativeDifference(difference)
        let text = ValueComparison.message(
            identifier: identifier, equality: equality, extra: "Expected \(expected.text) but got \(actual.text).",
            absolute: "Absolute difference: \(difference.text)", relative: "Relative difference: \(PythonText.float(relative))",
            rtol: rtol, atol: atol)
        let absolute: Double = switch difference {
        case .integer(let i): Double(i)
        case .float(let f): f
        default: difference.complexValue.real
        }
        return ValueMismatch(identifier: identifier, elementCount: 1, mismatchCount: 1, firstMismatchIndex: nil,
                             greatestAbsoluteDifference: absolute, greatestAbsoluteDifferenceIndex: nil,
                             greatestRelativeDifference: relative, greatestRelativeDifferenceIndex: nil,
                             rtol: rtol, atol: atol, description: text)
    }
}

/// Streams two tensors of one shape in blocks of the same elements.
enum BlockPairs {
    /// Calls `body` with views of the same elements of `a` and `b` (at most
    /// `blockElements` of them, whole rows where rows fit) and the row-major
    /// index of their first element. The views carry no conjugate or
    /// negative bit: the caller applies the tensors' own.
    static func forEach(_ a: Tensor, _ b: Tensor, blockElements: Int, _ body: (Tensor, Tensor, Int) throws -> Void) throws {
        try ElementComparison.forEachBlockPair(a, b, blockElements: blockElements, body)
    }
}

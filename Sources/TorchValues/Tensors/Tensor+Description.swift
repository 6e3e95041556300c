#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A tensor prints as `repr(tensor)` prints in PyTorch, with its values:
///
/// ```swift
/// print(weight)   // tensor([[ 0.1940,  2.1614],
///                 //         [-0.1721,  0.8491]])
/// ```
///
/// PyTorch's default print options: 4 digits after the point, scientific
/// notation when the magnitudes of the finite nonzero values span more than
/// 1000 or pass 1e8 or fall below 1e-4, whole numbers as `1.`, more than 1000
/// elements summarized to 3 at each edge of every dimension, lines of at most
/// 80 characters, and the suffixes PyTorch adds (`dtype=` for types other
/// than float32, complex64, int64 and bool, `device=`, `requires_grad=True`,
/// `size=` for empty and meta tensors). A `Parameter` prints as
/// `Parameter containing:` and the tensor.
extension Tensor: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String {
        let text = TensorPrinter.repr(self)
        return isParameter ? "Parameter containing:\n" + text : text
    }

    public var debugDescription: String { description }
}

/// torch/_tensor_str.py's formatting, for the default print options.
package enum TensorPrinter {
    package static let precision = 4
    package static let threshold = 1000
    package static let edgeItems = 3
    package static let lineWidth = 80

    /// One displayed element.
    package enum Scalar {
        case real(Double)
        case signed(Int64)
        case unsigned(UInt64)
        case bool(Bool)
        case complex(Double, Double)
    }

    package static func repr(_ t: Tensor) -> String {
        let prefix = "tensor("
        let indent = prefix.count
        var suffixes: [String] = []
        if t.device != .cpu { suffixes.append("device='\(t.device)'") }
        let defaultDType = [DType.float32, .complex64, .int64, .bool].contains(t.dtype)
        let body: String
        if t.layout != .strided {
            suffixes.append("size=" + tuple(t.shape))
            switch t.sparse {
            case .coo(_, let values, _)?: suffixes.append("nnz=\(values.shape.first ?? 0)")
            case .compressed(_, let plain, _)?: suffixes.append("nnz=\(plain.shape.first ?? 0)")
            case nil: break
            }
            if !defaultDType { suffixes.append("dtype=\(t.dtype)") }
            body = sparseBody(t, indent: indent)
            suffixes.append("layout=\(t.layout.rawValue)")
        } else if t.isMeta || t.storage == nil {
            suffixes.append("size=" + tuple(t.shape))
            if t.dtype != .float32 { suffixes.append("dtype=\(t.dtype)") }
            body = "..."
        } else if t.elementCount == 0 {
            if t.shape.count != 1 { suffixes.append("size=" + tuple(t.shape)) }
            if t.dtype != .float32 { suffixes.append("dtype=\(t.dtype)") }
            body = "[]"
        } else {
            if let q = t.quantization {
                suffixes.append("size=" + tuple(t.shape))
                suffixes.append("dtype=\(t.dtype)")
                suffixes.append("quantization_scheme=torch.\(q.qscheme)")
                if case .perTensorAffine(let scale, let zeroPoint) = q {
                    suffixes.append("scale=\(PythonRepr.float(scale))")
                    suffixes.append("zero_point=\(zeroPoint)")
                }
            } else if !defaultDType {
                suffixes.append("dtype=\(t.dtype)")
            }
            body = contents(t, indent: indent)
        }
        if t.requiresGrad { suffixes.append("requires_grad=True") }
        return addSuffixes(prefix + body, suffixes, indent: indent, forceNewline: t.layout == .sparseCOO)
    }

    /// `str(tuple(shape))`.
    package static func tuple(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    package static func addSuffixes(_ text: String, _ suffixes: [String], indent: Int, forceNewline: Bool) -> String {
        var out = text
        var force = forceNewline
        var lastLineLength: Int
        if let newline = text.lastIndex(of: "\n") {
            lastLineLength = text.distance(from: newline, to: text.endIndex) + 1
        } else {
            lastLineLength = text.count + 2
        }
        for suffix in suffixes {
            if force || lastLineLength + suffix.count + 2 > lineWidth {
                out += ",\n" + String(repeating: " ", count: indent) + suffix
                lastLineLength = indent + suffix.count
                force = false
            } else {
                out += ", " + suffix
                lastLineLength += suffix.count + 2
            }
        }
        return out + ")"
    }

    // MARK: Strided contents

    /// `_tensor_str`: the nested brackets of a strided tensor with elements.
    package static func contents(_ t: Tensor, indent: Int) -> String {
        let summarize = t.elementCount > threshold
        do {
            let shown = try Shown(t, summarize: summarize)
            switch shown.kind {
            case .complex:
                let real = Formatter(shown.values.map { if case .complex(let r, _) = $0 { .real(r) } else { $0 } }, floating: true)
                let imag = Formatter(shown.values.map { if case .complex(_, let i) = $0 { .real(i) } else { $0 } }, floating: true)
                return nested(shown, dims: t.shape, indent: indent, summarize: summarize, real, imag)
            case .floating:
                return nested(shown, dims: t.shape, indent: indent, summarize: summarize, Formatter(shown.values, floating: true), nil)
            case .other:
                return nested(shown, dims: t.shape, indent: indent, summarize: summarize, Formatter(shown.values, floating: false), nil)
            }
        } catch {
            return "<\(error)>"
        }
    }

    /// The elements the printout shows, in row-major order of the shown
    /// indices (all of them, or 3 at each edge of every dimension).
    package struct Shown {
        enum Kind { case floating, complex, other }
        let kind: Kind
        /// Per dimension, the indices shown.
        let indices: [[Int]]
        var values: [Scalar] = []

        init(_ t: Tensor, summarize: Bool) throws {
            kind = t.dtype.isComplex ? .complex : (t.dtype.isFloatingPoint || t.quantization != nil ? .floating : .other)
            indices = t.shape.map { size in
                summarize && size > 2 * TensorPrinter.edgeItems
                    ? Array(0..<TensorPrinter.edgeItems) + Array((size - TensorPrinter.edgeItems)..<size)
                    : Array(0..<size)
            }
            // The shown elements: the whole tensor read at once when it is small, otherwise element by element.
            let all = try TensorPrinter.read(t)
            var position = [Int](repeating: 0, count: t.shape.count)
            let strides = Tensor.contiguousStrides(t.shape)
            func visit(_ d: Int) throws {
                if d == t.shape.count {
                    var linear = 0
                    for (i, p) in position.enumerated() { linear += p * strides[i] }
                    values.append(try all(linear))
                    return
                }
                for i in indices[d] {
                    position[d] = i
                    try visit(d + 1)
                }
            }
            try visit(0)
        }
    }

    /// The element at a row-major index, with the conjugate and negative
    /// bits applied, for a tensor of at most a summarized size: the whole
    /// tensor when it has at most `threshold` elements, otherwise element by
    /// element through views.
    package static func read(_ t: Tensor) throws -> (Int) throws -> Scalar {
        if t.elementCount <= threshold {
            let values = try elements(of: t)
            return { values[$0] }
        }
        let shape = t.shape
        return { linear in
            var rest = linear
            var offset = t.storageOffset
            for d in shape.indices.reversed() where shape[d] > 0 {
                offset += (rest % shape[d]) * t.stride[d]
                rest /= shape[d]
            }
            let single = try t.view(shape: [], stride: [], storageOffset: offset)
            guard let value = try elements(of: single, bitsFrom: t).first else {
                throw TensorError("element \(linear) of the tensor could not be read")
            }
            return value
        }
    }

    /// Every element, row-major; `bitsFrom` gives the conjugate and negative
    /// bits (views made here do not carry them).
    package static func elements(of t: Tensor, bitsFrom source: Tensor? = nil) throws -> [Scalar] {
        let bits = source ?? t
        let negate = bits.isNegated && source != nil
        if t.dtype.isComplex {
            let conj = bits.isConjugated && source != nil
            return try t.complexScalars(expandedViewLimit: .max).map { c in
                var r = c.real, i = c.imag
                if negate { r = -r; i = -i }
                if conj { i = -i }
                return .complex(r, i)
            }
        }
        if let q = t.quantization {
            let ints: [Int64] = try t.scalars(expandedViewLimit: .max)
            switch q {
            case .perTensorAffine(let scale, let zeroPoint):
                return ints.map { .real(Double(Float($0 - Int64(zeroPoint)) * Float(scale))) }
            case .perChannelAffine(let scales, let zeroPoints, let axis, _):
                let s: [Double] = try scales.scalars(), z: [Double] = try zeroPoints.scalars()
                let inner = t.shape.dropFirst(axis + 1).reduce(1, *)
                let size = axis < t.shape.count ? t.shape[axis] : 1
                return ints.enumerated().map { i, v in
                    let c = (i / max(inner, 1)) % max(size, 1)
                    return .real(Double(Float((Double(v) - z[c]) * s[c])))
                }
            }
        }
        if t.dtype == .bool { return try t.scalars(as: Bool.self, expandedViewLimit: .max).map { .bool($0) } }
        if t.dtype.isFloatingPoint {
            return try t.scalars(as: Double.self, expandedViewLimit: .max).map { .real(negate ? -$0 : $0) }
        }
        if [.uint8, .uint16, .uint32, .uint64].contains(t.dtype) {
            return try t.scalars(as: UInt64.self, expandedViewLimit: .max).map { .unsigned($0) }
        }
        return try t.scalars(as: Int64.self, expandedViewLimit: .max).map { .signed(negate ? -$0 : $0) }
    }

    /// `_tensor_str_with_formatter` over the shown elements.
    package static func nested(_ shown: Shown, dims: [Int], indent: Int, summarize: Bool, _ first: Formatter, _ second: Formatter?) -> String {
        var next = 0
        func element() -> String {
            defer { next += 1 }
            let value = shown.values[next]
            if let second, case .complex(let r, let i) = value {
                let real = first.format(.real(r))
                let imag = second.format(.real(i)).drop { $0 == " " } + "j"
                return imag.first == "+" || imag.first == "-" ? real + imag : real + "+" + imag
            }
            return first.format(value)
        }
        func level(_ d: Int, _ indent: Int) -> String {
            if dims.isEmpty { return element() }
            let count = shown.indices[d].count
            let elided = count < dims[d]
            if d == dims.count - 1 {
                var elementLength = first.width + 2
                if let second { elementLength += second.width + 1 }
                let perLine = max(1, (lineWidth - indent) / elementLength)
                var data: [String] = []
                for i in 0..<count {
                    if elided && i == edgeItems { data.append(" ...") }
                    data.append(element())
                }
                var lines: [String] = []
                var i = 0
                while i < data.count {
                    lines.append(data[i..<min(i + perLine, data.count)].joined(separator: ", "))
                    i += perLine
                }
                return "[" + lines.joined(separator: ",\n" + String(repeating: " ", count: indent + 1)) + "]"
            }
            var slices: [String] = []
            for i in 0..<count {
                if elided && i == edgeItems { slices.append("...") }
                slices.append(level(d + 1, indent + 1))
            }
            let separator = "," + String(repeating: "\n", count: dims.count - d - 1) + String(repeating: " ", count: indent + 1)
            return "[" + slices.joined(separator: separator) + "]"
        }
        return level(0, indent)
    }

    /// `_Formatter`: the width and notation every element of a tensor shares.
    package struct Formatter {
        let floating: Bool
        var intMode = true
        var sciMode = false
        var width = 1

        init(_ values: [Scalar], floating: Bool) {
            self.floating = floating
            if !floating {
                for v in values { width = max(width, Self.plain(v).count) }
                return
            }
            let finite = values.compactMap { v -> Double? in
                if case .real(let d) = v, d.isFinite, d != 0 { return d }
                return nil
            }
            guard !finite.isEmpty else { return }
            let magnitudes = finite.map(\.magnitude)
            let low = magnitudes.min()!, high = magnitudes.max()!
            intMode = finite.allSatisfy { $0 == $0.rounded(.up) }
            sciMode = high / low > 1000 || high > 1e8 || low < 1e-4
            for d in finite {
                if sciMode {
                    width = max(width, TensorPrinter.printf("%.\(precision)e", d).count)
                } else if intMode {
                    width = max(width, TensorPrinter.printf("%.0f", d).count + 1)
                } else {
                    width = max(width, TensorPrinter.printf("%.\(precision)f", d).count)
                }
            }
        }

        static func plain(_ v: Scalar) -> String {
            switch v {
            case .real(let d): PythonRepr.float(d)
            case .signed(let i): String(i)
            case .unsigned(let u): String(u)
            case .bool(let b): b ? "True" : "False"
            case .complex(let r, let i): "\(r)+\(i)j"
            }
        }

        func format(_ v: Scalar) -> String {
            var text: String
            if floating, case .real(let d) = v {
                if sciMode {
                    text = TensorPrinter.printf("%.\(precision)e", d)
                } else if intMode {
                    text = TensorPrinter.printf("%.0f", d)
                    if d.isFinite { text += "." }
                } else {
                    text = TensorPrinter.printf("%.\(precision)f", d)
                }
            } else {
                text = Self.plain(v)
            }
            return text.count < width ? String(repeating: " ", count: width - text.count) + text : text
        }
    }

    /// Python's `format(value, spec)` for `.Nf`, `.Ne` and `.0f`: C's
    /// correctly rounded conversion, with Python's `inf` and `nan`.
    package static func printf(_ format: String, _ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        var buffer = [CChar](repeating: 0, count: 400)
        let count = withVaList([d]) { vsnprintf(&buffer, buffer.count, format, $0) }
        return String(decoding: buffer.prefix(Int(max(count, 0))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Sparse

    package static func sparseBody(_ t: Tensor, indent: Int) -> String {
        switch t.sparse {
        case .coo(let indices, let values, _)?:
            let i = contentsOrEmpty(indices, indent: indent + "indices=tensor(".count)
            let v = contentsOrEmpty(values, indent: indent + "values=tensor(".count)
            return "indices=tensor(\(i)),\n" + String(repeating: " ", count: indent) + "values=tensor(\(v))"
        case .compressed(let compressed, let plain, let values)?:
            let rows = t.layout == .sparseCSR || t.layout == .sparseBSR
            let c = rows ? "crow_indices" : "ccol_indices", p = rows ? "col_indices" : "row_indices"
            let pad = String(repeating: " ", count: indent)
            return "\(c)=tensor(\(contentsOrEmpty(compressed, indent: indent + c.count + 8))),\n"
                + pad + "\(p)=tensor(\(contentsOrEmpty(plain, indent: indent + p.count + 8))),\n"
                + pad + "values=tensor(\(contentsOrEmpty(values, indent: indent + 14)))"
        case nil:
            return "..."
        }
    }

    package static func contentsOrEmpty(_ t: Tensor, indent: Int) -> String {
        t.elementCount == 0 ? "[], size=" + tuple(t.shape) : contents(t, indent: indent)
    }
}

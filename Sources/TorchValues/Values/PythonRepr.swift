/// Python's `repr` of the values that can be dict keys or leaves, so listings
/// name keys exactly as PyTorch's do.
package enum PythonRepr {
    /// `repr(v)`; tensors as `tensor(dtype=…, shape=…)` (a listing's key) unless `tensor` says otherwise.
    package static func repr(_ v: Value, tensor: ((Tensor) -> String)? = nil) -> String {
        func repr(_ v: Value) -> String { PythonRepr.repr(v, tensor: tensor) }
        switch v {
        case .None: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .bigInt(let b): return b.description
        case .float(let d): return float(d)
        case .complex(let c): return complex(c)
        case .string(let s): return string(s)
        case .bytes(let b): return "b" + bytes(b)
        case .byteArray(let b): return "bytearray(b\(bytes(b)))"
        case .tuple(let t):
            if t.kind == .torchSize { return "torch.Size([\(t.items.map(repr).joined(separator: ", "))])" }
            if t.count == 1 { return "(\(repr(t.items[0])),)" }
            return "(\(t.items.map(repr).joined(separator: ", ")))"
        case .list(let l): return "[\(l.items.map(repr).joined(separator: ", "))]"
        case .set(let s):
            if s.count == 0 { return s.isFrozen ? "frozenset()" : "set()" }
            let body = "{\(s.items.map(repr).joined(separator: ", "))}"
            return s.isFrozen ? "frozenset(\(body))" : body
        case .dict(let d):
            let body = "{\(d.items.map { "\(repr($0)): \(repr($1))" }.joined(separator: ", "))}"
            switch d.kind {
            case .dict: return body
            case .orderedDict:
                // Python 3.11's OrderedDict.__repr__.
                return d.isEmpty ? "OrderedDict()" : "OrderedDict([\(d.items.map { "(\(repr($0)), \(repr($1)))" }.joined(separator: ", "))])"
            case .counter: return d.isEmpty ? "Counter()" : "Counter(\(body))"
            case .defaultDict(let factory): return "defaultdict(\(repr(factory)), \(body))"
            }
        case .dtype(let d): return "torch.\(d.name)"
        case .device(let d):
            return d.index.map { "device(type='\(d.type)', index=\($0))" } ?? "device(type='\(d.type)')"
        case .global(let g): return "<class '\(g.qualifiedName)'>"
        case .tensor(let t): return tensor?(t) ?? "tensor(dtype=torch.\(t.dtype.name), shape=\(t.shape))"
        case .storage(let s): return "<storage '\(s.key)'>"
        case .ndarray(let a): return "array(shape=\(a.shape))"
        case .numpyDType(let d): return "dtype('\(d.name)')"
        case .object(let o): return "<\(o.className) object>"
        }
    }

    /// `repr(float)`: the shortest text that reads back the same, in Python's
    /// layout (`1e-05`, `1e+16`, `100.0`, `inf`, `nan`).
    package static func float(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description is also the shortest round-trip text; take its
        // digits and decimal exponent and lay them out as Python does.
        let text = d.magnitude.description
        var digits = ""
        var exponent = 0
        var mantissa = Substring(text)
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            mantissa = text[..<e]
        }
        var pointPosition = mantissa.count
        if let dot = mantissa.firstIndex(of: ".") {
            pointPosition = mantissa.distance(from: mantissa.startIndex, to: dot)
        }
        digits = mantissa.filter { $0 != "." }
        // Normalise: strip leading zeros (moving the point), trailing zeros.
        while digits.first == "0" && digits.count > 1 {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.last == "0" && digits.count > 1 { digits.removeLast() }
        // Value = 0.digits × 10^(pointPosition + exponent); decimal exponent of first digit:
        let decimalExponent = pointPosition + exponent - 1
        let sign = d < 0 ? "-" : ""
        if decimalExponent < -4 || decimalExponent >= 16 {
            var m = String(digits.first!)
            if digits.count > 1 { m += "." + digits.dropFirst() }
            let e = abs(decimalExponent)
            return sign + m + "e" + (decimalExponent < 0 ? "-" : "+") + (e < 10 ? "0" : "") + String(e)
        }
        if decimalExponent < 0 {
            return sign + "0." + String(repeating: "0", count: -decimalExponent - 1) + digits
        }
        let intCount = decimalExponent + 1
        if digits.count <= intCount {
            return sign + digits + String(repeating: "0", count: intCount - digits.count) + ".0"
        }
        return sign + digits.prefix(intCount) + "." + digits.dropFirst(intCount)
    }

    package static func complex(_ c: Complex) -> String {
        func part(_ x: Double) -> String {
            let s = float(x)
            return s.hasSuffix(".0") ? String(s.dropLast(2)) : s
        }
        if c.real == 0 && c.real.sign == .plus { return part(c.imag) + "j" }
        let im = c.imag.sign == .minus || c.imag.isNaN ? part(c.imag) : "+" + part(c.imag)
        return "(\(part(c.real))\(im)j)"
    }

    /// `repr(str)`: single quotes unless the text has a single quote and no double quote.
    package static func string(_ s: String) -> String {
        let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for u in s.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where Character(u) == quote: out += "\\" + String(quote)
            case _ where u.value < 0x20 || u.value == 0x7F: out += "\\x" + hex(u.value, 2)
            case _ where u.value >= 0x80 && !isPrintable(u):
                out += u.value <= 0xFF ? "\\x" + hex(u.value, 2) : u.value <= 0xFFFF ? "\\u" + hex(u.value, 4) : "\\U" + hex(u.value, 8)
            default: out.unicodeScalars.append(u)
            }
        }
        out.append(quote)
        return out
    }

    package static func bytes(_ b: [UInt8]) -> String {
        let quote: UInt8 = b.contains(0x27) && !b.contains(0x22) ? 0x22 : 0x27
        var out = String(UnicodeScalar(quote))
        for c in b {
            switch c {
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case quote: out += "\\" + String(UnicodeScalar(quote))
            case 0x20..<0x7F: out.unicodeScalars.append(UnicodeScalar(c))
            default: out += "\\x" + hex(UInt32(c), 2)
            }
        }
        out += String(UnicodeScalar(quote))
        return out
    }

    private static func hex(_ v: UInt32, _ width: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// Python's `str.isprintable` for non-ASCII: not a control, separator (other
    /// than space) or unassigned code point.
    private static func isPrintable(_ u: Unicode.Scalar) -> Bool {
        switch u.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }
}

extension Value {
    /// The value as Python's `repr` prints it (for the values Python can print
    /// without their class's code; others get a descriptive placeholder).
    public var pythonRepr: String { PythonRepr.repr(self) }
}

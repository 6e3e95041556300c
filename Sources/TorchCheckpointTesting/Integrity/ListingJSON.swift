/// A JSON value, as Python's `json` module reads it, for comparing listings
/// by tools/compare_listing.py's rule.
indirect enum ListingJSON: Decodable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([ListingJSON])
    case object([String: ListingJSON])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([ListingJSON].self) { self = .array(a) }
        else { self = .object(try c.decode([String: ListingJSON].self)) }
    }

    /// compare_listing.py's `_equal`: objects key by key (the values under
    /// `"float"` as numbers, nan equal to nan), arrays item by item, numbers
    /// by value (1 equals 1.0), bools only to bools.
    static func equal(_ a: ListingJSON, _ b: ListingJSON, key: String? = nil) -> Bool {
        if key == "float" { return floatsEqual(a, b) }
        switch (a, b) {
        case (.object(let x), .object(let y)):
            return Set(x.keys) == Set(y.keys) && x.allSatisfy { k, v in y[k].map { equal(v, $0, key: k) } ?? false }
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.bool(let x), .bool(let y)): return x == y
        case (.bool, _), (_, .bool): return false
        case (.int(let x), .int(let y)): return x == y
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y && Double(exactly: x) != nil
        case (.double(let x), .double(let y)): return x == y
        default: return a == b
        }
    }

    /// `_floats_equal`: both read as floats (text or number, not a bool); nan equal to nan.
    static func floatsEqual(_ a: ListingJSON, _ b: ListingJSON) -> Bool {
        func value(_ v: ListingJSON) -> Double? {
            switch v {
            case .string(let s): Self.pythonFloat(s)
            case .int(let i): Double(i)
            case .double(let d): d
            default: nil
            }
        }
        guard let x = value(a), let y = value(b) else { return false }
        return x.isNaN || y.isNaN ? x.isNaN && y.isNaN : x == y
    }

    /// Python's `float(text)` for the texts listings write (`1e-05`, `inf`, `-nan`).
    static func pythonFloat(_ text: String) -> Double? {
        let t = text.trimmingSpaces.lowercased()
        switch t {
        case "inf", "+inf", "infinity", "+infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        case "nan", "+nan", "-nan": return .nan
        default: return Double(t)
        }
    }

    /// `json.dumps(value, ensure_ascii=False, sort_keys=True)`.
    var pythonText: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d):
            return d.isNaN ? "NaN" : d.isInfinite ? (d < 0 ? "-Infinity" : "Infinity") : PythonText.float(d)
        case .string(let s): return Self.quoted(s)
        case .array(let a): return "[" + a.map(\.pythonText).joined(separator: ", ") + "]"
        case .object(let o):
            return "{" + o.sorted { PythonText.precedes($0.key, $1.key) }.map { "\(Self.quoted($0.key)): \($0.value.pythonText)" }
                .joined(separator: ", ") + "}"
        }
    }

    /// A JSON string as Python's json writes it with `ensure_ascii=False`.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where u.value < 0x20:
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

extension String {
    /// The text without leading and trailing spaces (as Python's `float()` ignores them).
    var trimmingSpaces: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}

extension Listing {
    /// The listing as JSON text (LISTING.md): an array with one object per entry.
    public static func json(_ entries: [Entry]) -> String {
        var out = "[\n"
        for (i, entry) in entries.enumerated() {
            out += " {\"path\": ["
            out += entry.path.map { key in
                switch key {
                case .key(let s): JSON.string(s)
                case .index(let n): String(n)
                }
            }.joined(separator: ", ")
            out += "], "
            switch entry.content {
            case .tensor(let r): out += "\"tensor\": " + tensorJSON(r)
            case .value(let v): out += "\"value\": " + valueJSON(v)
            }
            out += i == entries.count - 1 ? "}\n" : "},\n"
        }
        out += "]\n"
        return out
    }

    static func tensorJSON(_ r: TensorRecord) -> String {
        var fields: [(String, String)] = [
            ("dtype", JSON.string(r.dtype.name)),
            ("shape", "[" + r.shape.map(String.init).joined(separator: ", ") + "]"),
        ]
        if r.isQuantized { fields.append(("quantized", "true")) }
        if let layout = r.layout { fields.append(("layout", JSON.string(layout))) }
        if let device = r.device { fields.append(("device", JSON.string(device))) }
        if let stride = r.stride { fields.append(("stride", "[" + stride.map(String.init).joined(separator: ", ") + "]")) }
        if let o = r.storageOffset { fields.append(("storage_offset", String(o))) }
        if let g = r.requiresGrad { fields.append(("requires_grad", g ? "true" : "false")) }
        if let p = r.isParameter { fields.append(("parameter", p ? "true" : "false")) }
        if let h = r.sha256 { fields.append(("sha256", JSON.string(h))) }
        if let why = r.unhashed { fields.append(("unhashed", JSON.string(why))) }
        return "{" + fields.map { "\(JSON.string($0)): \($1)" }.joined(separator: ", ") + "}"
    }

    static func valueJSON(_ v: Value) -> String {
        switch v {
        case .None: return "{\"none\": true}"
        case .bool(let b): return "{\"bool\": \(b)}"
        case .int, .bigInt: return "{\"int\": \(JSON.string(v.integerDescription ?? "0"))}"
        case .float(let d): return "{\"float\": \(JSON.string(PythonRepr.float(d)))}"
        case .string(let s): return "{\"str\": \(JSON.string(s))}"
        case .bytes(let b), .byteArray(let b):
            let digest = SHA256.hash(data: b).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            return "{\"bytes_sha256\": \(JSON.string(digest)), \"len\": \(b.count)}"
        default:
            return "{\"repr\": \(JSON.string(PythonRepr.repr(v)))}"
        }
    }
}

/// Minimal JSON text helpers.
enum JSON {
    /// A JSON string literal (non-ASCII written as `\u` escapes, as Python's json does).
    static func string(_ s: String) -> String {
        var out = "\""
        for u in s.utf16 {
            switch u {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(u)))
            default:
                let h = String(u, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            }
        }
        return out + "\""
    }
}

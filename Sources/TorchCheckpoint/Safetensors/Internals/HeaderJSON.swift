/// A JSON value from a safetensors header, with the byte offset where it starts.
///
/// Objects keep their members in file order, duplicates included: what a
/// duplicate means is decided by the schema (``HeaderSchema``), as serde does.
struct HeaderJSON {
    /// One `"key": value` member of an object.
    struct Member {
        let key: String
        /// The file offset of the key's opening quote.
        let keyOffset: Int
        let value: HeaderJSON
    }

    /// The value, with numbers classified as serde_json classifies them.
    enum Kind {
        case object([Member])
        case array([HeaderJSON])
        case string(String)
        /// A non-negative integer literal that fits in 64 bits.
        case unsigned(UInt64)
        /// A negative integer literal that fits in 64 bits (`-0` is a float, as in serde_json).
        case negative(Int64)
        /// A literal with a fraction or exponent, or an integer too large for 64 bits.
        case float(Double)
        case bool(Bool)
        case null
    }

    let kind: Kind
    /// The file offset of the value's first byte.
    let offset: Int

    /// How serde names the value in "invalid type" messages.
    var serdeDescription: String {
        switch kind {
        case .object: "map"
        case .array: "sequence"
        case .string(let s): "string \"\(s)\""
        case .unsigned(let u): "integer `\(u)`"
        case .negative(let i): "integer `\(i)`"
        case .float(let d): "floating point `\(d)`"
        case .bool(let b): "boolean `\(b)`"
        case .null: "null"
        }
    }
}

/// A strict JSON parser with serde_json's rules: RFC 8259 syntax only (no
/// trailing commas, comments, leading zeros, NaN), whitespace limited to
/// space, tab, line feed and carriage return, strings without raw control
/// characters and with paired surrogate escapes, finite numbers, and
/// at most 127 nested arrays and objects (serde_json's recursion limit).
///
/// The input must already be valid UTF-8. Errors are
/// ``SafetensorsError/Code/invalidHeaderJSON`` with the file offset.
struct HeaderJSONParser {
    /// serde_json's recursion limit: 128 levels are refused, 127 accepted.
    static let maximumDepth = 127

    private let bytes: UnsafeRawBufferPointer
    /// The file offset of `bytes[0]`.
    private let base: Int
    private var index = 0
    private var depth = 0

    /// Parses one JSON value that fills `bytes` (surrounding whitespace allowed).
    ///
    /// - Parameters:
    ///   - bytes: The header text, valid UTF-8.
    ///   - base: The file offset of its first byte, for messages.
    static func parse(_ bytes: UnsafeRawBufferPointer, base: Int) throws(SafetensorsError) -> HeaderJSON {
        var parser = HeaderJSONParser(bytes: bytes, base: base)
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        guard parser.index == bytes.count else {
            throw parser.failure("trailing characters")
        }
        return value
    }

    private init(bytes: UnsafeRawBufferPointer, base: Int) {
        self.bytes = bytes
        self.base = base
    }

    private func failure(_ what: String, at position: Int? = nil) -> SafetensorsError {
        SafetensorsError(.invalidHeaderJSON, "invalid JSON in header: \(what)", offset: base + (position ?? index))
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let c = current, c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D {
            index += 1
        }
    }

    private mutating func parseValue() throws(SafetensorsError) -> HeaderJSON {
        guard let c = current else { throw failure("EOF while parsing a value") }
        let start = index
        switch c {
        case UInt8(ascii: "{"): return HeaderJSON(kind: try parseObject(), offset: start)
        case UInt8(ascii: "["): return HeaderJSON(kind: try parseArray(), offset: start)
        case UInt8(ascii: "\""): return HeaderJSON(kind: .string(try parseString()), offset: start)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return HeaderJSON(kind: try parseNumber(), offset: start)
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return HeaderJSON(kind: .bool(true), offset: start)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return HeaderJSON(kind: .bool(false), offset: start)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return HeaderJSON(kind: .null, offset: start)
        default:
            throw failure("expected value")
        }
    }

    private mutating func expectLiteral(_ word: StaticString) throws(SafetensorsError) {
        let text = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        for expected in text {
            guard let c = current else { throw failure("EOF while parsing a value") }
            guard c == expected else { throw failure("expected ident") }
            index += 1
        }
    }

    private mutating func enter() throws(SafetensorsError) {
        depth += 1
        if depth > Self.maximumDepth {
            throw failure("recursion limit exceeded")
        }
    }

    private mutating func parseObject() throws(SafetensorsError) -> HeaderJSON.Kind {
        try enter()
        index += 1  // {
        var members: [HeaderJSON.Member] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(members)
        }
        while true {
            guard let c = current else { throw failure("EOF while parsing an object") }
            guard c == UInt8(ascii: "\"") else { throw failure("key must be a string") }
            let keyOffset = base + index
            let key = try parseString()
            skipWhitespace()
            guard let colon = current else { throw failure("EOF while parsing an object") }
            guard colon == UInt8(ascii: ":") else { throw failure("expected `:`") }
            index += 1
            skipWhitespace()
            let value = try parseValue()
            members.append(HeaderJSON.Member(key: key, keyOffset: keyOffset, value: value))
            skipWhitespace()
            guard let next = current else { throw failure("EOF while parsing an object") }
            if next == UInt8(ascii: ",") {
                index += 1
                skipWhitespace()
                if current == UInt8(ascii: "}") { throw failure("trailing comma") }
            } else if next == UInt8(ascii: "}") {
                index += 1
                depth -= 1
                return .object(members)
            } else {
                throw failure("expected `,` or `}`")
            }
        }
    }

    private mutating func parseArray() throws(SafetensorsError) -> HeaderJSON.Kind {
        try enter()
        index += 1  // [
        var items: [HeaderJSON] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array(items)
        }
        while true {
            items.append(try parseValue())
            skipWhitespace()
            guard let next = current else { throw failure("EOF while parsing a list") }
            if next == UInt8(ascii: ",") {
                index += 1
                skipWhitespace()
                if current == UInt8(ascii: "]") { throw failure("trailing comma") }
            } else if next == UInt8(ascii: "]") {
                index += 1
                depth -= 1
                return .array(items)
            } else {
                throw failure("expected `,` or `]`")
            }
        }
    }

    /// Parses a string starting at its opening quote.
    private mutating func parseString() throws(SafetensorsError) -> String {
        index += 1  // "
        let start = index
        // Fast path: no escapes, so the bytes are the string.
        while let c = current, c != UInt8(ascii: "\""), c != UInt8(ascii: "\\") {
            guard c >= 0x20 else { throw failure("control character (\\u0000-\\u001F) found while parsing a string") }
            index += 1
        }
        guard let stop = current else { throw failure("EOF while parsing a string") }
        if stop == UInt8(ascii: "\"") {
            index += 1
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<(index - 1)]), as: UTF8.self)
        }
        var text = Array(bytes[start..<index])
        while true {
            guard let c = current else { throw failure("EOF while parsing a string") }
            switch c {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: text, as: UTF8.self)
            case UInt8(ascii: "\\"):
                index += 1
                try parseEscape(into: &text)
            case 0..<0x20:
                throw failure("control character (\\u0000-\\u001F) found while parsing a string")
            default:
                text.append(c)
                index += 1
            }
        }
    }

    /// Parses the escape after a backslash and appends its UTF-8 bytes.
    private mutating func parseEscape(into text: inout [UInt8]) throws(SafetensorsError) {
        guard let c = current else { throw failure("EOF while parsing a string") }
        index += 1
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(c)
        case UInt8(ascii: "b"): text.append(0x08)
        case UInt8(ascii: "f"): text.append(0x0C)
        case UInt8(ascii: "n"): text.append(0x0A)
        case UInt8(ascii: "r"): text.append(0x0D)
        case UInt8(ascii: "t"): text.append(0x09)
        case UInt8(ascii: "u"):
            let first = try parseHex4()
            var scalar: UInt32
            switch first {
            case 0xD800...0xDBFF:
                guard current == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                    throw failure("unexpected end of hex escape")
                }
                index += 2
                let second = try parseHex4()
                guard (0xDC00...0xDFFF).contains(second) else {
                    throw failure("lone leading surrogate in hex escape")
                }
                scalar = 0x10000 + ((UInt32(first) - 0xD800) << 10) + (UInt32(second) - 0xDC00)
            case 0xDC00...0xDFFF:
                throw failure("lone leading surrogate in hex escape")
            default:
                scalar = UInt32(first)
            }
            // Valid by construction: not a surrogate, at most 0x10FFFF.
            guard let unicode = Unicode.Scalar(scalar) else { throw failure("invalid unicode code point") }
            text.append(contentsOf: Array(String(Character(unicode)).utf8))
        default:
            throw failure("invalid escape", at: index - 1)
        }
    }

    private mutating func parseHex4() throws(SafetensorsError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let c = current else { throw failure("EOF while parsing a string") }
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: throw failure("invalid escape")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    /// Parses a number as serde_json does: integers that fit in 64 bits stay
    /// integers; anything else becomes a `Double`, and one that overflows to
    /// infinity is an error.
    private mutating func parseNumber() throws(SafetensorsError) -> HeaderJSON.Kind {
        let start = index
        let negative = current == UInt8(ascii: "-")
        if negative { index += 1 }
        guard let first = current else { throw failure("EOF while parsing a value") }
        guard Self.isDigit(first) else { throw failure("invalid number") }
        index += 1
        if first == UInt8(ascii: "0") {
            if let c = current, Self.isDigit(c) { throw failure("invalid number") }
        } else {
            while let c = current, Self.isDigit(c) { index += 1 }
        }
        let integerEnd = index
        var isFloat = false
        if current == UInt8(ascii: ".") {
            isFloat = true
            index += 1
            guard let c = current, Self.isDigit(c) else { throw failure("invalid number") }
            while let c = current, Self.isDigit(c) { index += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            isFloat = true
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard let c = current, Self.isDigit(c) else { throw failure("invalid number") }
            while let c = current, Self.isDigit(c) { index += 1 }
        }
        if !isFloat {
            var magnitude: UInt64 = 0
            var overflow = false
            for i in (negative ? start + 1 : start)..<integerEnd {
                let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(UInt64(bytes[i] - UInt8(ascii: "0")))
                if o1 || o2 {
                    overflow = true
                    break
                }
                magnitude = s
            }
            if !overflow {
                if !negative { return .unsigned(magnitude) }
                // serde_json turns `-0` and integers below Int64.min into floats.
                if magnitude != 0 && magnitude <= UInt64(Int64.max) + 1 {
                    return .negative(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
                }
            }
        }
        let literal = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(literal), value.isFinite else {
            throw failure("number out of range", at: start)
        }
        return .float(value)
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
}

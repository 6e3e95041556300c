/// A Python `int` of any size, kept exactly.
///
/// Pickles write large integers as little-endian two's complement bytes
/// (`LONG1`, `LONG4`) or as decimal text (`LONG`, `INT`); both round-trip
/// through this type without loss. Values that fit in `Int` are normally held
/// as ``Value/int(_:)`` instead: use ``Value/integer(_:)`` to get the right case.
public struct PythonInt: Sendable, Hashable, CustomStringConvertible {
    /// `true` when the value is below zero.
    public let isNegative: Bool
    /// The magnitude as base-2³² digits, least significant first, without leading zeros.
    package let magnitude: [UInt32]

    private init(isNegative: Bool, magnitude: [UInt32]) {
        var m = magnitude
        while m.last == 0 { m.removeLast() }
        self.magnitude = m
        self.isNegative = m.isEmpty ? false : isNegative
    }

    /// Creates the value of a machine integer.
    public init(_ value: Int) {
        let mag = value.magnitude
        self.init(isNegative: value < 0, magnitude: [UInt32(truncatingIfNeeded: mag), UInt32(truncatingIfNeeded: mag >> 32)])
    }

    /// Creates the value of an integral, finite `Double`.
    public init(exactly value: Double) {
        precondition(value.isFinite && value.rounded() == value)
        var mag = value.magnitude
        var digits: [UInt32] = []
        while mag >= 1 {
            let digit = mag.truncatingRemainder(dividingBy: 4_294_967_296)
            digits.append(UInt32(digit))
            mag = (mag - digit) / 4_294_967_296
        }
        self.init(isNegative: value < 0, magnitude: digits)
    }

    /// Decodes little-endian two's complement bytes, as `LONG1`/`LONG4` store them
    /// (`pickle.decode_long`). No bytes is zero.
    public init<Bytes: Collection>(twosComplement bytes: Bytes) where Bytes.Element == UInt8 {
        guard let last = bytes.reversed().first else {
            self.init(isNegative: false, magnitude: [])
            return
        }
        let negative = last & 0x80 != 0
        var digits = [UInt32](repeating: 0, count: (bytes.count + 3) / 4)
        for (i, byte) in bytes.enumerated() {
            digits[i / 4] |= UInt32(negative ? ~byte : byte) << (8 * (i % 4))
        }
        if negative {
            // The bytes past the end of the input are sign extension: ~0xff = 0.
            // Magnitude of a negative number is ~x + 1.
            var carry: UInt64 = 1
            for i in digits.indices {
                let sum = UInt64(digits[i]) + carry
                digits[i] = UInt32(truncatingIfNeeded: sum)
                carry = sum >> 32
            }
            if carry != 0 { digits.append(UInt32(carry)) }
        }
        self.init(isNegative: negative, magnitude: digits)
    }

    /// The most digits accepted in decimal text, as CPython's default
    /// `sys.int_info.default_max_str_digits`: longer text would take
    /// quadratic time, so CPython refuses it too.
    public static let maxDecimalDigits = 4300

    /// Parses decimal text with an optional sign (`INT` and `LONG` opcodes);
    /// nil when the text is not an integer or has too many digits.
    public init?(decimal text: Substring) {
        var s = text
        var negative = false
        if s.first == "-" || s.first == "+" {
            negative = s.first == "-"
            s = s.dropFirst()
        }
        guard !s.isEmpty, s.count <= Self.maxDecimalDigits, s.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        var digits: [UInt32] = []
        var chunkStart = s.startIndex
        // Multiply-add nine decimal digits at a time.
        let firstChunk = s.count % 9 == 0 ? 9 : s.count % 9
        var chunkEnd = s.index(chunkStart, offsetBy: firstChunk)
        while chunkStart < s.endIndex {
            guard let chunk = UInt64(s[chunkStart..<chunkEnd]) else { return nil }
            let scale = Self.pow10(s.distance(from: chunkStart, to: chunkEnd))
            var carry = chunk
            for i in digits.indices {
                let v = UInt64(digits[i]) * scale + carry
                digits[i] = UInt32(truncatingIfNeeded: v)
                carry = v >> 32
            }
            while carry != 0 {
                digits.append(UInt32(truncatingIfNeeded: carry))
                carry >>= 32
            }
            chunkStart = chunkEnd
            chunkEnd = s.index(chunkStart, offsetBy: 9, limitedBy: s.endIndex) ?? s.endIndex
        }
        self.init(isNegative: negative, magnitude: digits)
    }

    private static func pow10(_ n: Int) -> UInt64 {
        var r: UInt64 = 1
        for _ in 0..<n { r *= 10 }
        return r
    }

    /// The value as `Int`, when it fits.
    public var exactInt: Int? {
        guard magnitude.count <= 2 else { return nil }
        var mag: UInt64 = 0
        for (i, d) in magnitude.enumerated() { mag |= UInt64(d) << (32 * i) }
        if isNegative {
            if mag == UInt64(Int.max) + 1 { return Int.min }
            return mag <= UInt64(Int.max) ? -Int(mag) : nil
        }
        return mag <= UInt64(Int.max) ? Int(mag) : nil
    }

    /// The nearest `Double` (infinite beyond its range).
    public var doubleValue: Double {
        var d = 0.0
        for digit in magnitude.reversed() { d = d * 4_294_967_296 + Double(digit) }
        return isNegative ? -d : d
    }

    /// The number of bits of the magnitude, as Python's `int.bit_length()`.
    public var bitLength: Int {
        guard let top = magnitude.last else { return 0 }
        return (magnitude.count - 1) * 32 + (32 - top.leadingZeroBitCount)
    }

    /// The shortest little-endian two's complement bytes, as CPython's
    /// `pickle.encode_long` writes them for `LONG1` and `LONG4`.
    public var twosComplementBytes: [UInt8] {
        if magnitude.isEmpty { return [] }
        let count = bitLength / 8 + 1
        var bytes = [UInt8](repeating: 0, count: count)
        for i in 0..<count where i / 4 < magnitude.count {
            bytes[i] = UInt8(truncatingIfNeeded: magnitude[i / 4] >> (8 * (i % 4)))
        }
        if isNegative {
            var carry: UInt16 = 1
            for i in bytes.indices {
                let v = UInt16(~bytes[i]) + carry
                bytes[i] = UInt8(truncatingIfNeeded: v)
                carry = v >> 8
            }
            if bytes.count > 1, bytes[bytes.count - 1] == 0xff, bytes[bytes.count - 2] & 0x80 != 0 {
                bytes.removeLast()
            }
        }
        return bytes
    }

    /// Decimal text, as Python's `str(int)` prints it.
    public var description: String {
        if magnitude.isEmpty { return "0" }
        var digits = magnitude
        var chunks: [UInt32] = []
        // Repeated division by 10^9.
        while !digits.isEmpty {
            var remainder: UInt64 = 0
            for i in digits.indices.reversed() {
                let v = (remainder << 32) | UInt64(digits[i])
                digits[i] = UInt32(v / 1_000_000_000)
                remainder = v % 1_000_000_000
            }
            chunks.append(UInt32(remainder))
            while digits.last == 0 { digits.removeLast() }
        }
        var text = isNegative ? "-" : ""
        text += String(chunks.removeLast())
        for chunk in chunks.reversed() {
            let s = String(chunk)
            text += String(repeating: "0", count: 9 - s.count) + s
        }
        return text
    }
}

extension Value {
    /// An integer value in its canonical case: ``Value/int(_:)`` when it fits
    /// in `Int`, ``Value/bigInt(_:)`` otherwise.
    public static func integer(_ value: PythonInt) -> Value {
        if let i = value.exactInt { return .int(i) }
        return .bigInt(value)
    }

    /// The integer as decimal text, for an `int` of any size (or a `bool`).
    public var integerDescription: String? {
        switch self {
        case .int(let i): String(i)
        case .bigInt(let b): b.description
        case .bool(let b): b ? "1" : "0"
        default: nil
        }
    }
}

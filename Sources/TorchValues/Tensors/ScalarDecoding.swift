/// Decoding of PyTorch's narrow floating-point formats to `Float`.
///
/// Written out bit by bit (not with `Float16`, which macOS on Intel lacks) so
/// every platform decodes identically.
package enum ScalarDecoding {
    /// IEEE binary16.
    package static func float16(_ bits: UInt16) -> Float {
        let sign: UInt32 = UInt32(bits & 0x8000) << 16
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            // Zero or subnormal: mantissa × 2⁻²⁴.
            let v = Float(mantissa) * 0x1p-24
            return sign != 0 ? -v : v
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }

    /// bfloat16: the upper half of a binary32.
    package static func bfloat16(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// An 8-bit float with the given layout.
    /// - `fn`: finite only, NaN is all ones (e4m3fn).
    /// - `fnuz`: finite only, no negative zero, NaN is 0x80.
    package static func minifloat(_ byte: UInt8, exponentBits: Int, mantissaBits: Int, bias: Int, kind: Kind) -> Float {
        let sign = byte >> 7 != 0
        let exponent = Int(byte >> mantissaBits) & ((1 << exponentBits) - 1)
        let mantissa = Int(byte) & ((1 << mantissaBits) - 1)
        let maxExponent = (1 << exponentBits) - 1
        switch kind {
        case .ieee:
            if exponent == maxExponent { return mantissa == 0 ? (sign ? -.infinity : .infinity) : .nan }
        case .finite:
            if exponent == maxExponent && mantissa == (1 << mantissaBits) - 1 { return .nan }
        case .finiteUnsignedZero:
            if byte == 0x80 { return .nan }
        }
        let magnitude: Float
        if exponent == 0 {
            magnitude = Float(mantissa) * Float(sign: .plus, exponent: 1 - bias - mantissaBits, significand: 1)
        } else {
            magnitude = (1 + Float(mantissa) / Float(1 << mantissaBits)) * Float(sign: .plus, exponent: exponent - bias, significand: 1)
        }
        return sign ? -magnitude : magnitude
    }

    package enum Kind { case ieee, finite, finiteUnsignedZero }

    package static let e5m2 = table { minifloat($0, exponentBits: 5, mantissaBits: 2, bias: 15, kind: .ieee) }
    package static let e4m3fn = table { minifloat($0, exponentBits: 4, mantissaBits: 3, bias: 7, kind: .finite) }
    package static let e5m2fnuz = table { minifloat($0, exponentBits: 5, mantissaBits: 2, bias: 16, kind: .finiteUnsignedZero) }
    package static let e4m3fnuz = table { minifloat($0, exponentBits: 4, mantissaBits: 3, bias: 8, kind: .finiteUnsignedZero) }
    /// e8m0fnu: an unsigned power of two, 2^(e − 127); 0xFF is NaN.
    package static let e8m0fnu = table { $0 == 0xFF ? .nan : Float(sign: .plus, exponent: Int($0) - 127, significand: 1) }

    private static func table(_ f: (UInt8) -> Float) -> [Float] { (0...255).map { f(UInt8($0)) } }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import TorchCheckpoint

/// Numbers, tuples and names as Python prints them, so that reports read
/// exactly as `torch.testing.assert_close`'s messages do.
enum PythonText {
    /// `repr(float)`: `0.5`, `1e-05`, `inf`, `nan`.
    static func float(_ x: Double) -> String { Value.float(x).pythonRepr }

    /// `repr(complex)`: `(1+2j)`, `3j`.
    static func complex(_ real: Double, _ imag: Double) -> String { Value.complex(Complex(real: real, imag: imag)).pythonRepr }

    /// `repr(str)`: `'fc.weight'`.
    static func string(_ s: String) -> String { Value.string(s).pythonRepr }

    /// A tuple of ints: `(1, 2)`, `(3,)`, `()`.
    static func tuple(_ values: [Int]) -> String {
        values.count == 1 ? "(\(values[0]),)" : "(" + values.map(String.init).joined(separator: ", ") + ")"
    }

    /// `torch.Size([2, 3])`.
    static func size(_ shape: [Int]) -> String {
        "torch.Size([" + shape.map(String.init).joined(separator: ", ") + "])"
    }

    /// `f"{ratio:.1%}"`: the ratio times 100 with one decimal, correctly
    /// rounded (half to even on the exact binary value, as CPython and C's
    /// printf both round), then `%`.
    static func percent(_ count: Int, of total: Int) -> String {
        let ratio = Double(count) / Double(total)
        return fixed(ratio * 100, decimals: 1) + "%"
    }

    /// `format(x, '.Nf')`, through C's `snprintf`.
    static func fixed(_ x: Double, decimals: Int) -> String {
        var buffer = [CChar](repeating: 0, count: 400)
        let count = buffer.count
        let written = buffer.withUnsafeMutableBufferPointer { out in
            withVaList([Int32(decimals), x]) { vsnprintf(out.baseAddress, count, "%.*f", $0) }
        }
        let length = max(0, min(Int(written), count - 1))
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The row-major index of element `linear` of a tensor of `shape`
    /// (torch's `unravel_flat_index`).
    static func unravel(_ linear: Int, in shape: [Int]) -> [Int] { ElementComparison.index(linear, in: shape) }

    /// Python's `<` on two `str`: by code point, without normalising.
    static func precedes(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
    }

    /// `str(type(x))` for a value: `<class 'torch.Tensor'>`, `<class 'int'>`.
    static func className(_ value: Value) -> String {
        let name: String
        switch value {
        case .tensor(let t): name = t.isParameter ? "torch.nn.parameter.Parameter" : "torch.Tensor"
        case .dict(let d): name = d.kind == .dict ? "dict" : "collections.\(d.kind.pythonName)"
        case .tuple(let t): name = t.kind == .torchSize ? "torch.Size" : "tuple"
        case .dtype: name = "torch.dtype"
        case .device: name = "torch.device"
        case .storage: name = "torch.storage.UntypedStorage"
        case .ndarray(let a): name = a.isScalar ? "numpy.generic" : "numpy.ndarray"
        case .numpyDType: name = "numpy.dtype"
        default: name = value.typeName
        }
        return "<class '\(name)'>"
    }
}

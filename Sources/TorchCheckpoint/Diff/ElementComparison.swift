#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Compares the elements of two tensors of one dtype and shape, streaming
/// both in blocks of at most `blockElements` elements, so that neither tensor
/// is ever held in memory whole.
package struct ElementComparison {
    let tolerance: CheckpointDiff.Tolerance
    let blockElements: Int
    /// The most logical bytes to compare where both tensors are views larger
    /// than their storage (and the comparison cannot collapse their repeats).
    var expandedViewLimit = Tensor.defaultExpandedViewLimit

    /// The accumulated statistics.
    private struct Tally {
        var maxAbs = 0.0
        var maxRel = 0.0
        var mismatches = 0
        var first: Int?

        mutating func record(difference d: Double, magnitude: Double, bIsZero: Bool, close: Bool, at index: Int) {
            maxAbs = max(maxAbs, d)
            if !bIsZero { maxRel = max(maxRel, d.isFinite ? d / magnitude : .infinity) }
            if !close {
                mismatches += 1
                if first == nil { first = index }
            }
        }
    }

    /// How a dtype's elements are compared.
    private enum Arithmetic {
        case floating, complex, signed, unsigned, bits
    }

    private static func arithmetic(_ dtype: DType) -> Arithmetic {
        switch dtype {
        case .float64, .float32, .float16, .bfloat16, .float8_e5m2, .float8_e4m3fn, .float8_e5m2fnuz,
             .float8_e4m3fnuz, .float8_e8m0fnu: .floating
        case .complex32, .complex64, .complex128, .bcomplex32: .complex
        case .int8, .int16, .int32, .int64, .qint8, .qint32: .signed
        case .uint8, .uint16, .uint32, .uint64, .bool, .quint8: .unsigned
        default: .bits
        }
    }

    /// Compares two strided tensors with data, of one dtype and shape.
    /// Returns the statistics, or a reason the values cannot be compared
    /// (types without arithmetic whose bits differ).
    func compare(_ a: Tensor, _ b: Tensor, path: [PathKey], compared: String?) throws -> Result<TensorComparison, NotComparable> {
        if a.dtype.elementsPerByte > 1 { return .success(try comparePacked(a, b, path: path)) }
        let kind = Self.arithmetic(a.dtype)
        var tally = Tally()
        var repeats = 1
        // The shape the row-major indices of differences refer to.
        var compareShape = a.shape
        if try !Self.identicalBytes(a, b) {
            // Dimensions both tensors repeat (stride 0 in each, as expand makes
            // them) hold the same elements at every index: compare one of each,
            // exactly, and count each difference as often as it repeats.
            var ca = a, cb = b
            if let collapsed = try Self.collapsingRepeats(a, b) { (ca, cb, repeats) = collapsed }
            compareShape = ca.shape
            if ca.isExpandedView && cb.isExpandedView {
                // Neither file holds these elements: the work is the logical size.
                do {
                    try ca.checkExpandedView(limit: expandedViewLimit, option: "expandedViewLimit")
                    try cb.checkExpandedView(limit: expandedViewLimit, option: "expandedViewLimit")
                } catch {
                    return .failure(NotComparable(reason: "not compared: \(error)"))
                }
            }
            try forEachBlockPair(ca, cb) { x, y, start in
                switch kind {
                case .floating: try compareFloating(x, y, a, b, start, &tally)
                case .complex: try compareComplex(x, y, a, b, start, &tally)
                case .signed: try compareIntegers(x.scalars(as: Int64.self), y.scalars(as: Int64.self), start, &tally)
                case .unsigned: try compareIntegers(x.scalars(as: UInt64.self), y.scalars(as: UInt64.self), start, &tally)
                case .bits: try compareBits(x, y, start, &tally)
                }
            }
        }
        tally.mismatches = tally.mismatches.multipliedReportingOverflow(by: repeats).overflow ? .max : tally.mismatches * repeats
        if kind == .bits && tally.mismatches > 0 {
            let first = Self.index(tally.first ?? 0, in: compareShape)
            return .failure(NotComparable(reason: "\(a.dtype.name) elements have no arithmetic: \(tally.mismatches) of \(a.elementCount) differ bit for bit, the first at \(first)"))
        }
        return .success(TensorComparison(
            path: path, dtype: a.dtype.integerRepresentation ?? a.dtype, shape: a.shape, elementCount: a.elementCount,
            maxAbsoluteDifference: tally.maxAbs, maxRelativeDifference: tally.maxRel, mismatchCount: tally.mismatches,
            firstMismatch: tally.first.map { Self.index($0, in: compareShape) }, compared: compared))
    }

    /// The two tensors with every dimension both give stride 0 cut to size 1,
    /// and how many times each remaining element stands for; nil when there
    /// is no such dimension. An element's row-major index in the cut tensor,
    /// read in the full shape, is the first full index that repeats it.
    static func collapsingRepeats(_ a: Tensor, _ b: Tensor) throws -> (Tensor, Tensor, Int)? {
        var shape = a.shape
        var repeats = 1
        for d in shape.indices where shape[d] > 1 && a.stride[d] == 0 && b.stride[d] == 0 {
            repeats = repeats.multipliedReportingOverflow(by: shape[d]).overflow ? .max : repeats * shape[d]
            shape[d] = 1
        }
        guard repeats > 1 else { return nil }
        // The views carry no conjugate or negative bit: the comparison applies the tensors' own.
        return (try a.view(shape: shape, stride: a.stride, storageOffset: a.storageOffset),
                try b.view(shape: shape, stride: b.stride, storageOffset: b.storageOffset), repeats)
    }

    /// Why two tensors' values cannot be compared element by element.
    struct NotComparable: Error {
        let reason: String
    }

    // MARK: Element kinds

    private func compareFloating(_ x: Tensor, _ y: Tensor, _ a: Tensor, _ b: Tensor, _ start: Int, _ tally: inout Tally) throws {
        // Views drop the negative bit; apply it here.
        let sa: [Double] = try x.scalars(), sb: [Double] = try y.scalars()
        let signA = a.isNegated ? -1.0 : 1.0, signB = b.isNegated ? -1.0 : 1.0
        for i in sa.indices {
            let p = sa[i] * signA, q = sb[i] * signB
            if p == q || (p.isNaN && q.isNaN) { continue }
            let finite = p.isFinite && q.isFinite
            let d = finite ? abs(p - q) : .infinity
            tally.record(difference: d, magnitude: abs(q), bIsZero: q == 0, close: d.isFinite && tolerance.allows(d, magnitude: abs(q)), at: start + i)
        }
    }

    private func compareComplex(_ x: Tensor, _ y: Tensor, _ a: Tensor, _ b: Tensor, _ start: Int, _ tally: inout Tally) throws {
        // Views drop the conjugate and negative bits; apply them here.
        func resolved(_ c: Complex, _ t: Tensor) -> Complex {
            var c = c
            if t.isNegated { c = Complex(real: -c.real, imag: -c.imag) }
            if t.isConjugated { c.imag = -c.imag }
            return c
        }
        let sa = try x.complexScalars(), sb = try y.complexScalars()
        for i in sa.indices {
            let p = resolved(sa[i], a), q = resolved(sb[i], b)
            if p == q { continue }
            let nanP = p.real.isNaN || p.imag.isNaN, nanQ = q.real.isNaN || q.imag.isNaN
            if nanP && nanQ { continue }
            let finite = p.real.isFinite && p.imag.isFinite && q.real.isFinite && q.imag.isFinite
            let d = finite ? Self.magnitude(p.real - q.real, p.imag - q.imag) : .infinity
            let m = Self.magnitude(q.real, q.imag)
            let bIsZero = q.real == 0 && q.imag == 0
            tally.record(difference: d, magnitude: m, bIsZero: bIsZero, close: d.isFinite && tolerance.allows(d, magnitude: m), at: start + i)
        }
    }

    private func compareIntegers<T: FixedWidthInteger>(_ sa: [T], _ sb: [T], _ start: Int, _ tally: inout Tally) {
        for i in sa.indices where sa[i] != sb[i] {
            let p = sa[i], q = sb[i]
            // The exact difference as a magnitude: for types of at most 64
            // bits it fits in 64 unsigned bits, even where p − q overflows T.
            let difference = p > q ? UInt64(truncatingIfNeeded: p &- q) : UInt64(truncatingIfNeeded: q &- p)
            let d = Double(difference), m = Double(q.magnitude)
            tally.record(difference: d, magnitude: m, bIsZero: q == 0, close: tolerance.allows(d, magnitude: m), at: start + i)
        }
    }

    private func compareBits(_ x: Tensor, _ y: Tensor, _ start: Int, _ tally: inout Tally) throws {
        let ba = try x.contiguousBytes(byteOrder: .little), bb = try y.contiguousBytes(byteOrder: .little)
        let size = x.dtype.itemSize
        for i in 0..<(ba.count / size) where ba[(i * size)..<((i + 1) * size)] != bb[(i * size)..<((i + 1) * size)] {
            tally.record(difference: .infinity, magnitude: 1, bIsZero: false, close: false, at: start + i)
        }
    }

    /// Packed quantized types: their `int_repr()` is the packed bytes, compared as uint8.
    private func comparePacked(_ a: Tensor, _ b: Tensor, path: [PathKey]) throws -> TensorComparison {
        var tally = Tally()
        var count = 0
        // Packed tensors are contiguous and handed over in place, in one piece.
        try a.forEachContiguousChunk(chunkBytes: .max) { pa in
            try b.forEachContiguousChunk(chunkBytes: .max) { pb in
                count = min(pa.count, pb.count)
                compareIntegers(Array(pa.prefix(count)), Array(pb.prefix(count)), 0, &tally)
            }
        }
        return TensorComparison(
            path: path, dtype: .uint8, shape: [count], elementCount: count, maxAbsoluteDifference: tally.maxAbs,
            maxRelativeDifference: tally.maxRel, mismatchCount: tally.mismatches, firstMismatch: tally.first.map { [$0] },
            compared: "packed int_repr bytes")
    }

    // MARK: Streaming

    /// Whether the two tensors' elements are byte for byte the same, found
    /// without decoding anything: both contiguous with identical bytes, or
    /// both viewing identical storages in the same way (a file and its
    /// copy). Both must have the same byte order and bits.
    static func identicalBytes(_ a: Tensor, _ b: Tensor) throws -> Bool {
        guard a.isConjugated == b.isConjugated, a.isNegated == b.isNegated,
              let sa = a.storage, let sb = b.storage, sa.byteOrder == sb.byteOrder else { return false }
        let size = a.dtype.itemSize
        if a.isContiguous && b.isContiguous {
            return try same(sa, from: a.storageOffset * size, sb, from: b.storageOffset * size, count: a.byteCount)
        }
        if a.stride == b.stride && a.storageOffset == b.storageOffset && sa.byteCount == sb.byteCount {
            return try same(sa, from: 0, sb, from: 0, count: sa.byteCount)
        }
        return false
    }

    /// Whether `count` bytes of two storages, from the given byte offsets, are equal (memcmp).
    private static func same(_ sa: Storage, from startA: Int, _ sb: Storage, from startB: Int, count: Int) throws -> Bool {
        let ra = try sa.bytes(), rb = try sb.bytes()
        guard startA + count <= ra.count, startB + count <= rb.count else { return false }
        return ra.withUnsafeBytes { x in
            rb.withUnsafeBytes { y in
                guard count > 0, let px = x.baseAddress, let py = y.baseAddress else { return true }
                return memcmp(px + startA, py + startB, count) == 0
            }
        }
    }

    /// Calls `body` with views of the same elements of `a` and `b` (at most
    /// `blockElements` of them, whole rows where rows fit) and the row-major
    /// index of their first element. The views carry no conjugate or negative
    /// bit: the caller applies the tensors' own.
    func forEachBlockPair(_ a: Tensor, _ b: Tensor, _ body: (Tensor, Tensor, Int) throws -> Void) throws {
        try Self.forEachBlockPair(a, b, blockElements: blockElements, body)
    }

    /// ``forEachBlockPair(_:_:_:)`` with the block size given (shared with TorchCheckpointTesting).
    package static func forEachBlockPair(_ a: Tensor, _ b: Tensor, blockElements: Int,
                                         _ body: (Tensor, Tensor, Int) throws -> Void) throws {
        let shape = a.shape
        if a.elementCount == 0 { return }
        if shape.isEmpty {
            try body(try a.view(shape: [], stride: [], storageOffset: a.storageOffset),
                     try b.view(shape: [], stride: [], storageOffset: b.storageOffset), 0)
            return
        }
        let limit = max(blockElements, 1)
        // suffix[i]: elements in dimensions i…; split at the first dimension k whose inner block fits.
        var suffix = [Int](repeating: 1, count: shape.count + 1)
        for i in shape.indices.reversed() { suffix[i] = suffix[i + 1] * shape[i] }
        let k = shape.indices.first { suffix[$0 + 1] <= limit } ?? shape.count - 1
        let inner = suffix[k + 1]
        let run = max(1, limit / inner)
        let innerShape = Array(shape[(k + 1)...])
        var outer = [Int](repeating: 0, count: k)
        var outerLinear = 0
        while true {
            var offsetA = a.storageOffset, offsetB = b.storageOffset
            for d in 0..<k {
                offsetA += outer[d] * a.stride[d]
                offsetB += outer[d] * b.stride[d]
            }
            var j = 0
            while j < shape[k] {
                let length = min(run, shape[k] - j)
                let x = try a.view(shape: [length] + innerShape, stride: Array(a.stride[k...]), storageOffset: offsetA + j * a.stride[k])
                let y = try b.view(shape: [length] + innerShape, stride: Array(b.stride[k...]), storageOffset: offsetB + j * b.stride[k])
                try body(x, y, (outerLinear * shape[k] + j) * inner)
                j += length
            }
            // Advance the odometer over dimensions 0..<k.
            var d = k - 1
            while d >= 0 {
                outer[d] += 1
                if outer[d] < shape[d] { break }
                outer[d] = 0
                d -= 1
            }
            if d < 0 { return }
            outerLinear += 1
        }
    }

    /// The row-major index of element `linear` of a tensor of `shape`
    /// (torch's `unravel_flat_index`).
    package static func index(_ linear: Int, in shape: [Int]) -> [Int] {
        var rest = linear
        var out = [Int](repeating: 0, count: shape.count)
        for d in shape.indices.reversed() where shape[d] > 0 {
            out[d] = rest % shape[d]
            rest /= shape[d]
        }
        return out
    }

    /// `|re + im·i|` without overflow in the squares, as `hypot` computes it.
    static func magnitude(_ re: Double, _ im: Double) -> Double {
        let x = abs(re), y = abs(im)
        let big = max(x, y), small = min(x, y)
        if big == 0 || big.isInfinite { return big }
        let r = small / big
        return big * (1 + r * r).squareRoot()
    }
}

extension Tensor {
    /// `tensor.to(dtype)` for a floating-point tensor and a floating-point
    /// target, as PyTorch 2.15 computes it on the CPU: a new tensor with its
    /// own storage on the same device, or this tensor itself when the dtype
    /// is already `target` (as `to` returns `self`).
    ///
    /// The layout follows `to`'s `memory_format=torch.preserve_format`: a
    /// tensor whose elements are dense and do not overlap (a transposed or
    /// channels-last one) keeps its strides; any other (a stepped slice, an
    /// expanded one) gets dense strides in the same order. The result starts
    /// at offset 0 of its storage. It is a plain tensor: a Parameter's
    /// `requires_grad` stays, but not the Parameter class, as with `to`.
    ///
    /// Values round to nearest, ties to even, through float32 where PyTorch
    /// goes through float32 (float64 to float16 or bfloat16 rounds twice, as
    /// in PyTorch); the conjugate and negative bits are resolved. NaNs come
    /// out with the bits PyTorch's x86-64 kernels (AVX-512) give them: to
    /// float16 through float32, keeping the sign and the payload's top bits
    /// (quieted); float32 and float64 to bfloat16 `0xFFFF`, other types to
    /// bfloat16 `0x7FC0`; float16 to float32 quieted; float8 widened with
    /// their payload. PyTorch's element-wise code, which converts the last
    /// elements of a dense tensor (in memory order: `count % 8` of them from
    /// float16 to float32, `count % 16` from float64 to bfloat16), and every
    /// element of a float64 tensor that is not dense, gives other bits for
    /// those two casts, and so does this: float16 to float32 `0x7FFFFFFF`,
    /// float64 to bfloat16 `0x7FC0`.
    /// (On a CPU without AVX-512 PyTorch's blocks are narrower, so its own
    /// NaN bits there differ from these in places.)
    ///
    /// A view larger than its storage (a stride-0 dimension from `expand`)
    /// comes out as PyTorch's `to()` makes it, one element per logical
    /// element, so it is cast only up to `expandedViewLimit` logical bytes.
    ///
    /// - Parameters:
    ///   - target: float16, bfloat16, float32 or float64.
    ///   - expandedViewLimit: the most logical bytes of a view larger than its storage.
    /// - Throws: ``TensorError`` for another target, a source that is not
    ///   floating point, a non-strided tensor, a tensor subclass, or a view
    ///   over the limit (``TensorError/Code/expandedViewOverLimit``).
    public func converted(toFloatingPoint target: DType,
                          expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) throws -> Tensor {
        guard [.float16, .bfloat16, .float32, .float64].contains(target) else {
            throw TensorError("casting to \(target.name) is not supported: only float16, bfloat16, float32 and float64")
        }
        guard dtype.isFloatingPoint else {
            throw TensorError("a \(dtype.name) tensor is not floating point")
        }
        if dtype == target { return self }
        guard layout == .strided else {
            throw TensorError("casting a \(layout.rawValue) tensor is not supported")
        }
        if let subclass {
            throw TensorError("casting a tensor subclass (\(subclass.qualifiedName)) is not supported")
        }
        let strides = Self.preservedStrides(shape: shape, stride: stride)
        if isMeta {
            return Tensor(dtype: target, shape: shape, stride: strides, storage: nil, device: device, requiresGrad: requiresGrad)
        }
        try checkExpandedView(limit: expandedViewLimit)
        let count = elementCount
        let source = try contiguousBytes(byteOrder: .native, expandedViewLimit: expandedViewLimit)
        let encode = try FloatingCast.encoder(from: dtype, to: target)
        let size = target.itemSize
        // PyTorch's kernel runs vectorised over a dense tensor in memory order, in blocks
        // (AVX-512), and element by element over the rest. Over a tensor that is not dense,
        // float16 to float32 is vectorised throughout and float64 to bfloat16 element-wise
        // (as measured with torch 2.15; only NaN bits tell the two apart).
        let block = dtype == .float16 ? 8 : 16
        let vectorEnd = Self.isNonOverlappingAndDense(shape: shape, stride: stride)
            ? count - count % block : (dtype == .float16 ? count : 0)
        var out = [UInt8](repeating: 0, count: count * size)
        try source.withUnsafeBytes { src in
            try out.withUnsafeMutableBytes { dst in
                guard let from = src.baseAddress, let to = dst.baseAddress else { return }
                if strides == Tensor.contiguousStrides(shape) {
                    for i in 0..<count { try encode(from + i * dtype.itemSize, to + i * size, i >= vectorEnd) }
                    return
                }
                // Row-major source elements, placed by the result's strides.
                guard count > 0 else { return }
                var i = 0
                try Tensor.forEachRow(shape: shape, stride: strides, offset: 0) { start, length, step in
                    for k in 0..<length {
                        let place = start + k * step
                        try encode(from + i * dtype.itemSize, to + place * size, place >= vectorEnd)
                        i += 1
                    }
                }
            }
        }
        let storage = Storage(key: "0", dtype: target, bytes: RawBytes(out), location: storage?.location ?? device.description)
        return Tensor(dtype: target, shape: shape, stride: strides, storage: storage, device: device, requiresGrad: requiresGrad)
    }

    /// The strides `empty_like(memory_format=torch.preserve_format)` gives: the
    /// tensor's own when it is non-overlapping and dense, else dense strides
    /// in the order of the tensor's (ATen's `infer_dense_strides`, which
    /// sorts dimensions as TensorIterator does).
    package static func preservedStrides(shape: [Int], stride: [Int]) -> [Int] {
        if isNonOverlappingAndDense(shape: shape, stride: stride) { return stride }
        let n = shape.count
        // Innermost first; an insertion sort that leaves stride-0 dimensions where they are.
        var perm = Array((0..<n).reversed())
        func shouldSwap(_ a: Int, _ b: Int) -> Int {
            let (sa, sb) = (stride[a], stride[b])
            if sa == 0 || sb == 0 { return 0 }
            if sa < sb { return -1 }
            if sa > sb { return 1 }
            return shape[a] > shape[b] ? 1 : 0
        }
        if n > 1 {
            for i in 1..<n {
                var dim1 = i
                var dim0 = i - 1
                while dim0 >= 0 {
                    let comparison = shouldSwap(perm[dim0], perm[dim1])
                    if comparison > 0 {
                        perm.swapAt(dim0, dim1)
                        dim1 = dim0
                    } else if comparison < 0 {
                        break
                    }
                    dim0 -= 1
                }
            }
        }
        var result = [Int](repeating: 0, count: n)
        var current = 1
        for idx in perm {
            result[idx] = current
            if shape[idx] > 1 { current *= shape[idx] }
        }
        return result
    }

    /// ATen's `is_non_overlapping_and_dense`: the elements fill a block of
    /// storage exactly, in some order of the dimensions.
    package static func isNonOverlappingAndDense(shape: [Int], stride: [Int]) -> Bool {
        if shape.count == 1 { return shape[0] < 2 || stride[0] == 1 }
        let perm = shape.indices.sorted { a, b in
            if shape[a] < 2 { return false }
            if shape[b] < 2 { return true }
            return stride[a] < stride[b]
        }
        var required = 1
        for d in perm {
            if shape[d] < 2 { return true }
            if stride[d] != required { return false }
            required *= shape[d]
        }
        return true
    }
}

/// Bit-exact element casts between PyTorch's floating-point types.
package enum FloatingCast {
    /// Reads an element, writes it converted; the flag says PyTorch converts it element-wise.
    package typealias Encoder = (UnsafeRawPointer, UnsafeMutableRawPointer, Bool) throws -> Void

    /// Reads one native-order element of `source` and writes it as `target`.
    package static func encoder(from source: DType, to target: DType) throws -> Encoder {
        // The source element as binary32 bits, the way PyTorch widens it on the way to `target`.
        let widen: (UnsafeRawPointer) -> UInt32
        switch source {
        case .float32: widen = { $0.loadUnaligned(as: UInt32.self) }
        case .float64: widen = { Float($0.loadUnaligned(as: Double.self)).bitPattern }
        case .bfloat16: widen = { UInt32($0.loadUnaligned(as: UInt16.self)) << 16 }
        case .float16: widen = { ScalarDecoding.float16($0.loadUnaligned(as: UInt16.self)).bitPattern }
        default:
            let decode = try Tensor.floatDecoder(source)
            let nan = try FloatingCast.float8NaN(source)
            widen = { p in
                let f = decode(p)
                return f.isNaN ? nan(p.load(as: UInt8.self)) : f.bitPattern
            }
        }
        func isNaN(_ bits: UInt32) -> Bool { bits & 0x7FFF_FFFF > 0x7F80_0000 }
        switch target {
        case .float64:
            // float64 exactly (cvtss2sd: NaNs quieted, payload kept); float64 sources never get here.
            return { p, out, _ in out.storeBytes(of: Double(Float(bitPattern: widen(p))).bitPattern, as: UInt64.self) }
        case .float32:
            if source == .float16 {
                // vcvtph2ps quiets a NaN; the element-wise code gives 0x7FFFFFFF.
                return { p, out, elementWise in
                    let bits = widen(p)
                    out.storeBytes(of: isNaN(bits) ? (elementWise ? 0x7FFF_FFFF : bits | 0x0040_0000) : bits, as: UInt32.self)
                }
            }
            return { p, out, _ in out.storeBytes(of: widen(p), as: UInt32.self) }
        case .float16:
            return { p, out, _ in out.storeBytes(of: ScalarEncoding.float16(Float(bitPattern: widen(p))), as: UInt16.self) }
        default:
            let vectorNaN: UInt16 = source == .float32 || source == .float64 ? 0xFFFF : 0x7FC0
            // float32's kernel handles its tail vectorised too (masked); float64's does not.
            let elementNaN: UInt16 = source == .float32 ? 0xFFFF : 0x7FC0
            return { p, out, elementWise in
                let bits = widen(p)
                let value = isNaN(bits) ? (elementWise ? elementNaN : vectorNaN) : ScalarEncoding.bfloat16(Float(bitPattern: bits))
                out.storeBytes(of: value, as: UInt16.self)
            }
        }
    }
}

extension FloatingCast {
    /// The binary32 bits PyTorch widens a float8 NaN to: sign, all-ones
    /// exponent, the mantissa's bits on top, quieted (e5m2, e4m3fn); the
    /// formats without a sign or infinity give `0x7F800001`.
    package static func float8NaN(_ dtype: DType) throws -> (UInt8) -> UInt32 {
        switch dtype {
        case .float8_e5m2: return { b in UInt32(b >> 7) << 31 | 0x7FC0_0000 | UInt32(b & 0x3) << 21 }
        case .float8_e4m3fn: return { b in UInt32(b >> 7) << 31 | 0x7FC0_0000 | UInt32(b & 0x7) << 20 }
        case .float8_e5m2fnuz, .float8_e4m3fnuz, .float8_e8m0fnu: return { _ in 0x7F80_0001 }
        default: throw TensorError("casting \(dtype.name) elements is not supported")
        }
    }
}

extension Tensor {
    /// A decoder of one element of a narrow floating-point type to `Float`.
    package static func floatDecoder(_ dtype: DType) throws -> (UnsafeRawPointer) -> Float {
        switch dtype {
        case .float8_e5m2: return { ScalarDecoding.e5m2[Int($0.load(as: UInt8.self))] }
        case .float8_e4m3fn: return { ScalarDecoding.e4m3fn[Int($0.load(as: UInt8.self))] }
        case .float8_e5m2fnuz: return { ScalarDecoding.e5m2fnuz[Int($0.load(as: UInt8.self))] }
        case .float8_e4m3fnuz: return { ScalarDecoding.e4m3fnuz[Int($0.load(as: UInt8.self))] }
        case .float8_e8m0fnu: return { ScalarDecoding.e8m0fnu[Int($0.load(as: UInt8.self))] }
        default: throw TensorError("casting \(dtype.name) elements is not supported")
        }
    }
}

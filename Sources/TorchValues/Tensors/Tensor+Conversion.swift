extension Tensor {
    /// The tensor without gradient tracking and as a plain tensor
    /// (`tensor.detach()`): same storage, same view.
    public func detached() -> Tensor {
        with(requiresGrad: false, isParameter: false, parameterState: .some(nil))
    }

    /// The sub-tensor at `index` of the first dimension (`tensor[index]`), a view.
    public func element(at index: Int) throws -> Tensor {
        guard let first = shape.first, (0..<first).contains(index) else {
            throw TensorError("index \(index) is out of bounds for dimension 0 with size \(shape.first ?? 0)")
        }
        return try view(shape: Array(shape.dropFirst()), stride: Array(stride.dropFirst()),
                        storageOffset: storageOffset + index * stride[0])
    }

    /// This tensor's values in the place of `target` (`target.copy_(self)`):
    /// converted to `target`'s dtype when they differ, keeping `target`'s
    /// Parameter flag and `requires_grad`.
    public func copied(as target: Tensor) throws -> Tensor {
        let values = dtype == target.dtype ? self : try converted(to: target.dtype)
        let result = values.detached()
        return target.isParameter ? result.with(requiresGrad: target.requiresGrad, isParameter: true) : result
    }

    /// A new contiguous tensor of another dtype (`tensor.to(dtype)`): floating
    /// values to integers truncate toward zero, anything to bool is `!= 0`,
    /// and a value the target cannot hold is an error. A view larger than its
    /// storage comes out contiguous, so it is converted only up to
    /// `expandedViewLimit` logical bytes (``TensorError/Code/expandedViewOverLimit``).
    public func converted(to target: DType, expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) throws -> Tensor {
        if target == dtype { return self }
        try checkExpandedView(limit: expandedViewLimit)
        // Floating-point values truncate toward zero into integers, as in PyTorch.
        let source = dtype.isFloatingPoint && target != .bool && !target.isFloatingPoint
            ? try Tensor(scalars: try scalars(as: Double.self, expandedViewLimit: expandedViewLimit).map { $0.rounded(.towardZero) },
                         shape: shape)
            : self
        let count = elementCount
        var out: [UInt8] = []
        out.reserveCapacity(target.byteCount(forElements: count))
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        switch target {
        case .float64: for v in try source.scalars(as: Double.self, expandedViewLimit: expandedViewLimit) { append(v.bitPattern) }
        case .float32: for v in try source.scalars(as: Float.self, expandedViewLimit: expandedViewLimit) { append(v.bitPattern) }
        case .bfloat16: for v in try source.scalars(as: Float.self, expandedViewLimit: expandedViewLimit) { append(ScalarEncoding.bfloat16(v)) }
        case .float16: for v in try source.scalars(as: Float.self, expandedViewLimit: expandedViewLimit) { append(ScalarEncoding.float16(v)) }
        case .int64: for v in try source.scalars(as: Int64.self, expandedViewLimit: expandedViewLimit) { append(v) }
        case .int32: for v in try source.scalars(as: Int32.self, expandedViewLimit: expandedViewLimit) { append(v) }
        case .int16: for v in try source.scalars(as: Int16.self, expandedViewLimit: expandedViewLimit) { append(v) }
        case .int8: for v in try source.scalars(as: Int8.self, expandedViewLimit: expandedViewLimit) { append(v) }
        case .uint8: for v in try source.scalars(as: UInt8.self, expandedViewLimit: expandedViewLimit) { append(v) }
        case .uint16: for v in try source.scalars(as: UInt16.self, expandedViewLimit: expandedViewLimit) { append(v) }
        case .uint32: for v in try source.scalars(as: UInt32.self, expandedViewLimit: expandedViewLimit) { append(v) }
        case .uint64: for v in try source.scalars(as: UInt64.self, expandedViewLimit: expandedViewLimit) { append(v) }
        case .bool: for v in try source.scalars(as: Bool.self, expandedViewLimit: expandedViewLimit) { append(UInt8(v ? 1 : 0)) }
        default:
            throw TensorError("converting \(dtype.name) to \(target.name) is not supported")
        }
        return try Tensor(bytes: out, dtype: target, shape: shape, requiresGrad: requiresGrad)
    }
}

/// Encoding `Float` into PyTorch's 16-bit float formats, rounding to nearest even.
package enum ScalarEncoding {
    package static func bfloat16(_ f: Float) -> UInt16 {
        let bits = f.bitPattern
        if f.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    package static func float16(_ f: Float) -> UInt16 {
        let bits = f.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xFF)
        var mantissa = bits & 0x7F_FFFF
        // NaN: quieted, keeping the payload's top bits, as F16C's vcvtps2ph (PyTorch's CPU kernels).
        if exponent == 0xFF { return sign | 0x7C00 | (mantissa != 0 ? 0x200 | UInt16(mantissa >> 13) : 0) }
        let e = exponent - 127 + 15
        if e >= 0x1F { return sign | 0x7C00 }
        if e <= 0 {
            // Subnormal or zero: shift in the implicit bit, round to nearest even.
            if e < -10 { return sign }
            mantissa |= 0x80_0000
            let shift = UInt32(14 - e)
            let half = UInt32(1) << (shift - 1)
            let rest = mantissa & ((UInt32(1) << shift) - 1)
            var m = mantissa >> shift
            if rest > half || (rest == half && m & 1 == 1) { m += 1 }
            return sign | UInt16(m)
        }
        var h = UInt32(e) << 10 | (mantissa >> 13)
        let rest = mantissa & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) { h += 1 }
        return sign | UInt16(truncatingIfNeeded: h)
    }
}

extension Tensor {
    /// Row-major (C-contiguous) strides for a shape, as PyTorch computes them:
    /// a dimension of size 0 counts as 1.
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for i in shape.indices.reversed() {
            strides[i] = step
            step &*= max(shape[i], 1)
        }
        return strides
    }

    /// A contiguous CPU tensor holding a copy of `scalars` (row-major), with
    /// its own storage.
    ///
    /// ```swift
    /// let w = try Tensor(scalars: [Float](repeating: 0, count: 40), shape: [10, 4])
    /// ```
    public convenience init<T: TensorScalar>(scalars: [T], shape: [Int], requiresGrad: Bool = false) throws {
        guard let dtype = T.dtype else { throw TensorError("\(T.self) has no PyTorch dtype") }
        let bytes = scalars.withUnsafeBytes { Array($0) }
        try self.init(bytes: bytes, dtype: dtype, shape: shape, requiresGrad: requiresGrad)
    }

    /// A contiguous CPU tensor over little-endian element bytes (any dtype:
    /// bfloat16, float8, … given as their raw bits), with its own storage.
    public convenience init(bytes: [UInt8], dtype: DType, shape: [Int], requiresGrad: Bool = false) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw TensorError("negative size in \(shape)") }
        guard let expected = Tensor.byteCount(shape: shape, dtype: dtype) else {
            throw TensorError("shape \(shape) of \(dtype.name) overflows")
        }
        guard bytes.count == expected else {
            throw TensorError("shape \(shape) of \(dtype.name) needs \(expected) bytes, got \(bytes.count)")
        }
        let storage = Storage(key: "0", dtype: dtype, bytes: RawBytes(bytes))
        self.init(dtype: dtype, shape: shape, stride: Tensor.contiguousStrides(shape), storage: storage,
                  requiresGrad: requiresGrad)
    }

    /// A view of this tensor's storage with another shape, stride and offset
    /// (as `torch.as_strided`): saved, it shares one storage record with this
    /// tensor, as views and tied weights do in PyTorch.
    public func view(shape: [Int], stride: [Int], storageOffset: Int) throws -> Tensor {
        guard let storage else { throw TensorError("a tensor without storage has no views") }
        do {
            try TensorGeometry.checkShape(shape, stride)
            try TensorGeometry.checkExtent(dtype: dtype, shape: shape, stride: stride, offset: storageOffset, storage: storage)
        } catch let error as RebuildError {
            throw TensorError(error.message)
        }
        return Tensor(dtype: dtype, shape: shape, stride: stride, storageOffset: storageOffset, storage: storage,
                      device: device, requiresGrad: requiresGrad)
    }

    /// This tensor as an `nn.Parameter` (saved with `_rebuild_parameter`).
    public func asParameter(requiresGrad: Bool = true) -> Tensor {
        with(requiresGrad: requiresGrad, isParameter: true)
    }
}

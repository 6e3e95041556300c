/// Rebuilds tensors from the arguments of torch's rebuild functions, with the
/// checks PyTorch's own loader makes (a view must lie inside its storage).
enum TensorRebuild {
    static func call(_ function: KnownGlobal, _ args: [Value]) throws -> Value? {
        let a = Arguments(args)
        switch function {
        case .rebuildTensor:
            // _rebuild_tensor(storage, storage_offset, size, stride)
            let storage = try a.storage(0)
            return .tensor(try strided(storage: storage, dtype: storage.dtype, a: a, offsetIndex: 1, requiresGrad: false, hooks: .None, metadata: nil))
        case .rebuildTensorV2:
            // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None)
            try a.count(6...7)
            let storage = try a.storage(0)
            return .tensor(try strided(storage: storage, dtype: storage.dtype, a: a, offsetIndex: 1,
                                       requiresGrad: try a.bool(4), hooks: a[5], metadata: a.optional(6)))
        case .rebuildTensorV3:
            // _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None)
            try a.count(7...8)
            return .tensor(try strided(storage: try a.storage(0), dtype: try a.dtype(6), a: a, offsetIndex: 1,
                                       requiresGrad: try a.bool(4), hooks: a[5], metadata: a.optional(7)))
        case .rebuildParameter, .rebuildParameterWithState:
            // _rebuild_parameter(data, requires_grad, backward_hooks[, state])
            try a.count(function == .rebuildParameter ? 3...3 : 4...4)
            let data = try a.tensor(0)
            let state: Value? = function == .rebuildParameterWithState ? a[3] : nil
            return .tensor(data.with(requiresGrad: try a.bool(1), isParameter: true, backwardHooks: a[2], parameterState: .some(state)))
        case .rebuildQTensor:
            // _rebuild_qtensor(storage, storage_offset, size, stride, quantizer_params, requires_grad, backward_hooks)
            try a.count(7...7)
            let storage = try a.storage(0)
            let quantization = try self.quantization(a[4])
            return .tensor(try strided(storage: storage, dtype: storage.dtype, a: a, offsetIndex: 1,
                                       requiresGrad: try a.bool(5), hooks: a[6], metadata: nil, quantization: quantization))
        case .rebuildSparseTensor, .rebuildSparseCSRTensor:
            return .tensor(try sparse(a))
        case .rebuildMetaTensorNoStorage:
            // _rebuild_meta_tensor_no_storage(dtype, size, stride, requires_grad)
            try a.count(4...4)
            let shape = try a.integers(1), stride = try a.integers(2)
            try TensorGeometry.checkShape(shape, stride)
            return .tensor(Tensor(dtype: try a.dtype(0), shape: shape, stride: stride, storage: nil,
                                  device: Device(type: "meta"), requiresGrad: try a.bool(3)))
        case .rebuildWrapperSubclass:
            // _rebuild_wrapper_subclass(cls, dtype, size, stride, storage_offset, layout, device, requires_grad)
            try a.count(8...8)
            guard case .global(let cls) = a[0] else { throw RebuildError("expects a class") }
            let shape = try a.integers(2), stride = try a.integers(3)
            try TensorGeometry.checkShape(shape, stride)
            return .tensor(Tensor(dtype: try a.dtype(1), shape: shape, stride: stride, storageOffset: try a.int(4),
                                  storage: nil, layout: try a.layout(5), device: try a.device(6),
                                  requiresGrad: try a.bool(7), subclass: cls))
        case .rebuildDeviceTensorFromCPUTensor:
            // _rebuild_device_tensor_from_cpu_tensor(data, dtype, device, requires_grad)
            try a.count(4...4)
            return .tensor(try a.tensor(0).with(requiresGrad: try a.bool(3), device: try a.device(2)))
        case .rebuildDeviceTensorFromNumpy:
            // _rebuild_device_tensor_from_numpy(data, dtype, device, requires_grad)
            try a.count(4...4)
            guard case .ndarray(let array) = a[0] else { throw RebuildError("expects a numpy array") }
            let dtype = try a.dtype(1)
            let storage = Storage(key: "numpy", dtype: dtype, bytes: RawBytes(array.data), location: try a.device(2).description)
            let shape = array.shape
            let stride = array.isFortranOrder ? fortranStrides(shape) : Tensor.contiguousStrides(shape)
            try TensorGeometry.checkShape(shape, stride)
            try TensorGeometry.checkExtent(dtype: dtype, shape: shape, stride: stride, offset: 0, storage: storage)
            return .tensor(Tensor(dtype: dtype, shape: shape, stride: stride, storage: storage,
                                  device: try a.device(2), requiresGrad: try a.bool(3)))
        case .rebuildFromTypeV2, .rebuildFromType:
            // _rebuild_from_type_v2(func, new_type, args, state)
            try a.count(4...4)
            guard case .global(let function) = a[0], let known = function.known,
                  case .global(let newType) = a[1], let inner = a[2].items else { return nil }
            guard case .tensor(let t)? = try known.call(inner, construction: .reduce) else { return nil }
            let isParameter = newType.name == "Parameter" && newType.module.hasPrefix("torch.nn")
            let isPlain = newType.module == "torch" && newType.name == "Tensor"
            let state: Value? = {
                switch a[3] {
                case .None: return nil
                case .dict(let d) where d.isEmpty: return nil
                default: return a[3]
                }
            }()
            return .tensor(t.with(isParameter: isParameter || t.isParameter,
                                  subclass: .some(isPlain || isParameter ? nil : newType), subclassState: .some(state)))
        default:
            return nil
        }
    }

    // MARK: Strided tensors

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)`
    /// with its arguments already taken apart (the fast path's decoder): the same checks and
    /// the same tensor as ``call(_:_:)``.
    /// The hooks are an empty `OrderedDict`, as torch pickles them.
    static func rebuildTensorV2(storage: Storage, offset: Int, shape: [Int], stride: [Int], requiresGrad: Bool) throws -> Tensor {
        try TensorGeometry.checkShape(shape, stride)
        try TensorGeometry.checkExtent(dtype: storage.dtype, shape: shape, stride: stride, offset: offset, storage: storage)
        return Tensor.withEmptyOrderedDictHooks(dtype: storage.dtype, shape: shape, stride: stride, storageOffset: offset,
                                                storage: storage, requiresGrad: requiresGrad)
    }

    private static func strided(storage: Storage, dtype: DType, a: Arguments, offsetIndex: Int, requiresGrad: Bool,
                                hooks: Value, metadata: Value?, quantization: Quantization? = nil) throws -> Tensor {
        let offset = try a.int(offsetIndex)
        let shape = try a.integers(offsetIndex + 1)
        let stride = try a.integers(offsetIndex + 2)
        try TensorGeometry.checkShape(shape, stride)
        try TensorGeometry.checkExtent(dtype: dtype, shape: shape, stride: stride, offset: offset, storage: storage)
        var conj = false, neg = false
        if case .dict(let m)? = metadata {
            conj = m["conj"]?.bool ?? false
            neg = m["neg"]?.bool ?? false
        }
        return Tensor(dtype: dtype, shape: shape, stride: stride, storageOffset: offset, storage: storage,
                      requiresGrad: requiresGrad, isConjugated: conj, isNegated: neg,
                      quantization: quantization, backwardHooks: hooks)
    }

    static func fortranStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in shape.indices {
            strides[i] = acc
            acc &*= max(shape[i], 1)
        }
        return strides
    }

    // MARK: Quantized and sparse

    private static func quantization(_ params: Value) throws -> Quantization {
        guard let items = params.items, let first = items.first, case .global(let g) = first, case .qscheme(let scheme)? = g.known else {
            throw RebuildError("quantizer parameters must start with a qscheme")
        }
        let q = Arguments(items)
        switch scheme {
        case "per_tensor_affine", "per_tensor_symmetric":
            try q.count(3...3)
            guard let scale = q[1].double else { throw RebuildError("scale must be a number") }
            return .perTensorAffine(scale: scale, zeroPoint: try q.int(2))
        case "per_channel_affine", "per_channel_symmetric", "per_channel_affine_float_qparams":
            try q.count(4...4)
            // torch.save writes per_channel_affine_float_qparams as per_channel_affine;
            // PyTorch tells them apart on load by the zero points' type.
            let zeroPoints = try q.tensor(2)
            return .perChannelAffine(scales: try q.tensor(1), zeroPoints: zeroPoints, axis: try q.int(3),
                                     floatQParams: scheme == "per_channel_affine_float_qparams" || zeroPoints.dtype.isFloatingPoint)
        default:
            throw RebuildError("unsupported qscheme \(scheme)")
        }
    }

    private static func sparse(_ a: Arguments) throws -> Tensor {
        try a.count(2...2)
        let layout = try a.layout(0)
        guard let data = a[1].items else { throw RebuildError("sparse data must be a tuple") }
        let d = Arguments(data)
        switch layout {
        case .sparseCOO:
            try d.count(3...4)
            let indices = try d.tensor(0), values = try d.tensor(1)
            let coalesced: Bool? = data.count > 3 ? try d.bool(3) : nil
            return Tensor(dtype: values.dtype, shape: try d.integers(2), stride: [], storage: nil, layout: layout,
                          device: values.device, sparse: .coo(indices: indices, values: values, isCoalesced: coalesced))
        case .sparseCSR, .sparseCSC, .sparseBSR, .sparseBSC:
            try d.count(4...4)
            let values = try d.tensor(2)
            return Tensor(dtype: values.dtype, shape: try d.integers(3), stride: [], storage: nil, layout: layout,
                          device: values.device,
                          sparse: .compressed(compressedIndices: try d.tensor(0), plainIndices: try d.tensor(1), values: values))
        default:
            throw RebuildError("unsupported sparse layout \(layout.rawValue)")
        }
    }
}

/// Typed access to a rebuild function's arguments, with errors that say which.
struct Arguments {
    let values: [Value]
    init(_ values: [Value]) { self.values = values }

    subscript(i: Int) -> Value { i < values.count ? values[i] : .None }
    func optional(_ i: Int) -> Value? { i < values.count ? values[i] : nil }

    func count(_ range: ClosedRange<Int>) throws {
        guard range.contains(values.count) else {
            throw RebuildError("expects \(range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)") arguments, got \(values.count)")
        }
    }
    func storage(_ i: Int) throws -> Storage {
        guard case .storage(let s) = self[i] else { throw RebuildError("argument \(i) must be a storage, got \(self[i].typeName)") }
        return s
    }
    func tensor(_ i: Int) throws -> Tensor {
        guard case .tensor(let t) = self[i] else { throw RebuildError("argument \(i) must be a tensor, got \(self[i].typeName)") }
        return t
    }
    func int(_ i: Int) throws -> Int {
        guard case .int(let v) = self[i] else { throw RebuildError("argument \(i) must be an int, got \(self[i].typeName)") }
        return v
    }
    func bool(_ i: Int) throws -> Bool {
        switch self[i] {
        case .bool(let b): return b
        case .int(let v): return v != 0
        default: throw RebuildError("argument \(i) must be a bool, got \(self[i].typeName)")
        }
    }
    func integers(_ i: Int) throws -> [Int] {
        guard let items = self[i].items else { throw RebuildError("argument \(i) must be a tuple of ints, got \(self[i].typeName)") }
        return try items.map { v in
            guard case .int(let x) = v else { throw RebuildError("argument \(i) must hold ints, found \(v.typeName)") }
            return x
        }
    }
    func dtype(_ i: Int) throws -> DType {
        guard case .dtype(let d) = self[i] else { throw RebuildError("argument \(i) must be a dtype, got \(self[i].typeName)") }
        return d
    }
    func layout(_ i: Int) throws -> Layout {
        guard case .global(let g) = self[i], case .layout(let l)? = g.known else {
            throw RebuildError("argument \(i) must be a layout, got \(self[i].typeName)")
        }
        return l
    }
    func device(_ i: Int) throws -> Device {
        switch self[i] {
        case .device(let d): return d
        case .string(let s): return Device(location: s)
        default: throw RebuildError("argument \(i) must be a device, got \(self[i].typeName)")
        }
    }
}

/// How a tensor's elements are laid out, as `torch.layout` says.
public enum Layout: String, Sendable, Hashable, CaseIterable {
    case strided = "torch.strided"
    case sparseCOO = "torch.sparse_coo"
    case sparseCSR = "torch.sparse_csr"
    case sparseCSC = "torch.sparse_csc"
    case sparseBSR = "torch.sparse_bsr"
    case sparseBSC = "torch.sparse_bsc"
    case jagged = "torch.jagged"
    case mkldnn = "torch._mkldnn"

    /// Looks up `torch.strided`, `sparse_coo`, … (with or without `torch.`).
    public init?(name: String) {
        let full = name.hasPrefix("torch.") ? name : "torch." + name
        self.init(rawValue: full)
    }
}

/// The quantization parameters of a quantized tensor.
public enum Quantization: Sendable {
    /// `torch.per_tensor_affine`: one scale and zero point.
    case perTensorAffine(scale: Double, zeroPoint: Int)
    /// `torch.per_channel_affine` (or `per_channel_affine_float_qparams`): a
    /// scale and zero point per slice along `axis`.
    case perChannelAffine(scales: Tensor, zeroPoints: Tensor, axis: Int, floatQParams: Bool)

    /// The qscheme's name, as `torch.<name>`.
    public var qscheme: String {
        switch self {
        case .perTensorAffine: "per_tensor_affine"
        case .perChannelAffine(_, _, _, let f): f ? "per_channel_affine_float_qparams" : "per_channel_affine"
        }
    }
}

/// The component tensors of a sparse tensor.
public enum SparseComponents: Sendable {
    /// COO: `indices` (ndim × nnz, int64) and `values`.
    case coo(indices: Tensor, values: Tensor, isCoalesced: Bool?)
    /// CSR, CSC, BSR, BSC: compressed and plain indices, and values.
    case compressed(compressedIndices: Tensor, plainIndices: Tensor, values: Tensor)
}

/// A tensor as `torch.load` gives it: element type, shape, strides, storage
/// offset, the storage it views, and its flags.
///
/// A strided tensor views a ``Storage``: its element `[i₀, i₁, …]` is the
/// storage element `storageOffset + Σ iₖ·stride[k]`. Several tensors may view
/// one storage (views, tied weights); the storage is read once. Sparse and
/// meta tensors have no storage of their own.
public final class Tensor: Sendable {
    /// The element type.
    public let dtype: DType
    /// The size of each dimension (`tensor.shape`).
    public let shape: [Int]
    /// The stride of each dimension, in elements (empty for non-strided tensors).
    public let stride: [Int]
    /// The offset of the first element in the storage, in elements.
    public let storageOffset: Int
    /// The storage viewed, for a strided tensor that has data.
    public let storage: Storage?
    /// The layout (strided, or one of the sparse layouts).
    public let layout: Layout
    /// The device, from the storage's location tag (`cuda:0`) or the pickle.
    public let device: Device
    /// `tensor.requires_grad`.
    public let requiresGrad: Bool
    /// Whether the tensor was saved as an `nn.Parameter`.
    public let isParameter: Bool
    /// The conjugate bit (`tensor.is_conj()`): elements read as stored are to be conjugated.
    public let isConjugated: Bool
    /// The negative bit (`tensor.is_neg()`): elements read as stored are to be negated.
    public let isNegated: Bool
    /// Quantization parameters, for a quantized tensor.
    public var quantization: Quantization? { extras?.quantization }
    /// Component tensors, for a sparse tensor.
    public var sparse: SparseComponents? { extras?.sparse }
    /// Backward hooks as pickled: an empty `OrderedDict` in every file torch
    /// 1.0 and later writes, `None` in files of the torch 0.4 era (a rewrite
    /// writes back what the file had). For a tensor the fast path decoded,
    /// an empty `OrderedDict` is made anew each time it is read (hooks are
    /// never restored, and a state dict's tensors do not each keep a dict).
    public var backwardHooks: Value {
        switch hooks {
        case .none: .None
        case .emptyOrderedDict: .dict(PyDict(kind: .orderedDict))
        case .other: extras?.backwardHooks ?? .None
        }
    }
    /// The backward hooks as a walk over the value tree should see them:
    /// nil where they are an empty `OrderedDict` made anew at each read
    /// (holding nothing, and an object no one else can reach: a walk that
    /// remembers objects by identity must not remember it, as the next
    /// object made may take its address).
    package var walkedBackwardHooks: Value? {
        hooks == .emptyOrderedDict ? nil : backwardHooks
    }

    /// The attributes of a `Parameter` saved with Python state (`_rebuild_parameter_with_state`).
    public var parameterState: Value? { extras?.parameterState }
    /// The subclass, for a `torch.Tensor` subclass rebuilt through `_rebuild_from_type_v2`.
    public var subclass: PyGlobal? { extras?.subclass }
    /// The subclass instance's state (its `__dict__`), when it had any.
    public var subclassState: Value? { extras?.subclassState }

    /// What few tensors have, out of line (nil for a state dict's tensors):
    /// 100,000 tensors each carrying these fields inline were 14 MB.
    private let extras: Extras?
    private let hooks: HooksForm

    private enum HooksForm: UInt8 {
        case none, emptyOrderedDict, other

        /// The form of hooks given as a value: kept as given (the object a pickle
        /// may reach again); only a decoder that knows the dict is never reached
        /// again gives them as a flag.
        init(given hooks: Value) {
            self = if case .None = hooks { .none } else { .other }
        }
    }

    private final class Extras: Sendable {
        let quantization: Quantization?
        let sparse: SparseComponents?
        let backwardHooks: Value
        let parameterState: Value?
        let subclass: PyGlobal?
        let subclassState: Value?

        private init(quantization: Quantization?, sparse: SparseComponents?, backwardHooks: Value, parameterState: Value?,
                     subclass: PyGlobal?, subclassState: Value?) {
            self.quantization = quantization
            self.sparse = sparse
            self.backwardHooks = backwardHooks
            self.parameterState = parameterState
            self.subclass = subclass
            self.subclassState = subclassState
        }

        /// The box for these parts; nil when the tensor has none of them.
        static func make(quantization: Quantization?, sparse: SparseComponents?, hooks: HooksForm, backwardHooks: Value,
                         parameterState: Value?, subclass: PyGlobal?, subclassState: Value?) -> Extras? {
            guard hooks == .other || quantization != nil || sparse != nil || parameterState != nil || subclass != nil
                || subclassState != nil else { return nil }
            return Extras(quantization: quantization, sparse: sparse, backwardHooks: hooks == .other ? backwardHooks : .None,
                          parameterState: parameterState, subclass: subclass, subclassState: subclassState)
        }
    }

    /// Creates a tensor from its parts, as given: the shape, stride and offset
    /// are not checked against the storage here (the unpickler checks them
    /// before it calls this, and ``view(shape:stride:storageOffset:)`` does).
    public convenience init(dtype: DType, shape: [Int], stride: [Int], storageOffset: Int = 0, storage: Storage?,
                            layout: Layout = .strided, device: Device? = nil, requiresGrad: Bool = false,
                            isParameter: Bool = false, isConjugated: Bool = false, isNegated: Bool = false,
                            quantization: Quantization? = nil, sparse: SparseComponents? = nil,
                            backwardHooks: Value = .None, parameterState: Value? = nil,
                            subclass: PyGlobal? = nil, subclassState: Value? = nil) {
        let hooks = HooksForm(given: backwardHooks)
        self.init(dtype: dtype, shape: shape, stride: stride, storageOffset: storageOffset, storage: storage, layout: layout,
                  device: device ?? storage?.device ?? .cpu, requiresGrad: requiresGrad, isParameter: isParameter,
                  isConjugated: isConjugated, isNegated: isNegated, hooks: hooks,
                  extras: Extras.make(quantization: quantization, sparse: sparse, hooks: hooks, backwardHooks: backwardHooks,
                                      parameterState: parameterState, subclass: subclass, subclassState: subclassState))
    }

    /// A strided tensor of a storage whose backward hooks are an empty
    /// `OrderedDict` (every tensor of a state dict), without the dict.
    package static func withEmptyOrderedDictHooks(dtype: DType, shape: [Int], stride: [Int], storageOffset: Int,
                                                  storage: Storage, requiresGrad: Bool) -> Tensor {
        Tensor(dtype: dtype, shape: shape, stride: stride, storageOffset: storageOffset, storage: storage, layout: .strided,
               device: storage.device, requiresGrad: requiresGrad, isParameter: false, isConjugated: false,
               isNegated: false, hooks: .emptyOrderedDict, extras: nil)
    }

    private init(dtype: DType, shape: [Int], stride: [Int], storageOffset: Int, storage: Storage?, layout: Layout,
                 device: Device, requiresGrad: Bool, isParameter: Bool, isConjugated: Bool, isNegated: Bool,
                 hooks: HooksForm, extras: Extras?) {
        self.dtype = dtype
        self.shape = shape
        self.stride = stride
        self.storageOffset = storageOffset
        self.storage = storage
        self.layout = layout
        self.device = device
        self.requiresGrad = requiresGrad
        self.isParameter = isParameter
        self.isConjugated = isConjugated
        self.isNegated = isNegated
        self.hooks = hooks
        self.extras = extras
    }

    /// A copy with some properties changed (hooks made on read stay so).
    package func with(requiresGrad: Bool? = nil, isParameter: Bool? = nil, device: Device? = nil,
              backwardHooks: Value? = nil, parameterState: Value?? = nil,
              subclass: PyGlobal?? = nil, subclassState: Value?? = nil) -> Tensor {
        var newHooks = hooks
        var hooksValue = extras?.backwardHooks ?? .None
        if let backwardHooks {
            newHooks = HooksForm(given: backwardHooks)
            hooksValue = backwardHooks
        }
        return Tensor(dtype: dtype, shape: shape, stride: stride, storageOffset: storageOffset, storage: storage,
                      layout: layout, device: device ?? self.device, requiresGrad: requiresGrad ?? self.requiresGrad,
                      isParameter: isParameter ?? self.isParameter, isConjugated: isConjugated, isNegated: isNegated,
                      hooks: newHooks,
                      extras: Extras.make(quantization: quantization, sparse: sparse, hooks: newHooks, backwardHooks: hooksValue,
                                          parameterState: parameterState ?? self.parameterState,
                                          subclass: subclass ?? self.subclass, subclassState: subclassState ?? self.subclassState))
    }

    /// The number of dimensions.
    public var dimensionCount: Int { shape.count }

    /// The number of elements (the product of the shape; `Int.max` where
    /// that overflows, which a shape torch accepts never does).
    public var elementCount: Int {
        var count = 1
        for size in shape {
            let (c, o) = count.multipliedReportingOverflow(by: size)
            if o { return size == 0 || count == 0 ? 0 : .max }
            count = c
        }
        return count
    }

    /// The size in bytes of the logical elements (`Int.max` where that
    /// overflows: an expanded view of 2^62 float32 elements; see
    /// ``logicalByteCount``).
    public var byteCount: Int { logicalByteCount ?? .max }

    /// Whether the tensor is a meta tensor (shape and type only, no data).
    public var isMeta: Bool { device.type == "meta" }

    /// Whether the elements lie in row-major order without gaps, as
    /// `tensor.is_contiguous()` reports (dimensions of size 1 may have any stride).
    public var isContiguous: Bool {
        guard layout == .strided else { return false }
        if elementCount == 0 { return true }
        var expected = 1
        for (size, s) in zip(shape, stride).reversed() where size != 1 {
            if s != expected { return false }
            expected *= size
        }
        return true
    }
}

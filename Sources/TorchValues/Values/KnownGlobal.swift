/// A global this library rebuilds without running its Python code.
package enum KnownGlobal: Sendable, Equatable {
    // builtins
    case set, frozenSet, byteArray, bytes, complex, list, tuple, dict
    // _codecs
    case codecsEncode
    // collections
    case orderedDict, counter, defaultDict
    // torch values
    case dtype(DType)
    case storageClass(DType)
    case untypedStorage
    case layout(Layout)
    case qscheme(String)
    case torchSize, torchDevice, getLayout
    // torch rebuild functions
    case rebuildTensor, rebuildTensorV2, rebuildTensorV3
    case rebuildParameter, rebuildParameterWithState
    case rebuildQTensor, rebuildSparseTensor, rebuildSparseCSRTensor
    case rebuildMetaTensorNoStorage, rebuildWrapperSubclass
    case rebuildDeviceTensorFromCPUTensor, rebuildDeviceTensorFromNumpy
    case rebuildFromTypeV2, rebuildFromType
    // numpy
    case numpyReconstruct, numpyScalar, numpyDType, numpyFromBuffer, numpyNDArray
}

/// The registry: which `module.name` pairs are known.
///
/// Python 2 module names (`__builtin__`, `copy_reg`) and numpy 1's
/// `numpy.core` are mapped to their current names, as `pickle` and numpy do.
public enum GlobalRegistry {
    package static func lookup(module: String, name: String) -> KnownGlobal? {
        let m = normalizedModule(module)
        switch m {
        case "builtins":
            return builtins[name]
        case "_codecs":
            return name == "encode" ? .codecsEncode : nil
        case "collections":
            return collections[name]
        case "torch":
            if let d = DType(torchName: name) { return .dtype(d) }
            if let d = DType(storageClassName: name) { return .storageClass(d) }
            if let l = Layout(name: name) { return .layout(l) }
            if qschemes.contains(name) { return .qscheme(name) }
            switch name {
            case "Size": return .torchSize
            case "device": return .torchDevice
            case "UntypedStorage": return .untypedStorage
            default: return nil
            }
        case "torch.cuda":
            if let d = DType(storageClassName: name) { return .storageClass(d) }
            return nil
        case "torch.storage":
            return name == "UntypedStorage" || name == "_UntypedStorage" ? .untypedStorage : nil
        case "torch._utils":
            return torchUtils[name]
        case "torch._tensor":
            switch name {
            case "_rebuild_from_type_v2": return .rebuildFromTypeV2
            case "_rebuild_from_type": return .rebuildFromType
            default: return nil
            }
        case "torch.serialization":
            return name == "_get_layout" ? .getLayout : nil
        case "numpy.core.multiarray", "numpy._core.multiarray":
            switch name {
            case "_reconstruct": return .numpyReconstruct
            case "scalar": return .numpyScalar
            default: return nil
            }
        case "numpy.core.numeric", "numpy._core.numeric":
            return name == "_frombuffer" ? .numpyFromBuffer : nil
        case "numpy":
            switch name {
            case "dtype": return .numpyDType
            case "ndarray": return .numpyNDArray
            default: return nil
            }
        default:
            return nil
        }
    }

    /// Python 3's name for a module a Python 2 pickle names.
    package static func normalizedModule(_ module: String) -> String {
        switch module {
        case "__builtin__": "builtins"
        case "copy_reg": "copyreg"
        default: module
        }
    }

    /// Python 3's name for a module that a Python 2 pickle names (`__builtin__` → `builtins`, `httplib` → `http.client`).
    public static func python3Module(_ module: String) -> String { Python2Names.modules[module] ?? normalizedModule(module) }

    /// `module.name` as Python 3 imports it from a Python 2 pickle
    /// (`exceptions.Exception` → `builtins.Exception`, `httplib.HTTPSConnection` → `http.client.HTTPSConnection`).
    public static func python3Name(module: String, name: String) -> String {
        Python2Names.globals[module + "." + name] ?? (python3Module(module) + "." + name)
    }

    /// Whether the registry rebuilds `module.name` (rather than keeping it as an opaque object).
    public static func isKnown(module: String, name: String) -> Bool {
        lookup(module: module, name: name) != nil
    }

    package static let builtins: [String: KnownGlobal] = [
        "set": .set, "frozenset": .frozenSet, "bytearray": .byteArray, "bytes": .bytes,
        "complex": .complex, "list": .list, "tuple": .tuple, "dict": .dict,
    ]

    package static let collections: [String: KnownGlobal] = [
        "OrderedDict": .orderedDict, "Counter": .counter, "defaultdict": .defaultDict,
    ]

    package static let qschemes: Set<String> = [
        "per_tensor_affine", "per_channel_affine", "per_tensor_symmetric",
        "per_channel_symmetric", "per_channel_affine_float_qparams",
    ]

    package static let torchUtils: [String: KnownGlobal] = [
        "_rebuild_tensor": .rebuildTensor,
        "_rebuild_tensor_v2": .rebuildTensorV2,
        "_rebuild_tensor_v3": .rebuildTensorV3,
        "_rebuild_parameter": .rebuildParameter,
        "_rebuild_parameter_with_state": .rebuildParameterWithState,
        "_rebuild_qtensor": .rebuildQTensor,
        "_rebuild_sparse_tensor": .rebuildSparseTensor,
        "_rebuild_sparse_csr_tensor": .rebuildSparseCSRTensor,
        "_rebuild_meta_tensor_no_storage": .rebuildMetaTensorNoStorage,
        "_rebuild_wrapper_subclass": .rebuildWrapperSubclass,
        "_rebuild_device_tensor_from_cpu_tensor": .rebuildDeviceTensorFromCPUTensor,
        "_rebuild_device_tensor_from_numpy": .rebuildDeviceTensorFromNumpy,
    ]
}

/// Why a known global could not be rebuilt from the arguments the pickle gave.
package struct RebuildError: Error {
    package let message: String
    /// A tensor whose geometry or storage is invalid, as opposed to a malformed call.
    package var isTensorProblem = false
    package init(_ message: String, tensor: Bool = false) {
        self.message = message
        self.isTensorProblem = tensor
    }
}

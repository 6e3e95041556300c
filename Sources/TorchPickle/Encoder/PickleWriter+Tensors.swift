/// Tensors and storages as `torch.save` pickles them (torch 2.x
/// `Tensor._reduce_ex_internal`, `Parameter.__reduce_ex__` and
/// `torch.serialization`'s `persistent_id`).
extension PickleWriter {
    mutating func saveTensor(_ t: Tensor) throws(PickleError) {
        if memoHit(t) { return }
        if t.subclass != nil || t.subclassState != nil {
            // Tensor.__reduce_ex__ for subclasses and tensors with Python state:
            // (_rebuild_from_type_v2, (func, type(self), args, state))
            let plain = t.with(subclass: .some(nil), subclassState: .some(nil))
            try save(.global(PyGlobal(module: "torch._tensor", name: "_rebuild_from_type_v2")))
            write(Opcode.mark.rawValue)
            let (function, arguments) = try reduction(of: plain, asParameterData: false)
            try save(.global(function))
            try save(.global(t.subclass ?? PyGlobal(module: "torch", name: "Tensor")))
            try save(.tuple(PyTuple(arguments)))
            try save(t.subclassState ?? .dict(PyDict()))
            write(Opcode.tuple.rawValue)
            memoize()
            write(Opcode.reduce.rawValue)
            memoizeObject(t)
            return
        }
        if t.isParameter {
            // Parameter.__reduce_ex__: (_rebuild_parameter[_with_state], (self.data, self.requires_grad, OrderedDict()[, state]))
            let withState = t.parameterState != nil
            try save(.global(PyGlobal(module: "torch._utils", name: withState ? "_rebuild_parameter_with_state" : "_rebuild_parameter")))
            let data = t.with(requiresGrad: false, isParameter: false, parameterState: .some(nil))
            var args: [Value] = [.tensor(data), .bool(t.requiresGrad), .dict(PyDict(kind: .orderedDict))]
            if let state = t.parameterState { args.append(state) }
            try save(.tuple(PyTuple(args)))
            write(Opcode.reduce.rawValue)
            memoizeObject(t)
            return
        }
        let (function, arguments) = try reduction(of: t, asParameterData: false)
        try save(.global(function))
        try save(.tuple(PyTuple(arguments)))
        write(Opcode.reduce.rawValue)
        memoizeObject(t)
    }

    /// The rebuild function and its arguments for a plain tensor.
    mutating func reduction(of t: Tensor, asParameterData: Bool) throws(PickleError) -> (PyGlobal, [Value]) {
        let utils = "torch._utils"
        // torch.save writes a new empty OrderedDict; a torch 0.4 file wrote None, written back as it was.
        let hooks: Value = provenance.picklesHooksAsNone(t) ? .None : .dict(PyDict(kind: .orderedDict))
        let size = Value.tuple(PyTuple(t.shape.map(Value.int)))
        let stride = Value.tuple(PyTuple(t.stride.map(Value.int)))
        switch t.layout {
        case .strided:
            if t.isMeta || t.storage == nil {
                return (PyGlobal(module: utils, name: "_rebuild_meta_tensor_no_storage"),
                        [.dtype(t.dtype), size, stride, .bool(t.requiresGrad)])
            }
            let storage = Value.storage(t.storage!)
            if let q = t.quantization {
                let params: Value
                switch q {
                case .perTensorAffine(let scale, let zeroPoint):
                    params = .tuple(PyTuple([.global(PyGlobal(module: "torch", name: "per_tensor_affine")), .float(scale), .int(zeroPoint)]))
                case .perChannelAffine(let scales, let zeroPoints, let axis, _):
                    // torch.save writes per_channel_affine_float_qparams as per_channel_affine too.
                    params = .tuple(PyTuple([.global(PyGlobal(module: "torch", name: "per_channel_affine")),
                                             .tensor(scales), .tensor(zeroPoints), .int(axis)]))
                }
                return (PyGlobal(module: utils, name: "_rebuild_qtensor"),
                        [storage, .int(t.storageOffset), size, stride, params, .bool(t.requiresGrad), hooks])
            }
            var args: [Value] = [storage, .int(t.storageOffset), size, stride, .bool(t.requiresGrad), hooks]
            let v3 = t.dtype.storageClassName == nil
            if v3 { args.append(.dtype(t.dtype)) }
            if t.isConjugated || t.isNegated {
                // torch._C._get_tensor_metadata: {'neg': True, 'conj': True}, neg first.
                let metadata = PyDict()
                if t.isNegated { metadata["neg"] = .bool(true) }
                if t.isConjugated { metadata["conj"] = .bool(true) }
                args.append(.dict(metadata))
            }
            return (PyGlobal(module: utils, name: v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2"), args)
        case .sparseCOO, .sparseCSR, .sparseCSC, .sparseBSR, .sparseBSC:
            let layout = Value.global(PyGlobal(module: "torch", name: String(t.layout.rawValue.dropFirst("torch.".count))))
            let torchSize = Value.tuple(PyTuple(t.shape.map(Value.int), kind: .torchSize))
            let data: [Value]
            switch t.sparse {
            case .coo(let indices, let values, let coalesced)?:
                data = [.tensor(indices), .tensor(values), torchSize] + (coalesced.map { [.bool($0)] } ?? [])
            case .compressed(let compressed, let plain, let values)?:
                data = [.tensor(compressed), .tensor(plain), .tensor(values), torchSize]
            case nil:
                throw PickleError(.unsupported, "a sparse tensor without its components", offset: output.count, opcode: nil)
            }
            return (PyGlobal(module: utils, name: "_rebuild_sparse_tensor"), [layout, .tuple(PyTuple(data))])
        default:
            throw PickleError(.unsupported, "cannot write a \(t.layout.rawValue) tensor", offset: output.count, opcode: nil)
        }
    }

    /// A storage as `torch.save`'s `persistent_id` names it:
    /// `('storage', storage_type, key, location, numel)` and `BINPERSID`.
    ///
    /// As in PyTorch, `'storage'` is one string object, a storage's key is one
    /// object per storage (a new one at each reference in the legacy format),
    /// and `cpu`, `meta` and `mps` are constant strings while `cuda:N` is made
    /// afresh each time. The legacy style adds the sixth item, view metadata.
    mutating func savePersistentStorage(_ s: Storage) throws(PickleError) {
        let cls = s.isUntyped ? PyGlobal(module: "torch.storage", name: "UntypedStorage")
                              : PyGlobal(module: "torch", name: s.dtype.storageClassName ?? "UntypedStorage")
        let id = ObjectIdentifier(s)
        // A legacy view names its root: the root's key and size, and the root's bytes go in the file.
        let view = persistentIDStyle == .legacy ? legacyViews[id] : nil
        let root = view?.root ?? s
        let key = self.key(of: root)
        var items: [Value] = [.string("storage"), .global(cls), .string(key), .string(s.location), .int(root.elementCount)]
        if persistentIDStyle == .legacy {
            items.append(view.map { .tuple(PyTuple([.string(s.key), .int($0.offset), .int(s.elementCount)])) } ?? Value.None)
        }
        let pid = PyTuple(items)
        let reference = storageReferenceCounts[id, default: 0]
        storageReferenceCounts[id] = reference + 1
        if let recorded = provenance.storageReferences[id], reference < recorded.count {
            // As the decoded file had it.
            pid.itemTokens = recorded[reference]
        } else {
            // As torch.save makes them: 'storage' and cpu/meta/mps are interned
            // constants; a key is one string per storage, made by str(int), which
            // builds a new object even for one digit; 'cuda:N' is new each time.
            pid.itemTokens[0] = constantToken("interned:storage")
            if persistentIDStyle == .zip {
                pid.itemTokens[2] = constantToken("pid:key:\(UInt(bitPattern: id.hashValue))")
            }
            if !s.location.contains(":") { pid.itemTokens[3] = constantToken("interned:" + s.location) }
        }
        keepAlive.append(s)
        try save(.tuple(pid))
        write(Opcode.binPersID.rawValue)
    }

    /// The key a storage is written under: its own, or numbered as first met;
    /// the storage joins the list of storages the file holds.
    mutating func key(of storage: Storage) -> String {
        let id = ObjectIdentifier(storage)
        if let known = storageKeys[id] { return known }
        let index = storagesInOrder.count
        let key = renumbersStorages ? (storageKey?(index, storage) ?? String(index)) : storage.key
        storageKeys[id] = key
        storagesInOrder.append((key, storage))
        keepAlive.append(storage)
        return key
    }
}

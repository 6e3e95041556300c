extension KnownGlobal {
    /// Rebuilds what calling this global with `args` gives in Python, or nil
    /// to keep the call as an opaque object.
    func call(_ args: [Value], construction: PyObject.Construction) throws -> Value? {
        switch self {
        // builtins
        case .set, .frozenSet:
            let s = PySet(frozen: self == .frozenSet)
            if let first = args.first {
                guard let items = first.iterableItems else { throw RebuildError("expects an iterable, got \(first.typeName)") }
                for item in items { try s.insert(item) }
            }
            return .set(s)
        case .list:
            return .list(PyList(args.first?.iterableItems ?? []))
        case .tuple:
            return .tuple(PyTuple(args.first?.iterableItems ?? []))
        case .dict:
            guard args.isEmpty else { return nil }
            return .dict(PyDict())
        case .bytes:
            switch args.first {
            case nil: return .bytes([])
            case .bytes(let b)?: return .bytes(b)
            case .list(let l)?:
                return .bytes(try l.items.map { v in
                    guard case .int(let i) = v, (0...255).contains(i) else { throw RebuildError("bytes() item out of range") }
                    return UInt8(i)
                })
            case .string(let s)? where args.count == 2: return .bytes(try encode(s, args[1]))
            default: return nil
            }
        case .byteArray:
            switch args.first {
            case nil: return .byteArray([])
            case .bytes(let b)?: return .byteArray(b)
            case .byteArray(let b)?: return .byteArray(b)
            case .string(let s)? where args.count == 2: return .byteArray(try encode(s, args[1]))
            default: return nil
            }
        case .complex:
            guard let re = (args.first ?? .float(0)).double, let im = (args.count > 1 ? args[1] : .float(0)).double else {
                return nil
            }
            return .complex(Complex(real: re, imag: im))
        case .codecsEncode:
            guard case .string(let s)? = args.first else { throw RebuildError("expects a str") }
            return .bytes(try encode(s, args.count > 1 ? args[1] : .string("utf-8")))

        // collections
        case .orderedDict, .counter:
            let d = PyDict(kind: self == .counter ? .counter : .orderedDict)
            if let first = args.first {
                switch first {
                case .dict(let src):
                    for (k, v) in src.items { try d.set(v, for: k) }
                    // Same entries in the same order: the items keep their object identities.
                    d.itemTokens = src.itemTokens
                case .list, .tuple:
                    let pairs = first.items ?? []
                    var tokens = TokenTable()
                    for (i, pair) in pairs.enumerated() {
                        guard let kv = pair.items, kv.count == 2 else { throw RebuildError("expects key–value pairs") }
                        try d.set(kv[1], for: kv[0])
                        let pairTokens: TokenTable = switch pair {
                        case .list(let l): l.itemTokens
                        case .tuple(let t): t.itemTokens
                        default: [:]
                        }
                        tokens[2 * i] = pairTokens[0]
                        tokens[2 * i + 1] = pairTokens[1]
                    }
                    // Every pair made its own item: the items keep their object identities.
                    if d.count == pairs.count { d.itemTokens = tokens }
                default: throw RebuildError("cannot build from \(first.typeName)")
                }
            }
            return .dict(d)
        case .defaultDict:
            return .dict(PyDict(kind: .defaultDict(factory: args.first ?? .None)))

        // torch values
        case .torchSize:
            guard args.count == 1, let items = args[0].items else {
                throw RebuildError("expects one tuple of sizes")
            }
            return .tuple(PyTuple(items, kind: .torchSize))
        case .torchDevice:
            return .device(try device(from: args))
        case .getLayout:
            guard case .string(let name)? = args.first, let layout = Layout(name: name) else {
                throw RebuildError("unknown layout \(args.first.map { "\($0)" } ?? "")")
            }
            let short = layout.rawValue.dropFirst("torch.".count)
            return .global(PyGlobal(module: "torch", name: String(short), known: .layout(layout)))
        case .dtype, .storageClass, .untypedStorage, .layout, .qscheme:
            return nil
        case .numpyNDArray:
            return nil

        // torch rebuild functions
        case .rebuildTensor, .rebuildTensorV2, .rebuildTensorV3, .rebuildParameter, .rebuildParameterWithState,
             .rebuildQTensor, .rebuildSparseTensor, .rebuildSparseCSRTensor, .rebuildMetaTensorNoStorage,
             .rebuildWrapperSubclass, .rebuildDeviceTensorFromCPUTensor, .rebuildDeviceTensorFromNumpy,
             .rebuildFromTypeV2, .rebuildFromType:
            return try TensorRebuild.call(self, args)

        // numpy
        case .numpyReconstruct:
            // _reconstruct(ndarray, (0,), b'b'): an empty array that BUILD fills in.
            return .ndarray(NDArray(shape: [0], isScalar: false))
        case .numpyScalar:
            guard case .numpyDType(let dtype)? = args.first else { throw RebuildError("expects a numpy dtype") }
            let a = NDArray(shape: [], isScalar: true)
            a.dtype = dtype
            switch args.count > 1 ? args[1] : .None {
            case .bytes(let b): a.data = b
            case .string(let s): a.data = s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
            case let other: a.objects = [other]
            }
            return .ndarray(a)
        case .numpyDType:
            guard case .string(let t)? = args.first else { throw RebuildError("expects a type string") }
            return .numpyDType(NumpyDType(typeString: t))
        case .numpyFromBuffer:
            // _frombuffer(buffer, dtype, shape, order)
            guard args.count >= 3, case .numpyDType(let dtype) = args[1], let shape = args[2].items?.compactMap(\.int) else {
                throw RebuildError("expects (buffer, dtype, shape, order)")
            }
            let a = NDArray(shape: shape, isScalar: false)
            a.dtype = dtype
            switch args[0] {
            case .bytes(let b), .byteArray(let b): a.data = b
            default: throw RebuildError("expects a bytes buffer, got \(args[0].typeName)")
            }
            if args.count > 3, case .string("F") = args[3] { a.isFortranOrder = true }
            return .ndarray(a)
        }
    }

    private func encode(_ s: String, _ encoding: Value) throws -> [UInt8] {
        let name = (encoding.string ?? "utf-8").lowercased().replacingUnderscores
        switch name {
        case "latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1":
            return try s.unicodeScalars.map { u in
                guard u.value < 256 else { throw RebuildError("character U+\(String(u.value, radix: 16)) is not Latin-1") }
                return UInt8(u.value)
            }
        case "utf-8", "utf8":
            return Array(s.utf8)
        case "ascii":
            return try s.unicodeScalars.map { u in
                guard u.value < 128 else { throw RebuildError("character U+\(String(u.value, radix: 16)) is not ASCII") }
                return UInt8(u.value)
            }
        default:
            throw RebuildError("unsupported text encoding \(name.debugDescription)")
        }
    }

    private func device(from args: [Value]) throws -> Device {
        switch (args.first, args.count > 1 ? args[1] : nil) {
        case (.string(let s)?, nil), (.string(let s)?, Value.None?):
            return Device(location: s)
        case (.string(let s)?, .int(let i)?):
            return Device(type: s, index: i)
        default:
            throw RebuildError("expects (type[, index])")
        }
    }
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? "-" : $0 }) }
}

extension Value {
    /// The items of anything Python can iterate that the pickle could hold.
    var iterableItems: [Value]? {
        switch self {
        case .list(let l): l.items
        case .tuple(let t): t.items
        case .set(let s): s.items
        case .dict(let d): d.keys
        default: nil
        }
    }
}

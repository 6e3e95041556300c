/// The comparison of the two tensors at one path: metadata first, then
/// elements (``ElementComparison``).
struct TensorDiff {
    let tolerance: CheckpointDiff.Tolerance
    let blockElements: Int
    /// The two files, for errors.
    let files: (String, String)
    var expandedViewLimit = Tensor.defaultExpandedViewLimit

    func compare(_ a: Tensor, _ b: Tensor, path: [PathKey]) throws(DiffError) -> ([DiffEntry.Kind], TensorComparison?) {
        var kinds: [DiffEntry.Kind] = []
        if a.dtype != b.dtype { kinds.append(.dtypeChanged(a.dtype, b.dtype)) }
        if a.shape != b.shape { kinds.append(.shapeChanged(a.shape, b.shape)) }
        if !kinds.isEmpty { return (kinds, nil) }
        let layoutA = Self.layout(a), layoutB = Self.layout(b)
        if layoutA != layoutB { return ([.layoutChanged(layoutA, layoutB)], nil) }
        if a.isMeta { return ([], nil) }
        do {
            if a.dtype.isQuantized {
                let qa = try Self.describe(a.quantization), qb = try Self.describe(b.quantization)
                if qa != qb { kinds.append(.quantizationChanged(qa, qb)) }
            }
            let elements = ElementComparison(tolerance: tolerance, blockElements: blockElements, expandedViewLimit: expandedViewLimit)
            let outcome: Result<TensorComparison, ElementComparison.NotComparable>
            if a.layout == .strided {
                outcome = try elements.compare(a, b, path: path, compared: a.dtype.isQuantized ? "int_repr" : nil)
            } else if let (va, vb) = try Self.sparseValues(a, b) {
                outcome = try elements.compare(va, vb, path: path, compared: "sparse values")
            } else {
                outcome = .failure(.init(reason: "the sparse tensors have different indices (different nonzero positions), so their values are not compared element by element"))
            }
            switch outcome {
            case .success(let comparison):
                if !comparison.isWithinTolerance { kinds.append(.valuesDiffer(comparison)) }
                return (kinds, comparison)
            case .failure(let why):
                kinds.append(.notCompared(why.reason))
                return (kinds, nil)
            }
        } catch let error as DiffError {
            throw error
        } catch {
            throw .unreadable(file: Self.readable(a) ? files.1 : files.0, path: path, reason: "\(error)")
        }
    }

    /// Whether every storage a tensor (or its sparse components) views can be read.
    static func readable(_ t: Tensor) -> Bool {
        var tensors = [t]
        switch t.sparse {
        case .coo(let indices, let values, _)?: tensors += [indices, values]
        case .compressed(let compressed, let plain, let values)?: tensors += [compressed, plain, values]
        case nil: break
        }
        return tensors.allSatisfy { tensor in
            guard let storage = tensor.storage else { return true }
            return (try? storage.bytes()) != nil
        }
    }

    /// `torch.strided`, `torch.sparse_coo`, …, or `meta`.
    static func layout(_ t: Tensor) -> String {
        t.layout == .strided && t.isMeta ? "meta" : t.layout.rawValue
    }

    /// The values of two sparse tensors whose indices are identical, or nil.
    static func sparseValues(_ a: Tensor, _ b: Tensor) throws -> (Tensor, Tensor)? {
        let indices: [(Tensor, Tensor)]
        let values: (Tensor, Tensor)
        switch (a.sparse, b.sparse) {
        case (.coo(let ia, let va, _)?, .coo(let ib, let vb, _)?):
            indices = [(ia, ib)]
            values = (va, vb)
        case (.compressed(let ca, let pa, let va)?, .compressed(let cb, let pb, let vb)?):
            indices = [(ca, cb), (pa, pb)]
            values = (va, vb)
        default:
            return nil
        }
        for (x, y) in indices {
            guard x.dtype == y.dtype, x.shape == y.shape else { return nil }
            guard try x.contiguousBytes(byteOrder: .little) == y.contiguousBytes(byteOrder: .little) else { return nil }
        }
        guard values.0.dtype == values.1.dtype, values.0.shape == values.1.shape else { return nil }
        return values
    }

    /// Quantization parameters as text, `per_tensor_affine(scale=0.05, zero_point=0)`.
    static func describe(_ q: Quantization?) throws -> String {
        guard let q else { return "none" }
        switch q {
        case .perTensorAffine(let scale, let zeroPoint):
            return "per_tensor_affine(scale=\(PythonRepr.float(scale)), zero_point=\(zeroPoint))"
        case .perChannelAffine(let scales, let zeroPoints, let axis, _):
            func list(_ values: [Double], integers: Bool) -> String {
                "[" + values.map { v in integers ? Int64(exactly: v).map(String.init) ?? PythonRepr.float(v) : PythonRepr.float(v) }
                    .joined(separator: ", ") + "]"
            }
            let s: [Double] = try scales.scalars(), z: [Double] = try zeroPoints.scalars()
            return "\(q.qscheme)(axis=\(axis), scales=\(list(s, integers: false)), "
                + "zero_points=\(list(z, integers: !zeroPoints.dtype.isFloatingPoint)))"
        }
    }
}

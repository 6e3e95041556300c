import TorchCheckpoint

/// assert_close's `TensorLikePair` for two tensors: their attributes, then
/// their values (dequantized for quantized tensors; indices exactly and
/// values within the tolerances for sparse ones).
struct TensorPair {
    /// The tolerances given, or nil for the defaults of the tensors' dtypes.
    let tolerances: (rtol: Double, atol: Double)?
    let equalNaN: Bool
    let options: CloseOptions

    /// What is wrong with the pair, or nil when it is close.
    struct Problem {
        let kind: CloseFailure.Kind
        let message: String
        var omitsItem = false
    }

    func compare(_ a: Tensor, _ b: Tensor) -> Problem? {
        // get_tolerances: the loosest defaults of both dtypes when none are given.
        let (rtol, atol) = tolerances ?? {
            let x = TorchTesting.defaultTolerances(for: a.dtype), y = TorchTesting.defaultTolerances(for: b.dtype)
            return (max(x.rtol, y.rtol), max(x.atol, y.atol))
        }()
        if let problem = compareAttributes(a, b) { return problem }
        if a.isMeta || b.isMeta { return nil }
        let values = ValueComparison(rtol: rtol, atol: atol, equalNaN: equalNaN, blockElements: options.blockElements,
                                     expandedViewLimit: options.expandedViewLimit)
        do {
            if a.dtype.isQuantized { return try compareQuantized(a, b, values) }
            switch a.layout {
            case .strided:
                return try compareStrided(a, b, values, identifier: .standard)
            case .sparseCOO:
                return try compareCOO(a, b, values)
            case .sparseCSR, .sparseCSC, .sparseBSR, .sparseBSC:
                return try compareCompressed(a, b, values)
            default:
                return notCompared("\(a.layout.rawValue) tensors are not compared")
            }
        } catch {
            return notCompared("the values could not be read: \(error)")
        }
    }

    private func notCompared(_ reason: String) -> Problem {
        Problem(kind: .notCompared(reason: reason), message: reason)
    }

    /// `_compare_attributes`: the first attribute that differs, in assert_close's order.
    private func compareAttributes(_ a: Tensor, _ b: Tensor) -> Problem? {
        func differs(_ name: String, _ x: String, _ y: String) -> Problem {
            Problem(kind: .attributeDiffers(name: name, actual: x, expected: y),
                    message: "The values for attribute '\(name)' do not match: \(x) != \(y).")
        }
        if a.shape != b.shape { return differs("shape", PythonText.size(a.shape), PythonText.size(b.shape)) }
        if a.dtype.isQuantized != b.dtype.isQuantized {
            return differs("is_quantized", a.dtype.isQuantized ? "True" : "False", b.dtype.isQuantized ? "True" : "False")
        }
        if a.dtype.isQuantized, let qa = a.quantization?.qscheme, let qb = b.quantization?.qscheme, qa != qb {
            return differs("qscheme()", "torch.\(qa)", "torch.\(qb)")
        }
        if a.layout != b.layout { return differs("layout", a.layout.rawValue, b.layout.rawValue) }
        if options.checkStride && a.layout == .strided && a.stride != b.stride {
            return differs("stride()", PythonText.tuple(a.stride), PythonText.tuple(b.stride))
        }
        if options.checkDevice && a.device != b.device { return differs("device", a.device.description, b.device.description) }
        if a.dtype != b.dtype { return differs("dtype", a.dtype.description, b.dtype.description) }
        return nil
    }

    private func mismatch(_ m: ValueMismatch?) -> Problem? {
        m.map { Problem(kind: .valuesDiffer($0), message: $0.description) }
    }

    private func compareStrided(_ a: Tensor, _ b: Tensor, _ values: ValueComparison,
                                identifier: ValueComparison.Identifier) throws -> Problem? {
        guard let arithmetic = Arithmetic(a.dtype) else {
            return notCompared("\(a.dtype) tensors have no arithmetic in PyTorch: their values are not compared")
        }
        if arithmetic == .bitwise && !(values.rtol == 0 && values.atol == 0) {
            // assert_close raises this without the item it concerns.
            let text = "Rtol=\(PythonText.float(values.rtol)) and atol=\(PythonText.float(values.atol)) are not supported "
                + "for bitwise comparison of low dimensional floats. Please use rtol=0.0 and atol=0.0."
            return Problem(kind: .notCompared(reason: text), message: text, omitsItem: true)
        }
        return mismatch(try values.compare(a, b, as: arithmetic, identifier: identifier))
    }

    // MARK: Quantized

    /// `_compare_quantized_values`: `dequantize()` of both, compared as float32.
    private func compareQuantized(_ a: Tensor, _ b: Tensor, _ values: ValueComparison) throws -> Problem? {
        guard a.dtype.elementsPerByte == 1, b.dtype.elementsPerByte == 1 else {
            return notCompared("\(a.dtype) tensors hold packed elements: their values are not compared")
        }
        let da = try Self.dequantizer(a), db = try Self.dequantizer(b)
        return mismatch(try values.compare(a, b, as: .float32, identifier: .quantized, dequantize: (da, db)))
    }

    /// `dequantize()` as PyTorch 2.15's CPU kernels compute it: per tensor
    /// `float(scale) · float(q − zero_point)` in float32; per channel
    /// `(q − zero_point) · scale` in float64, then rounded to float32; with
    /// float qparams `(float(q) − zero_point) · scale` in float32.
    static func dequantizer(_ t: Tensor) throws -> ValueComparison.Dequantize {
        switch t.quantization {
        case .perTensorAffine(let scale, let zeroPoint)?:
            let s = Float(scale), zp = Int64(zeroPoint)
            return { q, _ in q.map { s * Float($0 &- zp) } }
        case .perChannelAffine(let scalesTensor, let zeroPointsTensor, let axis, let floatQParams)?:
            let scales: [Double] = try scalesTensor.scalars()
            let zeroPoints: [Double] = try zeroPointsTensor.scalars()
            guard axis >= 0, axis < t.shape.count, scales.count == t.shape[axis], zeroPoints.count == t.shape[axis] else {
                throw ComparisonError("per-channel quantization parameters that do not fit axis \(axis) of shape \(t.shape)")
            }
            let inner = t.shape[(axis + 1)...].reduce(1, *), channels = t.shape[axis]
            return { q, start in
                q.enumerated().map { offset, value in
                    let c = ((start + offset) / inner) % channels
                    if floatQParams {
                        return (Float(value) - Float(zeroPoints[c])) * Float(scales[c])
                    }
                    return Float((Double(value) - zeroPoints[c]) * scales[c])
                }
            }
        case nil:
            throw ComparisonError("a \(t.dtype) tensor without quantization parameters")
        }
    }

    // MARK: Sparse

    /// `_compare_sparse_coo_values`: sparse dimensions, number of values, indices exactly, values.
    private func compareCOO(_ a: Tensor, _ b: Tensor, _ values: ValueComparison) throws -> Problem? {
        guard case .coo(let ia, let va, _)? = a.sparse, case .coo(let ib, let vb, _)? = b.sparse,
              ia.shape.count == 2, ib.shape.count == 2 else {
            return notCompared("a sparse COO tensor without its indices and values")
        }
        if ia.shape[0] != ib.shape[0] {
            return Problem(kind: .attributeDiffers(name: "sparse_dim()", actual: String(ia.shape[0]), expected: String(ib.shape[0])),
                           message: "The number of sparse dimensions in sparse COO tensors does not match: \(ia.shape[0]) != \(ib.shape[0])")
        }
        if ia.shape[1] != ib.shape[1] {
            return Problem(kind: .attributeDiffers(name: "_nnz()", actual: String(ia.shape[1]), expected: String(ib.shape[1])),
                           message: "The number of specified values in sparse COO tensors does not match: \(ia.shape[1]) != \(ib.shape[1])")
        }
        if let problem = try compareIndices(ia, ib, identifier: "Sparse COO indices", values) { return problem }
        return try compareStrided(va, vb, values, identifier: .fixed("Sparse COO values"))
    }

    /// `_compare_sparse_compressed_values`: number of values, compressed and plain indices exactly, values.
    private func compareCompressed(_ a: Tensor, _ b: Tensor, _ values: ValueComparison) throws -> Problem? {
        guard case .compressed(let ca, let pa, let va)? = a.sparse, case .compressed(let cb, let pb, let vb)? = b.sparse else {
            return notCompared("a sparse compressed tensor without its indices and values")
        }
        let (format, compressedName, plainName) = switch a.layout {
        case .sparseCSR: ("CSR", "crow_indices", "col_indices")
        case .sparseCSC: ("CSC", "ccol_indices", "row_indices")
        case .sparseBSR: ("BSR", "crow_indices", "col_indices")
        default: ("BSC", "ccol_indices", "row_indices")
        }
        // _nnz(): the values' size after the batch dimensions the indices have.
        func nnz(_ compressed: Tensor, _ values: Tensor) -> Int {
            let batch = max(compressed.shape.count - 1, 0)
            return batch < values.shape.count ? values.shape[batch] : 0
        }
        let na = nnz(ca, va), nb = nnz(cb, vb)
        if na != nb {
            return Problem(kind: .attributeDiffers(name: "_nnz()", actual: String(na), expected: String(nb)),
                           message: "The number of specified values in sparse \(format) tensors does not match: \(na) != \(nb)")
        }
        if let problem = try compareIndices(ca, cb, identifier: "Sparse \(format) \(compressedName)", values) { return problem }
        if let problem = try compareIndices(pa, pb, identifier: "Sparse \(format) \(plainName)", values) { return problem }
        return try compareStrided(va, vb, values, identifier: .fixed("Sparse \(format) values"))
    }

    /// `_compare_regular_values_equal` on index tensors (int32 or int64, compared as int64).
    private func compareIndices(_ a: Tensor, _ b: Tensor, identifier: String, _ values: ValueComparison) throws -> Problem? {
        guard a.shape == b.shape else {
            return notCompared("\(identifier) have different shapes: \(a.shape) and \(b.shape)")
        }
        let exact = ValueComparison(rtol: 0, atol: 0, equalNaN: false, blockElements: values.blockElements,
                                    expandedViewLimit: values.expandedViewLimit)
        return mismatch(try exact.compare(a, b, as: .signed(bits: 64), identifier: .fixed(identifier)))
    }
}

/// Why values could not be compared.
struct ComparisonError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}

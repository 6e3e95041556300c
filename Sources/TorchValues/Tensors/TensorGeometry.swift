/// The checks a tensor's geometry must pass, wherever it comes from (a
/// pickle's rebuild call, a view made in Swift, another format's header).
package enum TensorGeometry {
    package static func checkShape(_ shape: [Int], _ stride: [Int]) throws {
        guard shape.count == stride.count else {
            throw RebuildError("size has \(shape.count) dimensions but stride has \(stride.count)", tensor: true)
        }
        if let s = shape.first(where: { $0 < 0 }) { throw RebuildError("negative size \(s) in \(shape)", tensor: true) }
        if let s = stride.first(where: { $0 < 0 }) { throw RebuildError("negative stride \(s) in \(stride)", tensor: true) }
    }

    /// A view must lie inside its storage, as PyTorch's `set_` requires.
    package static func checkExtent(dtype: DType, shape: [Int], stride: [Int], offset: Int, storage: Storage) throws {
        guard offset >= 0 else { throw RebuildError("negative storage offset \(offset)", tensor: true) }
        var count = 1
        for size in shape {
            let (c, o) = count.multipliedReportingOverflow(by: size)
            guard !o else { throw RebuildError("size \(shape) overflows", tensor: true) }
            count = c
        }
        if count == 0 { return }
        var last = offset
        for (size, s) in zip(shape, stride) {
            let (step, o1) = (size - 1).multipliedReportingOverflow(by: s)
            let (sum, o2) = last.addingReportingOverflow(step)
            guard !o1, !o2 else { throw RebuildError("view of size \(shape) stride \(stride) overflows", tensor: true) }
            last = sum
        }
        // Packed types (quint4x2, quint2x4) hold several elements per byte.
        let (elementBytes, o) = (last + 1).multipliedReportingOverflow(by: dtype.itemSize)
        let needed = dtype.elementsPerByte == 1 ? elementBytes : dtype.byteCount(forElements: last + 1)
        if o || needed > storage.byteCount {
            throw RebuildError(
                "view with size \(shape), stride \(stride), storage offset \(offset) of \(dtype.name) needs \(o ? "more than Int.max" : "\(needed)") bytes, "
                + "but storage '\(storage.key)' (\(storage.location)) holds \(storage.byteCount)", tensor: true)
        }
    }
}

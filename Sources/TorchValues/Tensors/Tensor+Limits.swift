/// Views whose logical elements dwarf their storage.
///
/// `expand` gives a dimension stride 0 and `as_strided` may overlap elements,
/// so four bytes of storage can stand for 4 TiB of logical elements
/// (`torch.zeros(1).expand(2**40)`, a 2 KB file). Reading such a view's
/// elements — hashing, copying into an array, writing them out contiguously —
/// costs time and memory in proportion to the logical size, not to what the
/// file holds. Every API that does so checks first: a tensor whose logical
/// bytes exceed both its storage's bytes and the caller's limit is refused
/// with ``TensorError/Code/expandedViewOverLimit``, before anything is
/// allocated. Every other tensor is bounded by the file already, since a view
/// that does not overlap itself never takes more bytes than its storage.
extension Tensor {
    /// The default limit of every API that reads a view's logical elements:
    /// 1 GiB of logical elements for a view larger than its storage.
    public static let defaultExpandedViewLimit = 1 << 30

    /// The bytes of the logical elements, or nil when that count overflows
    /// 64 bits (a view of 2^62 float32 elements: 2^64 bytes).
    public var logicalByteCount: Int? { Self.byteCount(shape: shape, dtype: dtype) }

    /// The bytes of a tensor of `shape` and `dtype`, or nil when that count
    /// overflows 64 bits.
    package static func byteCount(shape: [Int], dtype: DType) -> Int? {
        if shape.contains(0) { return 0 }
        var count = 1
        for size in shape {
            let (c, o) = count.multipliedReportingOverflow(by: size)
            if o { return nil }
            count = c
        }
        if dtype.elementsPerByte > 1 { return dtype.byteCount(forElements: count) }
        let (bytes, o) = count.multipliedReportingOverflow(by: dtype.itemSize)
        return o ? nil : bytes
    }

    /// Whether the logical elements take more bytes than the storage holds:
    /// the view repeats elements (a stride-0 dimension, an overlapping
    /// `as_strided`). Such a view's element count says nothing about the
    /// size of the file.
    public var isExpandedView: Bool {
        guard layout == .strided, let storage else { return false }
        guard let bytes = logicalByteCount else { return true }
        return bytes > storage.byteCount
    }

    /// Throws ``TensorError/Code/expandedViewOverLimit`` when the tensor is a
    /// view larger than its storage (see ``isExpandedView``) whose logical
    /// elements take more than `limit` bytes; does nothing otherwise.
    ///
    /// - Parameters:
    ///   - limit: the most logical bytes to allow for such a view.
    ///   - option: how the caller raises the limit, named in the message
    ///     (`expandedViewLimit`, or a command-line option).
    public func checkExpandedView(limit: Int, option: String = "expandedViewLimit") throws(TensorError) {
        guard isExpandedView else { return }
        let logical = logicalByteCount
        if let logical, logical <= limit { return }
        throw TensorError(expandedView: "\(expandedViewDescription) exceeds the limit of \(ByteText.describe(limit)) "
                                        + "for views larger than their storage (raise it with \(option))",
                          logicalByteCount: logical ?? .max, limit: limit)
    }

    /// "a float32 view of 1,099,511,627,776 elements (4.0 TiB, stride [0]) over 4 B of storage".
    public var expandedViewDescription: String {
        var count = 1, overflow = false
        for size in shape {
            let (c, o) = count.multipliedReportingOverflow(by: size)
            overflow = overflow || o
            count = c
        }
        let elements = overflow ? "\(shape.map(String.init).joined(separator: " × ")) elements" : "\(ByteText.grouped(count)) elements"
        let bytes = ByteText.describe(logicalByteCount ?? .max)
        let article = dtype.name.hasPrefix("int") ? "an" : "a"
        return "\(article) \(dtype.name) view of \(elements) (\(bytes), shape \(shape), stride \(stride)) over "
            + "\(ByteText.describe(storage?.byteCount ?? 0)) of storage"
    }
}

/// Byte counts and large numbers as messages show them.
package enum ByteText {
    /// `Int.max` stands for a count that overflowed 64 bits.
    package static func describe(_ n: Int) -> String {
        if n == .max { return "8.0 EiB or more" }
        if n < 1024 { return "\(n) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = Double(n) / 1024
        var u = 0
        while v >= 1024 && u < units.count - 1 {
            v /= 1024
            u += 1
        }
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[u])"
    }

    package static func grouped(_ n: Int) -> String {
        if n == .max { return "9.2 × 10^18 or more" }
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }
}

extension Int {
    /// The sum, or `Int.max` where it overflows (totals of expanded views).
    package func addingSaturated(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}

/// Compares two checkpoints entry by entry, as a test that they hold the
/// same thing: keys added and removed, tensors whose dtype, shape or values
/// changed, plain values that changed.
///
/// ```swift
/// let report = try CheckpointDiff.compare(try Checkpoint(path: "a.pth"), try Checkpoint(path: "b.pth"),
///                                         tolerance: try .init(rtol: 1e-5, atol: 1e-8))
/// if !report.isEqual { print(report.text, terminator: "") }
/// ```
///
/// Entries are matched by path, as the canonical listing walks the object
/// tree (``Listing/walk(_:)``; for a TorchScript archive, the state_dict's
/// dotted names, ``Checkpoint/tensors``), so the order of keys does not
/// matter. Values the listing passes over (empty containers, sets, complex
/// numbers, objects) are compared as whole values at their path.
///
/// Tensors are compared by dtype, shape and layout first, reading no data
/// when those differ; then element by element within a ``Tolerance``,
/// streaming both tensors in blocks so that neither is held in memory whole
/// (contiguous tensors with identical bytes are not decoded at all). Strides,
/// storage sharing, `requires_grad`, the `Parameter` flag and the device tag
/// are not compared: they do not change the values.
///
/// - Quantized tensors: their quantization parameters, then their integer
///   representation (`int_repr()`) within the tolerance.
/// - Sparse tensors: their indices exactly, then their values within the
///   tolerance; with different indices the values are not compared and the
///   entry is a difference (``DiffEntry/Kind/notCompared(_:)``).
/// - Meta tensors hold no values: equal when dtype and shape are.
/// - Types without arithmetic (`bits8`, `uint4`, `float4_e2m1fn_x2`, …):
///   equal when their bits are, otherwise not compared, a difference.
public enum CheckpointDiff {
    /// What to compare, and how much memory to use.
    public struct Options: Sendable {
        /// Compare only the paths this pattern selects (the same rule as
        /// `pth inspect --filter`, ``PathFilter``); nil compares everything.
        public var filter: String?
        /// How many elements of each tensor are decoded at once (the memory a
        /// comparison holds is about 16 bytes per element for each side).
        public var blockElements: Int
        /// The most logical bytes to compare where both tensors are views
        /// larger than their storage (`expand`'s stride 0, an overlapping
        /// `as_strided`), so that a few bytes in each file cannot ask for
        /// terabytes of comparisons. Dimensions both tensors repeat are
        /// compared once, exactly, whatever their size; a pair still over the
        /// limit is reported as not compared, a difference.
        /// ``Tensor/defaultExpandedViewLimit`` (1 GiB) by default.
        public var expandedViewLimit: Int

        /// Options; by default everything is compared, a million elements at a time.
        public init(filter: String? = nil, blockElements: Int = 1 << 20,
                    expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) {
            self.filter = filter
            self.blockElements = blockElements
            self.expandedViewLimit = expandedViewLimit
        }
    }

    /// Compares two checkpoints; `b` is the reference for relative differences.
    public static func compare(_ a: Checkpoint, _ b: Checkpoint, tolerance: Tolerance = .exact,
                               options: Options = .init()) throws(DiffError) -> DiffReport {
        try compare(DiffLeaves.of(a), DiffLeaves.of(b), files: (a.path, b.path), tolerance: tolerance, options: options)
    }

    /// Compares two value trees (what `torch.load` returned for each); `b` is
    /// the reference for relative differences.
    public static func compare(_ a: Value, _ b: Value, tolerance: Tolerance = .exact,
                               options: Options = .init()) throws(DiffError) -> DiffReport {
        try compare(DiffLeaves.walk(a), DiffLeaves.walk(b), files: ("a", "b"), tolerance: tolerance, options: options)
    }

    /// Compares two tensors element by element, as ``compare(_:_:tolerance:options:)``
    /// compares the tensors at one path: the differences found (none when
    /// equal within the tolerance) and, when their elements were compared,
    /// the statistics.
    public static func compare(_ a: Tensor, _ b: Tensor, tolerance: Tolerance = .exact, options: Options = .init())
        throws(DiffError) -> (differences: [DiffEntry.Kind], comparison: TensorComparison?) {
        let comparer = TensorDiff(tolerance: tolerance, blockElements: options.blockElements, files: ("a", "b"),
                                  expandedViewLimit: options.expandedViewLimit)
        return try comparer.compare(a, b, path: [])
    }

    static func compare(_ a: [DiffLeaves.Leaf], _ b: [DiffLeaves.Leaf], files: (String, String),
                        tolerance: Tolerance, options: Options) throws(DiffError) -> DiffReport {
        var a = a, b = b
        if let filter = options.filter {
            a = a.filter { PathFilter.matches(filter, $0.path) }
            b = b.filter { PathFilter.matches(filter, $0.path) }
        }
        // The first leaf at a path wins (two dict keys can have one path: 1 and True).
        let inA = Dictionary(a.map { ($0.path, $0.value) }, uniquingKeysWith: { first, _ in first })
        let inB = Dictionary(b.map { ($0.path, $0.value) }, uniquingKeysWith: { first, _ in first })
        let tensors = TensorDiff(tolerance: tolerance, blockElements: options.blockElements, files: files,
                                 expandedViewLimit: options.expandedViewLimit)
        var report = DiffReport(tolerance: tolerance)
        var done = Set<[PathKey]>()
        for leaf in a where done.insert(leaf.path).inserted {
            let path = leaf.path
            guard let other = inB[path] else {
                report.entries.append(DiffEntry(path: path, kind: .removed(DiffLeaves.describe(leaf.value))))
                continue
            }
            switch (leaf.value, other) {
            case (.tensor(let x), .tensor(let y)):
                report.tensorCount += 1
                let (kinds, comparison) = try tensors.compare(x, y, path: path)
                report.entries += kinds.map { DiffEntry(path: path, kind: $0) }
                if let comparison { report.tensors.append(comparison) }
            case (.tensor, _), (_, .tensor):
                report.entries.append(DiffEntry(path: path, kind: .typeChanged(DiffLeaves.describe(leaf.value), DiffLeaves.describe(other))))
            default:
                report.valueCount += 1
                if DiffLeaves.typeName(leaf.value) != DiffLeaves.typeName(other) {
                    report.entries.append(DiffEntry(path: path, kind: .typeChanged(DiffLeaves.describe(leaf.value), DiffLeaves.describe(other))))
                } else if try !valuesEqual(leaf.value, other, path: path, files: files) {
                    report.entries.append(DiffEntry(path: path, kind: .valueChanged(DiffLeaves.describe(leaf.value), DiffLeaves.describe(other))))
                }
            }
        }
        for leaf in b where inA[leaf.path] == nil && done.insert(leaf.path).inserted {
            report.entries.append(DiffEntry(path: leaf.path, kind: .added(DiffLeaves.describe(leaf.value))))
        }
        return report
    }

    private static func valuesEqual(_ a: Value, _ b: Value, path: [PathKey], files: (String, String)) throws(DiffError) -> Bool {
        if case .float(let x) = DiffLeaves.plain(a), case .float(let y) = DiffLeaves.plain(b) { return x == y || (x.isNaN && y.isNaN) }
        return try fingerprint(a, path: path, file: files.0) == fingerprint(b, path: path, file: files.1)
    }

    private static func fingerprint(_ value: Value, path: [PathKey], file: String) throws(DiffError) -> String {
        do {
            return try DiffLeaves.fingerprint(value)
        } catch {
            throw .unreadable(file: file, path: path, reason: "\(error)")
        }
    }
}

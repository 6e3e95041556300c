/// What ``CheckpointDiff`` found between two checkpoints: every difference,
/// in the order of the first checkpoint's listing and then the entries only
/// the second has, and the statistics of every tensor compared element by
/// element.
public struct DiffReport: Sendable {
    /// The tolerance the tensors were compared with.
    public let tolerance: CheckpointDiff.Tolerance
    /// Every difference; empty when the checkpoints are equal within the tolerance.
    public internal(set) var entries: [DiffEntry] = []
    /// Every pair of tensors compared element by element, equal or not.
    public internal(set) var tensors: [TensorComparison] = []
    /// How many paths hold a tensor on both sides.
    public internal(set) var tensorCount = 0
    /// How many paths hold a plain value on both sides.
    public internal(set) var valueCount = 0

    /// Whether the checkpoints are equal within the tolerance: nothing added,
    /// removed or changed.
    public var isEqual: Bool { entries.isEmpty }
}

/// One difference between two checkpoints, at a path of the canonical listing.
public struct DiffEntry: Sendable {
    /// The keys and indices from the root (for a TorchScript archive, the
    /// state_dict name as a single key).
    public let path: [PathKey]
    /// What differs.
    public let kind: Kind

    /// What differs at a path.
    public enum Kind: Sendable {
        /// Only the second checkpoint has the path.
        case added(Leaf)
        /// Only the first checkpoint has the path.
        case removed(Leaf)
        /// Both hold a tensor, of different dtypes; no data is read.
        case dtypeChanged(DType, DType)
        /// Both hold a tensor, of different shapes; no data is read.
        case shapeChanged([Int], [Int])
        /// Both hold a tensor, of different layouts (`torch.strided`,
        /// `torch.sparse_coo`, …, or `meta` for a meta tensor); no data is read.
        case layoutChanged(String, String)
        /// Quantized tensors with different quantization parameters, as text.
        case quantizationChanged(String, String)
        /// Elements outside the tolerance.
        case valuesDiffer(TensorComparison)
        /// Tensors whose values cannot be compared element by element (sparse
        /// tensors with different indices, types without arithmetic whose bits
        /// differ): a difference, with the reason.
        case notCompared(String)
        /// A tensor on one side and a plain value on the other, or plain
        /// values of different Python types (`1` and `True`, `None` and `0`).
        case typeChanged(Leaf, Leaf)
        /// Plain values of one type that are not equal (floats: NaN equals NaN).
        case valueChanged(Leaf, Leaf)
    }

    /// What a path holds, for an entry that names it: a tensor's dtype and
    /// shape, or a plain value's type and `repr`.
    public enum Leaf: Sendable, CustomStringConvertible {
        /// A tensor.
        case tensor(dtype: DType, shape: [Int])
        /// Any other value: its Python type name and its `repr`.
        case value(type: String, repr: String)

        /// `tensor float32 [3, 4]`, `int 3`.
        public var description: String {
            switch self {
            case .tensor(let dtype, let shape): "tensor \(dtype.name) \(shape)"
            case .value(let type, let repr): "\(type) \(repr)"
            }
        }
    }
}

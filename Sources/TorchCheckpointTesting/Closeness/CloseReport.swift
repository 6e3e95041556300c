import TorchCheckpoint

/// The outcome of a closeness check: every pair of tensors or values that is
/// not close, each with `torch.testing.assert_close`'s message.
///
/// ```swift
/// let report = TorchTesting.checkClose(swiftStateDict, try Checkpoint(path: "reference.pth"))
/// if !report.isClose { print(report) }
/// ```
///
/// assert_close raises on the first failure; this report holds them all, in
/// the order assert_close finds them (mapping keys sorted, depth first;
/// mismatched structure — keys, lengths, types — before any values), so its
/// first failure's ``CloseFailure/description`` is the text assert_close
/// raises, word for word.
public struct CloseReport: Sendable, CustomStringConvertible {
    /// Every failure, in assert_close's order; empty when the inputs are close.
    public let failures: [CloseFailure]
    /// How many pairs of leaves were compared (tensors, numbers, None, other values).
    public let comparedCount: Int

    /// Creates a report (the checks make them; this is for tests of code that consumes reports).
    public init(failures: [CloseFailure], comparedCount: Int) {
        self.failures = failures
        self.comparedCount = comparedCount
    }

    /// Whether everything compared is close.
    public var isClose: Bool { failures.isEmpty }

    /// The message `torch.testing.assert_close` raises for these inputs
    /// (the first failure's), or nil when they are close.
    public var message: String? { failures.first?.description }

    /// `close (N pairs compared)`, or every failure's message, separated by blank lines.
    public var description: String {
        if failures.isEmpty { return "close (\(comparedCount) \(comparedCount == 1 ? "pair" : "pairs") compared)" }
        return failures.map(\.description).joined(separator: "\n\n")
    }
}

/// One pair that is not close, where it is, and why.
public struct CloseFailure: Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable {
        /// Two mappings whose keys differ: keys of `expected` missing from
        /// `actual`, and keys only `actual` has (each as Python's `repr`).
        case keysDiffer(missing: [String], additional: [String])
        /// Two sequences (lists, tuples) of different lengths.
        case lengthsDiffer(actual: Int, expected: Int)
        /// Values no comparison applies to together (a tensor and a number,
        /// a dict and a list), by Python class (`<class 'torch.Tensor'>`).
        case typesDiffer(actual: String, expected: String)
        /// Two tensors whose attribute `name` (`shape`, `dtype`, `device`,
        /// `layout`, `stride()`, `is_quantized`, `qscheme()`, or a sparse
        /// tensor's dimensions or number of values) differs, as Python prints each.
        case attributeDiffers(name: String, actual: String, expected: String)
        /// Tensors or numbers whose values are not close, with the numbers of
        /// assert_close's message.
        case valuesDiffer(ValueMismatch)
        /// Values compared for equality that are not equal (None, bools,
        /// numbers of different types, other values), as Python prints each.
        case notEqual(actual: String, expected: String)
        /// Values that could not be compared: a file that does not load, an
        /// element type without arithmetic, a view over the expanded-view
        /// limit, tolerances that are not valid.
        case notCompared(reason: String)
    }

    /// The keys and indices from the root to the pair (empty at the root).
    public let path: [PathKey]
    /// The path as assert_close prints it: `['model']['fc.weight']`, `[0]` (empty at the root).
    public let item: String
    /// What went wrong.
    public let kind: Kind
    /// assert_close's message for the pair alone, without where it is.
    public let message: String
    /// Whether ``description`` leaves out the item, as assert_close does for
    /// two bools that differ (its `BooleanPair` drops the item) and for
    /// tolerances given for one-byte floats.
    let omitsItem: Bool

    /// Creates a failure (the checks make them; this is for tests of code that consumes reports).
    public init(path: [PathKey], item: String, kind: Kind, message: String) {
        self.init(path: path, item: item, kind: kind, message: message, omitsItem: false)
    }

    init(path: [PathKey], item: String, kind: Kind, message: String, omitsItem: Bool) {
        self.path = path
        self.item = item
        self.kind = kind
        self.message = message
        self.omitsItem = omitsItem
    }

    /// assert_close's text: the message and, below a tree's root, the item:
    /// `…\n\nThe failure occurred for item ['fc.weight']`.
    public var description: String {
        item.isEmpty || omitsItem ? message : message + "\n\nThe failure occurred for item " + item
    }
}

/// The numbers of assert_close's message for two tensors (or numbers) whose
/// values are not close.
///
/// As assert_close computes them: differences in the tensors' own dtype
/// (float16 arithmetic for float16 tensors; integers as int64, relative
/// differences of integers in float32), only at mismatched elements (0
/// elsewhere), the greatest one at its first index, NaN counting as the
/// greatest of all.
public struct ValueMismatch: Sendable, CustomStringConvertible {
    /// What the message calls the values: `Tensor-likes`, `Scalars`,
    /// `Quantized tensor-likes`, `Sparse COO values`, …
    public let identifier: String
    /// The number of elements compared (1 for numbers).
    public let elementCount: Int
    /// How many are not close.
    public let mismatchCount: Int
    /// The row-major index of the first element not close (nil for numbers and 0-dim tensors).
    public let firstMismatchIndex: [Int]?
    /// The greatest `|actual − expected|` (nil where assert_close compares bit for bit: one-byte floats).
    public let greatestAbsoluteDifference: Double?
    /// Where it is (nil for numbers and 0-dim tensors).
    public let greatestAbsoluteDifferenceIndex: [Int]?
    /// The greatest `|actual − expected| / |expected|` (`inf` where expected is 0).
    public let greatestRelativeDifference: Double?
    /// Where it is (nil for numbers and 0-dim tensors).
    public let greatestRelativeDifferenceIndex: [Int]?
    /// The relative tolerance applied.
    public let rtol: Double
    /// The absolute tolerance applied.
    public let atol: Double
    /// assert_close's message.
    public let description: String
}

import TorchCheckpoint

/// The checks of this library as values: each returns a report that says
/// what differs, records nothing and never throws. The `expect…` functions
/// (Swift Testing) and `XCTAssert…` functions (XCTest) run these and record
/// each failure of the report as a test issue.
///
/// ```swift
/// let report = TorchTesting.checkClose(try Checkpoint(path: "exported.pth"), try Checkpoint(path: "reference.pth"))
/// print(report)   // close (12 pairs compared), or assert_close's message for each failure
/// ```
public enum TorchTesting {
    /// `torch.testing.assert_close`'s default tolerances for a dtype
    /// (`torch.testing._comparison._DTYPE_PRECISIONS`, PyTorch 2.15): float16
    /// `(1e-3, 1e-5)`, bfloat16 `(1.6e-2, 1e-5)`, float32 `(1.3e-6, 1e-5)`,
    /// float64 `(1e-7, 1e-7)`; complex32, complex64 and complex128 as float16,
    /// float32 and float64; quantized types as float32 (they are compared
    /// dequantized); every other type `(0, 0)`, exact.
    public static func defaultTolerances(for dtype: DType) -> (rtol: Double, atol: Double) {
        switch dtype {
        case .float16, .complex32: (0.001, 1e-5)
        case .bfloat16: (0.016, 1e-5)
        case .float32, .complex64, .qint8, .quint8, .qint32, .quint4x2, .quint2x4: (1.3e-6, 1e-5)
        case .float64, .complex128: (1e-7, 1e-7)
        default: (0, 0)
        }
    }

    /// Compares two tensors, state dicts, value trees or checkpoints as
    /// `torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol,
    /// equal_nan=equalNaN)` does, and reports every pair that is not close
    /// with assert_close's message.
    ///
    /// Two elements are close when `|actual − expected| ≤ atol + rtol · |expected|`,
    /// computed in the tensors' dtype as PyTorch computes it. Infinities are
    /// close only to themselves; NaN only to NaN, and only with `equalNaN`.
    /// Tensors must first have the same shape, device (see
    /// ``CloseOptions/checkDevice``), dtype and layout. Mappings are compared
    /// key by key (their key sets must be equal), lists and tuples item by
    /// item, Python numbers by `NumberPair`'s rule.
    ///
    /// Tensors are read in blocks (``CloseOptions/blockElements``), never whole.
    ///
    /// - Parameters:
    ///   - actual: What the code under test produced.
    ///   - expected: The reference (relative differences are taken to it).
    ///   - rtol: The relative tolerance; give both or neither. Neither: the
    ///     defaults of each tensor's dtype (``defaultTolerances(for:)``).
    ///   - atol: The absolute tolerance; give both or neither.
    ///   - equalNaN: Whether NaN is close to NaN.
    ///   - options: The attributes compared and the limits.
    public static func checkClose<Actual: CheckpointValueConvertible, Expected: CheckpointValueConvertible>(
        _ actual: Actual, _ expected: Expected, rtol: Double? = nil, atol: Double? = nil, equalNaN: Bool = false,
        options: CloseOptions = .init()
    ) -> CloseReport {
        let tolerances: (rtol: Double, atol: Double)?
        switch toleranceProblem(rtol: rtol, atol: atol) {
        case .failure(let problem): return problem.report
        case .success(let given): tolerances = given
        }
        var tree = TreeComparison(tolerances: tolerances, equalNaN: equalNaN, options: options)
        tree.run(actual.checkpointValue, expected.checkpointValue)
        return tree.report
    }

    /// Loads two checkpoint files and compares what `torch.load` returns for
    /// each, as ``checkClose(_:_:rtol:atol:equalNaN:options:)`` compares
    /// values (a TorchScript archive as its `state_dict()`). A file that does
    /// not load is a failure, not an error.
    public static func checkClose(actualPath: String, expectedPath: String, rtol: Double? = nil, atol: Double? = nil,
                                  equalNaN: Bool = false, options: CloseOptions = .init(),
                                  loadOptions: LoadOptions = .init()) -> CloseReport {
        var failures: [CloseFailure] = []
        var loaded: [Checkpoint] = []
        for path in [actualPath, expectedPath] {
            do {
                loaded.append(try Checkpoint(path: path, options: loadOptions))
            } catch {
                let reason = "cannot load '\(path)': \(error)"
                failures.append(CloseFailure(path: [], item: "", kind: .notCompared(reason: reason), message: reason))
            }
        }
        guard failures.isEmpty, loaded.count == 2 else { return CloseReport(failures: failures, comparedCount: 0) }
        return checkClose(loaded[0], loaded[1], rtol: rtol, atol: atol, equalNaN: equalNaN, options: options)
    }

    /// The tolerances to use, or the report of why they cannot be: only one
    /// given (assert_close's `ValueError`), or one negative or NaN
    /// (`torch.isclose`'s check).
    private static func toleranceProblem(rtol: Double?, atol: Double?) -> Result<(rtol: Double, atol: Double)?, CloseReportFailure> {
        func failed(_ reason: String) -> Result<(rtol: Double, atol: Double)?, CloseReportFailure> {
            .failure(CloseReportFailure(CloseReport(
                failures: [CloseFailure(path: [], item: "", kind: .notCompared(reason: reason), message: reason)], comparedCount: 0)))
        }
        switch (rtol, atol) {
        case (nil, nil):
            return .success(nil)
        case (nil, _?), (_?, nil):
            return failed("Both 'rtol' and 'atol' must be either specified or omitted, but got no \(rtol == nil ? "rtol" : "atol").")
        case (let r?, let a?):
            for (name, value) in [("rtol", r), ("atol", a)] where !(value >= 0) {
                return failed("\(name) must be greater than or equal to zero, but got \(PythonText.float(value))")
            }
            return .success((r, a))
        }
    }
}

/// A report that ends a check before it starts (as an `Error`, for `Result`).
struct CloseReportFailure: Error {
    let report: CloseReport

    init(_ report: CloseReport) { self.report = report }
}

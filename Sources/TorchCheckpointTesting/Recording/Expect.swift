#if canImport(Testing)
import Testing
import TorchCheckpoint

// The checks for Swift Testing: each records every failure of its report as
// an issue at the caller's line (`Issue.record`), and returns the report.
// Nothing here throws or stops the test.

/// Records each failure as an issue; the user's comment, if any, below the failure.
private func record(_ messages: [String], _ comment: Comment?, _ sourceLocation: SourceLocation) {
    for message in messages {
        let text = comment.map { message + "\n\n" + $0.rawValue } ?? message
        Issue.record(Comment(rawValue: text), sourceLocation: sourceLocation)
    }
}

/// Expects two tensors, state dicts, value trees or checkpoints to be close
/// as `torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol,
/// equal_nan=equalNaN)` decides it; records each pair that is not as an
/// issue with assert_close's message (the key path, the mismatched elements,
/// the greatest differences and where they are).
///
/// ```swift
/// expectClose(swiftOutput, try Checkpoint(path: "reference.pth"))
/// expectClose(weight, reference, rtol: 1e-4, atol: 1e-6)
/// ```
///
/// See ``TorchTesting/checkClose(_:_:rtol:atol:equalNaN:options:)`` for the rule.
///
/// - Parameters:
///   - actual: What the code under test produced.
///   - expected: The reference.
///   - rtol: The relative tolerance; give both or neither (neither: the
///     defaults of each tensor's dtype).
///   - atol: The absolute tolerance.
///   - equalNaN: Whether NaN is close to NaN.
///   - options: The attributes compared and the limits.
///   - comment: A comment added to each issue.
///   - sourceLocation: Where the issues are recorded.
/// - Returns: The report, for further checks.
@discardableResult
public func expectClose<Actual: CheckpointValueConvertible, Expected: CheckpointValueConvertible>(
    _ actual: Actual, _ expected: Expected, rtol: Double? = nil, atol: Double? = nil, equalNaN: Bool = false,
    options: CloseOptions = .init(), _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation
) -> CloseReport {
    let report = TorchTesting.checkClose(actual, expected, rtol: rtol, atol: atol, equalNaN: equalNaN, options: options)
    record(report.failures.map(\.description), comment, sourceLocation)
    return report
}

/// Expects the checkpoints in two files to be close, as
/// ``expectClose(_:_:rtol:atol:equalNaN:options:_:sourceLocation:)`` compares
/// what `torch.load` returns for each; a file that does not load is an issue.
@discardableResult
public func expectClose(actualPath: String, expectedPath: String, rtol: Double? = nil, atol: Double? = nil,
                        equalNaN: Bool = false, options: CloseOptions = .init(), _ comment: Comment? = nil,
                        sourceLocation: SourceLocation = #_sourceLocation) -> CloseReport {
    let report = TorchTesting.checkClose(actualPath: actualPath, expectedPath: expectedPath, rtol: rtol, atol: atol,
                                         equalNaN: equalNaN, options: options)
    record(report.failures.map(\.description), comment, sourceLocation)
    return report
}

/// Expects a state dict to match a schema: with `strict`, exactly its keys;
/// each tensor of its dtype and shape. Each missing key, unexpected key,
/// wrong dtype and wrong shape is its own issue, naming the key.
///
/// ```swift
/// expectStateDict(try Checkpoint(path: "model.pth"), matches: ["fc.weight": (.float32, [10, 4]), "fc.bias": (.float32, [10])])
/// ```
@discardableResult
public func expectStateDict(_ stateDict: some CheckpointValueConvertible, matches schema: StateDictSchema,
                            strict: Bool = true, _ comment: Comment? = nil,
                            sourceLocation: SourceLocation = #_sourceLocation) -> SchemaReport {
    let report = TorchTesting.checkStateDict(stateDict, matches: schema, strict: strict)
    record(report.failures.map(\.description), comment, sourceLocation)
    return report
}

/// Expects a state dict's keys to be exactly `keys`; each missing and each
/// unexpected key is its own issue.
@discardableResult
public func expectKeys(_ stateDict: some CheckpointValueConvertible, equal keys: some Sequence<String>,
                       _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> SchemaReport {
    let report = TorchTesting.checkKeys(stateDict, equal: keys)
    record(report.failures.map(\.description), comment, sourceLocation)
    return report
}

/// Expects a state dict to have every key of `keys`; each missing key is its own issue.
@discardableResult
public func expectKeys(_ stateDict: some CheckpointValueConvertible, contain keys: some Sequence<String>,
                       _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> SchemaReport {
    let report = TorchTesting.checkKeys(stateDict, contain: keys)
    record(report.failures.map(\.description), comment, sourceLocation)
    return report
}

/// Expects the file at `path` to be whole (`Verification.verify(path:)`:
/// every CRC, record size and view); each problem is its own issue.
@discardableResult
public func expectIntact(_ path: String, _ comment: Comment? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation) -> VerificationReport {
    let report = Verification.verify(path: path)
    record(VerificationIssues.damage(report, path: path), comment, sourceLocation)
    return report
}

/// Expects `torch.load(path, weights_only=True)` to accept the file (as
/// `VerificationReport.weightsOnlyAccepts` predicts it for
/// PyTorch 2.15, from the pickles torch reads); each reason it would refuse
/// it (each global outside the allowlist, each refused opcode, the format)
/// is its own issue.
@discardableResult
public func expectWeightsOnlyLoadable(_ path: String, _ comment: Comment? = nil,
                                      sourceLocation: SourceLocation = #_sourceLocation) -> VerificationReport {
    let report = Verification.verify(path: path)
    record(VerificationIssues.weightsOnly(report, path: path), comment, sourceLocation)
    return report
}

/// Expects the listing of the checkpoint at `path` (`pth inspect --json`) to
/// match the listing PyTorch wrote for it (tools/torch_listing.py), by
/// tools/compare_listing.py's rule; each entry that does not is its own issue.
@discardableResult
public func expectListing(of path: String, matches listingPath: String,
                          expandedViewLimit: Int = Tensor.defaultExpandedViewLimit, _ comment: Comment? = nil,
                          sourceLocation: SourceLocation = #_sourceLocation) -> ListingReport {
    let report = TorchTesting.checkListing(ofCheckpointAt: path, matchesListingAt: listingPath, expandedViewLimit: expandedViewLimit)
    let messages = report.error.map { [$0] }
        ?? report.mismatches.map { "The listing of '\(path)' does not match '\(listingPath)': \($0)" }
    record(messages, comment, sourceLocation)
    return report
}
#endif

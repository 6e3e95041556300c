#if canImport(XCTest)
import XCTest
import TorchCheckpoint

// The checks for XCTest: each records every failure of its report with
// XCTFail at the caller's file and line, and returns the report. An error
// thrown by an argument is recorded too, as XCTest's own assertions record it.

/// Records each failure, as XCTest's assertions word theirs: `XCTAssertClose failed: … - message`.
private func fail(_ assertion: String, _ messages: [String], _ message: String, _ file: StaticString, _ line: UInt) {
    for text in messages {
        XCTFail("\(assertion) failed: \(text)" + (message.isEmpty ? "" : " - \(message)"), file: file, line: line)
    }
}

/// Evaluates an argument; a thrown error is recorded and gives nil.
private func evaluate<T>(_ assertion: String, _ expression: () throws -> T, _ message: String,
                         _ file: StaticString, _ line: UInt) -> T? {
    do {
        return try expression()
    } catch {
        XCTFail("\(assertion) failed: threw error \"\(error)\"" + (message.isEmpty ? "" : " - \(message)"), file: file, line: line)
        return nil
    }
}

/// Asserts that two tensors, state dicts, value trees or checkpoints are
/// close as `torch.testing.assert_close(actual, expected, rtol=rtol,
/// atol=atol, equal_nan=equalNaN)` decides it; records each pair that is not
/// as a failure with assert_close's message.
///
/// ```swift
/// XCTAssertClose(try Checkpoint(path: "exported.pth"), try Checkpoint(path: "reference.pth"), rtol: 1e-4, atol: 1e-6)
/// ```
///
/// See ``TorchTesting/checkClose(_:_:rtol:atol:equalNaN:options:)`` for the rule.
///
/// - Returns: The report (nil when an argument threw).
@discardableResult
public func XCTAssertClose<Actual: CheckpointValueConvertible, Expected: CheckpointValueConvertible>(
    _ actual: @autoclosure () throws -> Actual, _ expected: @autoclosure () throws -> Expected,
    rtol: Double? = nil, atol: Double? = nil, equalNaN: Bool = false, options: CloseOptions = .init(),
    _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line
) -> CloseReport? {
    let name = "XCTAssertClose"
    guard let a = evaluate(name, actual, message(), file, line), let b = evaluate(name, expected, message(), file, line) else { return nil }
    let report = TorchTesting.checkClose(a, b, rtol: rtol, atol: atol, equalNaN: equalNaN, options: options)
    fail(name, report.failures.map(\.description), message(), file, line)
    return report
}

/// Asserts that the checkpoints in two files are close, as
/// ``XCTAssertClose(_:_:rtol:atol:equalNaN:options:_:file:line:)`` compares
/// what `torch.load` returns for each; a file that does not load is a failure.
@discardableResult
public func XCTAssertClose(actualPath: String, expectedPath: String, rtol: Double? = nil, atol: Double? = nil,
                           equalNaN: Bool = false, options: CloseOptions = .init(),
                           _ message: @autoclosure () -> String = "", file: StaticString = #filePath,
                           line: UInt = #line) -> CloseReport {
    let report = TorchTesting.checkClose(actualPath: actualPath, expectedPath: expectedPath, rtol: rtol, atol: atol,
                                         equalNaN: equalNaN, options: options)
    fail("XCTAssertClose", report.failures.map(\.description), message(), file, line)
    return report
}

/// Asserts that a state dict matches a schema: with `strict`, exactly its
/// keys; each tensor of its dtype and shape. Each missing key, unexpected
/// key, wrong dtype and wrong shape is its own failure, naming the key.
@discardableResult
public func XCTAssertStateDict<StateDict: CheckpointValueConvertible>(
    _ stateDict: @autoclosure () throws -> StateDict, matches schema: StateDictSchema, strict: Bool = true,
    _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line
) -> SchemaReport? {
    let name = "XCTAssertStateDict"
    guard let value = evaluate(name, stateDict, message(), file, line) else { return nil }
    let report = TorchTesting.checkStateDict(value, matches: schema, strict: strict)
    fail(name, report.failures.map(\.description), message(), file, line)
    return report
}

/// Asserts that a state dict's keys are exactly `keys`; each missing and
/// each unexpected key is its own failure.
@discardableResult
public func XCTAssertKeys<StateDict: CheckpointValueConvertible>(
    _ stateDict: @autoclosure () throws -> StateDict, equal keys: some Sequence<String>,
    _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line
) -> SchemaReport? {
    let name = "XCTAssertKeys"
    guard let value = evaluate(name, stateDict, message(), file, line) else { return nil }
    let report = TorchTesting.checkKeys(value, equal: keys)
    fail(name, report.failures.map(\.description), message(), file, line)
    return report
}

/// Asserts that a state dict has every key of `keys`; each missing key is its own failure.
@discardableResult
public func XCTAssertKeys<StateDict: CheckpointValueConvertible>(
    _ stateDict: @autoclosure () throws -> StateDict, contain keys: some Sequence<String>,
    _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line
) -> SchemaReport? {
    let name = "XCTAssertKeys"
    guard let value = evaluate(name, stateDict, message(), file, line) else { return nil }
    let report = TorchTesting.checkKeys(value, contain: keys)
    fail(name, report.failures.map(\.description), message(), file, line)
    return report
}

/// Asserts that the file at `path` is whole (every CRC, record size and
/// view); each problem is its own failure.
@discardableResult
public func XCTAssertIntact(_ path: String, _ message: @autoclosure () -> String = "", file: StaticString = #filePath,
                            line: UInt = #line) -> VerificationReport {
    let report = Verification.verify(path: path)
    fail("XCTAssertIntact", VerificationIssues.damage(report, path: path), message(), file, line)
    return report
}

/// Asserts that `torch.load(path, weights_only=True)` would accept the file;
/// each reason it would refuse it is its own failure.
@discardableResult
public func XCTAssertWeightsOnlyLoadable(_ path: String, _ message: @autoclosure () -> String = "",
                                         file: StaticString = #filePath, line: UInt = #line) -> VerificationReport {
    let report = Verification.verify(path: path)
    fail("XCTAssertWeightsOnlyLoadable", VerificationIssues.weightsOnly(report, path: path), message(), file, line)
    return report
}

/// Asserts that the listing of the checkpoint at `path` (`pth inspect
/// --json`) matches the listing PyTorch wrote for it; each entry that does
/// not is its own failure.
@discardableResult
public func XCTAssertListing(of path: String, matches listingPath: String,
                             expandedViewLimit: Int = Tensor.defaultExpandedViewLimit,
                             _ message: @autoclosure () -> String = "", file: StaticString = #filePath,
                             line: UInt = #line) -> ListingReport {
    let report = TorchTesting.checkListing(ofCheckpointAt: path, matchesListingAt: listingPath, expandedViewLimit: expandedViewLimit)
    let messages = report.error.map { [$0] }
        ?? report.mismatches.map { "the listing of '\(path)' does not match '\(listingPath)': \($0)" }
    fail("XCTAssertListing", messages, message(), file, line)
    return report
}
#endif

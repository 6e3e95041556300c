import Testing
import TorchCheckpoint
import TorchCheckpointTesting
import XCTest

// The code samples of the DocC catalog in Sources/TorchCheckpointTesting/TorchCheckpointTesting.docc/,
// run on the fixtures, so that the documentation cannot rot.
//
// KEEP THE TWO IN SYNC: each test below names the page and section it
// mirrors, and holds that section's code as the page shows it. The only
// differences are the file names ("exported.pth" and "reference.pth" are
// fixtures written by PyTorch, one weight apart: state_dict_one_off), the
// failures the pages show, which are expected here with withKnownIssue and
// their text checked, and `print`, whose output is checked with #expect.

/// The article's exported file and reference, and the message the pages show for them.
enum Pages {
    static let exported = Fixtures.path("assert_close/state_dict_one_off.actual.pth")
    static let reference = Fixtures.path("assert_close/state_dict_one_off.expected.pth")
    static let message = """
        Tensor-likes are not close!

        Mismatched elements: 1 / 12 (8.3%)
        Greatest absolute difference: 0.25 at index (2, 1) (up to 1e-05 allowed)
        Greatest relative difference: 0.5166086554527283 at index (2, 1) (up to 1.3e-06 allowed)

        The failure occurred for item ['fc1.weight']
        """

    /// Whether an issue is the one the pages show.
    static func isShown(_ issue: Issue) -> Bool { issue.comments.map(\.rawValue) == [message] }
}

@Suite("Documentation examples (TorchCheckpointTesting)")
struct DocumentationExamplesTests {
    // MARK: TorchCheckpointTesting.md

    @Test("Landing page: one line per check")
    func landing() throws {
        try withKnownIssue {
            expectClose(try Checkpoint(path: Pages.exported), try Checkpoint(path: Pages.reference))
            expectStateDict(try Checkpoint(path: Pages.exported),
                            matches: ["fc1.weight": (.float32, [4, 3]), "fc1.bias": (.float32, [4])], strict: false)
            expectWeightsOnlyLoadable(Pages.exported)
        } matching: { Pages.isShown($0) }
    }

    // MARK: VerifyingCheckpointsInTests.md

    @Test("Compare with what PyTorch saved")
    func compare() throws {
        try withKnownIssue {
            let exported = try Checkpoint(path: Pages.exported)
            let reference = try Checkpoint(path: Pages.reference)
            expectClose(exported, reference)
        } matching: { Pages.isShown($0) }

        // A state dict built in Swift, and a part of a checkpoint by its key.
        let source = try Checkpoint(path: Pages.reference)
        let weights: [Float] = try #require(source["fc1.weight"]?.tensor).scalars()
        let biases: [Float] = try #require(source["fc1.bias"]?.tensor).scalars()

        let stateDict = PyDict(kind: .orderedDict)
        stateDict["fc1.weight"] = .tensor(try Tensor(scalars: weights, shape: [4, 3]))
        stateDict["fc1.bias"] = .tensor(try Tensor(scalars: biases, shape: [4]))
        let reference = try Checkpoint(path: Pages.reference)
        expectClose(stateDict["fc1.weight"], reference["fc1.weight"])

        withKnownIssue {
            expectClose(actualPath: Pages.exported, expectedPath: Pages.reference)
        } matching: { Pages.isShown($0) }
    }

    @Test("Tolerances")
    func tolerances() throws {
        let exported = try Checkpoint(path: Pages.exported)
        let reference = try Checkpoint(path: Pages.reference)
        withKnownIssue {
            expectClose(exported, reference, rtol: 1e-4, atol: 1e-6)
            expectClose(exported, reference, equalNaN: true)
        } matching: { issue in
            issue.comments.first?.rawValue.hasSuffix("The failure occurred for item ['fc1.weight']") == true
        }
        #expect(TorchTesting.defaultTolerances(for: .float16) == (0.001, 1e-5))
        #expect(TorchTesting.defaultTolerances(for: .bfloat16) == (0.016, 1e-5))
        #expect(TorchTesting.defaultTolerances(for: .quint8) == (1.3e-6, 1e-5))
        #expect(TorchTesting.defaultTolerances(for: .complex128) == (1e-7, 1e-7))
        #expect(TorchTesting.defaultTolerances(for: .int64) == (0, 0))
    }

    @Test("Trees, and every failure")
    func trees() throws {
        let exported = try Checkpoint(path: Pages.exported)
        let reference = try Checkpoint(path: Pages.reference)
        withKnownIssue {
            expectClose(exported, reference, options: CloseOptions(checkDevice: false))
        } matching: { Pages.isShown($0) }
    }

    @Test("Look at the numbers")
    func numbers() throws {
        let exported = try Checkpoint(path: Pages.exported)
        let reference = try Checkpoint(path: Pages.reference)
        var printed = ""
        let report = TorchTesting.checkClose(exported, reference)
        if case .valuesDiffer(let mismatch)? = report.failures.first?.kind {
            print(mismatch.mismatchCount, mismatch.greatestAbsoluteDifferenceIndex ?? [], to: &printed)    // 1 [2, 1]
        }
        #expect(printed == "1 [2, 1]\n")
        #expect(report.description == Pages.message)
    }

    @Test("Check a state dict's schema")
    func schema() throws {
        let model = try Checkpoint(path: Pages.exported)
        expectStateDict(model, matches: ["fc1.weight": (.float32, [4, 3]), "fc1.bias": (.float32, [4])], strict: false)
        expectKeys(model, contain: ["fc2.weight", "fc2.bias"])

        let wrong = TorchTesting.checkStateDict(model, matches: ["fc1.weight": (.float32, [4, 4])], strict: false)
        #expect(wrong.description
            == "size mismatch for fc1.weight: the shape in state_dict is torch.Size([4, 3]), the schema's is torch.Size([4, 4]).")
        expectStateDict(model, matches: StateDictSchema(describing: try Checkpoint(path: Pages.reference)))
    }

    @Test("Check that a file is whole and safe")
    func integrity() {
        expectIntact(Pages.exported)
        expectWeightsOnlyLoadable(Pages.exported)
        // A fixture with PyTorch's listing beside it.
        let listed = Fixtures.path("state_dict.pth")
        expectListing(of: listed, matches: listed + ".listing.json")
    }
}

/// VerifyingCheckpointsInTests.md, "XCTest" (on two equal files: an XCTest failure cannot be expected).
final class DocumentationExamplesXCTests: XCTestCase {
    func testExportMatchesPyTorch() {
        let exported = Fixtures.path("assert_close/state_dict_equal.actual.pth")
        let reference = Fixtures.path("assert_close/state_dict_equal.expected.pth")
        XCTAssertClose(try Checkpoint(path: exported), try Checkpoint(path: reference))
        XCTAssertKeys(try Checkpoint(path: exported), contain: ["fc1.weight", "fc1.bias"])
        XCTAssertWeightsOnlyLoadable(exported)
    }
}

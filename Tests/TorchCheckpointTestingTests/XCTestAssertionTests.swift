import Foundation
import TorchCheckpoint
import TorchCheckpointTesting
import XCTest

/// The XCTest assertions on inputs that pass (an XCTest failure cannot be
/// expected from inside a test), and the reports they return for inputs
/// that do not.
final class XCTestAssertionTests: XCTestCase {
    func testCloseInputsPass() throws {
        let a = try Tensor(scalars: [Float(1), 2, 3, 4, 5, 6], shape: [2, 3])
        XCTAssertClose(a, a)
        XCTAssertClose(a, try Tensor(scalars: [Float(1), 2, 3, 4, 5, 6.000001], shape: [2, 3]))
        XCTAssertClose(try Checkpoint(path: Fixtures.path("state_dict.pth")), try Checkpoint(path: Fixtures.path("state_dict.pth")),
                       rtol: 0, atol: 0)
        let report = XCTAssertClose(actualPath: Fixtures.path("assert_close/state_dict_equal.actual.pth"),
                                    expectedPath: Fixtures.path("assert_close/state_dict_equal.expected.pth"))
        XCTAssertTrue(report.isClose)
        XCTAssertEqual(report.description, "close (5 pairs compared)")
    }

    func testSchemaAndIntegrityPass() throws {
        let path = Fixtures.path("assert_close/state_dict_equal.actual.pth")
        XCTAssertStateDict(try Checkpoint(path: path), matches: ["fc1.weight": (.float32, [4, 3])], strict: false)
        XCTAssertKeys(try Checkpoint(path: path), contain: ["fc1.weight", "fc1.bias"])
        XCTAssertKeys(try Checkpoint(path: path), equal: ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "bn.num_batches_tracked"])
        XCTAssertIntact(path)
        XCTAssertWeightsOnlyLoadable(path)
        XCTAssertListing(of: Fixtures.path("state_dict.pth"), matches: Fixtures.path("state_dict.pth.listing.json"))
    }

    func testReportsOfInputsThatFail() throws {
        let checkpoint = try Checkpoint(path: Fixtures.path("assert_close/state_dict_one_off.pth"))
        let report = TorchTesting.checkClose(checkpoint["actual"], checkpoint["expected"])
        XCTAssertFalse(report.isClose)
        XCTAssertEqual(report.message, """
            Tensor-likes are not close!

            Mismatched elements: 1 / 12 (8.3%)
            Greatest absolute difference: 0.25 at index (2, 1) (up to 1e-05 allowed)
            Greatest relative difference: 0.5166086554527283 at index (2, 1) (up to 1.3e-06 allowed)

            The failure occurred for item ['fc1.weight']
            """)
        XCTAssertEqual(report.failures.first?.path, [.key("fc1.weight")])
        let schema = TorchTesting.checkStateDict(checkpoint["actual"], matches: ["fc1.weight": (.float32, [4, 4])], strict: false)
        XCTAssertEqual(schema.description,
                       "size mismatch for fc1.weight: the shape in state_dict is torch.Size([4, 3]), the schema's is torch.Size([4, 4]).")
    }
}

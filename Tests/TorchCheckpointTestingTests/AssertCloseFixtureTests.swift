import Foundation
import Testing
import TorchCheckpoint
import TorchCheckpointTesting

/// What `torch.testing.assert_close` said of each pair in fixtures/assert_close/
/// (tools/make_assert_close_fixtures.py), or in the folder `PTH_ASSERT_CLOSE_DIR`
/// names (tools/interop-check.sh writes the pairs afresh there).
struct AssertCloseCase: Decodable, CustomTestStringConvertible, Sendable {
    let name: String
    let description: String
    let rtol: Double?
    let atol: Double?
    let equalNaN: Bool
    let checkStride: Bool
    let close: Bool
    let error: String?
    let message: String?
    let messages: [String]?
    let files: Bool

    var testDescription: String { name }

    enum CodingKeys: String, CodingKey {
        case description, rtol, atol, close, error, message, messages, files
        case equalNaN = "equal_nan", checkStride = "check_stride"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = decoder.codingPath.last?.stringValue ?? "?"
        description = try c.decode(String.self, forKey: .description)
        rtol = try c.decodeIfPresent(Double.self, forKey: .rtol)
        atol = try c.decodeIfPresent(Double.self, forKey: .atol)
        equalNaN = try c.decode(Bool.self, forKey: .equalNaN)
        checkStride = try c.decode(Bool.self, forKey: .checkStride)
        close = try c.decode(Bool.self, forKey: .close)
        error = try c.decodeIfPresent(String.self, forKey: .error)
        message = try c.decodeIfPresent(String.self, forKey: .message)
        messages = try c.decodeIfPresent([String].self, forKey: .messages)
        files = try c.decode(Bool.self, forKey: .files)
    }

    /// The folder of the pairs.
    static let directory = ProcessInfo.processInfo.environment["PTH_ASSERT_CLOSE_DIR"] ?? Fixtures.path("assert_close")

    /// A file of the pairs.
    static func path(_ name: String) -> String { URL(fileURLWithPath: directory).appendingPathComponent(name).path }

    static let all: [AssertCloseCase] = {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path("expected.json"))),
              let cases = try? JSONDecoder().decode([String: AssertCloseCase].self, from: data) else { return [] }
        return cases.values.sorted { $0.name < $1.name }
    }()

    var options: CloseOptions { CloseOptions(checkStride: checkStride, blockElements: 7) }
}

@Suite("assert_close fixtures: verdicts and messages as PyTorch's")
struct AssertCloseFixtureTests {
    @Test("the fixtures are there")
    func fixturesExist() {
        #expect(AssertCloseCase.all.count >= 60)
    }

    @Test("verdict and messages", arguments: AssertCloseCase.all)
    func verdictAndMessages(_ c: AssertCloseCase) throws {
        let checkpoint = try Checkpoint(path: AssertCloseCase.path("\(c.name).pth"))
        let report = TorchTesting.checkClose(checkpoint["actual"], checkpoint["expected"], rtol: c.rtol, atol: c.atol,
                                             equalNaN: c.equalNaN, options: c.options)
        check(report, against: c)
    }

    @Test("whole files, by path", arguments: AssertCloseCase.all.filter(\.files))
    func wholeFiles(_ c: AssertCloseCase) {
        let report = TorchTesting.checkClose(actualPath: AssertCloseCase.path("\(c.name).actual.pth"),
                                             expectedPath: AssertCloseCase.path("\(c.name).expected.pth"),
                                             rtol: c.rtol, atol: c.atol, equalNaN: c.equalNaN, options: c.options)
        check(report, against: c)
    }

    @Test("the block size does not change the report", arguments: AssertCloseCase.all)
    func blockSizes(_ c: AssertCloseCase) throws {
        let checkpoint = try Checkpoint(path: AssertCloseCase.path("\(c.name).pth"))
        let reports = [1, 3, 1 << 16].map { size in
            TorchTesting.checkClose(checkpoint["actual"], checkpoint["expected"], rtol: c.rtol, atol: c.atol, equalNaN: c.equalNaN,
                                    options: CloseOptions(checkStride: c.checkStride, blockElements: size)).description
        }
        #expect(Set(reports).count == 1)
    }

    func check(_ report: CloseReport, against c: AssertCloseCase) {
        #expect(report.isClose == c.close, "\(c.name): \(c.description)")
        #expect(report.message == c.message)
        if let messages = c.messages {
            // No mismatch of structure: every failure, as not_close_error_metas lists them.
            #expect(report.failures.map(\.description) == messages)
        }
    }
}

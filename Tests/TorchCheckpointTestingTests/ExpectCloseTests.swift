import Foundation
import Testing
import TorchCheckpoint
@testable import TorchCheckpointTesting

/// `expectClose` in Swift Testing: nothing recorded when close; otherwise one
/// issue per pair, with assert_close's message, at the caller's line.
@Suite("expectClose records assert_close's messages as issues")
struct ExpectCloseTests {
    static let message = """
        Tensor-likes are not close!

        Mismatched elements: 1 / 6 (16.7%)
        Greatest absolute difference: 0.5 at index (1, 2) (up to 1e-05 allowed)
        Greatest relative difference: 0.07692307978868484 at index (1, 2) (up to 1.3e-06 allowed)
        """

    let a = try! Tensor(scalars: [Float(1), 2, 3, 4, 5, 6], shape: [2, 3])
    let b = try! Tensor(scalars: [Float(1), 2, 3, 4, 5, 6.5], shape: [2, 3])

    @Test("close tensors, trees and files record nothing")
    func closeRecordsNothing() throws {
        expectClose(a, a)
        expectClose(b, try Tensor(scalars: [Float(1), 2, 3, 4, 5, 6.5000005], shape: [2, 3]))
        expectClose(a, b, rtol: 0.1, atol: 0)
        expectClose(["w": a, "b": b], ["w": a, "b": b])
        let report = expectClose(try Checkpoint(path: Fixtures.path("state_dict.pth")),
                                 try Checkpoint(path: Fixtures.path("state_dict.pth")))
        #expect(report.isClose && report.comparedCount > 10)
        expectClose(actualPath: Fixtures.path("assert_close/state_dict_equal.actual.pth"),
                    expectedPath: Fixtures.path("assert_close/state_dict_equal.expected.pth"))
    }

    @Test("a tensor not close: one issue, assert_close's message")
    func tensorNotClose() {
        withKnownIssue {
            let report = expectClose(a, b)
            #expect(report.message == Self.message)
            #expect(report.description == Self.message)
        } matching: { issue in
            issue.comments.map(\.rawValue) == [Self.message] && issue.sourceLocation?.fileName == "ExpectCloseTests.swift"
        }
    }

    @Test("the issue is recorded at the caller's source location")
    func sourceLocation() {
        let location = SourceLocation(fileID: "Module/File.swift", filePath: "/tmp/File.swift", line: 42, column: 7)
        withKnownIssue {
            expectClose(a, b, sourceLocation: location)
        } matching: { issue in
            issue.sourceLocation == location
        }
    }

    @Test("a state dict: one issue per entry, each with its item")
    func stateDict() {
        let actual: [String: Tensor] = ["fc.weight": a, "fc.bias": b, "scale": try! Tensor(scalars: [Float(2)], shape: [1])]
        let expected: [String: Tensor] = ["fc.weight": b, "fc.bias": a, "scale": try! Tensor(scalars: [Float(2)], shape: [1])]
        let texts: Set<String> = [
            """
            Tensor-likes are not close!

            Mismatched elements: 1 / 6 (16.7%)
            Greatest absolute difference: 0.5 at index (1, 2) (up to 1e-05 allowed)
            Greatest relative difference: 0.0833333358168602 at index (1, 2) (up to 1.3e-06 allowed)

            The failure occurred for item ['fc.bias']
            """,
            Self.message + "\n\nThe failure occurred for item ['fc.weight']",
        ]
        withKnownIssue {
            let report = expectClose(actual, expected)
            // Sorted keys, as assert_close walks a mapping.
            #expect(report.failures.map(\.item) == ["['fc.bias']", "['fc.weight']"])
            #expect(report.failures.map(\.path) == [[.key("fc.bias")], [.key("fc.weight")]])
            #expect(Set(report.failures.map(\.description)) == texts)
            #expect(report.comparedCount == 3)
        } matching: { issue in
            issue.comments.count == 1 && texts.contains(issue.comments[0].rawValue)
        }
    }

    @Test("the numbers of the report")
    func numbers() throws {
        let report = TorchTesting.checkClose(a, b)
        guard case .valuesDiffer(let m)? = report.failures.first?.kind else {
            Issue.record("no value mismatch in \(report)")
            return
        }
        #expect(m.identifier == "Tensor-likes")
        #expect(m.elementCount == 6 && m.mismatchCount == 1)
        #expect(m.firstMismatchIndex == [1, 2])
        #expect(m.greatestAbsoluteDifference == 0.5 && m.greatestAbsoluteDifferenceIndex == [1, 2])
        #expect(m.greatestRelativeDifference == Double(Float(0.5) / Float(6.5)))
        #expect(m.rtol == 1.3e-6 && m.atol == 1e-5)
        #expect(m.description == Self.message)
    }

    @Test("the user's comment follows the message")
    func comment() {
        withKnownIssue {
            expectClose(a, b, "exported weights")
        } matching: { issue in
            issue.comments.map(\.rawValue) == [Self.message + "\n\nexported weights"]
        }
    }

    @Test("rtol without atol: assert_close's ValueError, as an issue")
    func oneTolerance() {
        withKnownIssue {
            let report = expectClose(a, a, rtol: 1e-3)
            #expect(!report.isClose)
        } matching: { issue in
            issue.comments.map(\.rawValue) == ["Both 'rtol' and 'atol' must be either specified or omitted, but got no atol."]
        }
        withKnownIssue {
            expectClose(a, a, rtol: -1, atol: 0)
        } matching: { issue in
            issue.comments.map(\.rawValue) == ["rtol must be greater than or equal to zero, but got -1.0"]
        }
    }

    @Test("shape, dtype and device, each reported as assert_close reports it")
    func attributes() throws {
        try withKnownIssue {
            expectClose(a, try Tensor(scalars: [Float](repeating: 0, count: 6), shape: [3, 2]))
        } matching: { issue in
            issue.comments.map(\.rawValue) == ["The values for attribute 'shape' do not match: torch.Size([2, 3]) != torch.Size([3, 2])."]
        }
        try withKnownIssue {
            expectClose(a, try Tensor(scalars: [Double](repeating: 0, count: 6), shape: [2, 3]))
        } matching: { issue in
            issue.comments.map(\.rawValue) == ["The values for attribute 'dtype' do not match: torch.float32 != torch.float64."]
        }
        // Saved from a GPU: the device differs unless the check is off.
        let cuda = try Checkpoint(path: Fixtures.path("cuda_tagged.pth"))
        let tensors = cuda.tensors.map(\.tensor)
        let onGPU = try #require(tensors.first { $0.device.type == "cuda" })
        let copy = try Tensor(bytes: onGPU.contiguousBytes(byteOrder: .little), dtype: onGPU.dtype, shape: onGPU.shape)
        withKnownIssue {
            expectClose(copy, onGPU)
        } matching: { issue in
            issue.comments.first?.rawValue.hasPrefix("The values for attribute 'device' do not match: cpu != cuda:") == true
        }
        expectClose(copy, onGPU, options: CloseOptions(checkDevice: false))
    }

    @Test("files by path: a file that does not load is an issue")
    func paths() {
        withKnownIssue {
            expectClose(actualPath: "/nonexistent/model.pth", expectedPath: Fixtures.path("state_dict.pth"))
        } matching: { issue in
            issue.comments.first?.rawValue.hasPrefix("cannot load '/nonexistent/model.pth'") == true
        }
    }

    @Test("values assert_close has no pair for are compared for equality")
    func otherValues() {
        expectClose(Value.string("adam"), Value.string("adam"))
        withKnownIssue {
            expectClose(Value.string("adam"), Value.string("sgd"))
        } matching: { issue in
            issue.comments.map(\.rawValue) == ["'adam' != 'sgd'"]
        }
        withKnownIssue {
            expectClose(Value.tensor(a), Value.float(1))
        } matching: { issue in
            issue.comments.map(\.rawValue) == ["No comparison pair was able to handle inputs of type <class 'torch.Tensor'> and <class 'float'>."]
        }
    }

    @Test("a view larger than the expanded-view limit is not compared, an issue")
    func expandedViewLimit() throws {
        let row = try Tensor(scalars: [Float](repeating: 1, count: 4), shape: [4])
        let expanded = try row.view(shape: [1000, 4], stride: [0, 1], storageOffset: 0)
        expectClose(expanded, expanded)
        withKnownIssue {
            expectClose(expanded, expanded, options: CloseOptions(expandedViewLimit: 100))
        } matching: { issue in
            issue.comments.first?.rawValue.hasPrefix("the values could not be read") == true
        }
    }

    @Test("Python's percent formatting")
    func percent() {
        #expect(PythonText.percent(1, of: 2000) == "0.1%")
        #expect(PythonText.percent(1, of: 16000) == "0.0%")
        #expect(PythonText.percent(1, of: 8) == "12.5%")
        #expect(PythonText.percent(3, of: 8) == "37.5%")
        #expect(PythonText.percent(1, of: 3) == "33.3%")
        #expect(PythonText.percent(15, of: 10000) == "0.1%")
        #expect(PythonText.percent(6, of: 6) == "100.0%")
    }

    @Test("float16 and bfloat16 rounding, as c10 rounds")
    func rounding() {
        #expect(Float16Rounding.round(65519) == 65504)
        #expect(Float16Rounding.round(65520) == .infinity)
        #expect(Float16Rounding.round(1 + 1 / 2048) == 1)              // a tie: to even
        #expect(Float16Rounding.round(1 + 3 / 2048) == Float(1 + 2.0 / 1024))    // a tie: to even
        #expect(Float16Rounding.round(0x1p-25) == 0)                    // half the smallest subnormal: to even, 0
        #expect(Float16Rounding.round(0x1.8p-25) == 0x1p-24)
        #expect(BFloat16Rounding.round(1 + 1 / 256) == 1)
        #expect(BFloat16Rounding.round(1 + 3 / 256) == Float(1 + 1.0 / 64))
        #expect(BFloat16Rounding.round(.greatestFiniteMagnitude) == .infinity)
        #expect(BFloat16Rounding.round(.nan).isNaN)
    }
}

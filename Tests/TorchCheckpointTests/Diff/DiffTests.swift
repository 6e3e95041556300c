import Foundation
import Testing
import TorchCheckpoint

/// `CheckpointDiff` on values built in Swift: exactness, views, order,
/// filters, values the listing passes over, reports and errors.
@Suite("Diff: comparing checkpoints")
struct DiffTests {
    func dict(_ pairs: KeyValuePairs<String, Value>) -> Value { .dict(PyDict(pairs)) }

    @Test("int64 values beyond 2^53 that differ by 1 differ, though float64 would call them equal")
    func bigIntegers() throws {
        let big = Int64(1) << 53
        let a = try Tensor(scalars: [big, big + 1, .max, .min], shape: [4])
        let b = try Tensor(scalars: [big + 1, big + 1, .max, .max], shape: [4])
        let (kinds, comparison) = try CheckpointDiff.compare(a, b)
        let c = try #require(comparison)
        #expect(kinds.count == 1)
        #expect(c.mismatchCount == 2)
        #expect(c.firstMismatch == [0])
        // Int64.min against Int64.max: 2^64 − 1, with no overflow.
        #expect(c.maxAbsoluteDifference == Double(UInt64.max))
        #expect(Double(big) == Double(big + 1))
    }

    @Test("a strided view equals a contiguous copy of its values")
    func views() throws {
        let base = try Tensor(scalars: (0..<12).map(Float.init), shape: [3, 4])
        let transposed = try base.view(shape: [4, 3], stride: [1, 4], storageOffset: 0)
        let copy = try Tensor(scalars: [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11] as [Float], shape: [4, 3])
        let (kinds, comparison) = try CheckpointDiff.compare(transposed, copy, options: .init(blockElements: 2))
        #expect(kinds.isEmpty)
        #expect(comparison?.maxAbsoluteDifference == 0)
        let changed = try Tensor(scalars: [0, 4, 8, 1, 5, 9, 2, 6.5, 10, 3, 7, 11] as [Float], shape: [4, 3])
        let (more, c) = try CheckpointDiff.compare(transposed, changed, options: .init(blockElements: 2))
        #expect(more.count == 1)
        #expect(c?.mismatchCount == 1)
        #expect(c?.firstMismatch == [2, 1])
        #expect(c?.maxAbsoluteDifference == 0.5)
    }

    @Test("+0 equals -0, NaN equals NaN at the same position, and b = 0 is left out of the relative difference")
    func specialValues() throws {
        let a = try Tensor(scalars: [0.0, .nan, 1.0, .infinity] as [Double], shape: [4])
        let b = try Tensor(scalars: [-0.0, .nan, 0.0, .infinity] as [Double], shape: [4])
        let c = try #require(try CheckpointDiff.compare(a, b).comparison)
        #expect(c.mismatchCount == 1)
        #expect(c.maxAbsoluteDifference == 1)
        #expect(c.maxRelativeDifference == 0)
    }

    @Test("a tolerance must be finite and not negative")
    func badTolerance() throws {
        #expect(throws: DiffError.self) { try CheckpointDiff.Tolerance(rtol: -1) }
        #expect(throws: DiffError.self) { try CheckpointDiff.Tolerance(atol: .nan) }
        #expect(throws: DiffError.self) { try CheckpointDiff.Tolerance(atol: .infinity) }
        do {
            _ = try CheckpointDiff.Tolerance(rtol: -0.5)
        } catch {
            #expect(error.description.contains("rtol") && error.description.contains("-0.5"))
        }
        #expect(CheckpointDiff.Tolerance.exact.isExact)
        #expect(CheckpointDiff.Tolerance.allclose.description == "rtol=1e-05, atol=1e-08")
    }

    @Test("tensor data that cannot be read is an error naming the file and the path")
    func unreadable() throws {
        struct Gone: Error, CustomStringConvertible { var description: String { "record data/0 is missing" } }
        let storage = Storage(key: "0", dtype: .float32, isUntyped: false, location: "cpu", elementCount: 4, loader: { throw Gone() })
        let broken = Tensor(dtype: .float32, shape: [4], stride: [1], storage: storage)
        let fine = try Tensor(scalars: [Float](repeating: 1, count: 4), shape: [4])
        do {
            _ = try CheckpointDiff.compare(dict(["w": .tensor(broken)]), dict(["w": .tensor(fine)]))
            Issue.record("no error")
        } catch {
            guard case .unreadable(let file, let path, let reason) = error else { Issue.record("\(error)"); return }
            #expect(file == "a")
            #expect(path == [.key("w")])
            #expect(reason.contains("data/0 is missing"))
            #expect(error.description.contains("w: cannot read"))
        }
        do {
            _ = try CheckpointDiff.compare(dict(["w": .tensor(fine)]), dict(["w": .tensor(broken)]))
            Issue.record("no error")
        } catch {
            #expect(error.description.hasPrefix("b: w: cannot read: record data/0 is missing"))
        }
    }

    @Test("differences come in the order of the first listing, then the keys only the second has")
    func order() throws {
        let one = try Tensor(scalars: [Float(1)], shape: [1]), two = try Tensor(scalars: [Float(2)], shape: [1])
        let a = dict(["z": .tensor(one), "gone": .int(1), "m": .tensor(one)])
        let b = dict(["new2": .int(0), "m": .tensor(two), "z": .tensor(two), "new1": .int(0)])
        let report = try CheckpointDiff.compare(a, b)
        #expect(report.entries.map(\.path.displayPath) == ["z", "gone", "m", "new2", "new1"])
        #expect(report.summary == "2 tensors differ, 2 keys added, 1 key removed (rtol=0.0, atol=0.0)")
    }

    @Test("values the listing passes over are compared too: sets, complex numbers, empty containers, object state")
    func otherValues() throws {
        let s1 = PySet(), s2 = PySet()
        try s1.insert(.int(1)); try s1.insert(.int(2))
        try s2.insert(.int(2)); try s2.insert(.int(1))
        let a = dict(["set": .set(s1), "z": .complex(Complex(real: 1, imag: 2)), "empty": .dict(PyDict()), "same": .list(PyList())])
        let b = dict(["set": .set(s2), "z": .complex(Complex(real: 1, imag: 3)), "empty": .list(PyList()), "same": .list(PyList())])
        let report = try CheckpointDiff.compare(a, b)
        #expect(report.entries.map(\.path.displayPath) == ["z", "empty"])
        guard case .valueChanged(.value("complex", "(1+2j)"), .value("complex", "(1+3j)")) = report.entries.first?.kind else {
            Issue.record("\(report.entries)")
            return
        }
        guard case .typeChanged(.value("dict", "{}"), .value("list", "[]")) = report.entries.last?.kind else {
            Issue.record("\(report.entries)")
            return
        }
    }

    @Test("--filter's rule selects the paths compared on both sides")
    func filter() throws {
        let (a, b) = try DiffFixtures.open("training")
        let report = try CheckpointDiff.compare(a, b, options: .init(filter: "model_state_dict/*bias"))
        #expect(report.entries.map(\.path.displayPath) == ["model_state_dict/0.bias", "model_state_dict/2.bias"])
        let none = try CheckpointDiff.compare(a, b, options: .init(filter: "param_groups"))
        #expect(none.isEqual)
        #expect(none.valueCount > 0)
    }

    @Test("a TorchScript archive is compared by its state_dict names, and equals itself")
    func torchScript() throws {
        let a = try Fixtures.open("torchscript/scripted.pt"), b = try Fixtures.open("torchscript/scripted.pt")
        let report = try CheckpointDiff.compare(a, b)
        #expect(report.isEqual)
        #expect(report.tensorCount == a.tensors.count)
        let other = try CheckpointDiff.compare(a, try Fixtures.open("torchscript/traced.pt"))
        #expect(!other.isEqual)
        #expect(other.entries.allSatisfy { $0.path.count == 1 })
    }

    @Test("every fixture equals itself, read twice", arguments: Fixtures.checkpoints)
    func selfEqual(_ name: String) throws {
        let report = try CheckpointDiff.compare(try Fixtures.open(name), try Fixtures.open(name))
        #expect(report.isEqual, "\(name): \(report.text)")
    }

    @Test("the text report has one line per difference and a summary")
    func text() throws {
        let (a, b) = try DiffFixtures.open("keys")
        #expect(try CheckpointDiff.compare(a, b).text == """
            - old.weight: tensor float32 [3]
            + new.weight: tensor float32 [3]
            1 key added, 1 key removed (rtol=0.0, atol=0.0)

            """)
        let (x, y) = try DiffFixtures.open("half")
        let within = try CheckpointDiff.compare(x, y, tolerance: try .init(atol: 1))
        #expect(within.text == "equal within rtol=0.0, atol=1.0: 3 tensors, 0 other values (largest abs difference 0.332)\n")
        let (c, d) = try DiffFixtures.open("identical")
        #expect(try CheckpointDiff.compare(c, d).text == "identical: 3 tensors, 0 other values\n")
    }

    @Test("the JSON report parses, with non-finite numbers as strings")
    func json() throws {
        let (a, b) = try DiffFixtures.open("nonfinite")
        let report = try CheckpointDiff.compare(a, b)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
        #expect(object["equal"] as? Bool == false)
        let differences = try #require(object["differences"] as? [[String: Any]])
        #expect(differences.count == 4)
        let first = differences[0]
        #expect(first["kind"] as? String == "values_differ")
        #expect(first["path"] as? [String] == ["nan_vs_number"])
        #expect(first["max_abs"] as? String == "inf")
        #expect(first["first_mismatch"] as? [Int] == [1])
        #expect((object["tensors"] as? [Any])?.count == 7)
    }
}

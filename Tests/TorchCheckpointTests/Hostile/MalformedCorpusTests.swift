import Foundation
import FuzzHarness
import Testing
import TorchCheckpoint

/// The corpus of crafted files (tools/make_malformed_corpus.py): each one is
/// read, or refused with the typed error its entry in expected.json names,
/// next to what torch.load said of it.
@Suite("Malformed and hostile files: the corpus")
struct MalformedCorpusTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let description: String
        /// nil where the file reads.
        let errorCase: String?
        let contains: String?
        let torch: String
        var testDescription: String { name }
    }

    static let cases: [Case] = {
        guard let json = try? Fixtures.json("malformed/expected.json") as? [String: [String: Any]] else { return [] }
        return json.keys.sorted().map { name in
            let entry = json[name]!
            let error = entry["error"] as? [String: String]
            return Case(name: name, description: entry["description"] as? String ?? "", errorCase: error?["case"],
                        contains: error?["contains"], torch: entry["torch"] as? String ?? "")
        }
    }()

    /// The name of an error's case, as expected.json spells it.
    static func caseName(_ error: any Error) -> String {
        switch error {
        case let e as CheckpointError:
            switch e {
            case .cannotOpen: "cannotOpen"
            case .unrecognizedFormat: "unrecognizedFormat"
            case .container: "container"
            case .pickle: "pickle"
            case .missingRecord: "missingRecord"
            case .invalidRecord: "invalidRecord"
            case .cannotWrite: "cannotWrite"
            case .damagedSet: "damagedSet"
            }
        case is ZipError: "zip"
        default: "untyped \(type(of: error))"
        }
    }

    @Test("the corpus is there, and covers what the issue lists")
    func corpus() {
        #expect(Self.cases.count >= 30)
        #expect(Self.cases.contains { $0.errorCase == nil && $0.name == "valid.pth" })
    }

    @Test("every file is read or refused as expected.json says", arguments: cases)
    func answer(_ c: Case) {
        do {
            let checkpoint = try Checkpoint(path: Fixtures.path("malformed/\(c.name)"))
            _ = try Listing.entries(of: checkpoint)
            try checkpoint.verifyRecords()
            #expect(c.errorCase == nil, "\(c.name) read, but should be refused (\(c.description)); torch: \(c.torch)")
        } catch {
            #expect(Self.caseName(error) == c.errorCase ?? "read", "\(c.name): \(error)")
            if let contains = c.contains {
                #expect("\(error)".contains(contains), "\(c.name): \(error)")
            }
        }
    }

    @Test("what PyTorch refuses is refused here too")
    func torchRefusals() {
        let refusedByTorch = Self.cases.filter { $0.torch != "loads" }
        #expect(!refusedByTorch.isEmpty)
        for c in refusedByTorch where c.errorCase == nil {
            // Read here and refused by torch.load(weights_only=True): only for a global it does not
            // allow, which this library keeps as an opaque object and never calls, or for records
            // compressed with a method torch's zip reader lacks, whose contents are whole (and which
            // pth verify reports as refused by torch).
            let unsupportedMethod = c.torch.contains("unsupported method")
            #expect(c.torch.contains("unsupported GLOBAL") || unsupportedMethod, "\(c.name) reads here, but torch says \(c.torch)")
            if unsupportedMethod {
                let report = Verification.verify(path: Fixtures.path("malformed/\(c.name)"))
                #expect(report.isIntact && !report.weightsOnlyAccepts, "\(c.name): \(report.problems)")
                #expect(report.refusedFormat?.contains("torch.load reads only stored and deflated records") == true)
            }
        }
    }

    @Test("a hostile pickle is kept as data: os.system is an opaque call, never made")
    func codeExecution() throws {
        let checkpoint = try Checkpoint(path: Fixtures.path("malformed/code_execution.pth"))
        guard case .object(let object) = checkpoint.root else {
            Issue.record("root is \(checkpoint.root)")
            return
        }
        #expect(object.module == "os" && object.name == "system")
        #expect(object.arguments.map(\.string) == ["true"])
    }

    @Test("billion laughs through the memo is the shared graph it is, walked once")
    func billionLaughs() throws {
        let checkpoint = try Checkpoint(path: Fixtures.path("malformed/billion_laughs.pkl.pth"))
        // 30 lists, each holding the one below ten times: the walk visits each once.
        #expect(Listing.walk(checkpoint.root).count <= 31)
        _ = Inspection(checkpoint).render()
    }
}

/// Inputs the fuzzers found (fixtures/fuzz/TARGET/), replayed through the
/// same code the fuzz targets run: each is read or refused with a typed error.
@Suite("Fuzzing findings, replayed")
struct FuzzRegressionTests {
    static let inputs: [String] = FuzzTarget.allCases.flatMap { target in
        let directory = Fixtures.path("fuzz/\(target.rawValue)")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(target.rawValue)/\($0)" }
    }

    @Test("there are findings to replay")
    func present() {
        #expect(!Self.inputs.isEmpty)
    }

    @Test("each finding is read or refused with a typed error", arguments: inputs)
    func replay(_ input: String) throws {
        let target = try #require(FuzzTarget(rawValue: String(input.prefix { $0 != "/" })))
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("fuzz/\(input)"))))
        #expect(throws: Never.self) { _ = try target.run(bytes) }
    }
}

import Foundation
import Testing

/// Every `pth` command on files whose views dwarf their storage (a 1.6 KB file
/// torch.save writes for `zeros(1).expand(2**40)`, views of up to 2^62
/// elements, and the fuzzer's PyTorch 0.1 tar file with a 2^56-element
/// running mean), each run under CPU-time and address-space limits: the right
/// answer or a typed error, never hours of work.
@Suite("pth on views larger than their storage")
struct ExpandedViewCommandTests {
    static let files = ["expanded/expand40.pth", "expanded/huge.pth", "expanded/views.pth",
                        "fuzz/checkpoint/timeout-expanded-tar-running-mean"]

    final class Scratch {
        let url: URL
        init() throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("pth-expanded-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(at: url) }
        func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    }

    static func bounded(_ arguments: [String]) throws -> PthCommand.Result {
        try PthCommand.run(arguments, addressSpaceMiB: 4096, cpuSeconds: 20)
    }

    @Test("every command answers within the limits, with a status it documents", arguments: files)
    func everyCommand(_ name: String) throws {
        let scratch = try Scratch()
        let file = PthCommand.fixture(name)
        let runs: [([String], ClosedRange<Int32>)] = [
            (["inspect", file], 0...0),
            (["inspect", "--json", file], 0...0),
            (["verify", file], 0...2),
            (["dis", file], 0...0),
            (["diff", file, file], 0...0),
            (["rewrite", file, scratch.path("rewritten.pth")], 0...1),
            (["convert", file, scratch.path("converted.pth")], 0...0),
            (["convert", "--format", "legacy", file, scratch.path("legacy.pth")], 0...0),
            (["convert", file, scratch.path("out.safetensors")], 0...1),
            (["convert", "--dtype", "float16", file, scratch.path("half.pth")], 0...1),
        ]
        for (arguments, allowed) in runs {
            let result = try Self.bounded(arguments)
            #expect(allowed.contains(result.status), "pth \(arguments.joined(separator: " ")): status \(result.status)\n\(result.stderr)")
            if result.status == 1 { #expect(result.stderr.hasPrefix("pth: error: "), "\(result.stderr)") }
        }
    }

    @Test("inspect --json lists the 4 TiB view without its hash, and says so on stderr")
    func inspectJSON() throws {
        let result = try Self.bounded(["inspect", "--json", PthCommand.fixture("expanded/expand40.pth")])
        #expect(result.status == 0)
        #expect(result.stdout.contains("\"unhashed\": \"not hashed: a float32 view of 1,099,511,627,776 elements (4.0 TiB"))
        #expect(!result.stdout.contains("sha256"))
        #expect(result.stderr.contains("pth: warning: "))
        #expect(result.stderr.contains(": w: not hashed:"))
        #expect(result.stderr.contains("raise the limit with --expanded-view-limit"))
    }

    @Test("--expanded-view-limit raises or lowers the listing's budget")
    func inspectLimit() throws {
        let file = PthCommand.fixture("expanded/views.pth")
        let lowered = try Self.bounded(["inspect", "--json", "--expanded-view-limit", "1MiB", file])
        #expect(lowered.status == 0)
        #expect(lowered.stderr.contains("over_limit: not hashed:"))
        #expect(lowered.stdout.contains("limit of 1.0 MiB"))
        let plenty = try Self.bounded(["inspect", "--json", "--expanded-view-limit", "64MiB", file])
        #expect(plenty.status == 0 && plenty.stderr.isEmpty && !plenty.stdout.contains("unhashed"))
        let wrong = try PthCommand.run("inspect", "--json", "--expanded-view-limit", "lots", file)
        #expect(wrong.status == 64)
    }

    @Test("convert to safetensors refuses the 4 TiB view by name, size and limit, and writes nothing")
    func convertRefuses() throws {
        let scratch = try Scratch()
        let out = scratch.path("out.safetensors")
        let result = try Self.bounded(["convert", PthCommand.fixture("expanded/expand40.pth"), out])
        #expect(result.status == 1)
        #expect(result.stderr.contains("'w'") && result.stderr.contains("4.0 TiB") && result.stderr.contains("1.0 GiB"),
                "\(result.stderr)")
        #expect(result.stderr.contains("expandedViewLimit") || result.stderr.contains("limit"))
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)
    }

    @Test("convert to .pth keeps the view as it is: the file torch.save wrote, byte for byte")
    func convertKeepsView() throws {
        let scratch = try Scratch()
        let out = scratch.path("expand40.pth")
        let result = try Self.bounded(["convert", PthCommand.fixture("expanded/expand40.pth"), out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: PthCommand.fixture("expanded/expand40.pth"))))
    }
}

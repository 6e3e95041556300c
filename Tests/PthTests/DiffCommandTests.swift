import Foundation
import Testing

/// `pth diff`, run as a user runs it: output, JSON and the exit status a CI
/// script tests (0 equal, 1 different, 2 trouble).
@Suite("pth diff")
struct DiffCommandTests {
    func a(_ pair: String) -> String { PthCommand.fixture("diff/\(pair).a.pth") }
    func b(_ pair: String) -> String { PthCommand.fixture("diff/\(pair).b.pth") }

    @Test("equal files exit 0 and say so, though their bytes differ (serialization id)")
    func identical() throws {
        #expect(try Data(contentsOf: URL(fileURLWithPath: a("identical"))) != Data(contentsOf: URL(fileURLWithPath: b("identical"))))
        let r = try PthCommand.run("diff", a("identical"), b("identical"))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "identical: 3 tensors, 0 other values\n")
        #expect(r.stderr.isEmpty)
    }

    @Test("the README's checkpoint diffed with itself exits 0")
    func readmeCheckpoint() throws {
        let file = PthCommand.fixture("training_checkpoint.ckpt")
        let r = try PthCommand.run("diff", file, file)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("identical: "))
    }

    @Test("keys added and removed: one line each, a summary, exit 1")
    func keys() throws {
        let r = try PthCommand.run("diff", a("keys"), b("keys"))
        #expect(r.status == 1)
        #expect(r.stdout == "- old.weight: tensor float32 [3]\n+ new.weight: tensor float32 [3]\n1 key added, 1 key removed (rtol=0.0, atol=0.0)\n")
    }

    @Test("dtype, shape, value and type changes each have a line")
    func changes() throws {
        let metadata = try PthCommand.run("diff", a("metadata"), b("metadata"))
        #expect(metadata.status == 1)
        #expect(metadata.stdout.contains("~ dtype: dtype float32 -> float16\n"))
        #expect(metadata.stdout.contains("~ shape: shape [2, 3] -> [3, 2]\n"))
        let values = try PthCommand.run("diff", a("values"), b("values"))
        #expect(values.status == 1)
        #expect(values.stdout.contains("~ epoch: 3 -> 4\n"))
        #expect(values.stdout.contains("~ optimizer: 'adam' -> 'sgd'\n"))
        #expect(values.stdout.contains("~ milestones/2/1: 40 -> 41\n"))
        #expect(values.stdout.contains("~ best: tensor float32 [2] -> int 5\n"))
        #expect(values.stdout.hasSuffix("5 values changed, 3 types changed (rtol=0.0, atol=0.0)\n"))
    }

    @Test("tensor values that differ show max abs and rel difference, the count and the first index")
    func values() throws {
        let r = try PthCommand.run("diff", a("noise"), b("noise"))
        #expect(r.status == 1)
        #expect(r.stdout.contains("~ five_dims: 1 of 24 elements differs: max abs 8.72, max rel 0.9688, first at [1, 0, 2, 1, 0]\n"))
        #expect(!r.stdout.contains("transposed"))
        #expect(r.stdout.hasSuffix("5 tensors differ (rtol=0.0, atol=0.0)\n"))
    }

    @Test("--rtol and --atol decide, as torch.allclose does: exit 0 within, 1 outside")
    func tolerance() throws {
        let within = try PthCommand.run("diff", "--atol", "1", a("half"), b("half"))
        #expect(within.status == 0, "\(within.stdout)")
        #expect(within.stdout == "equal within rtol=0.0, atol=1.0: 3 tensors, 0 other values (largest abs difference 0.332)\n")
        let outside = try PthCommand.run("diff", "--rtol", "1e-05", "--atol", "1e-08", a("half"), b("half"))
        #expect(outside.status == 1)
        #expect(outside.stdout.hasSuffix("3 tensors differ (rtol=1e-05, atol=1e-08)\n"))
        let noise = try PthCommand.run("diff", "--rtol", "1e-05", "--atol", "1e-08", "--filter", "small_noise", a("noise"), b("noise"))
        #expect(noise.status == 0, "\(noise.stdout)")
    }

    @Test("--json prints the report for machines, with the same exit status")
    func json() throws {
        let r = try PthCommand.run("diff", "--json", a("training"), b("training"))
        #expect(r.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(object["equal"] as? Bool == false)
        #expect(object["rtol"] as? Double == 0)
        let differences = try #require(object["differences"] as? [[String: Any]])
        #expect(differences.first?["kind"] as? String == "value_changed")
        #expect(differences.first?["path"] as? [String] == ["epoch"])
        let step = try #require(differences.first { ($0["path"] as? [Any])?.count == 4 })
        #expect(step["kind"] as? String == "values_differ")
        #expect((step["path"] as? [Any])?[2] as? Int == 0, "optimizer state's int keys stay integers")
        let equal = try PthCommand.run("diff", "--json", a("identical"), b("identical"))
        #expect(equal.status == 0)
        let e = try #require(try JSONSerialization.jsonObject(with: Data(equal.stdout.utf8)) as? [String: Any])
        #expect(e["equal"] as? Bool == true)
        #expect((e["differences"] as? [Any])?.isEmpty == true)
        #expect((e["tensors"] as? [Any])?.count == 3)
    }

    @Test("--quiet prints nothing; the exit status tells")
    func quiet() throws {
        let different = try PthCommand.run("diff", "--quiet", a("keys"), b("keys"))
        #expect(different.status == 1)
        #expect(different.stdout.isEmpty && different.stderr.isEmpty)
        let same = try PthCommand.run("diff", "-q", a("identical"), b("identical"))
        #expect(same.status == 0)
        #expect(same.stdout.isEmpty)
    }

    @Test("--filter compares only the matching paths")
    func filter() throws {
        let r = try PthCommand.run("diff", "--filter", "model_state_dict/*", a("training"), b("training"))
        #expect(r.status == 1)
        #expect(r.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("~ ") }.count == 4)
        #expect(!r.stdout.contains("epoch"))
        let none = try PthCommand.run("diff", "--filter", "param_groups", a("training"), b("training"))
        #expect(none.status == 0)
    }

    @Test("a missing file, a file that is not a checkpoint and a negative tolerance exit 2")
    func trouble() throws {
        let missing = try PthCommand.run("diff", "/nonexistent.pth", a("keys"))
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("cannot open"))
        #expect(missing.stdout.isEmpty)
        let notCheckpoint = try PthCommand.run("diff", a("keys"), PthCommand.fixture("README.md"))
        #expect(notCheckpoint.status == 2)
        #expect(notCheckpoint.stderr.contains("not a PyTorch checkpoint"))
        let negative = try PthCommand.run("diff", "--rtol=-1", a("keys"), b("keys"))
        #expect(negative.status == 2)
        #expect(negative.stderr.contains("rtol must be a finite number"))
    }

    @Test("--help explains the command, the tolerance and the exit status, with examples")
    func help() throws {
        let r = try PthCommand.run("diff", "--help")
        #expect(r.status == 0)
        #expect(r.stdout.contains("Examples:"))
        #expect(r.stdout.contains("torch.allclose"))
        #expect(r.stdout.contains("Exit status"))
    }
}

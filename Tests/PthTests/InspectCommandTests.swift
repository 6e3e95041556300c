import Foundation
import Testing

/// `pth inspect`, run as a user runs it.
@Suite("pth inspect")
struct InspectCommandTests {
    @Test("prints the tree with dtypes, shapes, sizes and totals")
    func tree() throws {
        let r = try PthCommand.run("inspect", PthCommand.fixture("state_dict.pth"))
        #expect(r.status == 0)
        #expect(r.stdout.contains("zip (prefix 'state_dict', version 3, little-endian)"))
        #expect(r.stdout.contains("(root): OrderedDict (13 items)"))
        #expect(r.stdout.contains("bn.num_batches_tracked: int64 []  1 element  8 B") || r.stdout.contains("num_batches_tracked: int64 []"))
        #expect(r.stdout.contains("13 tensors"))
        #expect(r.stdout.contains("float32"))
    }

    @Test("the JSON listing equals PyTorch's for every fixture", arguments: [
        "state_dict.pth", "training_checkpoint.ckpt", "views.pth", "dtypes.pth", "quantized.pth", "sparse.pth",
        "values.pth", "meta.pth", "cuda_tagged.pth", "proto4.pth", "prefixes/noext",
    ])
    func json(_ name: String) throws {
        let r = try PthCommand.run("inspect", "--json", PthCommand.fixture(name))
        // values.pth holds classes and functions outside weights_only's allowlist: listed, and exit 2.
        #expect(r.status == (name == "values.pth" ? 2 : 0), "\(r.stderr)")
        let ours = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
        let torch = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: PthCommand.fixture(name + ".listing.json")))) as? [[String: Any]] ?? []
        #expect(ours.count >= torch.count)
        let ourPaths = Set(ours.map { "\($0["path"]!)" })
        for entry in torch { #expect(ourPaths.contains("\(entry["path"]!)"), "\(entry["path"]!)") }
    }

    @Test("a safetensors file lists as the dict load_file returns: as torch.save(load_file(f)) wrote it", arguments: [
        "dtypes", "names", "hand_ordered", "empty", "metadata_only",
    ])
    func safetensors(_ name: String) throws {
        let ours = try PthCommand.run("inspect", "--json", PthCommand.fixture("safetensors/\(name).safetensors"))
        #expect(ours.status == 0, "\(ours.stderr)")
        // The .pth is PyTorch's own file of the same dict (tools/make_safetensors_fixtures.py).
        let torch = try PthCommand.run("inspect", "--json", PthCommand.fixture("safetensors/torch_save/\(name).pth"))
        #expect(torch.status == 0)
        #expect(ours.stdout == torch.stdout)
        let tree = try PthCommand.run("inspect", PthCommand.fixture("safetensors/\(name).safetensors"))
        #expect(tree.status == 0)
        #expect(tree.stdout.hasPrefix(PthCommand.fixture("safetensors/\(name).safetensors") + ": safetensors (header of "))
        #expect(tree.stdout.contains(" tensor"))
    }

    @Test("--filter keeps matching entries only")
    func filter() throws {
        let r = try PthCommand.run("inspect", "--filter", "exp_avg_sq", PthCommand.fixture("training_checkpoint.ckpt"))
        #expect(r.status == 0)
        #expect(r.stdout.contains("exp_avg_sq"))
        #expect(!r.stdout.contains("embed.weight"))
        let j = try PthCommand.run("inspect", "--json", "--filter", "model_state_dict/*bias", PthCommand.fixture("training_checkpoint.ckpt"))
        let entries = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(!entries.isEmpty)
        #expect(entries.allSatisfy { "\($0["path"]!)".contains("bias") })
    }

    @Test("--depth stops the tree")
    func depth() throws {
        let r = try PthCommand.run("inspect", "--depth", "1", PthCommand.fixture("training_checkpoint.ckpt"))
        #expect(r.status == 0)
        #expect(r.stdout.contains("model_state_dict: OrderedDict"))
        #expect(!r.stdout.contains("embed.weight"))
        #expect(r.stdout.contains("tensors,"))   // totals still count everything
    }

    @Test("a file that is not a checkpoint fails with exit 1 and says what it is")
    func notACheckpoint() throws {
        let r = try PthCommand.run("inspect", PthCommand.fixture("README.md"))
        #expect(r.status == 1)
        #expect(r.stderr.contains("not a PyTorch checkpoint"))
        #expect(r.stdout.isEmpty)
    }

    @Test("a missing file fails with exit 1")
    func missing() throws {
        let r = try PthCommand.run("inspect", "/nonexistent.pth")
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot open"))
    }

    @Test("--help explains the command with examples")
    func help() throws {
        let r = try PthCommand.run("inspect", "--help")
        #expect(r.status == 0)
        #expect(r.stdout.contains("Examples:"))
    }
}

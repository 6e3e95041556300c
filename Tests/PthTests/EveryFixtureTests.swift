import Foundation
import ListingComparison
import Testing
import TorchCheckpoint

/// Each command works on every fixture, run as a user runs it: the built
/// `pth` binary, its exit status and what it prints, against what PyTorch
/// says of each file (its listing, and its weights_only verdict).
@Suite("Every command on every fixture")
struct EveryFixtureTests {
    static let directory = PthCommand.packageRoot.appendingPathComponent("fixtures")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Every checkpoint fixture, relative to fixtures/: the files PyTorch's
    /// listing was recorded for (FILE.listing.json beside FILE), found as
    /// Tests/TorchCheckpointTests/Support/Fixtures.swift finds them.
    static let checkpoints: [String] = {
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        var names: [String] = []
        while let name = enumerator?.nextObject() as? String {
            if FileManager.default.fileExists(atPath: path(name + ".listing.json")) { names.append(name) }
        }
        return names.sorted()
    }()

    /// PyTorch's weights_only verdicts (fixtures/verify.json, from tools/make_weights_only_data.py).
    nonisolated(unsafe) static let verdicts: [String: [String: Any]] = {
        let data = (try? Data(contentsOf: directory.appendingPathComponent("verify.json"))) ?? Data()
        return (try? JSONSerialization.jsonObject(with: data) as? [String: [String: Any]]) ?? [:]
    }()

    /// Files another tool re-zipped: written back in PyTorch's layout, not byte for byte.
    static let rezipped = checkpoints.filter { $0.hasPrefix("rezipped/") && $0 != "rezipped/source.pth" }

    /// The pickle-based fixtures: all but the tar files of PyTorch 0.1 (a tar header, then pickles
    /// inside members), the sharded sets (directories of shards) and torch.export archives (no pickle).
    static let pickled = checkpoints.filter { !$0.hasPrefix("tar/") && !$0.hasPrefix("sharded/") && !$0.hasSuffix(".pt2") }

    /// A fresh directory, removed when the value goes.
    final class Scratch {
        let url: URL
        init() throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("pth-every-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(at: url) }
        func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    }

    @Test("the fixture set is complete: every format, and PyTorch's verdicts name fixtures")
    func fixtureSet() {
        #expect(Self.checkpoints.count >= 50)
        for folder in ["legacy/", "tar/", "torchscript/", "big_endian/", "rezipped/", "prefixes/"] {
            #expect(Self.checkpoints.contains { $0.hasPrefix(folder) }, "no fixture in \(folder)")
        }
        #expect(Self.verdicts.count >= 50)
        #expect(Self.verdicts.keys.filter { !Self.checkpoints.contains($0) }.isEmpty)
    }

    // MARK: help

    /// The subcommands `pth --help` lists.
    static func subcommands() throws -> [String] {
        let help = try PthCommand.run("--help").stdout
        guard let section = help.range(of: "SUBCOMMANDS:\n") else { return [] }
        return help[section.upperBound...].split(separator: "\n").compactMap { line in
            // "  inspect                 Show what …"; continuation lines are indented further.
            guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
            let word = line.dropFirst(2).prefix { $0.isLowercase }
            return !word.isEmpty && line.dropFirst(2 + word.count).hasPrefix("  ") ? String(word) : nil
        }
    }

    @Test("every command's --help explains it, with examples")
    func help() throws {
        let commands = try Self.subcommands()
        #expect(Set(["inspect", "rewrite", "convert", "verify", "dis"]).isSubset(of: Set(commands)), "\(commands)")
        for command in commands {
            let r = try PthCommand.run(command, "--help")
            #expect(r.status == 0, "\(command)")
            #expect(r.stdout.contains("\nExamples:\n  pth \(command) "), "\(command)")
            #expect(r.stdout.split(separator: "\n").count > 15, "\(command): the help is thin")
        }
        for command in ["inspect", "rewrite", "verify", "dis"] {
            #expect(try PthCommand.run(command, "--help").stdout.contains("\nExit status: "), "\(command)")
        }
    }

    // MARK: inspect

    /// What `pth inspect` must say of a fixture's format, from the folder it lies in
    /// (nil for a folder that does not imply one).
    static func expectedFormat(_ name: String) -> String? {
        if name.hasPrefix("tar/") { return "tar (PyTorch 0.1" }
        if name.hasPrefix("legacy/") { return "legacy (PyTorch before 1.6" }
        if name.hasPrefix("torchscript/") { return "TorchScript zip (prefix '" }
        if name.hasPrefix("big_endian/little/") { return "little-endian)" }
        if name.hasPrefix("big_endian/") { return "big-endian)" }
        if name.hasPrefix("rezipped/") { return "zip (prefix 'source', version 3, little-endian)" }
        if name.hasPrefix("prefixes/") || !name.contains("/") { return "zip (prefix '" }
        return nil
    }

    /// The exit status of `pth inspect`: 2 where PyTorch finds globals outside weights_only's
    /// allowlist (torch.serialization.get_unsafe_globals_in_checkpoint, in fixtures/verify.json),
    /// or for a whole pickled nn.Module; 0 otherwise (TorchScript archives included: torch.jit.load
    /// builds their objects without Python).
    static func inspectStatus(_ name: String) -> Int32 {
        if name.hasPrefix("torchscript/") { return 0 }
        if name.hasPrefix("legacy/whole_") { return 2 }
        // get_unsafe_globals_in_checkpoint fails on these (an opcode its scanner does not read); what they name
        // outside the allowlist is in fixtures/README.md: a frozenset pickled at protocol 1 or 3 (REDUCE of
        // builtins.frozenset), and values.pth's fixture_classes.OpaqueRecord, numpy arrays and defaultdict.
        if ["proto1.pth", "proto3.pth", "values.pth"].contains(name) { return 2 }
        let unsafe = verdicts[name]?["unsafe_globals"] as? [String] ?? []
        return unsafe.isEmpty ? 0 : 2
    }

    @Test("inspect names the format, and exits 2 where the pickle names globals outside weights_only's allowlist",
          arguments: checkpoints)
    func inspect(_ name: String) throws {
        let r = try PthCommand.run("inspect", Self.path(name))
        #expect(r.status == Self.inspectStatus(name), "\(r.stderr)")
        let first = r.stdout.prefix { $0 != "\n" }
        #expect(first == "\(Self.path(name)): \(try Checkpoint(path: Self.path(name)).format)")
        if let format = Self.expectedFormat(name) {
            #expect(first.contains(format), "\(first)")
        }
        // The totals: "13 tensors, 342 elements, 13 storages holding …" (for TorchScript, "… distinct tensors, …").
        let totals = r.stdout.split(separator: "\n").first { $0.first?.isNumber == true && $0.contains(" elements, ") }
        #expect(totals?.contains("storage") == true, "\(r.stdout.suffix(300))")
        if r.status == 2 {
            // Each global PyTorch names as unsafe is named on stderr and in the tree's last section.
            for global in Self.verdicts[name]?["unsafe_globals"] as? [String] ?? [] {
                #expect(r.stderr.contains(global), "\(r.stderr)")
                #expect(r.stdout.contains(global), "\(r.stdout.suffix(600))")
            }
            #expect(r.stderr.contains("torch.load(weights_only=False) would import and run them. Nothing was run here."))
        } else {
            #expect(r.stderr.isEmpty)
        }
    }

    @Test("inspect --json is PyTorch's listing", arguments: checkpoints)
    func inspectJSON(_ name: String) throws {
        let r = try PthCommand.run("inspect", "--json", Self.path(name))
        #expect(r.status == Self.inspectStatus(name), "\(r.stderr)")
        let ours = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
        let torch = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.path(name + ".listing.json"))))
        #expect(((torch as? [Any])?.count ?? 0) > 0)
        let problems = ListingComparison.mismatches(torch: torch, ours: ours)
        #expect(problems.isEmpty, "\(problems.prefix(5).joined(separator: "\n"))")
    }

    // MARK: verify

    @Test("verify's exit status is PyTorch's weights_only verdict on an intact file", arguments: checkpoints)
    func verify(_ name: String) throws {
        let r = try PthCommand.run("verify", Self.path(name))
        #expect(r.stdout.hasPrefix("\(Self.path(name)): intact\n"), "\(r.stdout)")
        if let verdict = Self.verdicts[name] {
            let accepted = try #require(verdict["weights_only_loads"] as? Bool)
            #expect(r.status == (accepted ? 0 : 2), "\(r.stdout)")
            #expect(r.stdout.contains(accepted ? "weights_only=True): accepts" : "weights_only=True): refuses"))
        } else if name.hasPrefix("legacy/whole_") {
            // A whole pickled nn.Module (PyTorch gave no verdict): its classes are outside every allowlist.
            #expect(r.status == 2, "\(r.stdout)")
            #expect(r.stdout.contains("globals outside its allowlist: torch.nn.modules."), "\(r.stdout)")
        } else {
            // No verdict recorded: the exit status still follows the report.
            let accepts = r.stdout.contains("weights_only=True): accepts")
            #expect(r.status == (accepts ? 0 : 2), "\(r.stdout)")
        }
    }

    // MARK: dis

    @Test("dis disassembles every pickle-based fixture to its STOP", arguments: pickled)
    func dis(_ name: String) throws {
        // A legacy file is pickles back to back: disassemble them all.
        let r = name.hasPrefix("legacy/")
            ? try PthCommand.run("dis", "--all", Self.path(name))
            : try PthCommand.run("dis", Self.path(name))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(".    STOP\n"))
        #expect(!r.stdout.contains("\nerror: "), "\(r.stdout.suffix(300))")
        #expect(r.stdout.split(separator: "\n").last?.hasPrefix("highest protocol among opcodes = ") == true)
        if name.hasPrefix("torchscript/") {
            let constants = try PthCommand.run("dis", "--record", "constants.pkl", Self.path(name))
            #expect(constants.status == 0, "\(constants.stderr)")
            #expect(constants.stdout.contains(".    STOP\n"))
        }
    }

    // MARK: rewrite

    /// Fixtures the library reads but does not write back (`writeBackLimitation`).
    static let readOnly = checkpoints.filter { (try? Checkpoint(path: path($0)))?.writeBackLimitation != nil }

    @Test("the fixtures rewrite refuses are the tar files, the protocol-1 pickles (legacy and zip), sharded sets and .pt2 archives")
    func readOnlySet() {
        #expect(Set(Self.readOnly) == ["legacy/protocol1.pth", "proto1.pth", "tar/state_dict_0_1.pt", "tar/views_0_1.pt",
                                       "sharded/bin", "sharded/safetensors", "pt2/model.pt2"])
    }

    @Test("rewrite is byte for byte where the library promises it, PyTorch's layout for re-zipped files, refused otherwise",
          arguments: checkpoints)
    func rewrite(_ name: String) throws {
        let scratch = try Scratch()
        // Keep the file name, so a prefix derived from it would agree too.
        let out = scratch.path((name as NSString).lastPathComponent)
        let r = try PthCommand.run("rewrite", Self.path(name), out)

        if Self.readOnly.contains(name) {
            #expect(r.status == 1)
            let reason = try #require(try Checkpoint(path: Self.path(name)).writeBackLimitation)
            #expect(r.stderr.contains("cannot write"), "\(r.stderr)")
            #expect(r.stderr.contains(reason), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)
            return
        }

        #expect(r.status == 0, "\(r.stderr)")
        let original = try Data(contentsOf: URL(fileURLWithPath: Self.path(name)))
        let written = try Data(contentsOf: URL(fileURLWithPath: out))
        if Self.rezipped.contains(name) {
            // PyTorch's layout: other bytes, the same listing.
            #expect(written != original)
            let back = try PthCommand.run("inspect", "--json", out)
            #expect(back.status == 0, "\(back.stderr)")
            let torch = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.path(name + ".listing.json"))))
            let problems = ListingComparison.mismatches(torch: torch, ours: try JSONSerialization.jsonObject(with: Data(back.stdout.utf8)))
            #expect(problems.isEmpty, "\(problems.prefix(5).joined(separator: "\n"))")
        } else {
            #expect(written == original, "\(name): \(written.count) bytes written, \(original.count) in the original")
        }
    }

    // MARK: verify on damaged files

    /// `state_dict.pth` (or another fixture) with bytes changed as `change` says, written to a scratch file.
    static func damaged(_ name: String, in scratch: Scratch,
                        _ change: (inout [UInt8], ZipArchive) throws -> Void) throws -> String {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path(name))))
        let archive = try ZipArchive(path: path(name))
        try change(&bytes, archive)
        let out = scratch.path("damaged.pth")
        try Data(bytes).write(to: URL(fileURLWithPath: out))
        return out
    }

    /// The first index in `range` where `pattern` starts.
    static func find(_ pattern: [UInt8], in bytes: [UInt8], _ range: Range<Int>) -> Int? {
        range.first { i in i + pattern.count <= range.upperBound && Array(bytes[i..<(i + pattern.count)]) == pattern }
    }

    /// The report of `pth verify` on a damaged file: exit 1, DAMAGED, and the problems.
    static func verifyDamaged(_ file: String) throws -> (problems: [String], json: String) {
        let r = try PthCommand.run("verify", file)
        #expect(r.status == 1, "\(r.stdout)")
        #expect(r.stdout.hasPrefix("\(file): DAMAGED\n"), "\(r.stdout)")
        let problems = r.stdout.split(separator: "\n").filter { $0.hasPrefix("  problem: ") }.map(String.init)
        #expect(!problems.isEmpty)
        let j = try PthCommand.run("verify", "--json", file)
        #expect(j.status == 1)
        return (problems, j.stdout)
    }

    @Test("verify: a flipped byte in a storage is a CRC mismatch of that record")
    func flippedByte() throws {
        let scratch = try Scratch()
        let file = try Self.damaged("state_dict.pth", in: scratch) { bytes, archive in
            bytes[Int(try #require(archive.record("data/0")).dataOffset) + 3] ^= 0x40
        }
        let (problems, json) = try Self.verifyDamaged(file)
        #expect(problems.contains { $0.contains("data/0") && $0.lowercased().contains("crc") }, "\(problems)")
        #expect(json.contains("\"intact\": false"))
    }

    @Test("verify: a truncated file is damaged, naming what is missing")
    func truncated() throws {
        let scratch = try Scratch()
        let file = try Self.damaged("state_dict.pth", in: scratch) { bytes, archive in
            bytes.removeLast(bytes.count - Int(try #require(archive.record("data/3")).dataOffset) - 2)
        }
        let (problems, _) = try Self.verifyDamaged(file)
        // The zip directory at the end is gone with the rest.
        #expect(problems.contains { $0.contains("damaged zip container") && $0.contains("end-of-central-directory") }, "\(problems)")
    }

    @Test("verify: a record shorter than its persistent id claims is damage, naming the record")
    func wrongRecordSize() throws {
        let scratch = try Scratch()
        // The pickle's element count for storage 1 grows by one: its record is now short.
        let file = try Self.damaged("state_dict.pth", in: scratch) { bytes, archive in
            let pickle = try #require(archive.record("data.pkl"))
            let start = Int(pickle.dataOffset), end = start + Int(pickle.uncompressedSize)
            // BINUNICODE '1' BINPUT: storage key 1 …
            let key = try #require(Self.find([0x58, 0x01, 0, 0, 0, 0x31, 0x71], in: bytes, start..<end))
            // … its location, then BININT1 numel.
            let count = try #require((key..<end).first { bytes[$0] == 0x4B })
            bytes[count + 1] &+= 1
        }
        let (problems, _) = try Self.verifyDamaged(file)
        #expect(problems.contains { $0.contains("data/1") }, "\(problems)")
    }

    @Test("verify: a view beyond its storage is damage, naming the storage")
    func viewBeyondStorage() throws {
        let scratch = try Scratch()
        // scalar_root.pth holds one 2×3 tensor; make it 2×4.
        let file = try Self.damaged("scalar_root.pth", in: scratch) { bytes, archive in
            let pickle = try #require(archive.record("data.pkl"))
            let start = Int(pickle.dataOffset), end = start + Int(pickle.uncompressedSize)
            // BININT1 2, BININT1 3, TUPLE2: the size.
            let size = try #require(Self.find([0x4B, 0x02, 0x4B, 0x03, 0x86], in: bytes, start..<end))
            bytes[size + 3] = 4
        }
        let (problems, _) = try Self.verifyDamaged(file)
        #expect(problems.contains { $0.contains("storage '0'") && $0.contains("needs") }, "\(problems)")
    }
}

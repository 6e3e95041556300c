import Foundation
import Testing
import TorchCheckpoint
import TorchZip

/// Pickles that call something where a reader may not look
/// (fixtures/hostile, written byte by byte by tools/make_hostile_fixtures.py,
/// with torch.load(weights_only=True)'s verdict and the unsafe globals an
/// independent pickletools scan finds in every pickle of each file).
@Suite("Hostile pickles: every call and every pickle found")
struct HostilePickleTests {
    nonisolated(unsafe) static let expected: [String: [String: Any]] = {
        (try? Fixtures.json("hostile/expected.json") as? [String: [String: Any]]) ?? [:]
    }()
    static let names = expected.keys.sorted()

    @Test("verify lists every global outside weights_only's allowlist in every pickle of the file, and never predicts that torch accepts a file it refuses", arguments: names)
    func verify(_ name: String) throws {
        let facts = try #require(Self.expected[name])
        let report = Verification.verify(path: Fixtures.path("hostile/" + name))
        let unsafe = try #require(facts["unsafe_globals"] as? [String])
        #expect(Set(unsafe).isSubset(of: Set(report.unsafeGlobals)), "\(report.unsafeGlobals)")
        let accepts = (facts["weights_only"] as? String) == "accepts"
        #expect(report.weightsOnlyAccepts == accepts, "\(report.text(for: name))")
        // Every pickle named in the JSON report, with its location.
        if !unsafe.isEmpty { #expect(report.json.contains("\"pickles\": [{\"location\": ")) }
    }

    @Test("the calls a pickle makes are listed whatever became of their results", arguments: names.filter {
        HostilePickleTests.expected[$0]?["calls"] != nil
    })
    func calls(_ name: String) throws {
        let facts = try #require(Self.expected[name])
        let checkpoint = try Fixtures.open("hostile/" + name)
        let callees = Set(checkpoint.unsafeCalls.map { PickleCallDescription.callee(of: $0.object) })
        #expect(callees == Set(try #require(facts["calls"] as? [String])))
        // Nothing the file names outside the allowlist goes unmentioned.
        let unsafe = try #require(facts["unsafe_globals"] as? [String])
        #expect(Set(checkpoint.unsafeGlobals) == Set(unsafe))
        let tree = Inspection(checkpoint).render()
        for global in unsafe { #expect(tree.contains(global), "\(tree)") }
    }

    @Test("a dropped call is shown with its arguments and what became of its result")
    func fates() throws {
        func line(_ name: String) throws -> String {
            let tree = Inspection(try Fixtures.open("hostile/" + name)).render()
            return try #require(tree.split(separator: "\n").first { $0.contains("os.system('echo pwned')") }.map(String.init), "\(tree)")
        }
        #expect(try line("popped_call.pth") == "  byte 26 REDUCE: os.system('echo pwned')  (not in what the file returns: its result is dropped)")
        #expect(try line("call_below_result.pth").hasSuffix("its result is left on the stack, below the object the pickle returns)"))
        #expect(try line("memo_only_call.pth").hasSuffix("its result is kept only in the pickle's memo)"))
        #expect(try line("call_as_argument.pth").hasSuffix("its result goes to the call at byte 42)"))
        let nested = Inspection(try Fixtures.open("hostile/nested_partial.pth")).render()
        #expect(nested.contains("(root): functools.partial(os.system, 'echo pwned')()"), "\(nested)")
    }

    @Test("an opcode that straddles a FRAME boundary is damage at its byte, and what follows is still scanned")
    func frameStraddle() throws {
        let facts = try #require(Self.expected["frame_straddle.pth"])
        let at = try #require(facts["frame_damage"] as? Int)
        #expect {
            _ = try Fixtures.open("hostile/frame_straddle.pth")
        } throws: { error in
            guard case CheckpointError.pickle(_, _, let e) = error else { return false }
            return e.offset == at && e.opcode == .shortBinUnicode && e.message.contains("straddle a frame boundary")
        }
        let report = Verification.verify(path: Fixtures.path("hostile/frame_straddle.pth"))
        #expect(!report.isIntact)
        #expect(report.unsafeGlobals.contains("os.system"))
        #expect(report.pickles.first { $0.isReadByTorch }?.error?.contains("byte 11") == true)
    }

    @Test("pickles torch.load does not read are listed where they are")
    func otherPickles() throws {
        func locations(_ name: String) -> [String] {
            Verification.verify(path: Fixtures.path("hostile/" + name)).pickles.filter { !$0.unsafeGlobals.isEmpty }.map(\.location)
        }
        #expect(locations("zip_without_prefix.zip") == ["record 'data.pkl'"])
        #expect(locations("zip_names_differ.pth") == ["record 'archive/datap.kl' (its local header says 'archive/data.pkl')"])
        #expect(locations("zip_false_encryption.pth") == ["record 'archive/data.pkl'"])
        #expect(locations("tar_member.tar") == ["tar member 'pickle'"])
        #expect(locations("object_array.npy") == ["the .npy array's data"])
        #expect(locations("second_pickle.pkl") == ["the file"])
        #expect(locations("pickle_before_zip.pth") == ["the file"])
        let second = Verification.verify(path: Fixtures.path("hostile/second_pickle.pkl"))
        #expect(second.pickles.map(\.offset) == [0, 4])
        // A zip after other bytes counts its offsets from its own start.
        #expect(locations("benign_pickle_before_unsafe_zip.pth") == ["record 'archive/data.pkl'"])
        // A .npz's .npy record of objects, past its header.
        let npz = Verification.verify(path: Fixtures.path("hostile/object_array.npz")).pickles.filter { !$0.unsafeGlobals.isEmpty }
        #expect(npz.map(\.location) == ["record 'arr_0.npy'"] && npz.map(\.offset) == [128])
        // A first pickle that straddles its FRAME still ends somewhere: the second is scanned.
        let straddled = Verification.verify(path: Fixtures.path("hostile/straddle_then_second_pickle.pkl"))
        #expect(straddled.pickles.filter { !$0.unsafeGlobals.isEmpty }.map(\.offset) == [21])
        // An INT Python reads as int('0x41', 0) does not end the scan.
        #expect(locations("int_base_zero.pkl") == ["the file"])
    }

    @Test("what torch.load reads and this library declines (a lone surrogate) is a warning, not damage")
    func ownRefusal() {
        let report = Verification.verify(path: Fixtures.path("hostile/lone_surrogate.pth"))
        #expect(report.isIntact)
        #expect(report.weightsOnlyAccepts)
        #expect(report.warnings.contains { $0.contains("lone surrogate") })
    }

    @Test("records that share their data (a zip bomb's layout) are refused before anything is inflated")
    func overlappingRecords() throws {
        #expect {
            _ = try ZipArchive(path: Fixtures.path("hostile/one_record_many_entries.zip"))
        } throws: { ($0 as? ZipError)?.code == .overlappingRecords }
        let report = Verification.verify(path: Fixtures.path("hostile/one_record_many_entries.zip"))
        #expect(!report.isIntact && !report.weightsOnlyAccepts)
        #expect(report.refusedFormat?.contains("torch.load may read such a file") == true)
        // The one record is scanned once: a walk of its first bytes, not 2,000 inflations.
        #expect(report.pickles.isEmpty)
    }
}

/// Records that share a name: the copy PyTorch's zip reader finds
/// (fixtures/duplicates, from tools/make_duplicate_fixtures.py).
@Suite("Records with one name")
struct DuplicateRecordTests {
    nonisolated(unsafe) static let expected: [String: [String: Any]] = {
        (try? Fixtures.json("duplicates/expected.json") as? [String: [String: Any]]) ?? [:]
    }()

    @Test("record(\"data.pkl\") is the copy torch.load reads, wherever the duplicate sits",
          arguments: expected.keys.filter { $0.hasPrefix("second_") }.sorted())
    func lookup(_ name: String) throws {
        let facts = try #require(Self.expected[name])
        let archive = try ZipArchive(path: Fixtures.path("duplicates/" + name))
        #expect(archive.record("data.pkl")?.index == facts["torch_reads_entry"] as? Int)
    }

    @Test("verify predicts from the copy torch reads, and scans the other", arguments: ["unsafe_data_pkl_at_1.pth", "unsafe_data_pkl_at_2.pth"])
    func prediction(_ name: String) throws {
        let facts = try #require(Self.expected[name])
        let report = Verification.verify(path: Fixtures.path("duplicates/" + name))
        #expect(report.weightsOnlyAccepts == ((facts["weights_only"] as? String) == "accepts"), "\(report.text(for: name))")
        #expect(report.unsafeGlobals == ["builtins.eval"])
        #expect(report.warnings.contains { $0.contains("several records are named 'archive/data.pkl'") })
    }
}

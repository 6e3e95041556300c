import Foundation
import Testing

/// The malformed corpus (fixtures/malformed/) through the command line,
/// under a 2 GiB address space and 60 s of CPU: each file ends with an
/// answer, never a signal (a crash, or a limit that killed it).
@Suite("Hostile files: bounded time and memory")
struct HostileFileTests {
    static let corpus: [String] = {
        let directory = PthCommand.fixture("malformed")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".pth") }.sorted()
    }()

    @Test("pth verify and pth inspect answer every file within the limits", arguments: corpus)
    func bounded(_ name: String) throws {
        let path = PthCommand.fixture("malformed/\(name)")
        for arguments in [["verify", path], ["inspect", path], ["inspect", "--json", path]] {
            let result = try PthCommand.run(arguments, addressSpaceMiB: 2048, cpuSeconds: 60)
            // 0: read; 1: a typed error, said on standard error; 2 (verify): intact, but
            // torch.load(weights_only=True) would refuse its globals. A negative status is a signal.
            #expect((0...2).contains(result.status), "pth \(arguments.joined(separator: " ")): status \(result.status)\n\(result.stderr)")
            if result.status == 1 {
                #expect(!result.stderr.isEmpty || !result.stdout.isEmpty)
            }
        }
    }

    static let crafted: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: PthCommand.fixture("hostile"))) ?? []
        return names.filter { !$0.hasSuffix(".json") }.sorted()
    }()

    @Test("pth verify, inspect and dis answer every crafted pickle within the limits", arguments: crafted)
    func boundedCrafted(_ name: String) throws {
        let path = PthCommand.fixture("hostile/\(name)")
        for arguments in [["verify", path], ["inspect", path], ["dis", path]] {
            let result = try PthCommand.run(arguments, addressSpaceMiB: 2048, cpuSeconds: 60)
            #expect((0...2).contains(result.status), "pth \(arguments.joined(separator: " ")): status \(result.status)\n\(result.stderr)")
            if result.status != 0 { #expect(!result.stderr.isEmpty || !result.stdout.isEmpty) }
        }
    }

    @Test("a limit that is too low is a signal, so the test above would see one",
          .disabled(if: PthCommand.underAddressSanitizer, "AddressSanitizer's shadow memory rules out an address-space limit"))
    func limitsBite() throws {
        // 16 MiB of address space is not enough to start a Swift program (pth needs over 32 MiB).
        let result = try PthCommand.run(["inspect", PthCommand.fixture("malformed/valid.pth")], addressSpaceMiB: 16, cpuSeconds: 60)
        #expect(result.status != 0)
    }
}

/// `pth inspect` never shows a file that calls something outside
/// weights_only's allowlist as a harmless tree with exit 0.
@Suite("pth inspect on pickles that call")
struct InspectCallsTests {
    @Test("a call whose result is dropped is listed with its arguments; exit 2, the callee named on stderr")
    func droppedCall() throws {
        let path = PthCommand.fixture("hostile/popped_call.pth")
        let r = try PthCommand.run("inspect", path)
        #expect(r.status == 2)
        #expect(r.stdout.contains("(root): dict (0 items)"))
        #expect(r.stdout.contains("byte 26 REDUCE: os.system('echo pwned')  (not in what the file returns: its result is dropped)"))
        #expect(r.stderr.contains("(os.system); torch.load(weights_only=False) would import and run them. Nothing was run here."))
        // The listing is printed too, and exits the same way.
        let json = try PthCommand.run("inspect", "--json", path)
        #expect(json.status == 2)
        #expect(json.stdout == "[\n]\n")
    }

    @Test("verify lists a pickle torch.load does not read, where it is")
    func unreadPickle() throws {
        let r = try PthCommand.run("verify", PthCommand.fixture("hostile/zip_without_prefix.zip"))
        #expect(r.status == 1)
        #expect(r.stdout.contains("  pickles torch.load does not read (pickle.load would run them):\n"
                                  + "    record 'data.pkl' at byte 0: globals outside weights_only's allowlist: os.system"))
    }
}

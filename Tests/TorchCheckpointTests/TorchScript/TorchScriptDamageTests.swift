import Foundation
import Testing
import TorchCheckpoint

/// Damaged class definitions and module objects: a typed error that names
/// the class and the record, never a crash.
@Suite("TorchScript archives: damaged class definitions and objects")
struct TorchScriptDamageTests {
    static let fixture = "torchscript/scripted.pt"
    static let linear = "code/__torch__/torch/nn/modules/linear.py"
    static let batchNorm = "code/__torch__/torch/nn/modules/batchnorm.py"

    /// Opens `fixture` with one record edited, expecting invalidRecord; returns (record, reason).
    func failure(_ record: String, _ edit: (String) -> String) throws -> (record: String, reason: String)? {
        let path = try ArchiveSurgery.write(from: Self.fixture, replacing: [record: try ArchiveSurgery.edited(Self.fixture, record, edit)])
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try failure(path)
    }

    func failure(_ path: String) throws -> (record: String, reason: String)? {
        let error = #expect(throws: CheckpointError.self) { try Checkpoint(path: path) }
        guard case .invalidRecord(_, let record, let reason)? = error else {
            Issue.record("expected invalidRecord, got \(String(describing: error))")
            return nil
        }
        return (record, reason)
    }

    @Test("an unclosed __parameters__ list names the class, the record and the line")
    func unclosedList() throws {
        let f = try #require(try failure(Self.linear) { $0.replacingOccurrences(of: #"__parameters__ = ["weight", "bias", ]"#, with: #"__parameters__ = ["weight", "bias", "#) })
        #expect(f.record == "scripted/" + Self.linear)
        #expect(f.reason.contains("class __torch__.torch.nn.modules.linear.Linear"))
        #expect(f.reason.contains("line 2") && f.reason.contains("not closed"))
    }

    @Test("a parameter name the object lacks names the class and its record")
    func missingParameter() throws {
        let f = try #require(try failure(Self.linear) { $0.replacingOccurrences(of: #""bias", ]"#, with: #""bias", "gain", ]"#) })
        #expect(f.record == "scripted/" + Self.linear)
        #expect(f.reason.contains("__torch__.torch.nn.modules.linear.Linear") && f.reason.contains("parameter 'gain'"))
    }

    @Test("a buffer that is no tensor names the class and what it is")
    func bufferNotATensor() throws {
        let f = try #require(try failure(Self.batchNorm) { $0.replacingOccurrences(of: #""num_batches_tracked", ]"#, with: #""num_batches_tracked", "training", ]"#) })
        #expect(f.record == "scripted/" + Self.batchNorm)
        #expect(f.reason.contains("buffer 'training'") && f.reason.contains("BatchNorm1d") && f.reason.contains("bool"))
    }

    @Test("a class line without its colon, a list assigned twice, an unknown escape: malformed, with the line")
    func malformedLines() throws {
        let header = try #require(try failure(Self.linear) { $0.replacingOccurrences(of: "class Linear(Module):", with: "class Linear(Module)") })
        #expect(header.reason.contains("line 1") && header.reason.contains("expected ':'"))
        let twice = try #require(try failure(Self.batchNorm) { $0.replacingOccurrences(of: "  __buffers__", with: "  __buffers__ = []\n  __buffers__") })
        #expect(twice.reason.contains("assigned twice") && twice.reason.contains("BatchNorm1d"))
        let escape = try #require(try failure(Self.linear) { $0.replacingOccurrences(of: #""weight""#, with: #""wei\qght""#) })
        #expect(escape.reason.contains("unknown escape"))
    }

    @Test("a class whose definition is missing names the class and the record it should be in")
    func missingDefinition() throws {
        let renamed = try #require(try failure("code/__torch__.py") { $0.replacingOccurrences(of: "class Inner(Module):", with: "class Outer(Module):") })
        #expect(renamed.record == "scripted/code/__torch__.py" && renamed.reason.contains("class __torch__.Inner has no definition"))
        let path = try ArchiveSurgery.write(from: Self.fixture, removing: ["code/__torch__/torch/nn/modules/activation.py"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let removed = try #require(try failure(path))
        #expect(removed.record == "scripted/code/__torch__/torch/nn/modules/activation.py")
        #expect(removed.reason.contains("__torch__.torch.nn.modules.activation.ReLU"))
    }

    @Test("a constants table that is no tuple")
    func constantsNotATuple() throws {
        let path = try ArchiveSurgery.write(from: Self.fixture, replacing: ["constants.pkl": [0x80, 0x02, 0x4E, 0x2E]])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let f = try #require(try failure(path))
        #expect(f.record == "scripted/constants.pkl" && f.reason.contains("NoneType"))
    }

    @Test("every truncation of a class definition either loads or fails with an error")
    func truncations() throws {
        let source = try ArchiveSurgery.edited(Self.fixture, Self.linear) { $0 + " " }
        var failures = 0
        for length in stride(from: 0, through: source.count, by: 3) {
            let path = try ArchiveSurgery.write(from: Self.fixture, replacing: [Self.linear: Array(source.prefix(length))])
            defer { try? FileManager.default.removeItem(atPath: path) }
            do {
                _ = try Checkpoint(path: path)
            } catch {
                failures += 1
                guard case .invalidRecord(_, let record, _) = error else {
                    Issue.record("\(length) bytes: \(error)")
                    continue
                }
                #expect(record.hasSuffix(Self.linear))
            }
        }
        #expect(failures > 0)
    }

    // MARK: Hostile module objects

    /// `class M(Module)` with a submodule slot `sub : __torch__.M`.
    static let selfReferentialClass = Array("""
        class M(Module):
          __parameters__ = []
          __buffers__ = []
          training : bool
          sub : __torch__.M

        """.utf8)

    static func string(_ s: String) -> [UInt8] {
        let bytes = Array(s.utf8)
        return [0x58] + withUnsafeBytes(of: UInt32(bytes.count).littleEndian, Array.init) + bytes   // BINUNICODE
    }

    static func memo(_ op: UInt8, _ index: Int) -> [UInt8] {
        [op] + withUnsafeBytes(of: UInt32(index).littleEndian, Array.init)   // LONG_BINPUT / LONG_BINGET
    }

    @Test("a module object that contains itself is an error, not endless recursion")
    func moduleContainsItself() throws {
        // M() with sub = itself: GLOBAL, EMPTY_TUPLE, NEWOBJ, BINPUT 1, {sub: BINGET 1}, BUILD.
        var pickle: [UInt8] = [0x80, 0x02] + Array("c__torch__\nM\n".utf8) + [0x29, 0x81, 0x71, 0x01, 0x7D, 0x28]
        pickle += Self.string("sub") + [0x68, 0x01, 0x75, 0x62, 0x2E]
        let path = try ArchiveSurgery.write(records: [("data.pkl", pickle), ("code/__torch__.py", Self.selfReferentialClass),
                                                      ("constants.pkl", [0x80, 0x02, 0x29, 0x2E]), ("version", Array("3\n".utf8))])
        defer { try? FileManager.default.removeItem(atPath: path) }
        // The pickle machine refuses the cycle first, by default …
        let error = #expect(throws: CheckpointError.self) { try Checkpoint(path: path) }
        guard case .pickle(_, let record, let e)? = error else { Issue.record("expected a pickle error, got \(String(describing: error))"); return }
        #expect(record == "archive/data.pkl" && e.code == .referenceCycle && e.message.contains("x.__setstate__['sub']"))
        // … and when cycles are kept, the module tree is refused as such.
        var options = LoadOptions()
        options.unpickler.referenceCycles = .keep
        let kept = #expect(throws: CheckpointError.self) { try Checkpoint(path: path, options: options) }
        guard case .invalidRecord(_, let keptRecord, let reason)? = kept else { Issue.record("expected invalidRecord, got \(String(describing: kept))"); return }
        #expect(keptRecord == "archive/data.pkl" && reason.contains("contains itself") && reason.contains("__torch__.M"))
    }

    @Test("a chain of 20,000 nested modules (built through the memo) loads without deep recursion")
    func deepChain() throws {
        let depth = 20_000
        var pickle: [UInt8] = [0x80, 0x02] + Array("c__torch__\nM\n".utf8) + [0x71, 0x00, 0x30]   // the class in memo 0
        for i in 1...depth { pickle += [0x68, 0x00, 0x29, 0x81] + Self.memo(0x72, i) + [0x30] }   // object i in memo i
        for i in 1...depth {
            pickle += Self.memo(0x6A, i) + [0x7D, 0x28] + Self.string("training") + [0x88]
            if i < depth { pickle += Self.string("sub") + Self.memo(0x6A, i + 1) }
            pickle += [0x75, 0x62, 0x30]   // SETITEMS, BUILD, POP
        }
        pickle += Self.memo(0x6A, 1) + [0x2E]
        let path = try ArchiveSurgery.write(records: [("data.pkl", pickle), ("code/__torch__.py", Self.selfReferentialClass),
                                                      ("constants.pkl", [0x80, 0x02, 0x29, 0x2E]), ("version", Array("3\n".utf8))])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let checkpoint = try Checkpoint(path: path)
        var module = try #require(checkpoint.torchScript?.module)
        var levels = 1
        while let next = module.submodules.first?.module {
            module = next
            levels += 1
        }
        #expect(levels == depth)
        #expect(checkpoint.torchScript?.stateDict.isEmpty == true)
        #expect(Inspection(checkpoint, options: .init(maxDepth: 3)).render().contains("sub.sub: __torch__.M"))
    }
}

import Foundation
import ListingComparison
import Testing
import TorchCheckpoint

/// CPython's own pickles of many objects at every protocol 0–5, and
/// hand-written ones for opcodes no pickler emits today
/// (fixtures/pickle_vectors.json, from tools/make_pickle_vectors.py).
@Suite("The pickle machine reads what CPython writes")
struct PickleMachineTests {
    struct Vector: CustomTestStringConvertible, Sendable {
        let name: String
        let proto: Int
        let bytes: [UInt8]
        let listing: String
        let repr: String?
        let type: String
        var testDescription: String { "\(name) (protocol \(proto))" }
    }

    static let vectors: [Vector] = {
        guard let all = try? Fixtures.json("pickle_vectors.json") as? [[String: Any]] else { return [] }
        return all.map { v in
            let bytes = TorchCheckpointTests.bytes(hex: v["hex"] as? String ?? "")
            let listing = (try? JSONSerialization.data(withJSONObject: v["listing"] ?? [])).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
            return Vector(name: v["name"] as? String ?? "", proto: v["protocol"] as? Int ?? -1, bytes: bytes,
                          listing: listing, repr: v["repr"] as? String, type: v["type"] as? String ?? "")
        }
    }()

    /// A machine that keeps reference cycles, as CPython does (`recursive_list`).
    static let keepingCycles: Unpickler = {
        var options = UnpicklerOptions()
        options.referenceCycles = .keep
        return Unpickler(options: options)
    }()

    @Test("the listing of the value equals CPython's", arguments: vectors)
    func listing(_ v: Vector) throws {
        let value = try Self.keepingCycles.load(v.bytes)
        defer { value.dismantle() }
        let ours = try JSONSerialization.jsonObject(with: Data(Listing.json(try Listing.entries(of: value)).utf8))
        let theirs = try JSONSerialization.jsonObject(with: Data(v.listing.utf8))
        let problems = ListingComparison.mismatches(torch: theirs, ours: ours)
        #expect(problems.isEmpty, "\(problems.prefix(3))")
        #expect(((ours as? [Any])?.count) == ((theirs as? [Any])?.count))
    }

    @Test("the value prints as CPython's repr", arguments: vectors.filter {
        $0.repr != nil && !$0.type.hasPrefix("fixture_classes") && !["recursive_list", "sets", "counter", "defaultdict", "ordered", "sets4"].contains($0.name)
    })
    func repr(_ v: Vector) throws {
        let value = try Unpickler().load(v.bytes)
        #expect(value.pythonRepr == v.repr)
    }

    @Test("objects of unknown classes stay opaque, with their state", arguments: vectors.filter { $0.type.hasPrefix("fixture_classes") })
    func opaque(_ v: Vector) throws {
        guard case .object(let o) = try Unpickler().load(v.bytes) else {
            Issue.record("not opaque")
            return
        }
        #expect(o.className == v.type)
        #expect(o.attribute("name") != nil)
    }

    @Test("a list that contains itself is one node, when cycles are kept")
    func recursive() throws {
        let v = try #require(Self.vectors.first { $0.name == "recursive_list" && $0.proto == 2 })
        #expect(throws: PickleError.self) { try Unpickler().load(v.bytes) }
        let value = try Self.keepingCycles.load(v.bytes)
        defer { value.dismantle() }
        guard case .list(let l) = value, case .list(let inner) = l.items.first else {
            Issue.record("expected a list in a list")
            return
        }
        #expect(l === inner)
    }

    @Test("shared containers stay shared", arguments: [0, 2, 4, 5])
    func shared(_ proto: Int) throws {
        let v = try #require(Self.vectors.first { $0.name == "shared" && $0.proto == proto })
        let value = try Unpickler().load(v.bytes)
        #expect(value["a"]?.list === value["b"]?.list)
    }

    @Test("big integers keep their exact value", arguments: [0, 1, 2, 4])
    func bigIntegers(_ proto: Int) throws {
        let v = try #require(Self.vectors.first { $0.name == "ints" && $0.proto == proto })
        let value = try Unpickler().load(v.bytes)
        let texts = value.items?.compactMap(\.integerDescription)
        #expect(texts?.last == String(repeating: "", count: 0) + "10715086071862673209484250490600018105614048117055336074437503883703510511249361224931983788156958581275946729175531468251871452856923140435984577574698574803934567774824230985421074605062371141877954182153046474983581941267398767559165543946077062914571196477686542167660429831652624386837205668069376")
        #expect(value[11]?.integerDescription == "-9223372036854775808")
        #expect(value[12]?.integerDescription == "9223372036854775808")
    }
}

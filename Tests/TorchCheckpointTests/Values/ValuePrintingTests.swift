import Foundation
import Testing
import TorchCheckpoint

/// Values and tensors print as Python and PyTorch print them
/// (fixtures/repr/, from tools/make_repr_fixtures.py: `repr(obj)` of each).
@Suite("Printing values and tensors as Python does")
struct ValuePrintingTests {
    static func expected(_ name: String) -> [String: String] {
        (try? Fixtures.json("repr/\(name).repr.json") as? [String: String]) ?? [:]
    }

    static let tensorNames = expected("tensors").keys.sorted()
    static let valueNames = expected("values").keys.sorted()

    @Test("every tensor prints as repr(tensor): notation, widths, summarization, wrapping and suffixes", arguments: tensorNames)
    func tensor(_ name: String) throws {
        let value = try #require(try Fixtures.open("repr/tensors.pth")[name])
        #expect(value.description == Self.expected("tensors")[name], "\(name)")
    }

    @Test("every value prints as repr(value)", arguments: valueNames)
    func value(_ name: String) throws {
        let value = try #require(try Fixtures.open("repr/values.pth")[name])
        #expect(value.description == Self.expected("values")[name], "\(name)")
    }

    @Test("string interpolation and print show the same text; containers print through their values")
    func interpolation() throws {
        let checkpoint = try Fixtures.open("repr/values.pth")
        let dict = try #require(checkpoint["dict"]?.dict)
        #expect("\(dict)" == Self.expected("values")["dict"])
        #expect("\(try #require(checkpoint["nested"]?.list))" == Self.expected("values")["nested"])
        let tensor = try #require(try Fixtures.open("repr/tensors.pth")["small"]?.tensor)
        #expect("\(tensor)" == Self.expected("tensors")["small"])
    }
}

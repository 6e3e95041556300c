import Foundation
import Testing
import TorchCheckpoint

/// What TorchScript archives of torch 1.x hold beyond the plain module:
/// classes that declare `__annotations__ = []` before
/// `__annotations__["0"] = T`. The rest of the fixtures' checks (module tree,
/// state_dict, attributes, write-back) run on them with every other
/// TorchScript fixture.
@Suite("TorchScript archives of torch 1.x")
struct TorchScriptTorch1xTests {
    static func text(_ fixture: String, _ record: String) throws -> String {
        let archive = try ZipArchive(path: Fixtures.path(fixture))
        return String(decoding: try archive.bytes(of: try require(archive.record(record), record)).copyBytes(), as: UTF8.self)
    }

    @Test("`__annotations__ = []` before `__annotations__[\"0\"] = Tensor` is ignored, as PyTorch's importer ignores it")
    func annotationsInitialized() throws {
        let source = try Self.text("torchscript/unnamed.pt", "code/__torch__.py")
        #expect(source.contains("  __annotations__ = []\n  __annotations__[\"0\"] = Tensor\n"))
        let ts = try #require(try Fixtures.open("torchscript/unnamed.pt").torchScript)
        #expect(ts.module.definition.parameterNames == ["0"])
        #expect(ts.module.definition.attributes.map(\.name).prefix(3) == ["0", "training", "_is_full_backward_hook"])
        #expect(ts.module.submodule("anchors")?.definition.attributes.map(\.name).prefix(2) == ["0", "1"])
        #expect(Array(ts.stateDict.map(\.name).prefix(3)) == ["0", "anchors.0", "anchors.1"])
    }
}

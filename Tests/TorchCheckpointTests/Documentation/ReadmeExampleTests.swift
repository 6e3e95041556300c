import Foundation
import Testing
import TorchCheckpoint

/// The README's module example, as written there (it must build without warnings).
private final class Classifier: Module, ExtraState {
    @Parameter var weight = Tensor.full([2, 4], 0.1)
    @Parameter var bias = Tensor.zeros([2])
    @Buffer(name: "num_batches_tracked") var batches = Tensor.zeros([], dtype: .int64)
    var labels = ["cat", "dog"]                     // saved through extra state, not as a tensor

    func extraState() -> Value {
        let state = PyDict()
        state.set(Value(labels), forInternedKey: "labels")
        return .dict(state)
    }
    func setExtraState(_ state: Value) throws { labels = state["labels"]?.strings ?? labels }
}

@Suite("The README's examples")
struct ReadmeExampleTests {
    @Test("the module example saves and loads back, labels included")
    func module() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pth-readme-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("classifier.pth").path

        let model = Classifier()
        try model.save(to: path)      // = torch.save(model.state_dict(), "classifier.pth")
        let restored = Classifier()
        restored.labels = []
        try restored.load(from: path)
        #expect(restored.labels == ["cat", "dog"])
        #expect(try restored.weight.scalars(as: Float.self) == [Float](repeating: 0.1, count: 8))
        #expect(restored.batches.description == "tensor(0)")
    }
}

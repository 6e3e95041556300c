import Foundation
import Testing
import TorchCheckpoint

/// The code of SwiftValuesAndTensors.md, run as written (paths into fixtures/).
@Suite("Article: Values and tensors in Swift")
struct SwiftValuesArticleTests {
    @Test("printing, literals, None, subscripts and paths")
    func values() throws {
        let state: Value = ["labels": ["cat", "dog"], "lr": 0.1, "step": 3]
        #expect("\(state)" == "{'labels': ['cat', 'dog'], 'lr': 0.1, 'step': 3}")
        #expect("\(Tensor.arange(4, dtype: .float32))" == "tensor([0., 1., 2., 3.])")
        #expect(Value.int(1) == .float(1.0))
        let maybe: Value? = state["missing"]
        #expect(maybe == nil)
        let none: Value = .None
        #expect(none.description == "None")
        let checkpoint = try Fixtures.open("training_checkpoint.ckpt")
        let expAvg = checkpoint[path: "optimizer_state_dict", "state", 0, "exp_avg"]?.tensor
        #expect(expAvg != nil)
        state["lr"] = nil
        #expect("\(state)" == "{'labels': ['cat', 'dog'], 'step': 3}")
    }

    @Test("making tensors and comparing checkpoints")
    func tensorsAndDiffs() throws {
        let m = try Tensor([[1, 2], [3, 4]] as [[Float]])
        let w = Tensor.randn([256, 128], seed: 42)
        #expect(m.shape == [2, 2] && w.shape == [256, 128])
        let report = try CheckpointDiff.compare(try Fixtures.open("state_dict.pth"), try Fixtures.open("state_dict.pth"),
                                                tolerance: try .init(rtol: 1e-5, atol: 1e-8))
        #expect(report.isEqual)
        #expect("\(report)" == report.text)
    }
}

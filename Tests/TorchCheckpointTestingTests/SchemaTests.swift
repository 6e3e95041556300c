import Testing
import TorchCheckpoint
import TorchCheckpointTesting

/// Schema assertions: keys, dtypes and shapes of a state dict, each
/// failure its own issue naming the key.
@Suite("State dict schemas")
struct SchemaTests {
    /// OrderedDict of fc1.weight (float32 [4, 3]), fc1.bias (float32 [4]),
    /// fc2.weight (float64 [2, 4]), fc2.bias (float16 [2]), bn.num_batches_tracked (int64 []).
    let checkpoint = try! Checkpoint(path: Fixtures.path("assert_close/state_dict_equal.actual.pth"))

    let schema: StateDictSchema = [
        "fc1.weight": (.float32, [4, 3]), "fc1.bias": (.float32, [4]),
        "fc2.weight": (.float64, [2, 4]), "fc2.bias": (.float16, [2]),
        "bn.num_batches_tracked": (.int64, []),
    ]

    @Test("a state dict that matches records nothing")
    func matching() {
        let report = expectStateDict(checkpoint, matches: schema)
        #expect(report.matches && report.entryCount == 5)
        #expect(report.description == "matches (5 entries)")
        expectStateDict(checkpoint, matches: ["fc1.weight": (.float32, [4, 3])], strict: false)
        expectStateDict(checkpoint, matches: StateDictSchema(describing: checkpoint))
        expectKeys(checkpoint, equal: ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "bn.num_batches_tracked"])
        expectKeys(checkpoint, contain: ["fc2.bias"])
        // Only what the spec gives is checked.
        expectStateDict(checkpoint, matches: StateDictSchema([("fc2.weight", TensorSpec(shape: [2, 4])),
                                                              ("fc2.bias", TensorSpec(dtype: .float16))]), strict: false)
    }

    @Test("missing, unexpected, wrong dtype and wrong shape: one issue each, naming the key")
    func failures() {
        let wrong: StateDictSchema = [
            "fc1.weight": (.float32, [4, 4]), "fc1.bias": (.float16, [4]),
            "fc2.weight": (.float64, [2, 4]), "fc3.weight": (.float32, [1, 2]),
            "bn.num_batches_tracked": (.int64, []),
        ]
        let expected: Set<String> = [
            "Missing key in state_dict: \"fc3.weight\" (torch.float32 [1, 2]).",
            "Unexpected key in state_dict: \"fc2.bias\" (torch.float16 [2]).",
            "size mismatch for fc1.weight: the shape in state_dict is torch.Size([4, 3]), the schema's is torch.Size([4, 4]).",
            "dtype mismatch for fc1.bias: the dtype in state_dict is torch.float32, the schema's is torch.float16.",
        ]
        withKnownIssue {
            let report = expectStateDict(checkpoint, matches: wrong)
            #expect(report.failures.map(\.key) == ["fc3.weight", "fc2.bias", "fc1.weight", "fc1.bias"])
            #expect(report.failures.map(\.kind) == [.missingKey, .unexpectedKey, .shapeMismatch(actual: [4, 3], expected: [4, 4]),
                                                    .dtypeMismatch(actual: .float32, expected: .float16)])
        } matching: { issue in
            issue.comments.count == 1 && expected.contains(issue.comments[0].rawValue)
        }
    }

    @Test("keys: exactly, or containing")
    func keys() {
        withKnownIssue {
            let report = expectKeys(checkpoint, equal: ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "head.weight"])
            #expect(report.failures.count == 2)
        } matching: { issue in
            ["Missing key in state_dict: \"head.weight\".", "Unexpected key in state_dict: \"bn.num_batches_tracked\" (torch.int64 [])."]
                .contains(issue.comments.first?.rawValue ?? "")
        }
        withKnownIssue {
            expectKeys(checkpoint, contain: ["fc1.weight", "head.weight"])
        } matching: { issue in
            issue.comments.map(\.rawValue) == ["Missing key in state_dict: \"head.weight\"."]
        }
    }

    @Test("entries that are not tensors, and values that are not mappings")
    func notTensors() throws {
        let training = try Checkpoint(path: Fixtures.path("training_checkpoint.ckpt"))
        withKnownIssue {
            expectStateDict(training, matches: ["epoch": (.int64, [])], strict: false)
        } matching: { issue in
            issue.comments.map(\.rawValue) == ["epoch in state_dict is not a tensor: int (the schema's is torch.int64 [])."]
        }
        withKnownIssue {
            expectKeys(training["no such key"], equal: [])
        } matching: { issue in
            issue.comments.map(\.rawValue) == ["The state_dict is not a mapping: NoneType."]
        }
        // A nested state dict, by its key.
        expectKeys(training["model_state_dict"], contain: ["embed.weight"])
    }

    @Test("a Swift dictionary of tensors, and a schema from a reference")
    func swiftDictionary() throws {
        let weight = try Tensor(scalars: [Float](repeating: 0, count: 40), shape: [10, 4])
        let bias = try Tensor(scalars: [Float](repeating: 0, count: 10), shape: [10])
        expectStateDict(["fc.weight": weight, "fc.bias": bias], matches: ["fc.weight": (.float32, [10, 4]), "fc.bias": (.float32, [10])])
        let schema = StateDictSchema(describing: ["fc.weight": weight, "fc.bias": bias])
        #expect(schema.keys == ["fc.bias", "fc.weight"])
        #expect(schema["fc.weight"] == TensorSpec(dtype: .float32, shape: [10, 4]))
        #expect(schema.description == "['fc.bias': torch.float32 [10], 'fc.weight': torch.float32 [10, 4]]")
    }
}

@Suite("Schemas of state dicts with extra state")
struct ExtraStateSchemaTests {
    @Test("a schema described from a state dict with extra state accepts that state dict strictly")
    func describedWithExtraState() throws {
        // fixtures/modules/net.pth: torch.save(Net().state_dict()) of modules with get_extra_state.
        let checkpoint = try Checkpoint(path: Fixtures.path("modules/net.pth"))
        let schema = StateDictSchema(describing: checkpoint)
        #expect(schema["_extra_state"]?.allowsAnyValue == true)
        #expect(schema["encoder.layers.0.conv2._extra_state"]?.allowsAnyValue == true)
        #expect(TorchTesting.checkStateDict(checkpoint, matches: schema).failures.isEmpty)
        expectStateDict(checkpoint, matches: schema)
        // Missing extra state is still missing.
        var without = schema
        without["_extra_state"] = nil
        #expect(TorchTesting.checkStateDict(checkpoint, matches: without).failures.map(\.key) == ["_extra_state"])
    }
}

import TorchCheckpoint

extension TorchTesting {
    /// Checks a state dict against a schema: with `strict`, its keys must be
    /// exactly the schema's, as `load_state_dict(strict=True)` requires; without,
    /// it must contain them. Each entry the schema names must be a tensor of
    /// the dtype and shape given. No tensor data is read.
    ///
    /// - Parameters:
    ///   - stateDict: A mapping of keys to tensors: a state dict, a
    ///     checkpoint whose root is one (a TorchScript archive's state dict),
    ///     `checkpoint["model_state_dict"]`, `[String: Tensor]`.
    ///   - schema: The keys and what each must be.
    ///   - strict: Whether keys the schema does not name are failures.
    public static func checkStateDict(_ stateDict: some CheckpointValueConvertible, matches schema: StateDictSchema,
                                      strict: Bool = true) -> SchemaReport {
        let entries: [(key: String, value: Value)]
        switch StateDictEntries.of(stateDict.checkpointValue) {
        case .failure(let failure): return SchemaReport(failures: [failure], entryCount: 0)
        case .success(let found): entries = found
        }
        let present = Set(entries.map(\.key))
        var failures = schema.entries.filter { !present.contains($0.key) }.map { key, spec in
            SchemaFailure(key: key, kind: .missingKey, description: "Missing key in state_dict: \(quoted(key)) (\(spec)).")
        }
        if strict {
            failures += entries.filter { schema[$0.key] == nil }.map { key, value in
                SchemaFailure(key: key, kind: .unexpectedKey, description: "Unexpected key in state_dict: \(quoted(key)) (\(summary(value))).")
            }
        }
        for (key, value) in entries {
            guard let spec = schema[key], !spec.allowsAnyValue else { continue }
            guard case .tensor(let t) = value else {
                failures.append(SchemaFailure(key: key, kind: .notATensor(type: value.typeName),
                                              description: "\(key) in state_dict is not a tensor: \(value.typeName) (the schema's is \(spec))."))
                continue
            }
            if let dtype = spec.dtype, t.dtype != dtype {
                failures.append(SchemaFailure(key: key, kind: .dtypeMismatch(actual: t.dtype, expected: dtype),
                                              description: "dtype mismatch for \(key): the dtype in state_dict is \(t.dtype), the schema's is \(dtype)."))
            }
            if let shape = spec.shape, t.shape != shape {
                failures.append(SchemaFailure(key: key, kind: .shapeMismatch(actual: t.shape, expected: shape),
                                              description: "size mismatch for \(key): the shape in state_dict is \(PythonText.size(t.shape)), "
                                                  + "the schema's is \(PythonText.size(shape))."))
            }
        }
        return SchemaReport(failures: failures, entryCount: entries.count)
    }

    /// Checks that a state dict's keys are exactly `keys`: each key missing
    /// and each key not listed is its own failure.
    public static func checkKeys(_ stateDict: some CheckpointValueConvertible, equal keys: some Sequence<String>) -> SchemaReport {
        checkKeys(stateDict, keys, strict: true)
    }

    /// Checks that a state dict has every key of `keys` (and perhaps others).
    public static func checkKeys(_ stateDict: some CheckpointValueConvertible, contain keys: some Sequence<String>) -> SchemaReport {
        checkKeys(stateDict, keys, strict: false)
    }

    private static func checkKeys(_ stateDict: some CheckpointValueConvertible, _ keys: some Sequence<String>,
                                  strict: Bool) -> SchemaReport {
        let entries: [(key: String, value: Value)]
        switch StateDictEntries.of(stateDict.checkpointValue) {
        case .failure(let failure): return SchemaReport(failures: [failure], entryCount: 0)
        case .success(let found): entries = found
        }
        var seen = Set<String>()
        let wanted = keys.filter { seen.insert($0).inserted }
        let present = Set(entries.map(\.key))
        var failures = wanted.filter { !present.contains($0) }.map {
            SchemaFailure(key: $0, kind: .missingKey, description: "Missing key in state_dict: \(quoted($0)).")
        }
        if strict {
            failures += entries.filter { !seen.contains($0.key) }.map { key, value in
                SchemaFailure(key: key, kind: .unexpectedKey, description: "Unexpected key in state_dict: \(quoted(key)) (\(summary(value))).")
            }
        }
        return SchemaReport(failures: failures, entryCount: entries.count)
    }

    /// A key in double quotes, as `load_state_dict` lists keys.
    private static func quoted(_ key: String) -> String { "\"\(key)\"" }

    /// What an entry holds: `torch.float32 [10, 4]`, or the Python type of a value.
    private static func summary(_ value: Value) -> String {
        if case .tensor(let t) = value { return "\(t.dtype) \(t.shape)" }
        return value.typeName
    }
}

import TorchCheckpoint

/// Something the checks of this library read as the object `torch.load`
/// returns: a `Value` tree, a tensor, a checkpoint, a dict.
///
/// The closeness checks (``expectClose(_:_:rtol:atol:equalNaN:options:_:sourceLocation:)``)
/// and the schema checks take any two of these, so a state dict built in
/// Swift can be compared with a checkpoint PyTorch saved in one line.
public protocol CheckpointValueConvertible {
    /// The value, as `torch.load` would return it.
    var checkpointValue: Value { get }
}

extension Value: CheckpointValueConvertible {
    /// The value itself.
    public var checkpointValue: Value { self }
}

extension Tensor: CheckpointValueConvertible {
    /// The tensor as a value.
    public var checkpointValue: Value { .tensor(self) }
}

extension PyDict: CheckpointValueConvertible {
    /// The dict as a value.
    public var checkpointValue: Value { .dict(self) }
}

extension Checkpoint: CheckpointValueConvertible {
    /// The object `torch.load` returns for the file; for a TorchScript
    /// archive, its module's `state_dict()` (an `OrderedDict` of dotted names
    /// to tensors), as `torch.jit.load(f).state_dict()` gives it.
    public var checkpointValue: Value {
        guard let torchScript else { return root }
        let stateDict = PyDict(kind: .orderedDict)
        for (name, tensor) in torchScript.stateDict { stateDict[name] = .tensor(tensor) }
        return .dict(stateDict)
    }
}

extension Dictionary: CheckpointValueConvertible where Key == String, Value: CheckpointValueConvertible {
    /// A dict of the entries, by key in ascending order (as `sorted(keys)`
    /// walks them: a Swift dictionary has no order of its own).
    public var checkpointValue: TorchCheckpoint.Value {
        let dict = PyDict()
        for key in keys.sorted(by: PythonText.precedes) { dict[key] = self[key]?.checkpointValue }
        return .dict(dict)
    }
}

extension Array: CheckpointValueConvertible where Element: CheckpointValueConvertible {
    /// A list of the elements.
    public var checkpointValue: Value { .list(PyList(map(\.checkpointValue))) }
}

extension Optional: CheckpointValueConvertible where Wrapped: CheckpointValueConvertible {
    /// The wrapped value, or `None` (so `checkpoint["model"]` can be passed as it is).
    public var checkpointValue: Value { self?.checkpointValue ?? .None }
}

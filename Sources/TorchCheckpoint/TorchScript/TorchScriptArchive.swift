/// What a TorchScript archive (`torch.jit.save`) holds, read as
/// `torch.jit.load` reads it: the module tree of `data.pkl` with the class
/// definitions of `code/`, the constants table of `constants.pkl`, and the
/// module's `state_dict()`.
///
/// ```swift
/// let checkpoint = try Checkpoint(path: "scripted.pt")
/// if let ts = checkpoint.torchScript {
///     for (name, tensor) in ts.stateDict { print(name, tensor.dtype, tensor.shape) }
///     let c0 = ts.constants.first?.tensor   // CONSTANTS.c0 in the code
/// }
/// ```
///
/// ``Checkpoint/root`` stays the object `data.pkl` holds (the root module's
/// `PyObject`); this is the view of it as a module.
public struct TorchScriptArchive: Sendable {
    /// The most entries (and modules visited) a state_dict may have: a module
    /// tree that reuses submodules can name exponentially many, so a hostile
    /// file could otherwise ask for unbounded memory.
    public static let maxStateDictEntries = 1 << 24

    /// The root module (`data.pkl`).
    public let module: TorchScriptModule
    /// The constants table (`constants.pkl`): the code's `CONSTANTS.c0` is
    /// `constants[0]`, and so on. Empty when the archive has none.
    public let constants: [Value]
    /// The storages the constants view (records `constants/<key>`), in the order first referenced.
    public let constantStorages: [Storage]
    /// `torch.jit.load(f).state_dict()`: every set parameter and buffer of
    /// the module tree by dotted name, in PyTorch's order (see ``TorchScriptModule/stateDict(prefix:limit:)``).
    public let stateDict: [(name: String, tensor: Tensor)]
    /// The value `constants.pkl` holds (the tuple of ``constants``), nil without the record; for writing it back.
    let constantsTable: Value?

    init(module: TorchScriptModule, constantsTable: Value?, constants: [Value], constantStorages: [Storage]) throws(TorchScriptError) {
        self.module = module
        self.constantsTable = constantsTable
        self.constants = constants
        self.constantStorages = constantStorages
        self.stateDict = try module.stateDict()
    }

    /// The state_dict as the value `torch.jit.load(f).state_dict()` returns: an
    /// `OrderedDict` of dotted names to tensors (for ``Conversion`` and the like).
    public var stateDictValue: Value {
        let dict = PyDict(kind: .orderedDict)
        for (name, tensor) in stateDict { dict[name] = .tensor(tensor) }
        return .dict(dict)
    }

    /// The tensor of a state_dict entry, by its dotted name.
    public subscript(name: String) -> Tensor? {
        stateDict.first { $0.name == name }?.tensor
    }
}

/// One module of a TorchScript archive's module tree: a `__torch__.…` object
/// from `data.pkl`, read with its class definition from `code/`.
///
/// ```swift
/// let ts = try #require(checkpoint.torchScript)
/// for (name, tensor) in ts.module.parameters { print(name, tensor.shape) }
/// let bn = ts.module.submodule("layers.1")
/// ```
///
/// A module object the pickle references twice is one `TorchScriptModule`
/// (TorchScript itself writes a module assigned under two names as two
/// objects of one type that hold the same tensors).
public final class TorchScriptModule: Sendable {
    /// The qualified type name, as the pickle names the class (`__torch__.torch.nn.modules.linear.Linear`,
    /// or with a `___torch_mangle_N` step when TorchScript made several types of one Python class).
    public let qualifiedTypeName: String
    /// The class definition.
    public let definition: TorchScriptClass
    /// The pickled object.
    public let object: PyObject
    /// Every attribute (the object's slots) in the class's order: parameters,
    /// buffers, submodules and plain values such as `training`. For an object
    /// its class restores with `__setstate__`, the slots that method fills
    /// straight from the pickled state (see ``TorchScriptClass``); the state
    /// itself is ``object``'s.
    public let attributes: [(name: String, value: Value)]
    /// The parameters that are set (`named_parameters(recurse=False)`), in slot order; None parameters are left out.
    public let parameters: [(name: String, tensor: Tensor)]
    /// The buffers that are set (`named_buffers(recurse=False)`), in slot order; None buffers are left out.
    public let buffers: [(name: String, tensor: Tensor)]
    /// The submodules (`named_children()`), in slot order.
    public let submodules: [(name: String, module: TorchScriptModule)]

    init(qualifiedTypeName: String, definition: TorchScriptClass, object: PyObject, attributes: [(name: String, value: Value)],
         parameters: [(name: String, tensor: Tensor)], buffers: [(name: String, tensor: Tensor)],
         submodules: [(name: String, module: TorchScriptModule)]) {
        self.qualifiedTypeName = qualifiedTypeName
        self.definition = definition
        self.object = object
        self.attributes = attributes
        self.parameters = parameters
        self.buffers = buffers
        self.submodules = submodules
    }

    /// The value of an attribute, by name.
    public func attribute(_ name: String) -> Value? {
        attributes.first { $0.name == name }?.value
    }

    /// `module.training`, when the object has it.
    public var training: Bool? { attribute("training")?.bool }

    /// The submodule at a dotted path (`"layers.1"`); `""` is this module.
    public func submodule(_ path: String) -> TorchScriptModule? {
        if path.isEmpty { return self }
        var module = self
        for step in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard let next = module.submodules.first(where: { $0.name == step })?.module else { return nil }
            module = next
        }
        return module
    }

    /// `module.state_dict()` as `torch.jit.load(f).state_dict()` gives it:
    /// this module's parameters, then its buffers (each in slot order, None
    /// left out, non-persistent buffers included: TorchScript does not keep
    /// that flag), then each submodule's entries under `name.`, recursively.
    /// A submodule reached under two names is listed under both, as in PyTorch.
    ///
    /// - Parameters:
    ///   - prefix: Put before every name (`"encoder."` gives `encoder.weight`).
    ///   - limit: The most entries to produce, and modules to visit:
    ///     a module tree that shares submodules can name far more entries than
    ///     it has tensors.
    public func stateDict(prefix: String = "", limit: Int = TorchScriptArchive.maxStateDictEntries) throws(TorchScriptError) -> [(name: String, tensor: Tensor)] {
        var entries: [(name: String, tensor: Tensor)] = []
        // Depth first, children in order: a stack of (module, prefix), pushed in reverse.
        var stack: [(TorchScriptModule, String)] = [(self, prefix)]
        var visits = 0
        while let (module, prefix) = stack.popLast() {
            for (name, tensor) in module.parameters { entries.append((prefix + name, tensor)) }
            for (name, tensor) in module.buffers { entries.append((prefix + name, tensor)) }
            visits += 1
            guard entries.count <= limit, visits <= limit else {
                throw .unexpectedValue(record: "data.pkl", className: module.qualifiedTypeName,
                                       reason: "the module tree names more than \(limit) state_dict entries or modules")
            }
            for (name, child) in module.submodules.reversed() { stack.append((child, prefix + name + ".")) }
        }
        return entries
    }
}

/// A model's state, as `nn.Module` keeps it: parameters, buffers,
/// submodules and extra state, saved and loaded by dotted names.
///
/// Declare members with property wrappers; they are found in declaration
/// order (a superclass's first), which is the order PyTorch registers them in
/// `__init__`:
///
/// ```swift
/// final class BatchNorm: Module {
///     override class var version: Int { 2 }
///     @Parameter var weight: Tensor? = .ones([4])
///     @Parameter var bias: Tensor? = .zeros([4])
///     @Buffer(name: "running_mean") var runningMean: Tensor? = .zeros([4])
/// }
/// ```
///
/// Why property wrappers: the declaration is the registration, so a member
/// cannot be declared and forgotten, and the order is the source order, as in
/// Python. The wrappers are classes, so the module finds them with `Mirror`
/// and fills them in place when loading. Members can also be registered at
/// run time with ``registerParameter(_:_:lazy:)``, ``registerBuffer(_:_:persistent:lazy:)``
/// and ``registerModule(_:_:)`` (they come after the declared ones).
///
/// A Swift property name is the state-dict name; name it as PyTorch does
/// (`running_mean`), or register it explicitly under PyTorch's name.
open class Module {
    /// `nn.Module._version`, saved in the state dict's `_metadata`
    /// (1; BatchNorm's is 2). Override to change.
    open class var version: Int { 1 }

    /// The class name PyTorch's messages use (`type(module).__name__`).
    open var typeName: String { String(describing: type(of: self)) }

    private var registered: [(name: String, member: Member)] = []
    private var preHooks: [(Module, inout LoadStateDictContext) throws -> Void] = []

    /// Creates a module.
    public init() {}

    enum Member {
        case parameter(ParameterSlot)
        case buffer(BufferSlot)
        case child(ChildSlot)
        case module(Module?)
    }

    /// Declared members (a superclass's first) then registered ones.
    func members() -> [(name: String, member: Member)] {
        var mirrors: [Mirror] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        while let m = mirror {
            mirrors.insert(m, at: 0)
            mirror = m.superclassMirror
        }
        var out: [(String, Member)] = []
        for m in mirrors {
            for child in m.children {
                guard let label = child.label else { continue }
                let property = label.hasPrefix("_") ? String(label.dropFirst()) : label
                switch child.value {
                case let w as TensorMemberWrapper:
                    switch w.member {
                    case .parameter(let p): out.append((p.name ?? property, .parameter(p)))
                    case .buffer(let b): out.append((b.name ?? property, .buffer(b)))
                    default: break
                    }
                case let c as ChildSlot: out.append((c.name ?? property, .child(c)))
                default: break
                }
            }
        }
        return out + registered
    }

    /// The module's own parameters, in order, nil ones included.
    public var ownParameters: [(name: String, slot: ParameterSlot)] {
        members().compactMap { if case .parameter(let p) = $0.member { ($0.name, p) } else { nil } }
    }

    /// The module's own buffers, in order, nil and non-persistent ones included.
    public var ownBuffers: [(name: String, slot: BufferSlot)] {
        members().compactMap { if case .buffer(let b) = $0.member { ($0.name, b) } else { nil } }
    }

    /// The direct submodules by name (nil ones skipped), in order.
    open var children: [(name: String, module: Module)] {
        members().compactMap { entry in
            switch entry.member {
            case .child(let c): c.module.map { (entry.name, $0) }
            case .module(let m): m.map { (entry.name, $0) }
            default: nil
            }
        }
    }

    /// Every parameter of this module and its submodules by dotted name
    /// (`named_parameters()`): what an optimizer updates.
    public func namedParameters(prefix: String = "") -> [(name: String, tensor: Tensor)] {
        var out = ownParameters.compactMap { p in p.slot.tensor.map { (prefix + p.name, $0) } }
        for (name, child) in children { out += child.namedParameters(prefix: prefix + name + ".") }
        return out
    }

    /// Every buffer of this module and its submodules by dotted name (`named_buffers()`).
    public func namedBuffers(prefix: String = "") -> [(name: String, tensor: Tensor)] {
        var out = ownBuffers.compactMap { b in b.slot.tensor.map { (prefix + b.name, $0) } }
        for (name, child) in children { out += child.namedBuffers(prefix: prefix + name + ".") }
        return out
    }

    // MARK: Registration at run time

    /// Adds a parameter under `name` (`register_parameter`); returns its slot.
    @discardableResult
    public func registerParameter(_ name: String, _ tensor: Tensor?, lazy: Bool = false) -> ParameterSlot {
        let slot = ParameterSlot(tensor, name: nil, lazy: lazy, isOptional: true)
        registered.append((name, .parameter(slot)))
        return slot
    }

    /// Adds a buffer under `name` (`register_buffer`); returns its slot.
    @discardableResult
    public func registerBuffer(_ name: String, _ tensor: Tensor?, persistent: Bool = true, lazy: Bool = false) -> BufferSlot {
        let slot = BufferSlot(tensor, name: nil, persistent: persistent, lazy: lazy, isOptional: true)
        registered.append((name, .buffer(slot)))
        return slot
    }

    /// Adds a submodule under `name` (`add_module`).
    public func registerModule(_ name: String, _ module: Module?) {
        registered.append((name, .module(module)))
    }

    /// Adds a hook that runs before this module loads its part of a state
    /// dict (`register_load_state_dict_pre_hook(hook, with_module=True)`): it
    /// sees the state dict (the keys under this module's prefix) and may
    /// rename or drop keys and insert defaults.
    public func registerLoadStateDictPreHook(_ hook: @escaping (Module, inout LoadStateDictContext) throws -> Void) {
        preHooks.append(hook)
    }

    // MARK: Saving

    /// The state dict, as `module.state_dict()` makes it: an `OrderedDict` of
    /// the module's parameters, then persistent buffers, then extra state,
    /// then each child's, by dotted name; tensors detached (plain tensors, no
    /// gradient); `_metadata` with each module's version.
    public func stateDict() throws -> PyDict {
        let destination = PyDict(kind: .orderedDict)
        let metadata = PyDict(kind: .orderedDict)
        try save(into: destination, metadata: metadata, prefix: "")
        destination.setAttribute("_metadata", .dict(metadata))
        return destination
    }

    func save(into destination: PyDict, metadata: PyDict, prefix: String) throws {
        try forEachStateEntry(prefix: prefix, module: { prefix, module in
            let local = PyDict()
            local.set(.int(Self.versionOf(module)), forInternedKey: "version")
            metadata[String(prefix.dropLast())] = .dict(local)
        }, entry: { key, value in
            destination[key] = try value()
        })
    }

    /// The state dict's keys, in order, without making its values (no
    /// ``ExtraState/extraState()`` is called).
    func stateDictKeys() -> [String] {
        var keys: [String] = []
        forEachStateEntry(prefix: "", module: { _, _ in }, entry: { key, _ in keys.append(key) })
        return keys
    }

    /// The module tree as `state_dict()` walks it: each module (with its
    /// prefix) before its entries, then its parameters, persistent buffers
    /// and extra state, then each child's. A value is made only when the
    /// `entry` closure asks for it.
    func forEachStateEntry(prefix: String, module: (String, Module) -> Void,
                           entry: (String, () throws -> Value) throws -> Void) rethrows {
        module(prefix, self)
        for (name, slot) in ownParameters {
            if let t = slot.tensor { try entry(prefix + name, { .tensor(t.detached()) }) }
        }
        for (name, slot) in ownBuffers where slot.isPersistent {
            if let t = slot.tensor { try entry(prefix + name, { .tensor(t.detached()) }) }
        }
        if let stateful = self as? any ExtraState {
            try entry(prefix + "_extra_state", { try stateful.extraState() })
        }
        for (name, child) in children {
            try child.forEachStateEntry(prefix: prefix + name + ".", module: module, entry: entry)
        }
    }

    static func versionOf(_ module: Module) -> Int { type(of: module).version }

    // MARK: Loading

    /// Loads a state dict into the module tree, as `load_state_dict` does:
    /// each parameter and persistent buffer is checked for shape (a 0-dim
    /// one takes the element of a 1-element 1-dim checkpoint tensor) and converted to
    /// the module's dtype; extra state goes to ``ExtraState/setExtraState(_:)``;
    /// load pre-hooks run first.
    ///
    /// With `strict`, missing or unexpected keys throw ``StateDictError``
    /// with PyTorch's message; without, they are returned. Other errors (a
    /// size mismatch, a value that is not a tensor) throw either way, as in
    /// PyTorch. Nothing is assigned unless every check passes.
    @discardableResult
    public func loadStateDict(_ stateDict: PyDict, strict: Bool = true) throws -> IncompatibleKeys {
        var missing: [String] = [], unexpected: [String] = [], errors: [String] = []
        var assignments: [() -> Void] = []
        var extraStates: [(any ExtraState, Value)] = []
        let metadata = stateDict.attribute("_metadata")?.dict
        try load(local: stateDict.copy(), prefix: "", metadata: metadata, missing: &missing, unexpected: &unexpected,
                 errors: &errors, assignments: &assignments, extraStates: &extraStates)
        if !errors.isEmpty || (strict && (!missing.isEmpty || !unexpected.isEmpty)) {
            throw StateDictError(moduleName: typeName, missingKeys: strict ? missing : [],
                                 unexpectedKeys: strict ? unexpected : [], errors: errors)
        }
        for assign in assignments { assign() }
        for (module, state) in extraStates { try module.setExtraState(state) }
        return IncompatibleKeys(missingKeys: missing, unexpectedKeys: unexpected)
    }

    func load(local stateDict: PyDict, prefix: String, metadata: PyDict?, missing: inout [String], unexpected: inout [String],
              errors: inout [String], assignments: inout [() -> Void], extraStates: inout [(any ExtraState, Value)]) throws {
        var context = LoadStateDictContext(stateDict: stateDict, prefix: prefix,
                                           localMetadata: metadata?[String(prefix.dropLast())]?.dict,
                                           missingKeys: missing, unexpectedKeys: unexpected, errors: errors)
        for hook in preHooks { try hook(self, &context) }
        let sd = context.stateDict
        missing = context.missingKeys
        unexpected = context.unexpectedKeys
        errors = context.errors

        // Parameters, then persistent buffers; nil ones are not part of the local state.
        var localNames = Set<String>()
        let slots: [(String, Tensor?, Bool, (Tensor) -> Void)] =
            ownParameters.map { (name, slot) in (name, slot.tensor, slot.isLazy, { slot.tensor = $0 }) }
            + ownBuffers.filter(\.slot.isPersistent).map { (name, slot) in (name, slot.tensor, slot.isLazy, { slot.tensor = $0 }) }
        for (name, current, lazy, assign) in slots {
            guard current != nil || lazy else { continue }
            localNames.insert(name)
            let key = prefix + name
            guard let value = sd[key] else {
                if current != nil { missing.append(key) }
                continue
            }
            guard case .tensor(var input) = value else {
                errors.append("While copying the parameter named \"\(key)\", expected torch.Tensor or Tensor-like object from checkpoint but received <class '\(Self.pythonClassName(value))'>")
                continue
            }
            guard let current else {
                // A lazy slot takes the checkpoint's tensor, whatever its shape.
                let taken = input.detached()
                assignments.append { assign(taken) }
                continue
            }
            // Backward compatibility with PyTorch 0.3: a 1-element 1-dim value for a 0-dim parameter.
            if current.shape.isEmpty, input.shape == [1], let first = try? input.element(at: 0) {
                input = first
            }
            guard input.shape == current.shape else {
                errors.append("size mismatch for \(key): copying a param with shape \(Self.torchSize(input.shape)) from checkpoint, the shape in current model is \(Self.torchSize(current.shape)).")
                continue
            }
            do {
                let copied = try input.copied(as: current)
                assignments.append { assign(copied) }
            } catch {
                errors.append("While copying the parameter named \"\(key)\", whose dimensions in the model are \(Self.torchSize(current.shape)) and whose dimensions in the checkpoint are \(Self.torchSize(input.shape)), an exception occurred : ('\(error)',).")
            }
        }

        let extraKey = prefix + "_extra_state"
        if let stateful = self as? any ExtraState {
            if let state = sd[extraKey] {
                extraStates.append((stateful, state))
            } else {
                missing.append(extraKey)
            }
        } else if sd[extraKey] != nil {
            unexpected.append(extraKey)
        }

        let childNames = Set(children.map(\.name))
        for case .string(let key) in sd.keys where key.hasPrefix(prefix) && key != extraKey {
            let rest = key.dropFirst(prefix.count)
            if let dot = rest.firstIndex(of: ".") {
                if !childNames.contains(String(rest[..<dot])) { unexpected.append(key) }
            } else if !localNames.contains(String(rest)) {
                unexpected.append(key)
            }
        }

        for (name, child) in children {
            let childPrefix = prefix + name + "."
            let childDict = PyDict(kind: .orderedDict)
            for (k, v) in sd.items {
                if case .string(let s) = k, s.hasPrefix(childPrefix) { childDict[s] = v }
            }
            try child.load(local: childDict, prefix: childPrefix, metadata: metadata, missing: &missing,
                           unexpected: &unexpected, errors: &errors, assignments: &assignments, extraStates: &extraStates)
        }
    }

    /// `torch.Size([3, 4])`, as PyTorch prints shapes in its messages.
    static func torchSize(_ shape: [Int]) -> String {
        "torch.Size([" + shape.map(String.init).joined(separator: ", ") + "])"
    }

    /// The Python class of a value, as `type(value)` prints.
    static func pythonClassName(_ value: Value) -> String {
        switch value {
        case .dict(let d): d.kind == .dict ? "dict" : "collections.\(d.kind.pythonName)"
        case .object(let o): o.className
        case .ndarray: "numpy.ndarray"
        default: value.typeName
        }
    }
}

/// What a load pre-hook sees and may change (PyTorch's hook arguments
/// `state_dict, prefix, local_metadata, strict, missing_keys,
/// unexpected_keys, error_msgs`).
public struct LoadStateDictContext {
    /// The state dict this module loads from (its keys carry the full
    /// prefix); rename, drop or add entries here.
    public var stateDict: PyDict
    /// The module's prefix, such as `encoder.layers.0.`.
    public let prefix: String
    /// The module's `_metadata` entry (`{'version': 1}`), when the state dict has one.
    public let localMetadata: PyDict?
    /// Keys found missing so far.
    public var missingKeys: [String]
    /// Keys found unexpected so far.
    public var unexpectedKeys: [String]
    /// Errors so far.
    public var errors: [String]
}

extension PyDict.Kind: Equatable {
    public static func == (a: PyDict.Kind, b: PyDict.Kind) -> Bool { a.pythonName == b.pythonName }
}

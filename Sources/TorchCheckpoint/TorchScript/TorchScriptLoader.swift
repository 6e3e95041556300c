/// Builds the module tree of a TorchScript archive from the decoded
/// `data.pkl` and the class definitions in `code/`.
///
/// The tree is walked with an explicit stack (a hostile pickle can chain
/// objects far deeper than the call stack allows), each object once: a module
/// reached twice is one ``TorchScriptModule``, and an object that contains
/// itself is an error.
struct TorchScriptLoader {
    let archive: ZipArchive
    /// Parsed records, by record name: the classes each defines, by name.
    private var records: [String: [String: TorchScriptClass]] = [:]

    private init(archive: ZipArchive) {
        self.archive = archive
    }

    /// The archive's view as a module: `root` is the decoded `data.pkl`;
    /// `constants.pkl` is decoded here, its storages read from `constants/<key>`.
    static func load(archive: ZipArchive, root: Value, byteOrder: ByteOrder, options: LoadOptions) throws(CheckpointError) -> TorchScriptArchive {
        var loader = TorchScriptLoader(archive: archive)
        var constants: Value?
        var constantStorages: [Storage] = []
        if let entry = archive.record("constants.pkl") {
            let table = StorageTable(archive: archive, byteOrder: byteOrder, directory: "constants")
            constants = try ZipCheckpointReader.decodePickle(entry, in: archive, options: options, storages: table).value
            constantStorages = table.ordered
        }
        return try loader.build(root: root, constants: constants, constantStorages: constantStorages)
    }

    private mutating func build(root: Value, constants: Value?, constantStorages: [Storage]) throws(CheckpointError) -> TorchScriptArchive {
        do {
            let constantItems: [Value]
            switch constants {
            case nil: constantItems = []
            case .tuple(let t)?: constantItems = t.items
            case let other?:
                throw TorchScriptError.unexpectedValue(record: "constants.pkl", className: nil,
                                                       reason: "the constants table is a \(other.typeName), not a tuple")
            }
            guard case .object(let object) = root else {
                throw TorchScriptError.unexpectedValue(record: "data.pkl", className: nil,
                                                       reason: "the root is a \(root.typeName), not a TorchScript module object")
            }
            return try TorchScriptArchive(module: try moduleTree(object), constantsTable: constants, constants: constantItems,
                                          constantStorages: constantStorages)
        } catch let error as TorchScriptError {
            throw .invalidRecord(path: archive.file.path, record: "\(archive.prefix)/\(error.record)", reason: error.description)
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw .invalidRecord(path: archive.file.path, record: "\(archive.prefix)/data.pkl", reason: "\(error)")
        }
    }

    // MARK: The module tree

    /// What one module object holds, before its submodules are built.
    private struct Pending {
        let object: PyObject
        let qualifiedName: String
        let definition: TorchScriptClass
        let attributes: [(name: String, value: Value)]
        let parameters: [(name: String, tensor: Tensor)]
        let buffers: [(name: String, tensor: Tensor)]
        let children: [(name: String, object: PyObject)]
        var next = 0
    }

    private mutating func moduleTree(_ root: PyObject) throws -> TorchScriptModule {
        var built: [ObjectIdentifier: TorchScriptModule] = [:]
        var open: Set<ObjectIdentifier> = [ObjectIdentifier(root)]
        var stack = [try pending(root)]
        while let top = stack.last {
            if top.next < top.children.count {
                let (_, child) = top.children[top.next]
                stack[stack.count - 1].next += 1
                let id = ObjectIdentifier(child)
                if built[id] != nil { continue }
                guard open.insert(id).inserted else {
                    throw TorchScriptError.unexpectedValue(record: "data.pkl", className: top.qualifiedName,
                                                           reason: "the module contains itself")
                }
                stack.append(try pending(child))
                continue
            }
            stack.removeLast()
            let submodules = top.children.compactMap { name, object in built[ObjectIdentifier(object)].map { (name, $0) } }
            let module = TorchScriptModule(qualifiedTypeName: top.qualifiedName, definition: top.definition, object: top.object,
                                           attributes: top.attributes, parameters: top.parameters, buffers: top.buffers,
                                           submodules: submodules)
            built[ObjectIdentifier(top.object)] = module
            open.remove(ObjectIdentifier(top.object))
            if stack.isEmpty { return module }
        }
        throw TorchScriptError.unexpectedValue(record: "data.pkl", className: nil, reason: "no root module")
    }

    /// Reads one module object against its class: attributes in the class's
    /// slot order, parameters and buffers checked, submodule objects found.
    private mutating func pending(_ object: PyObject) throws -> Pending {
        guard let qualifiedName = Self.torchScriptClassName(object) else {
            throw TorchScriptError.unexpectedValue(record: "data.pkl", className: nil,
                                                   reason: "\(object.className) is not a TorchScript object (NEWOBJ of a __torch__ class)")
        }
        guard let definition = try classDefinition(of: qualifiedName) else {
            throw TorchScriptError.unexpectedValue(record: "data.pkl", className: qualifiedName,
                                                   reason: "a custom C++ class is used as a module")
        }
        guard definition.isModule else {
            throw TorchScriptError.unexpectedValue(record: definition.record, className: qualifiedName,
                                                   reason: "the class is used as a module but is not declared as one (class \(definition.name)(Module))")
        }
        var values: [String: Value] = [:]
        var pickleOrder: [String] = []
        if definition.usesSetState {
            for (name, value) in try restoredSlots(object, definition) {
                if values.updateValue(value, forKey: name) == nil { pickleOrder.append(name) }
            }
        } else {
            guard case .dict(let state)? = object.state else {
                // Without both methods PyTorch fills the slots from a dict, too (checkHasValidSetGetState).
                let methods = object.state == nil ? "" : ", and its class (record '\(definition.record)' line \(definition.line)) "
                    + "defines no __getstate__ and __setstate__ to restore another state"
                throw TorchScriptError.unexpectedValue(record: "data.pkl", className: qualifiedName,
                                                       reason: "the object's state is \(object.state?.typeName ?? "missing"), not a dict of attributes\(methods)")
            }
            for (key, value) in state.items {
                guard case .string(let name) = key else {
                    throw TorchScriptError.unexpectedValue(record: "data.pkl", className: qualifiedName,
                                                           reason: "an attribute name is a \(key.typeName), not a str")
                }
                if values.updateValue(value, forKey: name) == nil { pickleOrder.append(name) }
            }
        }
        // torch.jit.load makes the slots in the order of the class's annotations and
        // fills them by name; attributes the class does not annotate keep the pickle's order.
        let annotated = definition.attributes.map(\.name).filter { values[$0] != nil }
        let annotatedSet = Set(annotated)
        let order = annotated + pickleOrder.filter { !annotatedSet.contains($0) }
        let attributes = order.map { ($0, values[$0] ?? .None) }

        func tensors(_ names: [String], _ role: TorchScriptError.Role) throws(TorchScriptError) -> [(name: String, tensor: Tensor)] {
            for name in names where values[name] == nil {
                throw .missingAttribute(className: qualifiedName, record: definition.record, attribute: name, role: role)
            }
            let declared = Set(names)
            var found: [(name: String, tensor: Tensor)] = []
            for name in order where declared.contains(name) {
                switch values[name] {
                case .tensor(let t)?: found.append((name, t))
                case .None?, nil: continue
                case let other?:
                    throw .notATensor(className: qualifiedName, record: definition.record, attribute: name, role: role, found: other.typeName)
                }
            }
            return found
        }
        if let setState = definition.setState, definition.usesSetState {
            // What __setstate__ leaves unknown must not be a parameter, buffer or submodule:
            // the state_dict and the module tree would silently lack it.
            func unknown(_ role: String, _ name: String) -> TorchScriptError {
                let how = setState.otherwiseAssigned.contains(name) ? "is assigned otherwise than" : "is not assigned"
                return .setState(className: qualifiedName, record: definition.record, line: setState.line,
                                 reason: "\(role) '\(name)' \(how) as `self.\(name) = (state)[i]`, the one form read without running the code")
            }
            for name in definition.parameterNames where values[name] == nil { throw unknown("parameter", name) }
            for name in definition.bufferNames where values[name] == nil { throw unknown("buffer", name) }
            for (name, type) in definition.attributes where values[name] == nil && type.hasPrefix("__torch__.") {
                guard let typeDefinition = try classDefinition(of: type),
                      typeDefinition.isModule || typeDefinition.bases.contains("ModuleInterface") else { continue }
                throw unknown("submodule", name)
            }
        }
        let parameters = try tensors(definition.parameterNames, .parameter)
        let buffers = try tensors(definition.bufferNames, .buffer)

        var children: [(name: String, object: PyObject)] = []
        for (name, value) in attributes {
            guard case .object(let child) = value, let childClass = Self.torchScriptClassName(child),
                  let childDefinition = try classDefinition(of: childClass), childDefinition.isModule else { continue }
            children.append((name, child))
        }
        return Pending(object: object, qualifiedName: qualifiedName, definition: definition, attributes: attributes,
                       parameters: parameters, buffers: buffers, children: children)
    }

    /// The slots `__setstate__` fills straight from the pickled state, by
    /// name, in the order it assigns them (see ``TorchScriptClass``): what
    /// `torch.jit.load` gets by running the method, as far as it can be told
    /// without running it. Slots it fills otherwise are left out.
    private func restoredSlots(_ object: PyObject, _ definition: TorchScriptClass) throws -> [(String, Value)] {
        guard let setState = definition.setState, let pickled = object.state else {
            throw TorchScriptError.unexpectedValue(record: "data.pkl", className: definition.qualifiedName,
                                                   reason: "the object has no state for __setstate__")
        }
        // A list or dict state may come wrapped in restore_type_tag(container, type).
        var state = pickled
        if case .object(let o) = pickled, o.module == "torch.jit._pickle", o.name == "restore_type_tag", let container = o.arguments.first {
            state = container
        }
        var slots: [(String, Value)] = []
        for (attribute, key, line) in setState.assignments {
            func mismatch(_ what: String) -> TorchScriptError {
                .setState(className: definition.qualifiedName, record: definition.record, line: line,
                          reason: "self.\(attribute) = \(key), but the pickled state \(what)")
            }
            switch (key, state) {
            case (.whole, _):
                slots.append((attribute, pickled))
            case (.index(let i), .tuple(let t)):
                guard i < t.items.count else { throw mismatch("is a tuple of \(t.items.count)") }
                slots.append((attribute, t.items[i]))
            case (.index(let i), .list(let l)):
                guard i < l.items.count else { throw mismatch("is a list of \(l.items.count)") }
                slots.append((attribute, l.items[i]))
            case (.key(let k), .dict(let d)):
                guard let value = d[k] else { throw mismatch("has no key '\(k)'") }
                slots.append((attribute, value))
            default:
                throw mismatch("is a \(state.typeName)")
            }
        }
        return slots
    }

    /// `__torch__.…` for an object TorchScript's pickler wrote (`GLOBAL`, `EMPTY_TUPLE`, `NEWOBJ`, `BUILD`).
    static func torchScriptClassName(_ object: PyObject) -> String? {
        guard object.construction == .newObject, object.arguments.isEmpty, case .global(let g) = object.callable,
              g.module == "__torch__" || g.module.hasPrefix("__torch__.") else { return nil }
        return g.qualifiedName
    }

    // MARK: Class definitions

    /// The definition of a class, from the record TorchScript writes it to;
    /// nil for a custom C++ class (`__torch__.torch.classes.…`), which has none.
    private mutating func classDefinition(of qualifiedName: String) throws -> TorchScriptClass? {
        if qualifiedName.hasPrefix("__torch__.torch.classes.") { return nil }
        let record = TorchScriptClass.record(forQualifiedName: qualifiedName)
        let (module, name) = TorchScriptClass.split(qualifiedName)
        if records[record] == nil {
            guard let entry = archive.record(record) else {
                throw TorchScriptError.missingClassDefinition(className: qualifiedName, record: record)
            }
            let source: [UInt8]
            do {
                source = try archive.bytes(of: entry).copyBytes()
            } catch {
                throw CheckpointError.container(path: archive.file.path, error)
            }
            records[record] = try TorchScriptSource.classes(in: source, record: record, module: module)
        }
        guard let definition = records[record]?[name] else {
            throw TorchScriptError.missingClassDefinition(className: qualifiedName, record: record)
        }
        return definition
    }
}

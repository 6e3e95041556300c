/// A class or function the pickle names with `GLOBAL` or `STACK_GLOBAL`.
///
/// Naming a global never imports or runs anything: the name is looked up in
/// the registry of globals this library knows how to rebuild, and kept as is
/// otherwise.
public final class PyGlobal: @unchecked Sendable {
    /// The module as written in the pickle (`__builtin__` in protocol 2 files).
    public let module: String
    /// The qualified name within the module.
    public let name: String
    /// What this library knows about the global, if anything.
    package let known: KnownGlobal?
    /// Whether a pickle named it with `GLOBAL`/`STACK_GLOBAL` (a layout may
    /// instead come from `torch.serialization._get_layout`, as torch 2 writes it).
    package var pickledAsGlobal = false

    package init(module: String, name: String, known: KnownGlobal?) {
        self.module = module
        self.name = name
        self.known = known
    }

    /// Creates a global that names `module.name`, resolved against the registry.
    public convenience init(module: String, name: String) {
        self.init(module: module, name: name, known: GlobalRegistry.lookup(module: module, name: name))
    }

    /// `module.name`.
    public var qualifiedName: String { "\(module).\(name)" }
}

/// An instance of a class this library does not rebuild, kept whole: how the
/// pickle constructed it, its arguments, its state and its items.
public final class PyObject: @unchecked Sendable {
    /// How the pickle created the object.
    public enum Construction: Sendable {
        /// `REDUCE`: `callable(*args)`.
        case reduce
        /// `NEWOBJ`: `cls.__new__(cls, *args)`.
        case newObject
        /// `NEWOBJ_EX`: `cls.__new__(cls, *args, **kwargs)`.
        case newObjectWithKeywords
        /// `INST` (protocol 0).
        case inst
        /// `OBJ` (protocol 1).
        case obj
    }

    /// The class or callable: usually a ``Value/global(_:)``.
    public let callable: Value
    /// How the object was created.
    public let construction: Construction
    /// The positional arguments given to the callable.
    public let arguments: [Value]
    /// Keyword arguments (`NEWOBJ_EX` only).
    public let keywordArguments: Value?
    /// The state given by `BUILD` (often a dict of attributes), if any.
    public package(set) var state: Value?
    /// Items appended to the object (a `list` subclass, a `deque`).
    public package(set) var listItems: [Value] = []
    /// Items set on the object (a `dict` subclass).
    public package(set) var dictItems: PyDict?
    package var depth: Int
    package let argumentTokens = TokenMap()
    package let listTokens = TokenMap()

    package init(callable: Value, construction: Construction, arguments: [Value], keywordArguments: Value? = nil) {
        self.callable = callable
        self.construction = construction
        self.arguments = arguments
        self.keywordArguments = keywordArguments
        self.depth = 1 + (arguments.lazy.map(\.nestingDepth).max() ?? 0)
    }

    /// The class the object is an instance of: the callable, or for
    /// `copyreg._reconstructor(cls, base, state)` and
    /// `copyreg.__newobj__(cls, *args)` (protocols 0 and 1), their first argument.
    public var objectClass: PyGlobal? {
        guard case .global(let g) = callable else { return nil }
        if GlobalRegistry.normalizedModule(g.module) == "copyreg", g.name == "_reconstructor" || g.name == "__newobj__",
           case .global(let cls)? = arguments.first {
            return cls
        }
        return g
    }
    /// The module of the object's class, when known.
    public var module: String? { objectClass?.module }
    /// The name of the object's class, when known.
    public var name: String? { objectClass?.name }
    /// `module.name` of the object's class, or a description of the callable.
    public var className: String {
        if let g = objectClass { return g.qualifiedName }
        if case .object(let o) = callable { return "<result of \(o.className)>" }
        return "<\(callable.typeName)>"
    }

    /// The attribute named `name` in the object's state, when the state is a
    /// dict (or a `(dict, slots)` pair).
    public func attribute(_ name: String) -> Value? {
        switch state {
        case .dict(let d)?: return d[name]
        case .tuple(let t)? where t.count == 2:
            return t.items[0].dict?[name] ?? t.items[1].dict?[name]
        default: return nil
        }
    }
}

extension Value {
    /// How deeply containers nest inside this value (0 for a scalar); tracked
    /// as the unpickler builds values, to bound recursion elsewhere.
    package var nestingDepth: Int {
        switch self {
        case .list(let l): l.depth
        case .tuple(let t): t.depth
        case .dict(let d): d.depth
        case .set(let s): s.depth
        case .object(let o): o.depth
        default: 0
        }
    }
}

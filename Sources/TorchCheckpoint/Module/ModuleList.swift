/// Submodules by position, saved as `name.0.`, `name.1.`, … (`nn.ModuleList`).
open class ModuleList: Module, @unchecked Sendable {
    /// The modules.
    public var modules: [Module]

    /// Creates a list of modules.
    public init(_ modules: [Module] = []) {
        self.modules = modules
        super.init()
    }

    override open var children: [(name: String, module: Module)] {
        super.children + modules.enumerated().map { (String($0.offset), $0.element) }
    }
}

/// Submodules by name, saved as `name.key.` (`nn.ModuleDict`), in insertion order.
open class ModuleDict: Module, @unchecked Sendable {
    /// The modules, in order.
    public var modules: [(key: String, module: Module)]

    /// Creates a dictionary of modules.
    public init(_ modules: [(key: String, module: Module)] = []) {
        self.modules = modules
        super.init()
    }

    override open var children: [(name: String, module: Module)] {
        super.children + modules.map { ($0.key, $0.module) }
    }
}

/// A class as a TorchScript archive defines it in `code/…/*.py`: what the
/// archive's loader needs of it, read without executing anything.
///
/// ```python
/// class Linear(Module):
///   __parameters__ = ["weight", "bias", ]
///   __buffers__ = []
///   weight : Tensor
///   bias : Tensor
///   training : bool
///   in_features : Final[int] = 3
///   def forward(self: __torch__.torch.nn.modules.linear.Linear, …
/// ```
///
/// The attribute annotations give the object's slots in order; that order,
/// not the pickle's, is the order `torch.jit.load` gives parameters, buffers
/// and submodules.
///
/// A class that defines `__getstate__` and `__setstate__` (quantized modules
/// such as `torch.ao.nn.quantized.Conv2d`) is pickled with what
/// `__getstate__` returned, usually a tuple, and `torch.jit.load` runs
/// `__setstate__` on it. Nothing is run here: of `__setstate__`, the
/// statements at the top of its body of the form `self.name = (state)[i]`
/// (or `state["key"]`, or `state`) are read, and say which slot each item
/// of the state fills (``usesSetState``).
public struct TorchScriptClass: Sendable {
    /// The qualified name: `__torch__.` + the Python module path + the class name,
    /// as the pickle's `GLOBAL` names it (`__torch__.torch.nn.modules.linear.Linear`).
    public let qualifiedName: String
    /// The record that defines the class, relative to the archive's prefix (`code/__torch__/torch/nn/modules/linear.py`).
    public let record: String
    /// The line of `class …:` in the record (1-based).
    public let line: Int
    /// The base classes as written (`Module`, `Enum`, `Interface`, …); empty for a plain TorchScript class.
    public let bases: [String]
    /// `__parameters__`, as listed.
    public let parameterNames: [String]
    /// `__buffers__`, as listed.
    public let bufferNames: [String]
    /// The attribute annotations (`name : Type` and `__annotations__["name"] = Type`), in order: the object's slots.
    public let attributes: [(name: String, type: String)]
    /// Class constants (`name : Final[T] = value`), which are no attributes of the object.
    public let constants: [(name: String, type: String, value: String)]
    /// The names of the methods the class defines (`def name(`), in order.
    public let methodNames: [String]
    /// What `__setstate__` assigns from its state argument, as far as it is read here; nil without the method.
    let setState: SetState?

    /// Whether `torch.jit.load` restores an object of the class by calling its
    /// `__setstate__` with the pickled state (the class defines `__getstate__`
    /// and `__setstate__`), rather than filling its slots by name from a dict.
    public var usesSetState: Bool { setState != nil && methodNames.contains("__getstate__") }

    /// `def __setstate__(self, state)`, read: which slots it fills straight from the state.
    struct SetState: Sendable {
        /// Where in the state a slot's value is.
        enum Key: Sendable, Equatable, CustomStringConvertible {
            /// `(state)[i]`, of a tuple or list.
            case index(Int)
            /// `(state)["name"]`, of a dict with str keys.
            case key(String)
            /// `state` itself.
            case whole

            var description: String {
                switch self {
                case .index(let i): "(state)[\(i)]"
                case .key(let k): "(state)[\"\(k)\"]"
                case .whole: "state"
                }
            }
        }

        /// The line of `def __setstate__` (1-based).
        let line: Int
        /// `self.name = <key>` at the top level of the body, in order; a slot assigned twice keeps the last.
        let assignments: [(attribute: String, key: Key, line: Int)]
        /// Slots the body assigns some other way (`self.name = f(state)`, inside an `if`, …): their values are not known here.
        let otherwiseAssigned: Set<String>
    }

    /// Whether the class is a module (`class X(Module):`): its module-typed
    /// attributes are submodules, and it has parameters and buffers.
    public var isModule: Bool { bases.contains("Module") }

    /// The class name without its module path (`Linear`).
    public var name: String { Self.split(qualifiedName).name }

    /// The record TorchScript writes a class's source to: `__torch__.a.b.C` is defined in `code/__torch__/a/b.py`.
    public static func record(forQualifiedName qualifiedName: String) -> String {
        "code/" + split(qualifiedName).module.split(separator: ".", omittingEmptySubsequences: false).joined(separator: "/") + ".py"
    }

    /// Module and name of a qualified name: everything before the last dot, and after it.
    static func split(_ qualifiedName: String) -> (module: String, name: String) {
        guard let dot = qualifiedName.lastIndex(of: ".") else { return ("", qualifiedName) }
        return (String(qualifiedName[..<dot]), String(qualifiedName[qualifiedName.index(after: dot)...]))
    }
}

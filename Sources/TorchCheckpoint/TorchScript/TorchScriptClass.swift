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

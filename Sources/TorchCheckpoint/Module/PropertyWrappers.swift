/// A tensor an optimizer updates, saved in the state dict (`nn.Parameter`).
///
/// Declare it with the type `Tensor` when the model always has it, so that
/// reading it needs no `?`; or `Tensor?`, for a parameter that may be absent
/// (PyTorch's `bias=False`) or that takes its shape from the first state dict
/// loaded (`lazy`, PyTorch's `UninitializedParameter`):
///
/// ```swift
/// final class Linear: Module {
///     @Parameter var weight = Tensor.zeros([2, 4])   // linear.weight.shape
///     @Parameter var bias: Tensor?                   // nil: skipped
/// }
/// ```
///
/// A nil parameter is skipped when saving and loading, as PyTorch skips a
/// parameter registered as `None`. The projected value (`$weight`) is the
/// parameter's ``ParameterSlot``, the object ``Module/ownParameters`` lists.
@propertyWrapper
public struct Parameter<Stored: TensorMemberValue>: TensorMemberWrapper {
    /// The parameter's slot: its tensor, state-dict name and laziness.
    public let projectedValue: ParameterSlot

    /// The tensor (or nil, for an optional parameter).
    public var wrappedValue: Stored {
        get { Stored.member(projectedValue.tensor) }
        nonmutating set { projectedValue.tensor = newValue.memberTensor }
    }

    /// Declares a parameter with a value, optionally with a state-dict name.
    public init(wrappedValue: Stored, name: String? = nil, lazy: Bool = false) {
        projectedValue = ParameterSlot(wrappedValue.memberTensor, name: name, lazy: lazy, isOptional: Stored.isOptionalMember)
    }

    var member: Module.Member { .parameter(projectedValue) }
}

extension Parameter where Stored == Tensor? {
    /// Declares an optional parameter with no value yet (`@Parameter var bias: Tensor?`).
    public init(name: String? = nil, lazy: Bool = false) {
        self.init(wrappedValue: nil, name: name, lazy: lazy)
    }
}

/// A tensor that is part of the module's state but not optimized
/// (`register_buffer`): running statistics, masks, counters.
///
/// A persistent buffer is saved in the state dict; a non-persistent one
/// (`persistent: false`) is not. As with ``Parameter``, declare it `Tensor`
/// when the model always has it, or `Tensor?`: a nil buffer is skipped, as in
/// PyTorch, and a `lazy` one takes its value (any shape) from the first state
/// dict loaded. The projected value (`$runningMean`) is its ``BufferSlot``.
@propertyWrapper
public struct Buffer<Stored: TensorMemberValue>: TensorMemberWrapper {
    /// The buffer's slot: its tensor, state-dict name, persistence and laziness.
    public let projectedValue: BufferSlot

    /// The tensor (or nil, for an optional buffer).
    public var wrappedValue: Stored {
        get { Stored.member(projectedValue.tensor) }
        nonmutating set { projectedValue.tensor = newValue.memberTensor }
    }

    /// Declares a buffer with a value, optionally with a state-dict name.
    public init(wrappedValue: Stored, name: String? = nil, persistent: Bool = true, lazy: Bool = false) {
        projectedValue = BufferSlot(
            wrappedValue.memberTensor, name: name, persistent: persistent, lazy: lazy,
            isOptional: Stored.isOptionalMember)
    }

    var member: Module.Member { .buffer(projectedValue) }
}

extension Buffer where Stored == Tensor? {
    /// Declares an optional buffer with no value yet (`@Buffer var mask: Tensor?`).
    public init(name: String? = nil, persistent: Bool = true, lazy: Bool = false) {
        self.init(wrappedValue: nil, name: name, persistent: persistent, lazy: lazy)
    }
}

/// What a ``Parameter`` or ``Buffer`` may hold: a tensor, or an optional tensor.
public protocol TensorMemberValue {
    /// Wraps the slot's tensor; only an optional member is ever given nil.
    static func member(_ tensor: Tensor?) -> Self
    /// The tensor held, if any.
    var memberTensor: Tensor? { get }
    /// Whether nil is a value of this type.
    static var isOptionalMember: Bool { get }
}

extension Tensor: TensorMemberValue {
    /// The slot's tensor (a non-optional member's slot always holds one).
    public static func member(_ tensor: Tensor?) -> Tensor {
        guard let tensor else { preconditionFailure("a parameter or buffer declared as Tensor holds nil") }
        return tensor
    }
    /// The tensor itself.
    public var memberTensor: Tensor? { self }
    /// A `Tensor` member always holds a tensor.
    public static var isOptionalMember: Bool { false }
}

extension Optional: TensorMemberValue where Wrapped == Tensor {
    /// The slot's tensor, or nil.
    public static func member(_ tensor: Tensor?) -> Tensor? { tensor }
    /// The tensor, or nil.
    public var memberTensor: Tensor? { self }
    /// A `Tensor?` member may hold nil.
    public static var isOptionalMember: Bool { true }
}

/// What a ``ParameterSlot`` and a ``BufferSlot`` share: the member's tensor,
/// the name it is saved under, whether it is lazy and whether it may be nil.
public class TensorSlot: @unchecked Sendable, CustomStringConvertible {
    /// The tensor, or nil. Setting nil on a member declared as `Tensor`
    /// (not `Tensor?`) is a programming error and stops the program.
    public var tensor: Tensor? {
        didSet {
            precondition(tensor != nil || isOptional, "a \(kind) declared as Tensor cannot be set to nil; declare it Tensor?")
        }
    }
    /// Takes its shape from the first state dict loaded into it.
    public let isLazy: Bool
    /// The state-dict name, when it differs from the property's (`running_mean` for `runningMean`).
    public let name: String?
    /// Whether the member may be nil (declared `Tensor?`, or registered at run time).
    public let isOptional: Bool
    /// `parameter` or `buffer`, for messages.
    let kind: String

    init(_ tensor: Tensor?, kind: String, name: String?, lazy: Bool, isOptional: Bool) {
        self.tensor = tensor
        self.kind = kind
        self.isLazy = lazy
        self.name = name
        self.isOptional = isOptional
    }

    /// The tensor, or nil.
    @available(*, deprecated, renamed: "tensor")
    public var wrappedValue: Tensor? {
        get { tensor }
        set { tensor = newValue }
    }

    /// What the description says after the tensor (`, lazy`).
    var qualifiers: String { isLazy ? ", lazy" : "" }

    /// `Parameter(shape [2, 4], torch.float32)`, `Buffer(None)`, with `, not persistent` or `, lazy` where so.
    public var description: String {
        (kind == "parameter" ? "Parameter(" : "Buffer(") + (tensor.map { "shape \($0.shape), \($0.dtype)" } ?? "None")
            + qualifiers + ")"
    }
}

/// The object behind one parameter (`nn.Parameter` registered on a module):
/// its tensor, the name it is saved under and whether it is lazy.
///
/// ``Module/ownParameters`` lists these, ``Module/registerParameter(_:_:lazy:)``
/// returns one, and `$weight` is the one behind `@Parameter var weight`.
/// Setting ``TensorSlot/tensor`` changes the module's member.
public final class ParameterSlot: TensorSlot, @unchecked Sendable {
    init(_ tensor: Tensor?, name: String?, lazy: Bool, isOptional: Bool) {
        super.init(tensor, kind: "parameter", name: name, lazy: lazy, isOptional: isOptional)
    }
}

/// The object behind one buffer (`register_buffer`): its tensor, the name it
/// is saved under, whether the state dict holds it and whether it is lazy.
///
/// ``Module/ownBuffers`` lists these, ``Module/registerBuffer(_:_:persistent:lazy:)``
/// returns one, and `$runningMean` is the one behind `@Buffer var runningMean`.
public final class BufferSlot: TensorSlot, @unchecked Sendable {
    /// Whether the state dict holds it.
    public let isPersistent: Bool

    init(_ tensor: Tensor?, name: String?, persistent: Bool, lazy: Bool, isOptional: Bool) {
        isPersistent = persistent
        super.init(tensor, kind: "buffer", name: name, lazy: lazy, isOptional: isOptional)
    }

    override var qualifiers: String { (isPersistent ? "" : ", not persistent") + super.qualifiers }
}

/// Type-erased access to a ``Parameter`` or ``Buffer`` wrapper.
protocol TensorMemberWrapper {
    var member: Module.Member { get }
}

/// A submodule, saved under `name.` (`self.name = SomeModule()` in PyTorch).
///
/// Declare it with the module's own type when the model always has it, so
/// that reading it needs no `?`; or optional, for a submodule that may be
/// absent (a nil child is skipped, as PyTorch skips a submodule set to `None`):
///
/// ```swift
/// final class Net: Module {
///     @Child var encoder = Encoder()           // net.encoder.layers…
///     @Child var head: Head? = nil             // optional: maybe not built
/// }
/// ```
@propertyWrapper
public final class Child<Stored: ChildValue>: @unchecked Sendable, ChildSlot {
    /// The submodule (or nil, for an optional child).
    public var wrappedValue: Stored
    /// The state-dict name, when it differs from the property's.
    public let name: String?

    /// Declares a submodule, optionally with a state-dict name.
    public init(wrappedValue: Stored, name: String? = nil) {
        self.wrappedValue = wrappedValue
        self.name = name
    }

    var module: Module? { wrappedValue.childModule }
}

/// What a ``Child`` may hold: a module, or an optional module.
public protocol ChildValue {
    /// The module held, if any.
    var childModule: Module? { get }
}

extension Module: ChildValue {
    /// The module itself.
    public var childModule: Module? { self }
}

extension Optional: ChildValue where Wrapped: Module {
    /// The module, or nil.
    public var childModule: Module? { self }
}

/// Type-erased access to a ``Child``.
protocol ChildSlot: AnyObject {
    var module: Module? { get }
    var name: String? { get }
}

/// A module that saves and restores a value of its own under
/// `prefix + "_extra_state"` (PyTorch's `get_extra_state`/`set_extra_state`):
/// class labels, configuration, a tensor, anything the value model holds.
public protocol ExtraState: Module {
    /// The value to save (`get_extra_state`).
    func extraState() throws -> Value
    /// Restores the saved value (`set_extra_state`).
    func setExtraState(_ state: Value) throws
}

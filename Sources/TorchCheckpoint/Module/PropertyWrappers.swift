/// A tensor an optimizer updates, saved in the state dict (`nn.Parameter`).
///
/// ```swift
/// final class Linear: Module {
///     @Parameter var weight: Tensor?
///     @Parameter var bias: Tensor?
/// }
/// ```
///
/// A nil parameter is skipped when saving and loading, as PyTorch skips a
/// parameter registered as `None`. A `lazy` parameter is nil until a state
/// dict gives it a value, whatever its shape (PyTorch's `UninitializedParameter`).
///
/// The wrapper is a class so that ``Module`` can find and fill it.
@propertyWrapper
public final class Parameter: @unchecked Sendable {
    /// The tensor, or nil.
    public var wrappedValue: Tensor?
    /// Takes its shape from the first state dict loaded into it.
    public let isLazy: Bool
    /// The state-dict name, when it differs from the property's (`running_mean` for `runningMean`).
    public let name: String?

    /// Declares a parameter, optionally with a value and a state-dict name.
    public init(wrappedValue: Tensor? = nil, name: String? = nil, lazy: Bool = false) {
        self.wrappedValue = wrappedValue
        self.isLazy = lazy
        self.name = name
    }
}

/// A tensor that is part of the module's state but not optimized
/// (`register_buffer`): running statistics, masks, counters.
///
/// A persistent buffer is saved in the state dict; a non-persistent one
/// (`persistent: false`) is not. A nil buffer is skipped, as in PyTorch; a
/// `lazy` buffer takes its value (any shape) from the first state dict loaded.
@propertyWrapper
public final class Buffer: @unchecked Sendable {
    /// The tensor, or nil.
    public var wrappedValue: Tensor?
    /// Whether the state dict holds it.
    public let isPersistent: Bool
    /// Takes its shape from the first state dict loaded into it.
    public let isLazy: Bool
    /// The state-dict name, when it differs from the property's (`running_mean` for `runningMean`).
    public let name: String?

    /// Declares a buffer, optionally with a value and a state-dict name.
    public init(wrappedValue: Tensor? = nil, name: String? = nil, persistent: Bool = true, lazy: Bool = false) {
        self.wrappedValue = wrappedValue
        self.isPersistent = persistent
        self.isLazy = lazy
        self.name = name
    }
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

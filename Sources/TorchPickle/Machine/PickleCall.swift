/// A call a pickle makes, which `pickle.load` (and `torch.load(weights_only=False)`)
/// would execute: `REDUCE`, `NEWOBJ`, `NEWOBJ_EX`, `INST` or `OBJ` of a
/// callable this library does not rebuild. Nothing is called here: the
/// object keeps the callable and its arguments.
///
/// A call can matter even when its result is nowhere in what the pickle
/// returns (popped, left on the stack, kept only in the memo, passed to
/// another call): it would still have run.
public struct PickleCall: Sendable {
    /// What the call built here: its callable, arguments and any later state.
    public let object: PyObject
    /// The byte offset of the opcode that makes the call.
    public let offset: Int
    /// The opcode that makes the call.
    public let opcode: Opcode
    /// Where the pickle left the call's result when it stopped, besides
    /// anything reachable from the object it returns.
    public internal(set) var leftBehind: LeftBehind = .nowhere

    /// Where a call's result stayed when the pickle stopped.
    public enum LeftBehind: Sendable, Hashable {
        /// Dropped (`POP`, `POP_MARK`), or only inside other values.
        case nowhere
        /// On the stack, below the object `STOP` returned.
        case stack
        /// In the memo only.
        case memo
    }
}

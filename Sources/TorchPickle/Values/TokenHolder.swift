/// A container that remembers which of its items were one Python object.
///
/// Python memoizes immutable objects (`str`, `bytes`, `complex`, devices) by
/// identity when pickling: the same `str` object reached twice is written
/// once and then referenced, while two equal but distinct strings are written
/// twice. Swift values have no identity, so the unpickler records, for items
/// that were reached more than once, a token naming the object: equal tokens,
/// same object. The pickle encoder uses them to write a decoded file back
/// byte for byte. Items without a token are distinct objects.
protocol TokenHolder: AnyObject {
    /// Item position → object token. Dicts number keys `2i` and values `2i + 1`.
    var itemTokens: [Int: Int32] { get set }
}

/// Tokens for a sequence that is not a container of its own (an object's arguments or list items).
final class TokenMap: TokenHolder, @unchecked Sendable {
    var itemTokens: [Int: Int32] = [:]
}

extension PyList: TokenHolder {}
extension PyTuple: TokenHolder {}
extension PySet: TokenHolder {}
extension PyDict: TokenHolder {}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A container that remembers which of its items were one Python object.
///
/// Python memoizes immutable objects (`str`, `bytes`, `complex`, devices) by
/// identity when pickling: the same `str` object reached twice is written
/// once and then referenced, while two equal but distinct strings are written
/// twice. Swift values have no identity, so the unpickler records, for items
/// that were reached more than once, a token naming the object: equal tokens,
/// same object. The pickle encoder uses them to write a decoded file back
/// byte for byte. Items without a token are distinct objects.
package protocol TokenHolder: AnyObject {
    /// Item position → object token. Dicts number keys `2i` and values `2i + 1`.
    var itemTokens: TokenTable { get set }
    /// Sets (or with nil, removes) the token at a position, mutating the
    /// holder's own stored table (the unpickler calls it once per memoized
    /// item it places, through an existential).
    func setItemToken(_ token: Int32?, at position: Int)
    /// Drops the tokens for which `shouldRemove` is true, in place.
    func removeItemTokens(where shouldRemove: (Int32) -> Bool)
}

/// Tokens for a sequence that is not a container of its own (an object's arguments or list items).
package final class TokenMap: TokenHolder, @unchecked Sendable {
    package var itemTokens: TokenTable = [:]
    package func setItemToken(_ token: Int32?, at position: Int) { itemTokens[position] = token }
    package func removeItemTokens(where shouldRemove: (Int32) -> Bool) { itemTokens.removeAll(where: shouldRemove) }
}

/// Strings that Python interns (identifiers in source code, keyword names):
/// one object wherever they appear in a pickle. A value built in Swift marks a
/// string interned with ``PyDict/set(_:forInternedKey:)``; the encoder then
/// writes it once and refers back to it, as CPython's pickler does.
package enum InternedStrings {
    private static let lock = NSLockLike()
    nonisolated(unsafe) private static var tokens: [String: Int32] = [:]

    /// The identity token of an interned string (tokens of a range no file uses).
    package static func token(for text: String) -> Int32 {
        lock.withLock {
            if let t = tokens[text] { return t }
            let t = Int32.min + 1 + Int32(tokens.count)
            tokens[text] = t
            return t
        }
    }
}

/// A minimal lock, so TorchPickle needs no Foundation.
package final class NSLockLike: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    package init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    package func withLock<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}

extension PyList: TokenHolder {
    package func setItemToken(_ token: Int32?, at position: Int) { itemTokens[position] = token }
    package func removeItemTokens(where shouldRemove: (Int32) -> Bool) { itemTokens.removeAll(where: shouldRemove) }
}
extension PyTuple: TokenHolder {
    package func setItemToken(_ token: Int32?, at position: Int) { itemTokens[position] = token }
    package func removeItemTokens(where shouldRemove: (Int32) -> Bool) { itemTokens.removeAll(where: shouldRemove) }
}
extension PySet: TokenHolder {
    package func setItemToken(_ token: Int32?, at position: Int) { itemTokens[position] = token }
    package func removeItemTokens(where shouldRemove: (Int32) -> Bool) { itemTokens.removeAll(where: shouldRemove) }
}
extension PyDict: TokenHolder {
    package func setItemToken(_ token: Int32?, at position: Int) { itemTokens[position] = token }
    package func removeItemTokens(where shouldRemove: (Int32) -> Bool) { itemTokens.removeAll(where: shouldRemove) }
}

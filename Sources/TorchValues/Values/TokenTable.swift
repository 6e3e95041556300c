/// Item position → identity token, for a container some of whose items were
/// one Python object with another (see ``TokenHolder``).
///
/// Positions are small and dense (a list numbers its items, a dict its keys
/// `2i` and values `2i + 1`), so the table is an array with a sentinel for
/// "no token" rather than a dictionary: the unpickler records a token for
/// every memoized string it places, and hashing each of them cost more than
/// the rest of decoding (see tools/benchmark.py).
package struct TokenTable: Sendable, Equatable, ExpressibleByDictionaryLiteral, Sequence {
    /// The sentinel for a position without a token. No token equals it:
    /// the unpickler numbers memoized objects from 0, the tokens of
    /// ``InternedStrings``, which start above it, and the encoder's own
    /// negative synthetic tokens, which count down from -1.
    package static let noToken = Int32.min

    private var slots: [Int32] = []
    /// How many positions have a token.
    private(set) var count = 0

    package init() {}

    package init(dictionaryLiteral elements: (Int, Int32)...) {
        for (position, token) in elements { self[position] = token }
    }

    package var isEmpty: Bool { count == 0 }

    package subscript(position: Int) -> Int32? {
        get {
            guard position >= 0, position < slots.count else { return nil }
            let token = slots[position]
            return token == Self.noToken ? nil : token
        }
        set {
            guard position >= 0 else { return }
            if let token = newValue, token != Self.noToken {
                // Positions arrive in order, usually one or two past the end.
                while slots.count <= position { slots.append(Self.noToken) }
                if slots[position] == Self.noToken { count += 1 }
                slots[position] = token
            } else if position < slots.count, slots[position] != Self.noToken {
                slots[position] = Self.noToken
                count -= 1
            }
        }
    }

    /// Removes the tokens for which `shouldRemove` is true.
    package mutating func removeAll(where shouldRemove: (Int32) -> Bool) {
        guard count > 0 else { return }
        for i in slots.indices where slots[i] != Self.noToken && shouldRemove(slots[i]) {
            slots[i] = Self.noToken
            count -= 1
        }
        if count == 0 { slots = [] }
    }

    package static func == (a: TokenTable, b: TokenTable) -> Bool {
        guard a.count == b.count else { return false }
        return a.elementsEqual(b) { $0.position == $1.position && $0.token == $1.token }
    }

    package func makeIterator() -> Iterator { Iterator(slots: slots) }

    /// The positions that have a token, in order, with their tokens.
    package struct Iterator: IteratorProtocol {
        let slots: [Int32]
        var index = 0
        package mutating func next() -> (position: Int, token: Int32)? {
            while index < slots.count {
                defer { index += 1 }
                if slots[index] != TokenTable.noToken { return (index, slots[index]) }
            }
            return nil
        }
    }
}

/// Identity tokens across pickles.
///
/// Each pickle numbers its objects from 0, so two values decoded from two
/// pickles can carry the same token for different objects. A value that
/// combines them (a distributed checkpoint's state dict, whose keys come from
/// `.metadata` and whose values from one pickle each) shifts each pickle's
/// tokens into a range of its own first, so the encoder shares only what was
/// one object.
extension Value {
    /// Adds `offset` to every token of a decoded pickle (those ≥ 0) in the
    /// containers reachable from this value, in place; returns the greatest
    /// token after the shift, or nil when there were none. Interned strings'
    /// tokens (negative) are shared by every pickle and stay.
    package func rebaseTokens(by offset: Int32) -> Int32? {
        var seen = Set<ObjectIdentifier>()
        var greatest: Int32?
        func shift(_ table: inout TokenTable) {
            var shifted = TokenTable()
            for (position, token) in table {
                let new = token >= 0 ? token &+ offset : token
                if token >= 0 { greatest = max(greatest ?? new, new) }
                shifted[position] = new
            }
            table = shifted
        }
        /// How a numpy array or dtype was constructed: its call's argument tokens, and the arguments.
        func visitOrigin(_ origin: inout (callable: Value, arguments: [Value], tokens: TokenTable)?) {
            guard var o = origin else { return }
            shift(&o.tokens)
            origin = o
            visit(o.callable)
            o.arguments.forEach(visit)
        }
        func visit(_ value: Value) {
            switch value {
            case .list(let l):
                guard seen.insert(ObjectIdentifier(l)).inserted else { return }
                shift(&l.itemTokens)
                l.items.forEach(visit)
            case .tuple(let t):
                guard seen.insert(ObjectIdentifier(t)).inserted else { return }
                shift(&t.itemTokens)
                t.items.forEach(visit)
            case .set(let s):
                guard seen.insert(ObjectIdentifier(s)).inserted else { return }
                shift(&s.itemTokens)
                s.items.forEach(visit)
            case .dict(let d):
                guard seen.insert(ObjectIdentifier(d)).inserted else { return }
                shift(&d.itemTokens)
                d.keys.forEach(visit)
                d.values.forEach(visit)
                d.attributes.forEach { visit($0.value) }
            case .object(let o):
                guard seen.insert(ObjectIdentifier(o)).inserted else { return }
                shift(&o.argumentTokens.itemTokens)
                shift(&o.listTokens.itemTokens)
                visit(o.callable)
                o.arguments.forEach(visit)
                o.keywordArguments.map(visit)
                o.state.map(visit)
                o.listItems.forEach(visit)
                o.dictItems.map { visit(.dict($0)) }
            case .ndarray(let a):
                guard seen.insert(ObjectIdentifier(a)).inserted else { return }
                visitOrigin(&a.origin)
                a.buildState.map(visit)
                a.objects?.forEach(visit)
            case .numpyDType(let d):
                guard seen.insert(ObjectIdentifier(d)).inserted else { return }
                visitOrigin(&d.origin)
                d.state.map(visit)
            case .tensor(let t):
                t.walkedBackwardHooks.map(visit)
                t.parameterState.map(visit)
                t.subclassState.map(visit)
            default:
                break
            }
        }
        visit(self)
        return greatest
    }
}

extension PyDict {
    /// Sets `value` for `key`, recording that the key is the object with
    /// identity `keyToken` (from a decoded pickle, or nil for a distinct one).
    package func set(_ value: Value, for key: Value, keyToken: Int32?, valueToken: Int32? = nil) throws(ValueError) {
        let index = try setReturningIndex(value, for: key)
        if let keyToken { itemTokens[2 * index] = keyToken }
        if let valueToken { itemTokens[2 * index + 1] = valueToken }
    }

    /// Sets `value` under an interned key (a dataclass field name), recording
    /// that the value is the object with identity `valueToken`.
    package func set(_ value: Value, forInternedKey key: String, valueToken: Int32?) {
        set(value, forInternedKey: key)
        if let valueToken, let index = keys.lastIndex(of: .string(key)) { itemTokens[2 * index + 1] = valueToken }
    }
}

extension PyTuple {
    /// The identity token of the item at `index`, if it was one object with another.
    package func itemToken(at index: Int) -> Int32? { itemTokens[index] }

    /// A tuple whose items have identity tokens (nil: a distinct object).
    package convenience init(_ items: [Value], tokens: [Int32?]) {
        self.init(items)
        for (i, token) in tokens.enumerated() { itemTokens[i] = token }
    }
}

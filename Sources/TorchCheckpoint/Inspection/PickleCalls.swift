extension Checkpoint {
    /// The calls the file's pickles make of callables outside
    /// `torch.load(weights_only=True)`'s allowlist: what
    /// `torch.load(weights_only=False)` would execute beyond rebuilding
    /// tensors and containers. Empty for a TorchScript archive, whose objects
    /// `torch.jit.load` builds from TorchScript classes without calling Python.
    ///
    /// ```swift
    /// for call in checkpoint.unsafeCalls {
    ///     print(call.offset, PickleCallDescription.text(of: call.object))   // 61 os.system('ls')
    /// }
    /// ```
    public var unsafeCalls: [PickleCall] {
        guard torchScript == nil else { return [] }
        return calls.filter { PickleCallDescription.isOutsideAllowlist($0.object) }
    }

    /// The globals the file's pickles name outside `torch.load(weights_only=True)`'s
    /// allowlist, called or not (`weights_only=False` imports them all).
    /// Empty for a TorchScript archive.
    public var unsafeGlobals: [String] {
        guard torchScript == nil else { return [] }
        return globals.filter { !WeightsOnlyAllowlist.globals.contains($0) }
    }
}

/// How ``PickleCall``s read to people: `callee(arguments)`, with nested
/// calls written the same way (`functools.partial(torch.load, 'x.bin',
/// weights_only=False)()`), long values shortened.
public enum PickleCallDescription {
    /// Whether the object's callable is outside `weights_only`'s allowlist
    /// (a callable that is itself the result of a call always is).
    public static func isOutsideAllowlist(_ object: PyObject) -> Bool {
        guard case .global(let g) = object.callable else { return true }
        return !WeightsOnlyAllowlist.globals.contains(GlobalRegistry.python3Name(module: g.module, name: g.name))
    }

    /// The callee of the call that built `object`, as a name (`os.system`,
    /// `the result of functools.partial`).
    public static func callee(of object: PyObject) -> String {
        switch object.callable {
        case .global(let g): GlobalRegistry.python3Name(module: g.module, name: g.name)
        case .object(let inner): "the result of \(callee(of: inner))"
        default: object.callable.typeName
        }
    }

    /// `callee(arguments)` for the call that built `object`, at most about `limit` characters.
    public static func text(of object: PyObject, limit: Int = 400) -> String {
        var budget = limit
        return call(object, budget: &budget, depth: 0)
    }

    static func call(_ o: PyObject, budget: inout Int, depth: Int) -> String {
        let callee: String
        switch o.callable {
        case .global(let g): callee = GlobalRegistry.python3Name(module: g.module, name: g.name)
        case .object(let inner):
            let text = depth > 6 ? "…" : call(inner, budget: &budget, depth: depth + 1)
            callee = inner.state == nil ? text : "[\(text)]"
        default: callee = value(o.callable, budget: &budget, depth: depth + 1)
        }
        budget -= callee.count
        var parts: [String] = []
        for argument in o.arguments {
            guard budget > 0 else { parts.append("…"); break }
            let text = value(argument, budget: &budget, depth: depth + 1)
            budget -= text.count + 2
            parts.append(text)
        }
        if case .dict(let keywords)? = o.keywordArguments {
            for (key, v) in keywords.items {
                guard budget > 0 else { parts.append("…"); break }
                let text = (key.string ?? PythonRepr.repr(key)) + "=" + value(v, budget: &budget, depth: depth + 1)
                budget -= text.count + 2
                parts.append(text)
            }
        }
        let arguments = parts.joined(separator: ", ")
        let made = switch o.construction {
        case .newObject, .newObjectWithKeywords: "\(callee).__new__(\(([callee] + (arguments.isEmpty ? [] : [arguments])).joined(separator: ", ")))"
        case .reduce, .inst, .obj: "\(callee)(\(arguments))"
        }
        // BUILD: the state goes to the object's __setstate__ (functools.partial keeps its arguments there).
        guard let state = o.state else { return made }
        return made + " with state " + (budget > 0 ? value(state, budget: &budget, depth: depth + 1) : "…")
    }

    static func value(_ v: Value, budget: inout Int, depth: Int) -> String {
        guard depth <= 6, budget > 0 else { return "…" }
        func items(_ values: some Collection<Value>, _ open: String, _ close: String) -> String {
            var parts: [String] = []
            for item in values {
                guard budget > 0, parts.count < 8 else { parts.append("…"); break }
                let text = value(item, budget: &budget, depth: depth + 1)
                budget -= text.count + 2
                parts.append(text)
            }
            return open + parts.joined(separator: ", ") + close
        }
        switch v {
        case .object(let o): return call(o, budget: &budget, depth: depth + 1)
        case .global(let g): return GlobalRegistry.python3Name(module: g.module, name: g.name)
        case .string(let s):
            let r = PythonRepr.string(s.count > 80 ? String(s.prefix(77)) + "…" : s)
            return r
        case .bytes(let b) where b.count > 40: return "b'…' (\(b.count) bytes)"
        case .list(let l): return items(l.items, "[", "]")
        case .tuple(let t) where t.kind == .tuple: return t.count == 1 ? items(t.items, "(", ",)") : items(t.items, "(", ")")
        case .dict(let d):
            var parts: [String] = []
            for (key, item) in d.items {
                guard budget > 0, parts.count < 8 else { parts.append("…"); break }
                let text = value(key, budget: &budget, depth: depth + 1) + ": " + value(item, budget: &budget, depth: depth + 1)
                budget -= text.count + 2
                parts.append(text)
            }
            return "{" + parts.joined(separator: ", ") + "}"
        default:
            let r = PythonRepr.repr(v)
            return r.count > 80 ? String(r.prefix(77)) + "…" : r
        }
    }

    /// Where each object built by a call sits in `root`: the path of its
    /// first occurrence, depth first (at most `limit` values are visited).
    static func paths(in root: Value, limit: Int = 2_000_000) -> [ObjectIdentifier: [PathKey]] {
        var found: [ObjectIdentifier: [PathKey]] = [:]
        var seen = Set<ObjectIdentifier>()
        var stack: [(Value, [PathKey])] = [(root, [])]
        var visited = 0
        while let (v, path) = stack.popLast(), visited < limit {
            visited += 1
            func once(_ object: AnyObject) -> Bool { seen.insert(ObjectIdentifier(object)).inserted }
            switch v {
            case .list(let l) where once(l):
                stack += l.items.enumerated().reversed().map { ($1, path + [.index($0)]) }
            case .tuple(let t) where once(t):
                stack += t.items.enumerated().reversed().map { ($1, path + [.index($0)]) }
            case .set(let s) where once(s):
                stack += s.items.reversed().map { ($0, path) }
            case .dict(let d) where once(d):
                for (key, item) in d.items.reversed() {
                    stack.append((item, path + [PathKey(dictKey: key)]))
                    stack.append((key, path))
                }
            case .object(let o) where once(o):
                found[ObjectIdentifier(o)] = path
                var parts: [Value] = [o.callable] + o.arguments
                if let k = o.keywordArguments { parts.append(k) }
                if let state = o.state { parts.append(state) }
                parts += o.listItems
                if let d = o.dictItems { parts.append(.dict(d)) }
                stack += parts.reversed().map { ($0, path) }
            default:
                break
            }
        }
        return found
    }
}

/// Reference cycles: objects of a pickle that reach themselves.
///
/// Python frees such objects with its cycle collector; Swift frees by
/// reference counting, so a list that contains itself is never freed. The
/// machine therefore looks for cycles in what it built and, unless
/// ``UnpicklerOptions/referenceCycles`` says to keep them, refuses the pickle
/// and breaks them, so a hostile file cannot leak memory on every load.
///
/// Finding them is cheap because of how a pickle builds objects: each new
/// object is pushed once and then popped into at most one parent. An object can
/// gain a second owner, and so close a cycle, only by being pushed again by a
/// memo `GET` or a `DUP`. The machine records those objects, and the search
/// walks only what they reach: for a state dict, usually nothing at all.
enum ReferenceGraph {
    /// How a value holds another: the step of an access path such as `x[0]['w']`.
    enum Step {
        case item(Int)
        case key(Int)
        case value(Value)
        case field(String)
    }

    /// The identity of a value that can hold other values, if it is one.
    static func identity(_ v: Value) -> ObjectIdentifier? {
        switch v {
        case .list(let l): ObjectIdentifier(l)
        case .tuple(let t): ObjectIdentifier(t)
        case .dict(let d): ObjectIdentifier(d)
        case .set(let s): ObjectIdentifier(s)
        case .object(let o): ObjectIdentifier(o)
        case .tensor(let t): ObjectIdentifier(t)
        case .ndarray(let a): ObjectIdentifier(a)
        case .numpyDType(let d): ObjectIdentifier(d)
        default: nil
        }
    }

    /// The values `v` holds that can hold others in turn, with how it holds them.
    static func children(of v: Value) -> [(Value, Step)] {
        var out: [(Value, Step)] = []
        func add(_ child: Value, _ step: @autoclosure () -> Step) {
            if identity(child) != nil { out.append((child, step())) }
        }
        func add(_ children: [Value], field: String? = nil) {
            for (i, child) in children.enumerated() {
                add(child, field.map { .field("\($0)[\(i)]") } ?? .item(i))
            }
        }
        switch v {
        case .list(let l): add(l.items)
        case .tuple(let t): add(t.items)
        case .set(let s): add(s.items, field: "items")
        case .dict(let d):
            for (i, (key, value)) in d.items.enumerated() {
                add(key, .key(i))
                add(value, .value(key))
            }
            if case .defaultDict(let factory) = d.kind { add(factory, .field("default_factory")) }
            if let state = d.state { add(state, .field("__setstate__")) }
        case .object(let o):
            add(o.callable, .field("callable"))
            add(o.arguments, field: "args")
            if let k = o.keywordArguments { add(k, .field("kwargs")) }
            if let state = o.state { add(state, .field("__setstate__")) }
            add(o.listItems, field: "items")
            if let d = o.dictItems { add(.dict(d), .field("dict items")) }
        case .tensor(let t):
            if let h = t.walkedBackwardHooks { add(h, .field("backward_hooks")) }
            if let s = t.parameterState { add(s, .field("parameter state")) }
            if let s = t.subclassState { add(s, .field("subclass state")) }
        case .ndarray(let a):
            if let origin = a.origin { add(origin.callable, .field("callable")); add(origin.arguments, field: "args") }
            if let s = a.buildState { add(s, .field("__setstate__")) }
            if let objects = a.objects { add(objects, field: "objects") }
        case .numpyDType(let d):
            if let origin = d.origin { add(origin.callable, .field("callable")); add(origin.arguments, field: "args") }
            if let s = d.state { add(s, .field("__setstate__")) }
        default: break
        }
        return out
    }

    /// A cycle found by ``firstCycle(from:)``: the object that reaches itself,
    /// the path by which it does, and which root led to it.
    struct Cycle {
        let object: Value
        let path: [Step]
        let root: Int
    }

    /// The first cycle among the values reachable from `roots`, by an
    /// iterative depth-first search (so no recursion, however deep).
    static func firstCycle(from roots: [Value]) -> Cycle? {
        // nil: not seen; false: on the current path; true: done.
        var finished: [ObjectIdentifier: Bool] = [:]
        for (r, root) in roots.enumerated() {
            guard let id = identity(root), finished[id] == nil else { continue }
            finished[id] = false
            var path: [(value: Value, children: [(Value, Step)], next: Int)] = [(root, children(of: root), 0)]
            while !path.isEmpty {
                let top = path.count - 1
                guard path[top].next < path[top].children.count else {
                    finished[identity(path[top].value)!] = true
                    path.removeLast()
                    continue
                }
                let (child, _) = path[top].children[path[top].next]
                path[top].next += 1
                let childID = identity(child)!
                switch finished[childID] {
                case nil:
                    finished[childID] = false
                    path.append((child, children(of: child), 0))
                case false?:
                    // Back to an object on the current path: the steps from it to here.
                    let start = path.firstIndex { identity($0.value) == childID }!
                    let steps = path[start...].map { $0.children[$0.next - 1].1 }
                    return Cycle(object: child, path: steps, root: r)
                case true?:
                    continue
                }
            }
        }
        return nil
    }

    /// Empties every mutable container reachable from `roots`, which breaks
    /// every cycle among them (each cycle passes through one: an object can
    /// only come to hold a later one by being mutated). Only for values that
    /// are being thrown away.
    static func dismantle(_ roots: [Value]) {
        var seen = Set<ObjectIdentifier>()
        var work = roots
        while let v = work.popLast() {
            guard let id = identity(v), seen.insert(id).inserted else { continue }
            work.append(contentsOf: children(of: v).map(\.0))
            switch v {
            case .list(let l): l.items = []
            case .dict(let d): d.dismantle()
            case .set(let s): s.dismantle()
            case .object(let o):
                o.state = nil
                o.listItems = []
                o.dictItems = nil
            case .ndarray(let a):
                a.origin = nil
                a.buildState = nil
                a.objects = nil
            case .numpyDType(let d):
                d.origin = nil
                d.state = nil
            default: break
            }
        }
    }

    /// `x[0]['w'].state`, for an error message.
    static func describe(_ path: [Step]) -> String {
        var text = "x"
        for step in path {
            switch step {
            case .item(let i): text += "[\(i)]"
            case .key(let i): text += ".keys()[\(i)]"
            case .value(let key): text += "[\(shortRepr(key))]"
            case .field(let name): text += ".\(name)"
            }
        }
        return text
    }

    static func shortRepr(_ key: Value) -> String {
        switch key {
        case .string(let s): s.count <= 40 ? "'\(s)'" : "'\(s.prefix(37))...'"
        case .int(let i): "\(i)"
        case .bool(let b): b ? "True" : "False"
        case .None: "None"
        default: "<\(key.typeName)>"
        }
    }
}

extension Value {
    /// Empties every list, dict, set, and object state and items reachable
    /// from this value, so that objects that reach themselves can be freed.
    ///
    /// Swift frees objects by reference counting, so the objects of a
    /// reference cycle, read with ``UnpicklerOptions/referenceCycles`` `=
    /// .keep`, are never freed on their own. Call this when done with such a
    /// value. It destroys the value's contents, for every holder of any object
    /// in it; tuples, tensors and plain values are left as they are.
    public func dismantle() {
        ReferenceGraph.dismantle([self])
    }
}

extension PyDict {
    /// Drops every item, attribute and state (breaking reference cycles of a refused pickle).
    func dismantle() {
        removeAll()
        attributes = []
        state = nil
        if case .defaultDict = kind { kind = .dict }
    }
}

extension PySet {
    /// Drops every item (breaking reference cycles of a refused pickle).
    func dismantle() { removeAll() }
}

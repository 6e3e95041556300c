/// A readable tree of what a checkpoint holds: containers, tensors with
/// dtype, shape, element count and size, plain values, and totals. Reads no
/// tensor data.
public struct Inspection: Sendable {
    /// Options for the tree.
    public struct Options: Sendable {
        /// Show only leaves whose path (steps joined by `/` or `.`) contains this text, or matches it as a `*` glob.
        public var filter: String?
        /// Show containers and leaves down to this many levels (nil: all).
        public var maxDepth: Int?
        /// Creates options.
        public init(filter: String? = nil, maxDepth: Int? = nil) {
            self.filter = filter
            self.maxDepth = maxDepth
        }
    }

    /// Totals for one dtype.
    public struct DTypeTotal: Sendable {
        public let dtype: DType
        public var tensors = 0
        public var elements = 0
        public var bytes = 0
    }

    /// The checkpoint inspected.
    public let checkpoint: Checkpoint
    /// The options.
    public let options: Options

    /// Creates an inspection.
    public init(_ checkpoint: Checkpoint, options: Options = .init()) {
        self.checkpoint = checkpoint
        self.options = options
    }

    /// The tree as text.
    public func render() -> String {
        if let torchScript = checkpoint.torchScript { return renderTorchScript(torchScript) }
        return Self.renderTree(title: "\(checkpoint.path): \(checkpoint.format)", root: checkpoint.root,
                               storages: checkpoint.storages, tensors: checkpoint.tensors.map(\.tensor), options: options)
            + Self.renderCalls(checkpoint.unsafeCalls, globals: checkpoint.unsafeGlobals, root: checkpoint.root)
    }

    /// How many calls whose results are in the tree are listed one by one; beyond, they are counted by callee.
    static let listedCallsInTree = 20
    /// How many calls are listed at most.
    static let listedCalls = 500

    /// The calls outside weights_only's allowlist, each as `callee(arguments)`
    /// with its byte and where its result went, then the other globals
    /// outside it that the pickles name; empty when there are none.
    static func renderCalls(_ calls: [PickleCall], globals: [String], root: Value) -> String {
        let called = Set(calls.map { PickleCallDescription.callee(of: $0.object) })
        let uncalled = globals.filter { !called.contains($0) }
        var text = ""
        if !uncalled.isEmpty {
            text = "\nglobals outside torch.load(weights_only=True)'s allowlist named without a call listed here "
                + "(torch.load(weights_only=False) would import them): \(uncalled.joined(separator: ", "))\n"
        }
        guard !calls.isEmpty else { return text }
        let paths = PickleCallDescription.paths(in: root)
        let hidden = calls.filter { paths[ObjectIdentifier($0.object)] == nil }
        // A hidden result may still be an argument of another call, itself hidden (listed too).
        var consumedBy: [ObjectIdentifier: Int] = [:]
        for call in hidden.prefix(listedCalls) {
            for (id, _) in PickleCallDescription.paths(in: .object(call.object), limit: 10_000)
            where id != ObjectIdentifier(call.object) && consumedBy[id] == nil {
                consumedBy[id] = call.offset
            }
        }
        func fate(_ call: PickleCall) -> String {
            if let user = consumedBy[ObjectIdentifier(call.object)] { return "its result goes to the call at byte \(user)" }
            switch call.leftBehind {
            case .stack: return "its result is left on the stack, below the object the pickle returns"
            case .memo: return "its result is kept only in the pickle's memo"
            case .nowhere: return "its result is dropped"
            }
        }
        let inTree = calls.filter { paths[ObjectIdentifier($0.object)] != nil }
        var lines = ["", "\(calls.count) call\(calls.count == 1 ? "" : "s") outside torch.load(weights_only=True)'s allowlist, "
                     + "which torch.load(weights_only=False) would make (nothing was called here):"]
        var shown = 0
        for call in hidden.prefix(listedCalls) {
            lines.append("  byte \(call.offset) \(call.opcode.name): \(PickleCallDescription.text(of: call.object))"
                         + "  (not in what the file returns: \(fate(call)))")
            shown += 1
        }
        if inTree.count <= listedCallsInTree {
            for call in inTree.prefix(max(0, listedCalls - shown)) {
                let path = paths[ObjectIdentifier(call.object)] ?? []
                lines.append("  byte \(call.offset) \(call.opcode.name): \(PickleCallDescription.text(of: call.object))"
                             + "  (at \(path.isEmpty ? "(root)" : path.displayPath))")
                shown += 1
            }
        } else {
            var counts: [String: Int] = [:]
            var order: [String] = []
            for call in inTree {
                let name = PickleCallDescription.callee(of: call.object)
                if counts[name] == nil { order.append(name) }
                counts[name, default: 0] += 1
            }
            let summary = order.prefix(12).map { "\($0) ×\(counts[$0]!)" }.joined(separator: ", ")
            lines.append("  \(inTree.count) calls whose results are in the tree above: \(summary)\(order.count > 12 ? ", …" : "")")
            shown += inTree.count
        }
        if shown < calls.count { lines.append("  … and \(calls.count - shown) more") }
        return lines.joined(separator: "\n") + "\n" + text
    }


    /// The tree of a safetensors file, as the tree of the dict
    /// `safetensors.torch.load_file` returns, with its `__metadata__` under the title.
    public static func render(safetensors file: SafetensorsFile, options: Options = .init()) -> String {
        var title = "\(file.file.path): safetensors (header of \(Format.grouped(file.header.byteCount)) bytes)"
        for (key, value) in file.header.metadata ?? [] {
            title += "\n  __metadata__ \(PythonRepr.repr(.string(key))): \(PythonRepr.repr(.string(value)))"
        }
        var storages: [Storage] = []
        var seen = Set<ObjectIdentifier>()
        for (_, t) in file.tensors {
            if let s = t.storage, seen.insert(ObjectIdentifier(s)).inserted { storages.append(s) }
        }
        return renderTree(title: title, root: .dict(Conversion.stateDict(of: file)), storages: storages,
                          tensors: file.tensors.map(\.tensor), options: options)
    }

    /// The tree under `title`, then totals by dtype.
    static func renderTree(title: String, root: Value, storages: [Storage], tensors: [Tensor], options: Options) -> String {
        var lines: [String] = []
        let storageBytes = storages.reduce(0) { $0 + $1.byteCount }
        lines.append(title)
        var totals: [DType: DTypeTotal] = [:]
        var tensorCount = 0
        var shown = 0
        var seen = Set<ObjectIdentifier>()
        // Storages viewed by more than one tensor (views, tied weights) are named.
        var viewers: [ObjectIdentifier: Int] = [:]
        for t in tensors {
            if let s = t.storage { viewers[ObjectIdentifier(s), default: 0] += 1 }
        }
        let shared = Set(viewers.filter { $0.value > 1 }.keys)

        func matches(_ path: [PathKey]) -> Bool {
            guard let filter = options.filter else { return true }
            return PathFilter.matches(filter, path)
        }

        func visit(_ value: Value, _ label: String, _ path: [PathKey], _ indent: String, _ isLast: Bool, _ depth: Int) {
            let branch = path.isEmpty ? "" : (isLast ? "└─ " : "├─ ")
            let childIndent = path.isEmpty ? "" : indent + (isLast ? "   " : "│  ")
            let children = Self.children(of: value, path: path, seen: &seen)
            if case .tensor(let t) = value {
                tensorCount += 1
                var total = totals[t.dtype] ?? DTypeTotal(dtype: t.dtype)
                total.tensors += 1
                total.elements = total.elements.addingSaturated(t.elementCount)
                total.bytes = total.bytes.addingSaturated(t.byteCount)
                totals[t.dtype] = total
            }
            if let children {
                let visible = options.filter == nil || Self.anyLeaf(children, matches: matches)
                guard visible else { return }
                let withinDepth = options.maxDepth.map { depth <= $0 } ?? true
                if withinDepth {
                    lines.append(indent + branch + label + Self.describeContainer(value, count: children.count))
                    shown += 1
                }
                for (i, child) in children.enumerated() {
                    if withinDepth {
                        visit(child.value, child.label, child.path, childIndent, i == children.count - 1, depth + 1)
                    } else {
                        var ignored: [String] = []
                        swap(&lines, &ignored)
                        visit(child.value, child.label, child.path, childIndent, i == children.count - 1, depth + 1)
                        swap(&lines, &ignored)
                    }
                }
                return
            }
            guard matches(path) else { return }
            if options.maxDepth.map({ depth > $0 }) ?? false { return }
            var text = Self.describeLeaf(value)
            if case .tensor(let t) = value, let s = t.storage, shared.contains(ObjectIdentifier(s)) {
                text += "  [shares storage \(s.key)]"
            }
            lines.append(indent + branch + label + text)
            shown += 1
        }

        visit(root, "(root)", [], "", true, 0)
        lines.append("")
        let totalElements = totals.values.reduce(0) { $0.addingSaturated($1.elements) }
        lines.append("\(tensorCount) tensor\(tensorCount == 1 ? "" : "s"), \(Format.grouped(totalElements)) elements, "
                     + "\(storages.count) storage\(storages.count == 1 ? "" : "s") holding \(Format.bytes(storageBytes))")
        for total in totals.values.sorted(by: { $0.bytes > $1.bytes || ($0.bytes == $1.bytes && $0.dtype.name < $1.dtype.name) }) {
            lines.append("  \(total.dtype.name.padding(16)) \(String(total.tensors).leftPadding(6)) tensors  "
                         + "\(Format.grouped(total.elements).leftPadding(16)) elements  \(Format.bytes(total.bytes).leftPadding(10))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    struct Child {
        let label: String
        let path: [PathKey]
        let value: Value
    }

    static func anyLeaf(_ children: [Child], matches: ([PathKey]) -> Bool) -> Bool {
        var stack = children
        var seen = Set<ObjectIdentifier>()
        var budget = 1_000_000
        while let c = stack.popLast(), budget > 0 {
            budget -= 1
            if let grand = Self.children(of: c.value, path: c.path, seen: &seen) {
                stack.append(contentsOf: grand)
            } else if matches(c.path) {
                return true
            }
        }
        return false
    }

    /// The children of a container, or nil for a leaf (shared containers are shown once).
    static func children(of value: Value, path: [PathKey], seen: inout Set<ObjectIdentifier>) -> [Child]? {
        func once(_ object: AnyObject) -> Bool { seen.insert(ObjectIdentifier(object)).inserted }
        switch value {
        case .dict(let d):
            guard once(d) else { return [] }
            return d.items.map { k, v in
                let key = PathKey(dictKey: k)
                return Child(label: k.string.map { $0 } ?? PythonRepr.repr(k), path: path + [key], value: v)
            }
        case .list(let l):
            guard once(l) else { return [] }
            return l.items.enumerated().map { Child(label: "[\($0)]", path: path + [.index($0)], value: $1) }
        case .tuple(let t) where t.kind == .tuple:
            guard once(t) else { return [] }
            return t.items.enumerated().map { Child(label: "[\($0)]", path: path + [.index($0)], value: $1) }
        case .object(let o):
            guard once(o) else { return [] }
            if let d = o.dictItems {
                return d.items.map { Child(label: $0.string ?? PythonRepr.repr($0), path: path + [PathKey(dictKey: $0)], value: $1) }
            }
            if !o.listItems.isEmpty {
                return o.listItems.enumerated().map { Child(label: "[\($0)]", path: path + [.index($0)], value: $1) }
            }
            if case .dict(let state)? = o.state {
                return state.items.map { Child(label: "." + ($0.string ?? PythonRepr.repr($0)), path: path + [PathKey(dictKey: $0)], value: $1) }
            }
            return nil
        default:
            return nil
        }
    }

    static func describeContainer(_ value: Value, count: Int) -> String {
        let sep = ": "
        switch value {
        case .dict(let d): return "\(sep)\(d.kind.pythonName) (\(count) item\(count == 1 ? "" : "s"))"
        case .list: return "\(sep)list (\(count) item\(count == 1 ? "" : "s"))"
        case .tuple: return "\(sep)tuple (\(count) item\(count == 1 ? "" : "s"))"
        case .object(let o): return "\(sep)\(o.className) object"
        default: return "\(sep)\(value.typeName)"
        }
    }

    static func describeLeaf(_ value: Value) -> String {
        switch value {
        case .tensor(let t): return ": " + describe(t)
        case .string(let s):
            let r = PythonRepr.string(s)
            return ": str " + (r.count > 80 ? String(r.prefix(77)) + "…" : r)
        case .tuple(let t) where t.kind == .torchSize: return ": " + PythonRepr.repr(value)
        case .object(let o):
            return ": " + PickleCallDescription.text(of: o, limit: 200)
        case .ndarray(let a):
            return ": numpy \(a.isScalar ? "scalar" : "array") \(a.dtype?.name ?? "?") \(a.shape)"
        case .bytes(let b), .byteArray(let b): return ": \(value.typeName) (\(Format.bytes(b.count)))"
        case .global(let g): return ": global \(g.qualifiedName)"
        default:
            let r = PythonRepr.repr(value)
            return ": \(value.typeName) " + (r.count > 80 ? String(r.prefix(77)) + "…" : r)
        }
    }

    /// `float32 [32, 16]  512 elements  2.0 KiB`, with flags.
    public static func describe(_ t: Tensor) -> String {
        var s = "\(t.isParameter ? "Parameter " : "")\(t.dtype.name) \(t.shape)"
        if t.layout != .strided {
            s += " \(t.layout.rawValue.replacingOccurrences(of: "torch.", with: ""))"
            if case .coo(_, let values, _)? = t.sparse { s += " nnz=\(values.shape.first ?? 0)" }
            if case .compressed(_, _, let values)? = t.sparse { s += " nnz=\(values.shape.first ?? 0)" }
            return s
        }
        s += "  \(Format.grouped(t.elementCount)) element\(t.elementCount == 1 ? "" : "s")  \(Format.bytes(t.byteCount))"
        var flags: [String] = []
        if !t.isContiguous { flags.append("stride \(t.stride)") }
        if t.storageOffset != 0 { flags.append("offset \(t.storageOffset)") }
        if t.device != .cpu { flags.append("on \(t.device)") }
        if t.requiresGrad { flags.append("requires_grad") }
        if t.isConjugated { flags.append("conj") }
        if t.isNegated { flags.append("neg") }
        if let q = t.quantization { flags.append(q.qscheme) }
        if let sub = t.subclass { flags.append(sub.qualifiedName) }
        if !flags.isEmpty { s += "  (" + flags.joined(separator: ", ") + ")" }
        return s
    }
}

/// Number and size formatting for people.
enum Format {
    static func grouped(_ n: Int) -> String { ByteText.grouped(n) }

    static func bytes(_ n: Int) -> String { ByteText.describe(n) }
}

/// Selects entries by path, for `--filter`.
public enum PathFilter {
    /// Whether `path` (its steps joined by `/`, or by `.`) contains `pattern`,
    /// or, when the pattern has `*` or `?`, matches it as a whole.
    public static func matches(_ pattern: String, _ path: [PathKey]) -> Bool {
        if pattern.isEmpty { return true }
        let slash = path.displayPath, dotted = path.map(\.description).joined(separator: ".")
        if pattern.contains("*") || pattern.contains("?") {
            return Glob.match(pattern, slash) || Glob.match(pattern, dotted)
        }
        return slash.contains(pattern) || dotted.contains(pattern)
    }
}

/// `*` and `?` wildcards over whole strings.
enum Glob {
    static func match(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern), t = Array(text)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) {
                pi += 1
                ti += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    func leftPadding(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

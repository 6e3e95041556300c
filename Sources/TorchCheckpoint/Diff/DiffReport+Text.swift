extension DiffReport {
    /// The report for people: one line per difference, then a summary line.
    ///
    /// ```
    /// - old.weight: tensor float32 [3]
    /// + new.weight: tensor float32 [3]
    /// ~ fc.weight: 3 of 12 elements differ: max abs 0.0012, max rel 0.0003, first at [0, 2]
    /// ~ epoch: 3 -> 4
    /// 1 tensor differs, 1 key added, 1 key removed, 1 value changed (rtol=0.0, atol=0.0)
    /// ```
    public var text: String {
        var lines = entries.map(Self.line)
        lines.append(summary)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The summary line: what differs, counted, or that nothing does.
    public var summary: String {
        if isEqual {
            let counts = "\(Self.plural(tensorCount, "tensor")), \(Self.plural(valueCount, "other value"))"
            if tolerance.isExact { return "identical: \(counts)" }
            let largest = tensors.map(\.maxAbsoluteDifference).max() ?? 0
            return "equal within \(tolerance): \(counts) (largest abs difference \(Self.short(largest)))"
        }
        var tensorPaths = Set<[PathKey]>()
        var added = 0, removed = 0, values = 0, types = 0
        for entry in entries {
            switch entry.kind {
            case .added: added += 1
            case .removed: removed += 1
            case .valueChanged: values += 1
            case .typeChanged: types += 1
            default: tensorPaths.insert(entry.path)
            }
        }
        var parts: [String] = []
        if !tensorPaths.isEmpty { parts.append(tensorPaths.count == 1 ? "1 tensor differs" : "\(tensorPaths.count) tensors differ") }
        if added > 0 { parts.append(Self.plural(added, "key") + " added") }
        if removed > 0 { parts.append(Self.plural(removed, "key") + " removed") }
        if values > 0 { parts.append(Self.plural(values, "value") + " changed") }
        if types > 0 { parts.append(Self.plural(types, "type") + " changed") }
        return parts.joined(separator: ", ") + " (\(tolerance))"
    }

    static func line(_ entry: DiffEntry) -> String {
        let path = entry.path.isEmpty ? "(root)" : entry.path.displayPath
        switch entry.kind {
        case .added(let leaf): return "+ \(path): \(clipped(leaf.description))"
        case .removed(let leaf): return "- \(path): \(clipped(leaf.description))"
        case .dtypeChanged(let a, let b): return "~ \(path): dtype \(a.name) -> \(b.name)"
        case .shapeChanged(let a, let b): return "~ \(path): shape \(a) -> \(b)"
        case .layoutChanged(let a, let b): return "~ \(path): layout \(a) -> \(b)"
        case .quantizationChanged(let a, let b): return "~ \(path): quantization \(clipped(a)) -> \(clipped(b))"
        case .notCompared(let reason): return "~ \(path): not compared: \(reason)"
        case .typeChanged(let a, let b): return "~ \(path): \(clipped(a.description)) -> \(clipped(b.description))"
        case .valueChanged(let a, let b):
            guard case .value(_, let x) = a, case .value(_, let y) = b else { return "~ \(path): \(a) -> \(b)" }
            return x == y ? "~ \(path): \(clipped(x)) -> \(clipped(y)) (contents differ)" : "~ \(path): \(clipped(x)) -> \(clipped(y))"
        case .valuesDiffer(let c):
            var text = "~ \(path): \(c.mismatchCount) of \(plural(c.elementCount, "element")) \(c.mismatchCount == 1 ? "differs" : "differ")"
            if let what = c.compared { text += " (\(what))" }
            text += ": max abs \(short(c.maxAbsoluteDifference)), max rel \(short(c.maxRelativeDifference))"
            if let first = c.firstMismatch { text += ", first at \(first)" }
            return text
        }
    }

    static func plural(_ n: Int, _ word: String) -> String { n == 1 ? "1 \(word)" : "\(n) \(word)s" }

    /// Long reprs shortened to their first 120 characters.
    static func clipped(_ s: String) -> String { s.count <= 120 ? s : s.prefix(117) + "..." }

    /// A number with 4 significant digits: `0.001235`, `3.457e-06`, `inf`.
    static func short(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return "0" }
        let sign = d < 0 ? "-" : ""
        let m = d.magnitude
        func power(_ n: Int) -> Double { Double("1e\(n)") ?? 1 }
        var e = Int((Double(m.exponent) * 0.301029995663981).rounded(.down))
        while m >= power(e + 1) { e += 1 }
        while m < power(e) { e -= 1 }
        var digits = Int((m / power(e - 3)).rounded())
        if digits >= 10000 {
            digits /= 10
            e += 1
        }
        var text = String(digits)
        while text.count > 1 && text.hasSuffix("0") { text.removeLast() }
        if e < -4 || e >= 6 {
            let mantissa = text.count > 1 ? "\(text.prefix(1)).\(text.dropFirst())" : text
            return sign + mantissa + "e" + (e < 0 ? "-" : "+") + (abs(e) < 10 ? "0" : "") + String(abs(e))
        }
        if e < 0 { return sign + "0." + String(repeating: "0", count: -e - 1) + text }
        if text.count <= e + 1 { return sign + text + String(repeating: "0", count: e + 1 - text.count) }
        return sign + text.prefix(e + 1) + "." + text.dropFirst(e + 1)
    }
}

extension DiffReport: CustomStringConvertible {
    /// The report as `pth diff` prints it (``text``).
    public var description: String { text }
}

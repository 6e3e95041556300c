extension DiffReport {
    /// The report as JSON, for machines:
    ///
    /// ```json
    /// {"equal": false, "rtol": 0.0, "atol": 0.0, "tensors_compared": 3, "values_compared": 1,
    ///  "summary": "1 tensor differs (rtol=0.0, atol=0.0)",
    ///  "differences": [{"path": ["fc.weight"], "kind": "values_differ", "dtype": "float32", …}],
    ///  "tensors": [{"path": ["fc.weight"], "max_abs": 0.5, "max_rel": 0.25, "mismatched": 1, …}]}
    /// ```
    ///
    /// Paths are lists of keys (strings) and indices (integers), as in the
    /// canonical listing. Each difference has a `kind`: `added` (with `b`),
    /// `removed` (with `a`), `dtype_changed`, `shape_changed`,
    /// `layout_changed`, `quantization_changed`, `type_changed` and
    /// `value_changed` (with `a` and `b`), `values_differ` (with the
    /// statistics) or `not_compared` (with `reason`). A tensor side is
    /// `{"tensor": {"dtype": …, "shape": […]}}`, a value side `{"type": …,
    /// "repr": …}`. `tensors` lists every tensor compared element by
    /// element, equal or not. Non-finite numbers, which JSON lacks, are the
    /// strings `"inf"` and `"nan"`.
    public var json: String {
        var fields: [String] = [
            "\"equal\": \(isEqual)",
            "\"rtol\": \(Self.number(tolerance.rtol))",
            "\"atol\": \(Self.number(tolerance.atol))",
            "\"tensors_compared\": \(tensorCount)",
            "\"values_compared\": \(valueCount)",
            "\"summary\": \(JSON.string(summary))",
        ]
        fields.append("\"differences\": [" + entries.map { "\n  " + Self.json($0) }.joined(separator: ",") + (entries.isEmpty ? "]" : "\n ]"))
        fields.append("\"tensors\": [" + tensors.map { "\n  {" + Self.statistics($0) + "}" }.joined(separator: ",") + (tensors.isEmpty ? "]" : "\n ]"))
        return "{" + fields.joined(separator: ",\n ") + "}\n"
    }

    static func json(_ entry: DiffEntry) -> String {
        var fields = ["\"path\": \(path(entry.path))"]
        func add(_ kind: String, _ rest: [String]) { fields += ["\"kind\": \(JSON.string(kind))"] + rest }
        switch entry.kind {
        case .added(let leaf): add("added", ["\"b\": \(json(leaf))"])
        case .removed(let leaf): add("removed", ["\"a\": \(json(leaf))"])
        case .dtypeChanged(let a, let b): add("dtype_changed", ["\"a\": \(JSON.string(a.name))", "\"b\": \(JSON.string(b.name))"])
        case .shapeChanged(let a, let b): add("shape_changed", ["\"a\": \(ints(a))", "\"b\": \(ints(b))"])
        case .layoutChanged(let a, let b): add("layout_changed", ["\"a\": \(JSON.string(a))", "\"b\": \(JSON.string(b))"])
        case .quantizationChanged(let a, let b): add("quantization_changed", ["\"a\": \(JSON.string(a))", "\"b\": \(JSON.string(b))"])
        case .notCompared(let reason): add("not_compared", ["\"reason\": \(JSON.string(reason))"])
        case .typeChanged(let a, let b): add("type_changed", ["\"a\": \(json(a))", "\"b\": \(json(b))"])
        case .valueChanged(let a, let b): add("value_changed", ["\"a\": \(json(a))", "\"b\": \(json(b))"])
        case .valuesDiffer(let c): add("values_differ", [statistics(c, withPath: false)])
        }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    static func statistics(_ c: TensorComparison, withPath: Bool = true) -> String {
        var fields: [String] = withPath ? ["\"path\": \(path(c.path))"] : []
        fields += [
            "\"dtype\": \(JSON.string(c.dtype.name))", "\"shape\": \(ints(c.shape))", "\"elements\": \(c.elementCount)",
            "\"mismatched\": \(c.mismatchCount)", "\"max_abs\": \(number(c.maxAbsoluteDifference))",
            "\"max_rel\": \(number(c.maxRelativeDifference))",
            "\"first_mismatch\": \(c.firstMismatch.map(ints) ?? "null")",
        ]
        if let compared = c.compared { fields.append("\"compared\": \(JSON.string(compared))") }
        return fields.joined(separator: ", ")
    }

    static func json(_ leaf: DiffEntry.Leaf) -> String {
        switch leaf {
        case .tensor(let dtype, let shape): "{\"tensor\": {\"dtype\": \(JSON.string(dtype.name)), \"shape\": \(ints(shape))}}"
        case .value(let type, let repr): "{\"type\": \(JSON.string(type)), \"repr\": \(JSON.string(repr))}"
        }
    }

    static func path(_ path: [PathKey]) -> String {
        "[" + path.map { key in
            switch key {
            case .key(let s): JSON.string(s)
            case .index(let i): String(i)
            }
        }.joined(separator: ", ") + "]"
    }

    static func ints(_ values: [Int]) -> String { "[" + values.map(String.init).joined(separator: ", ") + "]" }

    /// A JSON number, or the string `"inf"`, `"-inf"` or `"nan"`.
    static func number(_ d: Double) -> String { d.isFinite ? PythonRepr.float(d) : JSON.string(PythonRepr.float(d)) }
}

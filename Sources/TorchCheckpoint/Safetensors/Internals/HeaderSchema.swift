/// One tensor's entry as the header declares it, before validation, with
/// numbers kept as the 64-bit values the reference implementation checks.
struct RawTensorInfo {
    let name: String
    /// The file offset of the name's opening quote.
    let nameOffset: Int
    let dtype: SafetensorsDType
    let shape: [UInt64]
    let begin: UInt64
    let end: UInt64
}

/// Reads the header's JSON into tensor entries and metadata with the rules of
/// the reference implementation's serde derive (`HashMetadata`, `TensorInfo`,
/// `Dtype`), including what it quietly accepts:
///
/// - `__metadata__` may be `null` (no metadata) or a map of strings; a second
///   `__metadata__` key is an error ("duplicate field").
/// - Any other key is a tensor; a name given twice keeps its last entry
///   (a Rust `HashMap` insert), here at the last entry's position.
/// - A tensor entry is an object (unknown fields ignored, a field given twice
///   is an error, all three required) or an array `[dtype, shape, offsets]`.
/// - A dtype is a string or a one-key object `{"F32": null}` (serde's
///   externally tagged unit variant).
/// - Shape dimensions and offsets are integers in 0…2⁶⁴−1; `-0`, `1.0` and
///   `1e0` are floats and refused.
enum HeaderSchema {
    static func read(_ root: HeaderJSON) throws(SafetensorsError) -> (tensors: [RawTensorInfo], metadata: [(key: String, value: String)]?) {
        guard case .object(let members) = root.kind else {
            throw typeError(root, expected: "struct HashMetadata")
        }
        // serde visits the map in order: `__metadata__` is read when met, the
        // other entries are buffered and read as tensors afterwards.
        var metadata: [(key: String, value: String)]?
        var sawMetadata = false
        var tensorMembers: [HeaderJSON.Member] = []
        for member in members {
            guard member.key.utf8.elementsEqual("__metadata__".utf8) else {
                tensorMembers.append(member)
                continue
            }
            guard !sawMetadata else {
                throw fail("duplicate field `__metadata__`", at: member.keyOffset)
            }
            sawMetadata = true
            metadata = try readMetadata(member.value)
        }
        var tensors: [RawTensorInfo] = []
        tensors.reserveCapacity(tensorMembers.count)
        for member in tensorMembers {
            tensors.append(try readTensorInfo(member))
        }
        return (lastOfEach(tensors, key: { ByteKey($0.name) }), metadata)
    }

    /// Keeps the last item of each key, at its own position.
    static func lastOfEach<T>(_ items: [T], key: (T) -> ByteKey) -> [T] {
        var last: [ByteKey: Int] = [:]
        for (i, item) in items.enumerated() { last[key(item)] = i }
        guard last.count != items.count else { return items }
        return items.enumerated().filter { last[key($0.element)] == $0.offset }.map(\.element)
    }

    private static func readMetadata(_ value: HeaderJSON) throws(SafetensorsError) -> [(key: String, value: String)]? {
        switch value.kind {
        case .null:
            return nil
        case .object(let entries):
            var pairs: [(key: String, value: String)] = []
            pairs.reserveCapacity(entries.count)
            for entry in entries {
                guard case .string(let text) = entry.value.kind else {
                    throw typeError(entry.value, expected: "a string")
                }
                pairs.append((entry.key, text))
            }
            return lastOfEach(pairs, key: { ByteKey($0.key) })
        default:
            throw typeError(value, expected: "a map")
        }
    }

    private static func readTensorInfo(_ member: HeaderJSON.Member) throws(SafetensorsError) -> RawTensorInfo {
        let value = member.value
        var dtype: SafetensorsDType?
        var shape: [UInt64]?
        var offsets: (UInt64, UInt64)?
        switch value.kind {
        case .array(let items):
            guard items.count == 3 else {
                let expected = items.count < 3 ? "struct TensorInfo with 3 elements" : "3 elements in sequence"
                throw fail("invalid length \(items.count), expected \(expected)", at: value.offset)
            }
            dtype = try readDType(items[0])
            shape = try readShape(items[1])
            offsets = try readOffsets(items[2])
        case .object(let fields):
            for field in fields {
                // Field names compared as bytes, as serde does (Swift's `==` would
                // also accept canonically equivalent spellings).
                let key = field.key.utf8
                if key.elementsEqual("dtype".utf8) {
                    guard dtype == nil else { throw fail("duplicate field `dtype`", at: field.keyOffset) }
                    dtype = try readDType(field.value)
                } else if key.elementsEqual("shape".utf8) {
                    guard shape == nil else { throw fail("duplicate field `shape`", at: field.keyOffset) }
                    shape = try readShape(field.value)
                } else if key.elementsEqual("data_offsets".utf8) {
                    guard offsets == nil else { throw fail("duplicate field `data_offsets`", at: field.keyOffset) }
                    offsets = try readOffsets(field.value)
                }
                // serde ignores unknown fields.
            }
        default:
            throw typeError(value, expected: "struct TensorInfo")
        }
        guard let dtype else { throw fail("missing field `dtype` in the entry of tensor '\(member.key)'", at: value.offset) }
        guard let shape else { throw fail("missing field `shape` in the entry of tensor '\(member.key)'", at: value.offset) }
        guard let offsets else {
            throw fail("missing field `data_offsets` in the entry of tensor '\(member.key)'", at: value.offset)
        }
        return RawTensorInfo(name: member.key, nameOffset: member.keyOffset, dtype: dtype, shape: shape,
                             begin: offsets.0, end: offsets.1)
    }

    private static func readDType(_ value: HeaderJSON) throws(SafetensorsError) -> SafetensorsDType {
        switch value.kind {
        case .string(let name):
            return try variant(name, at: value.offset)
        case .object(let entries):
            guard entries.count == 1 else {
                throw fail("invalid value: map, expected map with a single key", at: value.offset)
            }
            let dtype = try variant(entries[0].key, at: entries[0].keyOffset)
            guard case .null = entries[0].value.kind else {
                throw typeError(entries[0].value, expected: "unit")
            }
            return dtype
        default:
            throw typeError(value, expected: "string or map")
        }
    }

    private static func variant(_ name: String, at offset: Int) throws(SafetensorsError) -> SafetensorsDType {
        // Compared as bytes: `F32` only, never a canonically equivalent spelling.
        guard let dtype = SafetensorsDType.allCases.first(where: { $0.rawValue.utf8.elementsEqual(name.utf8) }) else {
            let known = SafetensorsDType.allCases.map { "`\($0.rawValue)`" }.joined(separator: ", ")
            throw fail("unknown variant `\(name)`, expected one of \(known)", at: offset)
        }
        return dtype
    }

    private static func readShape(_ value: HeaderJSON) throws(SafetensorsError) -> [UInt64] {
        guard case .array(let items) = value.kind else {
            throw typeError(value, expected: "a sequence")
        }
        var dims: [UInt64] = []
        dims.reserveCapacity(items.count)
        for item in items { dims.append(try readUsize(item)) }
        return dims
    }

    private static func readOffsets(_ value: HeaderJSON) throws(SafetensorsError) -> (UInt64, UInt64) {
        guard case .array(let items) = value.kind else {
            throw typeError(value, expected: "a tuple of size 2")
        }
        guard items.count == 2 else {
            throw fail("invalid length \(items.count), expected 2 elements in sequence", at: value.offset)
        }
        return (try readUsize(items[0]), try readUsize(items[1]))
    }

    private static func readUsize(_ value: HeaderJSON) throws(SafetensorsError) -> UInt64 {
        switch value.kind {
        case .unsigned(let u): return u
        case .negative(let i): throw fail("invalid value: integer `\(i)`, expected usize", at: value.offset)
        default: throw typeError(value, expected: "usize")
        }
    }

    private static func typeError(_ value: HeaderJSON, expected: String) -> SafetensorsError {
        fail("invalid type: \(value.serdeDescription), expected \(expected)", at: value.offset)
    }

    private static func fail(_ what: String, at offset: Int) -> SafetensorsError {
        SafetensorsError(.invalidHeaderJSON, "invalid JSON in header: \(what)", offset: offset)
    }
}

/// What a torch persistent id says about a storage:
/// `('storage', storage_type, key, location, numel)` in zip and TorchScript
/// files, with a sixth item (view metadata) in legacy files.
public struct StorageReference: Sendable, Equatable {
    /// The element type of the storage class (`uint8` for `UntypedStorage`).
    public let dtype: DType
    /// Whether the class is `UntypedStorage` (``elementCount`` counts bytes).
    public let isUntyped: Bool
    /// The storage key: the record is `data/<key>` in zip files.
    public let key: String
    /// The location tag, such as `cpu` or `cuda:0`.
    public let location: String
    /// The element count the pickle declares.
    public let elementCount: Int
    /// Legacy view metadata `(view_key, offset, size)`, when present and not None.
    public let view: (key: String, offset: Int, size: Int)?

    public static func == (a: StorageReference, b: StorageReference) -> Bool {
        a.dtype == b.dtype && a.isUntyped == b.isUntyped && a.key == b.key && a.location == b.location
            && a.elementCount == b.elementCount && a.view?.key == b.view?.key && a.view?.offset == b.view?.offset
            && a.view?.size == b.view?.size
    }

    /// The number of bytes the pickle declares.
    public var byteCount: Int { elementCount &* dtype.itemSize }

    /// Parses a persistent id; throws a message naming what is malformed.
    public init(persistentID pid: Value) throws(ValueError) {
        guard let items = pid.items, items.count == 5 || items.count == 6 else {
            throw ValueError("persistent id must be a 5- or 6-tuple ('storage', class, key, location, numel), got \(pid.typeName)")
        }
        guard Self.text(items[0]) == "storage" else {
            throw ValueError("persistent id of kind \(items[0].typeName) \(Self.text(items[0]).map { "'\($0)'" } ?? ""), expected 'storage'")
        }
        guard case .global(let cls) = items[1] else {
            throw ValueError("persistent id's storage class is a \(items[1].typeName), not a class")
        }
        guard let type = Self.elementType(of: cls) else { throw ValueError("unknown storage class \(cls.qualifiedName)") }
        (dtype, isUntyped) = type
        switch items[2] {
        case .string(let s): key = s
        case .int(let i): key = String(i)
        case .bytes(let b): key = String(decoding: b, as: UTF8.self)
        default: throw ValueError("storage key is a \(items[2].typeName)")
        }
        guard let loc = Self.text(items[3]) else { throw ValueError("storage location is a \(items[3].typeName)") }
        location = loc
        guard case .int(let n) = items[4], n >= 0 else {
            throw ValueError("storage element count must be a non-negative int, got \(items[4])")
        }
        let (_, overflow) = n.multipliedReportingOverflow(by: dtype.itemSize)
        guard !overflow else { throw ValueError("storage element count \(n) overflows") }
        elementCount = n
        if items.count == 6, let v = items[5].items {
            guard v.count == 3, let vk = Self.text(v[0]) ?? v[0].integerDescription, case .int(let off) = v[1], case .int(let size) = v[2] else {
                throw ValueError("malformed storage view metadata")
            }
            view = (vk, off, size)
        } else {
            view = nil
        }
    }

    /// The reference of a persistent id in the form `torch.save` writes,
    /// from its parts: nil where ``init(persistentID:)`` would throw (an
    /// unknown class, a negative or overflowing count), which then says why.
    package init?(storageClass: PyGlobal, key: String, location: String, elementCount: Int) {
        guard let type = Self.elementType(of: storageClass), elementCount >= 0,
              !elementCount.multipliedReportingOverflow(by: type.dtype.itemSize).overflow else { return nil }
        (dtype, isUntyped) = type
        self.key = key
        self.location = location
        self.elementCount = elementCount
        view = nil
    }

    /// The element type a storage class holds.
    private static func elementType(of cls: PyGlobal) -> (dtype: DType, isUntyped: Bool)? {
        switch cls.known {
        case .storageClass(let d)?: (d, false)
        case .untypedStorage?: (.uint8, true)
        default: nil
        }
    }

    /// A str, or bytes holding ASCII (Python 2 pickles): `_maybe_decode_ascii`.
    private static func text(_ v: Value) -> String? {
        switch v {
        case .string(let s): s
        case .bytes(let b): String(decoding: b, as: UTF8.self)
        default: nil
        }
    }
}

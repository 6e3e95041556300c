import TorchZip

/// The storages of a legacy file, as its object pickle declares them with
/// persistent ids `('storage', class, root_key, location, root_numel,
/// view_metadata)`, mirroring `persistent_load` in torch's `_legacy_load`:
/// one storage per root key, and for view metadata `(view_key, offset, size)`
/// one view per view key, showing `size` elements of the root from `offset`.
///
/// The pickle comes before the data, so each root's bytes are located after
/// the pickle is read (``locate(_:at:)``); loaders then point into the mapped
/// file, never copying.
final class LegacyStorageTable: @unchecked Sendable {
    let file: MappedFile
    private(set) var roots: [String: (reference: StorageReference, storage: Storage)] = [:]
    private(set) var views: [String: (storage: Storage, rootKey: String, offset: Int)] = [:]
    /// Storage objects handed to the pickle (roots and views), in the order first referenced.
    private(set) var referenced: [Storage] = []
    /// Where each root's bytes are in the file, once known.
    private var locations: [String: DataLocation] = [:]
    /// The persistent ids `('module', cls, file, source)` that named
    /// `nn.Module` classes, by class, in the order read (the encoder writes
    /// them back at the same references).
    private(set) var moduleReferences: [ObjectIdentifier: [Value]] = [:]
    /// A module persistent id whose class is not a global (it cannot be written back).
    private(set) var hasUnwritableModuleReference = false
    private var seen = Set<ObjectIdentifier>()

    init(file: MappedFile) { self.file = file }

    /// The views, by view storage, as the encoder writes them back.
    var encoderViews: [ObjectIdentifier: PickleEncoder.LegacyStorageView] {
        var out: [ObjectIdentifier: PickleEncoder.LegacyStorageView] = [:]
        for (_, view) in views {
            guard let root = roots[view.rootKey]?.storage else { continue }
            out[ObjectIdentifier(view.storage)] = .init(root: root, offset: view.offset)
        }
        return out
    }

    func resolve(_ pid: Value) throws -> Value {
        guard let items = pid.items, let kind = Self.text(items.first) else {
            throw PickleError(.persistentLoad, "persistent id must be a tuple naming 'storage' or 'module', got \(pid.typeName)", offset: 0, opcode: nil)
        }
        if kind == "module", items.count >= 2 {
            // torch returns the class; the source is only compared with the current one.
            if case .global(let cls) = items[1] {
                moduleReferences[ObjectIdentifier(cls), default: []].append(pid)
            } else {
                hasUnwritableModuleReference = true
            }
            return items[1]
        }
        guard kind == "storage" else {
            throw PickleError(.persistentLoad, "unknown persistent id type '\(kind)'", offset: 0, opcode: nil)
        }
        guard items.count == 6 else {
            throw PickleError(.persistentLoad,
                              "a legacy persistent id has 6 items ('storage', class, root_key, location, numel, view_metadata), this one \(items.count)",
                              offset: 0, opcode: nil)
        }
        let reference: StorageReference
        do {
            reference = try StorageReference(persistentID: pid)
        } catch {
            throw PickleError(.persistentLoad, error.message, offset: 0, opcode: nil)
        }
        let root = try self.root(for: reference)
        let storage: Storage
        if let view = reference.view {
            storage = try self.view(view, of: root, reference: reference)
        } else {
            storage = root
        }
        if seen.insert(ObjectIdentifier(storage)).inserted { referenced.append(storage) }
        return .storage(storage)
    }

    private func root(for reference: StorageReference) throws -> Storage {
        if let known = roots[reference.key] {
            try reference.requireSameDeclaration(as: known.reference)
            return known.storage
        }
        let location = DataLocation(file: file, key: reference.key, byteCount: reference.byteCount)
        let storage = Storage(key: reference.key, dtype: reference.dtype, isUntyped: reference.isUntyped,
                              location: reference.location, elementCount: reference.elementCount, byteOrder: .little) {
            try location.bytes()
        }
        roots[reference.key] = (reference, storage)
        locations[reference.key] = location
        return storage
    }

    private func view(_ view: (key: String, offset: Int, size: Int), of root: Storage,
                      reference: StorageReference) throws -> Storage {
        if let known = views[view.key] {
            guard known.rootKey == reference.key, known.offset == view.offset, known.storage.elementCount == view.size else {
                throw PickleError(.invalidTensor,
                                  "storage view '\(view.key)' is declared twice with different roots or bounds",
                                  offset: 0, opcode: nil)
            }
            return known.storage
        }
        guard view.offset >= 0, view.size >= 0, view.offset <= root.elementCount, view.size <= root.elementCount - view.offset else {
            throw PickleError(.invalidTensor,
                              "storage view '\(view.key)' of \(view.size) elements from element \(view.offset) lies outside storage '\(reference.key)' of \(root.elementCount) elements",
                              offset: 0, opcode: nil)
        }
        let start = view.offset * root.dtype.itemSize
        let count = view.size * root.dtype.itemSize
        let storage = Storage(key: view.key, dtype: root.dtype, isUntyped: root.isUntyped, location: root.location,
                              elementCount: view.size, byteOrder: .little) {
            try root.bytes().slice(start..<(start + count))
        }
        views[view.key] = (storage, reference.key, view.offset)
        return storage
    }

    /// Records where a root's bytes start, once the storage section is read.
    func locate(_ key: String, at offset: Int) { locations[key]?.offset = offset }

    /// A str, or bytes holding ASCII (Python 2 pickles): `_maybe_decode_ascii`.
    static func text(_ value: Value?) -> String? {
        switch value {
        case .string(let s)?: s
        case .bytes(let b)?: String(decoding: b, as: UTF8.self)
        default: nil
        }
    }
}

/// Where one storage's bytes lie in the mapped file. Set once the storage
/// section has been read and checked against the file's size.
final class DataLocation: @unchecked Sendable {
    let file: MappedFile
    let key: String
    let byteCount: Int
    var offset: Int?

    init(file: MappedFile, key: String, byteCount: Int) {
        self.file = file
        self.key = key
        self.byteCount = byteCount
    }

    func bytes() throws -> RawBytes {
        guard let offset, offset >= 0, byteCount <= file.count - offset else {
            throw TensorError("storage '\(key)' has no data in the file")
        }
        return RawBytes(baseAddress: file.bytes.baseAddress.map { $0 + offset }, count: byteCount, owner: file)
    }
}

import TorchPickle
import TorchZip

/// Reads the weights and tensor constants of a `torch.export` archive (`.pt2`,
/// `torch.export.save`): a zip whose `archive_format` record says `pt2`, with
/// one `models/NAME.json` per exported program and, per model,
/// `data/weights/NAME_weights_config.json` and
/// `data/constants/NAME_constants_config.json`.
///
/// Each config maps a name to a payload: raw bytes of a whole storage
/// (`use_pickle: false`; several names may view one record, which keeps
/// their aliasing) described by `tensor_meta` (dtype as torch.export's
/// `ScalarType`, sizes, strides, storage offset, `requires_grad`), or a
/// `torch.save` archive of the tensor (`use_pickle: true`, for tensor
/// subclasses). Storages are used in place from the mapped file.
enum ExportArchiveReader {
    /// Whether a zip archive is a `.pt2`.
    static func isExportArchive(_ archive: ZipArchive) -> Bool {
        guard let entry = archive.record("archive_format"), let bytes = try? archive.bytes(of: entry) else { return false }
        return bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } == "pt2"
    }

    struct Loaded {
        var root: Value
        var models: [String]
        var storages: [Storage]
        var calls: [PickleCall]
        var globals: [String]
    }

    static func load(_ archive: ZipArchive, options: LoadOptions) throws(CheckpointError) -> Loaded {
        let path = archive.file.path
        let models = archive.recordNames.compactMap { name -> String? in
            guard name.hasPrefix("models/"), name.hasSuffix(".json") else { return nil }
            let model = String(name.dropFirst("models/".count).dropLast(".json".count))
            return model.contains("/") ? nil : model
        }
        guard !models.isEmpty else { throw .missingRecord(path: path, record: "\(archive.prefix)/models/<name>.json") }
        var loaded = Loaded(root: .None, models: models, storages: [], calls: [], globals: [])
        var perModel: [(String, PyDict)] = []
        for model in models {
            let dict = PyDict()
            for (directory, configName) in [("data/weights", "\(model)_weights_config.json"),
                                            ("data/constants", "\(model)_constants_config.json")] {
                let configRecord = "\(directory)/\(configName)"
                guard let entry = archive.record(configRecord) else {
                    if directory == "data/constants" { continue }
                    throw .missingRecord(path: path, record: "\(archive.prefix)/\(configRecord)")
                }
                try readConfig(entry, recordName: configRecord, directory: directory, archive: archive,
                               options: options, into: dict, loaded: &loaded)
            }
            perModel.append((model, dict))
        }
        if perModel.count == 1 {
            loaded.root = .dict(perModel[0].1)
        } else {
            let root = PyDict()
            for (model, dict) in perModel { root[model] = .dict(dict) }
            loaded.root = .dict(root)
        }
        return loaded
    }

    private static func readConfig(_ entry: ZipEntry, recordName: String, directory: String, archive: ZipArchive,
                                   options: LoadOptions, into dict: PyDict, loaded: inout Loaded) throws(CheckpointError) {
        let path = archive.file.path
        func fail(_ reason: String) -> CheckpointError {
            .invalidRecord(path: path, record: "\(archive.prefix)/\(recordName)", reason: reason)
        }
        let text: [UInt8]
        do { text = try archive.bytes(of: entry).copyBytes() } catch { throw .container(path: path, error) }
        if let bad = text.withUnsafeBytes({ firstInvalidUTF8($0) }) { throw fail("not UTF-8 text (byte \(bad.index))") }
        let parsed = text.withUnsafeBytes { raw in
            Result { () throws(SafetensorsError) in try HeaderJSONParser.parse(raw, base: 0) }
        }
        let json: HeaderJSON
        switch parsed {
        case .success(let value): json = value
        case .failure(let error): throw fail("not JSON: \(error.message) at byte \(error.offset.map(String.init) ?? "?")")
        }
        guard case .object(let top) = json.kind, let config = top.first(where: { $0.key == "config" }),
              case .object(let payloads) = config.value.kind else {
            throw fail("no \"config\" object")
        }
        var storages: [String: Storage] = [:]
        for payload in payloads {
            let name = payload.key
            guard case .object(let fields) = payload.value.kind else { throw fail("'\(name)' is not an object") }
            func field(_ key: String) -> HeaderJSON.Kind? { fields.first { $0.key == key }?.value.kind }
            guard case .string(let pathName)? = field("path_name"), !pathName.contains("/"), !pathName.isEmpty else {
                throw fail("'\(name)' has no path_name")
            }
            let isParameter = if case .bool(true)? = field("is_param") { true } else { false }
            let usesPickle = if case .bool(true)? = field("use_pickle") { true } else { false }
            let recordName = "\(directory)/\(pathName)"
            guard let record = archive.record(recordName) else {
                throw .missingRecord(path: path, record: "\(archive.prefix)/\(recordName)")
            }
            // torch.export.load dispatches on the payload's name: custom objects (TorchScript's
            // pickler) and opaque objects (pickle.dumps) are bare pickles; a tensor that
            // use_pickle marks is a torch.save archive.
            let isObject = pathName.hasPrefix("custom_obj") || pathName.hasPrefix("opaque_obj")
            if usesPickle || isObject {
                let value: Value
                do {
                    let inner = try embeddedFile(record, named: recordName, in: archive)
                    if isObject {
                        let decoded = try Unpickler(options: options.unpickler).decode(inner.bytes)
                        loaded.calls += decoded.calls
                        for g in decoded.globals where !loaded.globals.contains(g) { loaded.globals.append(g) }
                        value = decoded.value
                    } else {
                        let checkpoint = try Checkpoint(file: inner, options: options)
                        loaded.storages += checkpoint.storages
                        loaded.calls += checkpoint.calls
                        for g in checkpoint.globals where !loaded.globals.contains(g) { loaded.globals.append(g) }
                        value = checkpoint.root
                    }
                } catch {
                    throw fail("'\(name)': its payload \(recordName) cannot be read: \(error)")
                }
                dict[name] = value
                continue
            }
            guard case .object(let meta)? = field("tensor_meta") else { throw fail("'\(name)' has no tensor_meta") }
            func metaField(_ key: String) -> HeaderJSON.Kind? { meta.first { $0.key == key }?.value.kind }
            guard case .unsigned(let code)? = metaField("dtype"), let dtype = scalarType(code) else {
                throw fail("'\(name)' has a dtype this library does not know (\(String(describing: metaField("dtype"))))")
            }
            if case .unsigned(let layout)? = metaField("layout"), layout != 7 {
                throw fail("'\(name)' has layout \(layout), not strided (7)")
            }
            guard let sizes = symInts(metaField("sizes")), let strides = symInts(metaField("strides")),
                  sizes.count == strides.count, sizes.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
                throw fail("'\(name)' has sizes or strides that are not lists of non-negative as_int")
            }
            var offset = 0
            if case .object(let o)? = metaField("storage_offset"), case .unsigned(let n)? = o.first(where: { $0.key == "as_int" })?.value.kind {
                guard n < 1 << 48 else { throw fail("'\(name)' has storage offset \(n)") }
                offset = Int(n)
            }
            let requiresGrad = if case .bool(true)? = metaField("requires_grad") { true } else { false }
            var device: Device?
            if case .object(let d)? = metaField("device"), case .string(let type)? = d.first(where: { $0.key == "type" })?.value.kind {
                var location = type
                if case .unsigned(let index)? = d.first(where: { $0.key == "index" })?.value.kind { location += ":\(index)" }
                device = Device(location: location)
            }
            let byteCount = Int(clamping: record.uncompressedSize)
            guard byteCount % dtype.itemSize == 0 else {
                throw fail("'\(name)': record \(recordName) has \(byteCount) bytes, not a whole number of \(dtype.name) elements")
            }
            // An empty record stands for zeros (torch.export.load: torch.zeros(size), then
            // as_strided): a storage of that many zeros, made only when read.
            var available = byteCount / dtype.itemSize
            if byteCount == 0 {
                guard let count = DistributedCheckpointMetadata.product(sizes), count <= Int.max / max(dtype.itemSize, 1) else {
                    throw fail("'\(name)' has sizes \(sizes) past any storage")
                }
                available = count
            }
            let storage: Storage
            if byteCount == 0 {
                let count = available
                let zeroBytes = dtype.byteCount(forElements: count)
                let typed = dtype.storageClassName != nil
                storage = Storage(key: pathName, dtype: typed ? dtype : .uint8, isUntyped: !typed, location: "cpu",
                                  elementCount: typed ? count : zeroBytes) {
                    guard let zeros = OwnedBytes(zeroed: zeroBytes) else {
                        throw TensorError("cannot allocate the \(zeroBytes) zero bytes of '\(name)'")
                    }
                    return RawBytes(baseAddress: zeros.pointer, count: zeroBytes, owner: zeros)
                }
                loaded.storages.append(storage)
            } else if let existing = storages[pathName] {
                storage = existing
            } else {
                let typed = dtype.storageClassName != nil
                let archiveRef = archive
                storage = Storage(key: pathName, dtype: typed ? dtype : .uint8, isUntyped: !typed,
                                  location: device?.description ?? "cpu",
                                  elementCount: typed ? byteCount / dtype.itemSize : byteCount) {
                    let bytes = try archiveRef.bytes(of: record)
                    let box = RecordBox(bytes)
                    return RawBytes(baseAddress: box.baseAddress, count: bytes.count, owner: box)
                }
                storages[pathName] = storage
                loaded.storages.append(storage)
            }
            // The view must lie inside the storage (as_strided's check), in arithmetic that cannot overflow.
            var extent = 0          // elements the view reaches: offset + Σ (size-1)·stride + 1
            if !sizes.contains(0) {
                var last = offset
                for (n, st) in zip(sizes, strides) {
                    let (step, o1) = (n - 1).multipliedReportingOverflow(by: st)
                    let (sum, o2) = last.addingReportingOverflow(step)
                    guard !o1, !o2 else { throw fail("'\(name)' has sizes \(sizes) and strides \(strides) past any storage") }
                    last = sum
                }
                extent = last + 1
            }
            guard extent <= available else {
                throw fail("'\(name)' views \(extent) elements of record \(recordName), which holds \(available)")
            }
            dict[name] = .tensor(Tensor(dtype: dtype, shape: sizes, stride: strides, storageOffset: offset, storage: storage,
                                        device: device, requiresGrad: isParameter && requiresGrad, isParameter: isParameter))
        }
    }

    /// `[{"as_int": n}, …]`.
    private static func symInts(_ kind: HeaderJSON.Kind?) -> [Int]? {
        guard case .array(let items)? = kind else { return nil }
        var out: [Int] = []
        for item in items {
            guard case .object(let o) = item.kind, case .unsigned(let n)? = o.first(where: { $0.key == "as_int" })?.value.kind,
                  let value = Int(exactly: n), value < 1 << 48 else { return nil }
            out.append(value)
        }
        return out
    }

    /// torch.export's `ScalarType` codes (torch/_export/serde/schema.py).
    static func scalarType(_ code: UInt64) -> DType? {
        switch code {
        case 1: .uint8
        case 2: .int8
        case 3: .int16
        case 4: .int32
        case 5: .int64
        case 6: .float16
        case 7: .float32
        case 8: .float64
        case 9: .complex32
        case 10: .complex64
        case 11: .complex128
        case 12: .bool
        case 13: .bfloat16
        case 28: .uint16
        case 29: .float8_e4m3fn
        case 30: .float8_e5m2
        case 31: .float8_e4m3fnuz
        case 32: .float8_e5m2fnuz
        case 33: .float8_e8m0fnu
        case 34: .uint32
        case 35: .uint64
        default: nil
        }
    }
}

extension ExportArchiveReader {
    /// A record of the archive as a file of its own: in place when it is stored
    /// uncompressed, else a copy of its inflated bytes.
    static func embeddedFile(_ record: ZipEntry, named name: String, in archive: ZipArchive) throws(ZipError) -> MappedFile {
        let bytes = try archive.bytes(of: record)
        let path = "\(archive.file.path)[\(archive.prefix)/\(name)]"
        if let offset = bytes.fileOffset, let start = Int(exactly: offset) {
            return try MappedFile(slice: start..<(start + bytes.count), of: archive.file, path: path)
        }
        let result = bytes.withUnsafeBytes { raw in Result { () throws(ZipError) in try MappedFile(copying: raw, path: path) } }
        return try result.get()
    }
}

/// Writes tensors as a safetensors file laid out exactly as safetensors 0.8's
/// `save_file` lays it out, so that the same tensors make the same bytes.
///
/// ```swift
/// let writer = try SafetensorsWriter(tensors: [("fc.weight", weight), ("fc.bias", bias)],
///                                    metadata: [("format", "pt")])
/// try writer.write(to: "model.safetensors")
/// ```
///
/// Creating a writer checks the tensors and plans the file (``items``,
/// ``header``); no data is read until it is written. The layout, as the
/// reference implementation's `prepare` makes it:
///
/// - Tensors are sorted by element type, in descending order of
///   ``SafetensorsDType``'s declaration order (U64, I64, F64, C64, F32, U32,
///   I32, BF16, F16, U16, I16, F8_E5M2FNUZ, F8_E4M3FNUZ, F8_E8M0, F8_E4M3,
///   F8_E5M2, I8, U8, F6_E3M2, F6_E2M3, F4, BOOL), then by name compared as
///   UTF-8 bytes. Data is laid out in that order without gaps, and the
///   header lists the tensors in the same order. The order of the input does
///   not matter.
/// - The header is compact JSON (serde_json's `to_string`): no spaces,
///   `__metadata__` first when there is metadata, then each tensor as
///   `"name":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}`. Strings
///   escape `"`, `\`, and control characters (`\b \f \n \r \t`, others as
///   `\u00xx` in lowercase hex); everything else, non-ASCII included, is
///   written as UTF-8.
/// - The header is padded with spaces to a multiple of 8 bytes; its length,
///   padding included, is the 8-byte little-endian number that starts the file.
///
/// Metadata entries are written in the order given. (`save_file` writes them
/// in the iteration order of a Rust `HashMap`, which changes from process to
/// process: its output is only reproducible with at most one metadata entry.)
///
/// Unlike `save_file`, a non-contiguous tensor is written as its elements in
/// row-major order (as `.contiguous()` makes them); a tensor with the
/// conjugate or negative bit set is written as the values it represents
/// (`save_file` writes the stored bits and so loses the bit); big-endian
/// storages are written little-endian. As `save_file`, tensors that view
/// overlapping bytes of one storage are refused
/// (``SafetensorsError/Code/sharedStorage``) unless
/// ``Options/duplicateSharedTensors`` is set; disjoint views of one storage
/// are fine and written each as its own tensor.
public struct SafetensorsWriter: Sendable {
    /// How to treat tensors the format cannot store as they are.
    public struct Options: Sendable {
        /// Whether tensors that share memory are written each as its own copy
        /// (reported in ``SafetensorsWriter/duplicatedTensors``) rather than
        /// refused, as `save_file` refuses them.
        public var duplicateSharedTensors: Bool
        /// The largest header accepted, in bytes; the reference
        /// implementation's 100 000 000 by default (readers refuse larger ones).
        public var maximumHeaderSize: Int
        /// The most logical bytes a view larger than its storage may take:
        /// safetensors has no strides, so such a view (`expand`'s stride 0,
        /// an overlapping `as_strided`) is written element by element, and a
        /// few bytes of storage can stand for terabytes.
        /// ``Tensor/defaultExpandedViewLimit`` (1 GiB) by default.
        public var expandedViewLimit: Int

        /// Creates options.
        public init(duplicateSharedTensors: Bool = false,
                    maximumHeaderSize: Int = SafetensorsHeader.defaultMaximumHeaderSize,
                    expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) {
            self.duplicateSharedTensors = duplicateSharedTensors
            self.maximumHeaderSize = maximumHeaderSize
            self.expandedViewLimit = expandedViewLimit
        }
    }

    /// A tensor as it will be written.
    public struct Item: Sendable {
        /// The tensor's name.
        public let name: String
        /// The element type written.
        public let dtype: SafetensorsDType
        /// The shape written: PyTorch's, with the last dimension doubled for
        /// ``SafetensorsDType/f4`` (which counts 4-bit elements).
        public let shape: [Int]
        /// Where the data goes, relative to the data buffer.
        public let dataOffsets: Range<Int>
        /// The tensor whose elements are written.
        public let tensor: Tensor
    }

    /// The tensors in the order of the header and of the data.
    public let items: [Item]

    /// The metadata written, in order, or nil for none.
    public let metadata: [(key: String, value: String)]?

    /// The header: JSON padded with spaces to a multiple of 8 bytes.
    public let header: [UInt8]

    /// Groups of tensors (names sorted by bytes) that share memory and are
    /// written each as its own copy; empty unless
    /// ``Options/duplicateSharedTensors`` is set and some tensors share memory.
    public let duplicatedTensors: [[String]]

    /// The size of the file: the 8-byte length, the header and the data.
    public var byteCount: Int {
        SafetensorsHeader.lengthFieldSize + header.count + (items.last?.dataOffsets.upperBound ?? 0)
    }

    /// Checks the tensors and plans the file.
    ///
    /// - Parameters:
    ///   - tensors: The tensors and their names, in any order.
    ///   - metadata: Free-form text entries (`__metadata__`), or nil for none.
    ///     An empty list writes an empty `__metadata__` map.
    ///   - options: How to treat shared memory; the header size limit.
    /// - Throws: ``SafetensorsError`` naming the tensor: ``SafetensorsError/Code/duplicateName``,
    ///   ``SafetensorsError/Code/reservedName``, ``SafetensorsError/Code/unsupportedTensor``
    ///   (sparse, meta, no storage), ``SafetensorsError/Code/unsupportedDType``,
    ///   ``SafetensorsError/Code/misalignedSlice`` (a 0-dim F4 tensor),
    ///   ``SafetensorsError/Code/validationOverflow`` and ``SafetensorsError/Code/tensorData``
    ///   (shapes whose sizes overflow, negative dimensions),
    ///   ``SafetensorsError/Code/sharedStorage`` (listing every group),
    ///   ``SafetensorsError/Code/headerTooLarge``,
    ///   ``SafetensorsError/Code/expandedViewOverLimit`` (a view larger than
    ///   its storage, over ``Options/expandedViewLimit``).
    public init(tensors: [(name: String, tensor: Tensor)], metadata: [(key: String, value: String)]? = nil,
                options: Options = .init()) throws(SafetensorsError) {
        try Self.checkNames(tensors.map(\.name), metadataKeys: metadata?.map(\.key) ?? [])

        var planned: [Planned] = []
        planned.reserveCapacity(tensors.count)
        for (name, tensor) in tensors {
            planned.append(try Self.plan(name: name, tensor: tensor))
        }

        let shared = Self.sharedGroups(tensors)
        if !shared.isEmpty && !options.duplicateSharedTensors {
            let list = shared.map { "{" + $0.map { "'\($0)'" }.joined(separator: ", ") + "}" }.joined(separator: ", ")
            throw SafetensorsError(.sharedStorage, "Some tensors share memory, this will lead to duplicate memory on disk and potential differences when loading them again: [\(list)]; write them as copies with duplicateSharedTensors, or keep one name of each group", sharedTensors: shared)
        }
        duplicatedTensors = shared

        // `prepare`: descending dtype order, then name as bytes.
        planned.sort { a, b in
            if a.dtype != b.dtype { return a.dtype.rank > b.dtype.rank }
            return a.key < b.key
        }
        var items: [Item] = []
        items.reserveCapacity(planned.count)
        var offset = 0
        for p in planned {
            let (end, overflow) = offset.addingReportingOverflow(p.byteCount)
            guard !overflow else {
                throw SafetensorsError(.validationOverflow, "the tensors' bytes add up to more than Int.max", tensor: p.name)
            }
            items.append(Item(name: p.name, dtype: p.dtype, shape: p.shape, dataOffsets: offset..<end, tensor: p.tensor))
            offset = end
        }
        // safetensors has no strides: a view larger than its storage is written element by element.
        for item in items {
            do {
                try item.tensor.checkExpandedView(limit: options.expandedViewLimit, option: "expandedViewLimit")
            } catch {
                throw SafetensorsError(.expandedViewOverLimit, "\(error)", tensor: item.name)
            }
        }
        self.items = items
        self.metadata = metadata
        self.header = Self.encodeHeader(items: items, metadata: metadata)
        guard header.count <= options.maximumHeaderSize else {
            throw SafetensorsError(.headerTooLarge, "header too large: the header would be \(header.count) bytes, over the limit of \(options.maximumHeaderSize)")
        }
    }

    /// Writes the file atomically: to a temporary file beside `path`, then
    /// renamed over it (``AtomicFileSink``); with `durability` `.durable`,
    /// synced to the disk first.
    ///
    /// On any error the temporary file is removed and a file already at
    /// `path` is left as it was; a file being read from `path` (even one whose
    /// tensors are being written) stays valid, as renaming does not touch its bytes.
    ///
    /// - Throws: ``SafetensorsError`` with code ``SafetensorsError/Code/io``
    ///   when the file cannot be written, ``SafetensorsError/Code/tensorData``
    ///   naming the tensor whose elements cannot be read.
    public func write(to path: String, durability: AtomicFileSink.Durability = .atomic) throws(SafetensorsError) {
        let sink: AtomicFileSink
        do {
            sink = try AtomicFileSink(destination: path, durability: durability)
        } catch {
            throw SafetensorsError(.io, error.message, path: path)
        }
        do {
            try write(to: sink)
            try Self.io { () throws(ZipError) in try sink.commit() }
        } catch {
            sink.abandon()
            throw error.at(path: path)
        }
    }

    /// Writes the file's bytes to `sink`, in order.
    ///
    /// - Throws: ``SafetensorsError`` with code ``SafetensorsError/Code/io``
    ///   when the sink fails, ``SafetensorsError/Code/tensorData`` naming the
    ///   tensor whose elements cannot be read.
    public func write(to sink: some ZipSink) throws(SafetensorsError) {
        var prefix: [UInt8] = []
        prefix.reserveCapacity(SafetensorsHeader.lengthFieldSize + header.count)
        let length = UInt64(header.count)
        for i in 0..<SafetensorsHeader.lengthFieldSize { prefix.append(UInt8(truncatingIfNeeded: length >> (8 * i))) }
        prefix.append(contentsOf: header)
        do {
            try prefix.withUnsafeBytes { try sink.write($0) }
        } catch let error as ZipError {
            throw SafetensorsError(.io, error.message)
        } catch {
            throw SafetensorsError(.io, "\(error)")
        }
        for item in items {
            try Self.writeData(of: item, to: sink)
        }
    }

    /// The whole file in memory.
    public func bytes() throws(SafetensorsError) -> [UInt8] {
        let sink = MemorySink(reservingCapacity: byteCount)
        try write(to: sink)
        return sink.bytes
    }

    // MARK: Planning

    private static func checkNames(_ names: [String], metadataKeys: [String]) throws(SafetensorsError) {
        var seen = Set<ByteKey>()
        for name in names {
            if name.utf8.elementsEqual("__metadata__".utf8) {
                throw SafetensorsError(.reservedName, "a tensor cannot be named `__metadata__`: the header keeps the metadata under that key (save_file writes such a file, which no reader accepts)", tensor: name)
            }
            guard seen.insert(ByteKey(name)).inserted else {
                throw SafetensorsError(.duplicateName, "two tensors have this name", tensor: name)
            }
        }
        var keys = Set<ByteKey>()
        for key in metadataKeys where !keys.insert(ByteKey(key)).inserted {
            throw SafetensorsError(.duplicateName, "the metadata has the key '\(key)' twice")
        }
    }

    /// A tensor checked and ready to be placed.
    private struct Planned {
        let name: String
        /// The name's bytes, the second sort key.
        let key: ByteKey
        let dtype: SafetensorsDType
        let shape: [Int]
        let byteCount: Int
        let tensor: Tensor
    }

    private static func plan(name: String, tensor: Tensor) throws(SafetensorsError) -> Planned {
        guard tensor.layout == .strided else {
            throw SafetensorsError(.unsupportedTensor, "a \(tensor.layout.rawValue) tensor cannot be saved: safetensors holds dense tensors only (.to_dense() it first)", tensor: name)
        }
        guard !tensor.isMeta, tensor.storage != nil else {
            throw SafetensorsError(.unsupportedTensor, "a \(tensor.isMeta ? "meta " : "")tensor without a storage has no data to write", tensor: name)
        }
        guard tensor.quantization == nil, let dtype = SafetensorsDType(tensor.dtype) else {
            throw SafetensorsError(.unsupportedDType, "safetensors has no type for \(tensor.dtype) elements", tensor: name)
        }
        // Counted with overflow checks: the shape may come from an untrusted checkpoint.
        var byteCount = tensor.dtype.itemSize
        for dim in tensor.shape {
            guard dim >= 0 else {
                throw SafetensorsError(.tensorData, "shape \(tensor.shape) has a negative dimension", tensor: name)
            }
            let (product, overflow) = byteCount.multipliedReportingOverflow(by: dim)
            guard !overflow else {
                throw SafetensorsError(.validationOverflow, "overflow computing buffer size from shape and/or element type: shape \(tensor.shape) of \(dtype)", tensor: name)
            }
            byteCount = product
        }
        var shape = tensor.shape
        if dtype == .f4 {
            // TensorSpec: F4 counts 4-bit elements, two per float4_e2m1fn_x2 byte.
            guard let last = shape.last else {
                throw SafetensorsError(.misalignedSlice, "The slice is slicing for subbytes dtypes, and the slice does not end up at a byte boundary, this is invalid. (a 0-dim float4_e2m1fn_x2 tensor is one F4 element, 4 bits)", tensor: name)
            }
            let (doubled, overflow) = last.multipliedReportingOverflow(by: 2)
            guard !overflow else {
                throw SafetensorsError(.validationOverflow, "F4 last-dim \(last) doubled to logical shape overflows usize", tensor: name)
            }
            shape[shape.count - 1] = doubled
        }
        return Planned(name: name, key: ByteKey(name), dtype: dtype, shape: shape, byteCount: byteCount, tensor: tensor)
    }

    /// The groups of tensors that view overlapping bytes of one storage, as
    /// `_find_shared_tensors` finds them: tensors are grouped by storage
    /// (empty storages and meta tensors left out), then split where their byte
    /// ranges, sorted, do not overlap. A tensor without elements shares
    /// nothing (PyTorch gives it data pointer 0, outside every range).
    static func sharedGroups(_ tensors: [(name: String, tensor: Tensor)]) -> [[String]] {
        var byStorage: [ObjectIdentifier: [(start: Int, stop: Int, name: String)]] = [:]
        for (name, tensor) in tensors {
            guard let storage = tensor.storage, !tensor.isMeta, storage.byteCount != 0, tensor.elementCount > 0 else { continue }
            let size = tensor.dtype.itemSize
            let start = tensor.storageOffset &* size
            var last = tensor.storageOffset
            for (dim, stride) in zip(tensor.shape, tensor.stride) { last &+= (dim &- 1) &* max(stride, 0) }
            let stop = (last &+ 1) &* size
            byStorage[ObjectIdentifier(storage), default: []].append((start, stop, name))
        }
        var groups: [[String]] = []
        for var areas in byStorage.values where areas.count > 1 {
            areas.sort { a, b in
                if a.start != b.start { return a.start < b.start }
                if a.stop != b.stop { return a.stop < b.stop }
                return ByteKey(a.name) < ByteKey(b.name)
            }
            // Overlap is judged against the furthest end so far (Python compares
            // with the previous area only, which misses an area inside an earlier, longer one).
            var current = [areas[0].name]
            var reach = areas[0].stop
            for area in areas.dropFirst() {
                if area.start >= reach {
                    if current.count > 1 { groups.append(current) }
                    current = [area.name]
                } else {
                    current.append(area.name)
                }
                reach = max(reach, area.stop)
            }
            if current.count > 1 { groups.append(current) }
        }
        return groups.map { $0.sorted { ByteKey($0) < ByteKey($1) } }.sorted { ByteKey($0[0]) < ByteKey($1[0]) }
    }

    // MARK: Encoding

    /// The header as serde_json's compact `to_string` writes `Metadata`, padded with spaces to a multiple of 8.
    static func encodeHeader(items: [Item], metadata: [(key: String, value: String)]?) -> [UInt8] {
        var out: [UInt8] = []
        out.append(UInt8(ascii: "{"))
        var first = true
        func separator() {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
        }
        if let metadata {
            separator()
            appendString("__metadata__", to: &out)
            out.append(contentsOf: Array(":{".utf8))
            for (i, entry) in metadata.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendString(entry.key, to: &out)
                out.append(UInt8(ascii: ":"))
                appendString(entry.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        for item in items {
            separator()
            appendString(item.name, to: &out)
            out.append(contentsOf: Array(":{\"dtype\":".utf8))
            appendString(item.dtype.rawValue, to: &out)
            out.append(contentsOf: Array(",\"shape\":[".utf8))
            out.append(contentsOf: Array(item.shape.map(String.init).joined(separator: ",").utf8))
            out.append(contentsOf: Array("],\"data_offsets\":[\(item.dataOffsets.lowerBound),\(item.dataOffsets.upperBound)]}".utf8))
        }
        out.append(UInt8(ascii: "}"))
        let padded = (out.count + 7) / 8 * 8
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padded - out.count))
        return out
    }

    /// A JSON string as serde_json writes it.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    // MARK: Data

    /// Streams one tensor's elements, little-endian and row-major, checking
    /// first that its storage holds every element it views.
    private static func writeData(of item: Item, to sink: some ZipSink) throws(SafetensorsError) {
        let tensor = item.tensor
        func fail(_ what: String) -> SafetensorsError { SafetensorsError(.tensorData, what, tensor: item.name) }
        guard let storage = tensor.storage else { throw fail("the tensor has no storage") }
        let available: Int
        do {
            available = try storage.bytes().count
        } catch {
            throw fail("its storage '\(storage.key)' cannot be read: \(error)")
        }
        if item.dataOffsets.count > 0 {
            guard tensor.storageOffset >= 0, tensor.stride.count == tensor.shape.count, tensor.stride.allSatisfy({ $0 >= 0 }) else {
                throw fail("storage offset \(tensor.storageOffset) and strides \(tensor.stride) are not a view of a storage")
            }
            var last = tensor.storageOffset
            for (dim, stride) in zip(tensor.shape, tensor.stride) {
                let (step, o1) = (dim - 1).multipliedReportingOverflow(by: stride)
                let (sum, o2) = last.addingReportingOverflow(step)
                guard !o1, !o2 else { throw fail("shape \(tensor.shape) and strides \(tensor.stride) overflow") }
                last = sum
            }
            let (end, overflow) = (last + 1).multipliedReportingOverflow(by: tensor.dtype.itemSize)
            guard !overflow, end <= available else {
                throw fail("shape \(tensor.shape), strides \(tensor.stride) and storage offset \(tensor.storageOffset) reach byte \(overflow ? "beyond Int.max" : String(end)) of storage '\(storage.key)', which has \(available)")
            }
        }
        var written = 0
        do {
            try tensor.forEachContiguousChunk(byteOrder: .little, resolvingBits: true, expandedViewLimit: .max) { chunk in
                try sink.write(chunk)
                written += chunk.count
            }
        } catch let error as ZipError {
            throw SafetensorsError(.io, error.message, tensor: item.name)
        } catch {
            throw fail("its elements cannot be read: \(error)")
        }
        guard written == item.dataOffsets.count else {
            throw fail("\(written) bytes of elements were read where \(item.dataOffsets.count) were planned")
        }
    }

    /// Runs a sink operation, turning its ``ZipError`` into an ``SafetensorsError/Code/io`` error.
    private static func io(_ body: () throws(ZipError) -> Void) throws(SafetensorsError) {
        do {
            try body()
        } catch {
            throw SafetensorsError(.io, error.message)
        }
    }
}

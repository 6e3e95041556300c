/// The header of a safetensors file, read and validated as the reference
/// implementation (safetensors 0.8, `SafeTensors::read_metadata`) validates it.
///
/// A safetensors file is an 8-byte little-endian header length `N`, `N` bytes
/// of UTF-8 JSON, then the data buffer. The JSON object maps each tensor name
/// to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to
/// the data buffer), and the optional key `__metadata__` to a map of strings.
///
/// Validation, in the reference implementation's order:
/// 1. the file holds the 8-byte length (``SafetensorsError/Code/headerTooSmall``);
/// 2. `N` is at most the limit, 100 000 000 by default (``SafetensorsError/Code/headerTooLarge``);
/// 3. the header lies inside the file (``SafetensorsError/Code/invalidHeaderLength``);
/// 4. it is UTF-8 (``SafetensorsError/Code/invalidHeaderUTF8``) and a JSON object of the
///    expected form, with known dtypes (``SafetensorsError/Code/invalidHeaderJSON``);
/// 5. sorted by offsets, each tensor begins where the previous one ends, from 0,
///    and does not end before it begins (``SafetensorsError/Code/invalidOffset``);
///    its shape's element and bit counts do not overflow (``SafetensorsError/Code/validationOverflow``),
///    fill whole bytes (``SafetensorsError/Code/misalignedSlice``), and make
///    exactly its byte count (``SafetensorsError/Code/tensorInvalidInfo``);
/// 6. the last tensor ends at the end of the file (``SafetensorsError/Code/metadataIncompleteBuffer``).
///
/// What it accepts as the reference does: whitespace (space, tab, newline,
/// carriage return) before and after the JSON, not only the spaces writers
/// pad with; unknown fields in a tensor entry; `"__metadata__": null`; a tensor
/// name given twice (the last entry wins); `[dtype, shape, offsets]` arrays and
/// `{"F32": null}` dtypes (serde's other spellings). One thing more is refused:
/// a dimension over `Int.max`, which only a shape with a zero dimension can
/// have and which no PyTorch tensor can (``SafetensorsError/Code/unrepresentableShape``).
public struct SafetensorsHeader: Sendable {
    /// One tensor's entry in the header.
    public struct Entry: Sendable, Hashable {
        /// The tensor's name (the JSON key).
        public let name: String
        /// The element type.
        public let dtype: SafetensorsDType
        /// The shape as the header writes it: for ``SafetensorsDType/f4`` the
        /// last dimension counts 4-bit elements, twice PyTorch's.
        public let shape: [Int]
        /// The tensor's bytes, relative to the start of the data buffer (`data_offsets`).
        public let dataOffsets: Range<Int>
        /// The byte offset of the entry's name in the file, for messages.
        public let headerOffset: Int

        /// The number of bytes of data.
        public var byteCount: Int { dataOffsets.count }
    }

    /// The size of the header length field that starts the file.
    public static let lengthFieldSize = 8

    /// The reference implementation's limit on the header length: 100 000 000 bytes.
    public static let defaultMaximumHeaderSize = 100_000_000

    /// The header length `N` from the first 8 bytes (padding included).
    public let byteCount: Int

    /// The file offset of the data buffer: `8 + N`.
    public var dataOffset: Int { Self.lengthFieldSize + byteCount }

    /// The tensors, in the order their keys appear in the header text.
    ///
    /// Files that safetensors writes list them in data order, but other
    /// writers may not: `safetensors.torch.load_file` returns them sorted by
    /// offset (`offset_keys()`), `safe_open(...).keys()` sorted by name.
    public let entries: [Entry]

    /// The `__metadata__` map, in the order of the header text, or nil when
    /// the header has none (or has `null`). A key given twice keeps its last value.
    public let metadata: [(key: String, value: String)]?

    /// The value of a metadata key, compared by bytes.
    public func metadataValue(forKey key: String) -> String? {
        metadata?.first { $0.key.utf8.elementsEqual(key.utf8) }?.value
    }

    /// The entry of a tensor, by its exact name (compared by bytes).
    public func entry(named name: String) -> Entry? {
        entries.first { $0.name.utf8.elementsEqual(name.utf8) }
    }

    /// Reads and validates the header of a mapped safetensors file.
    ///
    /// - Parameters:
    ///   - file: The file; its data buffer must end where the file ends.
    ///   - maximumHeaderSize: The largest header length accepted (see
    ///     ``init(parsing:maximumHeaderSize:)``).
    /// - Throws: ``SafetensorsError`` with the code of the first check that
    ///   fails, the byte offset, and the tensor where one is concerned.
    public init(file: MappedFile, maximumHeaderSize: Int = SafetensorsHeader.defaultMaximumHeaderSize) throws(SafetensorsError) {
        do {
            self = try withExtendedLifetime(file) { () throws(SafetensorsError) in
                try SafetensorsHeader(parsing: file.bytes, maximumHeaderSize: maximumHeaderSize)
            }
        } catch {
            throw error.at(path: file.path)
        }
    }

    /// Reads and validates the header of a whole safetensors file in memory.
    ///
    /// - Parameters:
    ///   - file: Every byte of the file, valid during the call: the data
    ///     buffer must end where the file ends.
    ///   - maximumHeaderSize: The largest header length accepted: a protection
    ///     against a length field that would make the reader parse a huge
    ///     buffer. The reference implementation's limit by default.
    /// - Throws: ``SafetensorsError`` with the code of the first check that
    ///   fails, the byte offset, and the tensor where one is concerned.
    public init(parsing file: UnsafeRawBufferPointer,
                maximumHeaderSize: Int = SafetensorsHeader.defaultMaximumHeaderSize) throws(SafetensorsError) {
        let fileSize = file.count
        guard fileSize >= Self.lengthFieldSize else {
            throw SafetensorsError(.headerTooSmall, "header too small: the file has \(fileSize) bytes, fewer than the 8 of the header length", offset: 0)
        }
        var length: UInt64 = 0
        for i in (0..<Self.lengthFieldSize).reversed() {
            length = length << 8 | UInt64(file[i])
        }
        guard length <= UInt64(max(0, maximumHeaderSize)) else {
            throw SafetensorsError(.headerTooLarge, "header too large: the header length is \(length) bytes, over the limit of \(maximumHeaderSize)", offset: 0)
        }
        let n = Int(length)  // At most maximumHeaderSize, an Int.
        guard n <= fileSize - Self.lengthFieldSize else {
            throw SafetensorsError(.invalidHeaderLength, "invalid header length: the header length is \(n) bytes, but only \(fileSize - Self.lengthFieldSize) follow it", offset: 0)
        }
        let text = UnsafeRawBufferPointer(rebasing: file[Self.lengthFieldSize..<(Self.lengthFieldSize + n)])
        if let bad = firstInvalidUTF8(text) {
            // Rust's Utf8Error text; the index counts from the header's start.
            let what = bad.length.map { "invalid utf-8 sequence of \($0) bytes from index \(bad.index)" }
                ?? "incomplete utf-8 byte sequence from index \(bad.index)"
            throw SafetensorsError(.invalidHeaderUTF8, "invalid UTF-8 in header: \(what)", offset: Self.lengthFieldSize + bad.index)
        }
        let json = try HeaderJSONParser.parse(text, base: Self.lengthFieldSize)
        let (raw, metadata) = try HeaderSchema.read(json)

        try Self.validate(raw, dataSize: fileSize - Self.lengthFieldSize - n, dataOffset: Self.lengthFieldSize + n)

        var entries: [Entry] = []
        entries.reserveCapacity(raw.count)
        for info in raw {
            var shape: [Int] = []
            shape.reserveCapacity(info.shape.count)
            for dim in info.shape {
                guard let d = Int(exactly: dim) else {
                    throw SafetensorsError(.unrepresentableShape, "dimension \(dim) of shape \(info.shape) is larger than Int.max; no PyTorch tensor has such a shape", tensor: info.name, offset: info.nameOffset)
                }
                shape.append(d)
            }
            // Validated: the offsets lie within the file.
            entries.append(Entry(name: info.name, dtype: info.dtype, shape: shape,
                                 dataOffsets: Int(info.begin)..<Int(info.end), headerOffset: info.nameOffset))
        }
        self.byteCount = n
        self.entries = entries
        self.metadata = metadata
    }

    /// `Metadata::validate` and the coverage check of `read_metadata`, on
    /// 64-bit unsigned values as Rust's `usize` on 64-bit machines.
    private static func validate(_ tensors: [RawTensorInfo], dataSize: Int, dataOffset: Int) throws(SafetensorsError) {
        // Sorted by (begin, end) as Rust's `sort_by_key(data_offsets)`; equal
        // keys keep header order (Rust's come from a HashMap, in no order).
        let sorted = tensors.enumerated().sorted { a, b in
            (a.element.begin, a.element.end, a.offset) < (b.element.begin, b.element.end, b.offset)
        }.map(\.element)
        var start: UInt64 = 0
        var previous: String?
        for info in sorted {
            let (s, e) = (info.begin, info.end)
            func fail(_ code: SafetensorsError.Code, _ what: String) -> SafetensorsError {
                SafetensorsError(code, what, tensor: info.name, offset: info.nameOffset)
            }
            if s != start || e < s {
                let why = e < s
                    ? "data_offsets [\(s), \(e)] end before they begin"
                    : "data_offsets [\(s), \(e)] should begin at \(start), where \(previous.map { "tensor `\($0)`" } ?? "the data buffer") \(previous == nil ? "starts" : "ends") (\(s > start ? "a gap" : "an overlap"))"
                throw fail(.invalidOffset, "invalid offset for tensor `\(info.name)`: \(why)")
            }
            start = e
            previous = info.name
            var elements: UInt64 = 1
            for dim in info.shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
                guard !overflow else {
                    throw fail(.validationOverflow, "overflow computing buffer size from shape and/or element type: shape \(info.shape) of \(info.dtype)")
                }
                elements = product
            }
            let (bits, overflow) = elements.multipliedReportingOverflow(by: UInt64(info.dtype.bitSize))
            guard !overflow else {
                throw fail(.validationOverflow, "overflow computing buffer size from shape and/or element type: shape \(info.shape) of \(info.dtype)")
            }
            guard bits % 8 == 0 else {
                throw fail(.misalignedSlice, "The slice is slicing for subbytes dtypes, and the slice does not end up at a byte boundary, this is invalid. (shape \(info.shape) of \(info.dtype) is \(bits) bits)")
            }
            guard e - s == bits / 8 else {
                throw fail(.tensorInvalidInfo, "invalid shape, data type, or offset for tensor: shape \(info.shape) of \(info.dtype) needs \(bits / 8) bytes, data_offsets [\(s), \(e)] hold \(e - s)")
            }
        }
        guard start == UInt64(dataSize) else {
            throw SafetensorsError(.metadataIncompleteBuffer, "incomplete metadata, file not fully covered: the tensors end at data byte \(start), the data buffer has \(dataSize) bytes", offset: dataOffset + Int(min(start, UInt64(dataSize))))
        }
    }
}

/// A safetensors file opened in place: its header validated, its tensors
/// viewing the memory-mapped file.
///
/// ```swift
/// let file = try SafetensorsFile(path: "model.safetensors")
/// for (name, tensor) in file.tensors {
///     print(name, tensor.dtype, tensor.shape)
/// }
/// let weight: [Float] = try file.tensor(named: "fc.weight")!.scalars()
/// ```
///
/// Opening maps the file and reads the header; no tensor data is read or
/// copied. Each tensor is contiguous, with storage offset 0 and a ``Storage``
/// of its own (keyed by the tensor's name) whose bytes point into the map, so
/// only the pages that are read are touched. The mapping lives as long as any
/// tensor or storage does.
///
/// The header is validated exactly as the reference implementation validates
/// it (see ``SafetensorsHeader``). Beyond that, as `safetensors.torch.load_file`
/// does, opening fails for files PyTorch cannot hold: tensors of the F6 types
/// (``SafetensorsError/Code/unsupportedDType``) and F4 tensors whose last
/// dimension is odd or missing (``SafetensorsError/Code/unrepresentableShape``).
/// ``SafetensorsHeader`` reads such files' headers.
public struct SafetensorsFile: Sendable {
    /// Limits that protect against malicious input.
    public struct Options: Sendable {
        /// The largest header length accepted, in bytes (the reference
        /// implementation's 100 000 000 by default).
        public var maximumHeaderSize: Int

        /// Creates options.
        public init(maximumHeaderSize: Int = SafetensorsHeader.defaultMaximumHeaderSize) {
            self.maximumHeaderSize = maximumHeaderSize
        }
    }

    /// The path the file was opened with (``MappedFile/path``).
    public var path: String { file.path }

    /// The mapped file the tensors view.
    public let file: MappedFile

    /// The validated header.
    public let header: SafetensorsHeader

    /// Every tensor with its name, in the order of the header text.
    ///
    /// `safetensors.torch.load_file` orders its dict by data offset instead;
    /// for files safetensors wrote the two orders are the same.
    public let tensors: [(name: String, tensor: Tensor)]

    /// The position of each name in ``tensors``, by bytes.
    private let index: [ByteKey: Int]

    /// The `__metadata__` map in the order of the header text, or nil when there is none.
    public var metadata: [(key: String, value: String)]? { header.metadata }

    /// Opens and maps the file at `path` and validates its header.
    ///
    /// - Throws: ``SafetensorsError``: ``SafetensorsError/Code/cannotOpen`` when
    ///   the file cannot be opened or mapped, otherwise what validation found,
    ///   with the path, the byte offset and the tensor.
    public init(path: String, options: Options = .init()) throws(SafetensorsError) {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw SafetensorsError(.cannotOpen, error.message, path: path)
        }
        defer { file.closeDescriptor() }
        try self.init(file: file, options: options)
    }

    /// Reads a safetensors file that is already mapped (or copied into memory
    /// with `MappedFile(copying:path:)`).
    ///
    /// - Throws: ``SafetensorsError`` naming the file's ``MappedFile/path``.
    public init(file: MappedFile, options: Options = .init()) throws(SafetensorsError) {
        self.file = file
        do {
            header = try SafetensorsHeader(file: file, maximumHeaderSize: options.maximumHeaderSize)
            var tensors: [(name: String, tensor: Tensor)] = []
            tensors.reserveCapacity(header.entries.count)
            for entry in header.entries {
                tensors.append((entry.name, try Self.tensor(for: entry, in: file, dataOffset: header.dataOffset)))
            }
            self.tensors = tensors
            // Names are unique by bytes: the header keeps the last entry of a repeated name.
            index = Dictionary(tensors.enumerated().map { (ByteKey($0.element.name), $0.offset) }, uniquingKeysWith: { $1 })
        } catch {
            throw error.at(path: file.path)
        }
    }

    /// The tensor with exactly this name (compared by bytes, as safetensors
    /// does: `"é"` and `"e\u{301}"` are different names), or nil.
    public func tensor(named name: String) -> Tensor? {
        index[ByteKey(name)].map { tensors[$0].tensor }
    }

    /// Makes the tensor `load_file` would: the PyTorch type, PyTorch's shape
    /// (F4's last dimension halved), contiguous strides.
    private static func tensor(for entry: SafetensorsHeader.Entry, in file: MappedFile, dataOffset: Int) throws(SafetensorsError) -> Tensor {
        guard let dtype = entry.dtype.torchDType else {
            throw SafetensorsError(.unsupportedDType, "PyTorch has no type for \(entry.dtype) elements", tensor: entry.name, offset: entry.headerOffset)
        }
        var shape = entry.shape
        if entry.dtype == .f4 {
            // As `torch_storage_shape` in safetensors' Python binding.
            guard let last = shape.last, last % 2 == 0 else {
                throw SafetensorsError(.unrepresentableShape, "f4_x2 dtype requires that the last dim be divisible by 2 in torch: got \(entry.shape)", tensor: entry.name, offset: entry.headerOffset)
            }
            shape[shape.count - 1] = last / 2
        }
        let start = dataOffset + entry.dataOffsets.lowerBound
        let count = entry.byteCount
        // As torch.save would hold it: a typed storage where torch has a class for the
        // type, otherwise an UntypedStorage of bytes.
        let untyped = dtype.storageClassName == nil
        let storage = Storage(key: entry.name, dtype: untyped ? .uint8 : dtype, isUntyped: untyped, location: "cpu",
                              elementCount: untyped ? count : count / dtype.itemSize, byteOrder: .little) { [file] in
            RawBytes(baseAddress: file.bytes.baseAddress.map { $0 + start }, count: count, owner: file)
        }
        return Tensor(dtype: dtype, shape: shape, stride: Tensor.contiguousStrides(shape), storageOffset: 0, storage: storage)
    }

}

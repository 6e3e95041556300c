/// Why a safetensors file could not be read or written: what was wrong, and where.
///
/// Every error carries a ``Code`` to switch on and a ``message`` written for
/// people. Codes that the reference implementation (safetensors 0.8,
/// `SafeTensorError` in `tensor.rs`) also has are named after it and their
/// messages begin with its text, so that they can be matched against what
/// Python's `safetensors` says; the message then adds the context it leaves
/// out. The context is also available as values: ``path``, ``tensor``,
/// ``offset``.
///
/// ```swift
/// do {
///     let file = try SafetensorsFile(path: "model.safetensors")
/// } catch {
///     print(error)  // "model.safetensors: tensor 'b' at byte 92: invalid offset for tensor `b`: …"
/// }
/// ```
public struct SafetensorsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kinds of problem ``SafetensorsError`` reports.
    public enum Code: String, Sendable, Equatable, Hashable {
        // Reading: the reference implementation's checks, in the order it makes them.

        /// The file is shorter than the 8-byte header length (`HeaderTooSmall`).
        case headerTooSmall
        /// The header length is over the limit, 100 000 000 bytes unless
        /// ``SafetensorsFile/Options/maximumHeaderSize`` says otherwise; also
        /// a header `SafetensorsWriter` would write over that limit (`HeaderTooLarge`).
        case headerTooLarge
        /// The header runs past the end of the file (`InvalidHeaderLength`).
        case invalidHeaderLength
        /// The header is not UTF-8 (`InvalidHeader`).
        case invalidHeaderUTF8
        /// The header is not JSON, or not the JSON object safetensors describes:
        /// unknown dtype, missing field, wrong type, duplicate field
        /// (`InvalidHeaderDeserialization`).
        case invalidHeaderJSON
        /// A tensor's `data_offsets` do not begin where the previous tensor's
        /// end (sorted by offset, from 0), or end before they begin: a gap or an
        /// overlap (`InvalidOffset`).
        case invalidOffset
        /// The element count or bit count of a shape overflows 64 bits (`ValidationOverflow`).
        case validationOverflow
        /// A packed type's tensor does not fill whole bytes (`MisalignedSlice`).
        case misalignedSlice
        /// A tensor's byte count (`data_offsets`) is not its shape's element
        /// count times the element size (`TensorInvalidInfo`).
        case tensorInvalidInfo
        /// The tensors do not cover the data buffer up to the end of the file (`MetadataIncompleteBuffer`).
        case metadataIncompleteBuffer

        // Reading: valid files that PyTorch cannot hold (load_file fails on them too).

        /// The tensor's type has no PyTorch equivalent (the F6 types), or,
        /// when writing, the PyTorch type has no safetensors equivalent
        /// (complex32, complex128, quantized, bits, sub-byte integers).
        case unsupportedDType
        /// The shape cannot be a PyTorch tensor's: a dimension over `Int.max`,
        /// or an F4 tensor whose last dimension is odd or missing.
        case unrepresentableShape

        // Files.

        /// The file could not be opened or mapped.
        case cannotOpen
        /// A file could not be written; the destination is unchanged unless the message says otherwise.
        case io

        // Writing: what `save_file` refuses, and what it cannot be given.

        /// Two tensors have the same name, or two metadata entries the same key
        /// (names are compared as bytes, as safetensors does).
        case duplicateName
        /// A tensor is named `__metadata__`, the header's key for the metadata.
        case reservedName
        /// Tensors view overlapping bytes of one storage; `save_file` refuses
        /// them ("Some tensors share memory"). See ``SafetensorsError/sharedTensors``.
        case sharedStorage
        /// A tensor has no dense data to write: sparse, meta, or without a storage.
        case unsupportedTensor
        /// A tensor's elements could not be read (storage too short, negative
        /// strides, or the storage failed to load).
        case tensorData
        /// A tensor is a view larger than its storage (a stride-0 dimension
        /// from `expand`, an overlapping `as_strided`) whose logical elements,
        /// which safetensors stores one by one, take more bytes than
        /// ``SafetensorsWriter/Options/expandedViewLimit`` allows.
        case expandedViewOverLimit
    }

    /// What kind of problem was found.
    public let code: Code

    /// A sentence that says what was wrong and where.
    public let message: String

    /// The file concerned, when there is one.
    public let path: String?

    /// The tensor concerned, when the problem concerns one.
    public let tensor: String?

    /// The byte offset in the file where the problem was found, where meaningful.
    public let offset: Int?

    /// For ``Code/sharedStorage``: each group of tensor names that share
    /// memory, sorted by name, groups sorted by their first name.
    public let sharedTensors: [[String]]

    /// Creates an error, composing ``message`` from `what` and the context.
    ///
    /// - Parameters:
    ///   - code: The kind of problem.
    ///   - what: What was wrong, without the location.
    ///   - path: The file, when there is one.
    ///   - tensor: The tensor name, when the problem concerns one tensor.
    ///   - offset: The byte offset in the file, when one is meaningful.
    ///   - sharedTensors: The groups of names sharing memory, for ``Code/sharedStorage``.
    public init(_ code: Code, _ what: String, path: String? = nil, tensor: String? = nil, offset: Int? = nil,
                sharedTensors: [[String]] = []) {
        self.code = code
        self.path = path
        self.tensor = tensor
        self.offset = offset
        self.sharedTensors = sharedTensors
        var context: [String] = []
        if let tensor { context.append("tensor '\(tensor)'") }
        if let offset { context.append("at byte \(offset)") }
        var text = context.isEmpty ? what : context.joined(separator: " ") + ": " + what
        if let path { text = path + ": " + text }
        self.message = text
    }

    /// The same error, naming `path` as its file (unchanged when it already names one).
    func at(path: String) -> SafetensorsError {
        guard self.path == nil else { return self }
        return SafetensorsError(code: code, message: path + ": " + message, path: path, tensor: tensor,
                                offset: offset, sharedTensors: sharedTensors)
    }

    private init(code: Code, message: String, path: String?, tensor: String?, offset: Int?, sharedTensors: [[String]]) {
        self.code = code
        self.message = message
        self.path = path
        self.tensor = tensor
        self.offset = offset
        self.sharedTensors = sharedTensors
    }

    /// The ``message``.
    public var description: String { message }
}

/// The byte order of stored elements.
public enum ByteOrder: String, Sendable {
    /// Least significant byte first (every PyTorch file unless it says otherwise).
    case little
    /// Most significant byte first (a `byteorder` record saying `big`).
    case big

    /// The byte order of this machine.
    public static var native: ByteOrder { 1.littleEndian == 1 ? .little : .big }
}

extension ByteOrder {
    /// Reverses the bytes of each whole `unit`-byte element of `buffer`, in
    /// place: the other byte order. Bytes past the last whole element stay as
    /// they are; a `unit` of 1 or less changes nothing.
    public static func swapElements(_ buffer: UnsafeMutableRawBufferPointer, unit: Int) {
        guard unit > 1 else { return }
        var i = 0
        while i + unit <= buffer.count {
            var lo = i, hi = i + unit - 1
            while lo < hi {
                buffer.swapAt(lo, hi)
                lo += 1
                hi -= 1
            }
            i += unit
        }
    }
}

/// A storage: the flat bytes that one or more tensors view.
///
/// A storage shared by several tensors (views, tied weights) is one object,
/// read once. Its bytes are loaded on demand from the checkpoint — for a
/// stored zip record, straight from the memory-mapped file.
public final class Storage: Sendable {
    /// The key the pickle gives the storage (`"0"`, `"1"`, … in zip files);
    /// its record is `data/<key>`.
    public let key: String
    /// The element type the storage was saved with (`uint8` for `UntypedStorage`).
    public let dtype: DType
    /// Whether the pickle named `UntypedStorage` (sizes in bytes) rather than a typed storage class.
    public let isUntyped: Bool
    /// The location tag, such as `cpu` or `cuda:0`.
    public let location: String
    /// The number of elements the pickle declares (bytes for an untyped storage).
    public let elementCount: Int
    /// The byte order of the stored bytes.
    public let byteOrder: ByteOrder
    private let loader: Loader

    /// Where the bytes come from: a closure, or a record of a source that
    /// serves every storage of a file (no closure made per storage).
    private enum Loader: Sendable {
        case closure(@Sendable () throws -> RawBytes)
        case record(any StorageRecordSource, Int)
    }

    /// Creates a storage whose bytes `loader` provides (at least ``byteCount`` of them).
    ///
    /// An untyped storage (`isUntyped`) has dtype `uint8` and counts bytes, as
    /// `torch.UntypedStorage` does; tensors of other types view it through
    /// `_rebuild_tensor_v3`.
    public convenience init(key: String, dtype: DType, isUntyped: Bool, location: String, elementCount: Int,
                            byteOrder: ByteOrder = .little, loader: @escaping @Sendable () throws -> RawBytes) {
        self.init(key: key, dtype: dtype, isUntyped: isUntyped, location: location, elementCount: elementCount,
                  byteOrder: byteOrder, loader: .closure(loader))
    }

    /// Creates a storage whose bytes are record `record` of `source`.
    package convenience init(key: String, dtype: DType, isUntyped: Bool, location: String, elementCount: Int,
                             byteOrder: ByteOrder, record: Int, of source: any StorageRecordSource) {
        self.init(key: key, dtype: dtype, isUntyped: isUntyped, location: location, elementCount: elementCount,
                  byteOrder: byteOrder, loader: .record(source, record))
    }

    private init(key: String, dtype: DType, isUntyped: Bool, location: String, elementCount: Int,
                 byteOrder: ByteOrder, loader: Loader) {
        self.key = key
        self.dtype = dtype
        self.isUntyped = isUntyped
        self.location = location
        self.elementCount = elementCount
        self.byteOrder = byteOrder
        self.loader = loader
    }

    /// Creates a storage over bytes in memory for tensors of `dtype`: a typed
    /// storage when `torch.save` has a storage class for the type
    /// (`FloatStorage`), otherwise an `UntypedStorage` of bytes, as torch
    /// writes uint16, float8 and the other newer types.
    public convenience init(key: String, dtype: DType, bytes: RawBytes, location: String = "cpu", byteOrder: ByteOrder = .little) {
        let typed = dtype.storageClassName != nil
        self.init(key: key, dtype: typed ? dtype : .uint8, isUntyped: !typed, location: location,
                  elementCount: typed ? bytes.count / dtype.itemSize : bytes.count,
                  byteOrder: byteOrder, loader: { bytes })
    }

    /// The size in bytes: ``elementCount`` × the element size.
    public var byteCount: Int { elementCount &* dtype.itemSize }

    /// The device the storage was saved from.
    public var device: Device { Device(location: location) }

    /// The storage's bytes exactly as stored (in ``byteOrder``), without copying when
    /// the checkpoint's record is stored uncompressed.
    public func bytes() throws -> RawBytes {
        let raw: RawBytes
        switch loader {
        case .closure(let load): raw = try load()
        case .record(let source, let record): raw = try source.bytes(ofRecord: record)
        }
        return raw.count == byteCount ? raw : raw.slice(0..<min(raw.count, byteCount))
    }
}

/// What holds the records of a file's storages (a zip archive): one object
/// for all of them.
package protocol StorageRecordSource: AnyObject, Sendable {
    /// The bytes of a record, by its number in the file.
    func bytes(ofRecord record: Int) throws -> RawBytes
}

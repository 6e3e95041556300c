#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension Tensor {
    /// A contiguous tensor holding a copy of `data`: little-endian elements,
    /// row-major (`torch.frombuffer(data, dtype=…).reshape(shape)`, copied).
    ///
    /// - Throws: ``TensorError`` when the shape needs another number of bytes.
    public convenience init(data: Data, dtype: DType, shape: [Int], requiresGrad: Bool = false) throws {
        try self.init(bytes: [UInt8](data), dtype: dtype, shape: shape, requiresGrad: requiresGrad)
    }

    /// The logical elements as contiguous bytes (row-major, in `byteOrder`),
    /// as `Data`; a view larger than its storage only up to
    /// `expandedViewLimit` logical bytes.
    public func data(byteOrder: ByteOrder = .little, expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) throws -> Data {
        Data(try contiguousBytes(byteOrder: byteOrder, expandedViewLimit: expandedViewLimit))
    }
}

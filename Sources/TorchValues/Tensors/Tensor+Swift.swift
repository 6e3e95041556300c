#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Tensors as Swift code makes and reshapes them, in PyTorch's words.
///
/// ```swift
/// let w = Tensor.zeros([10, 4])                        // torch.zeros(10, 4)
/// let b = Tensor.arange(10, dtype: .float32)           // torch.arange(10, dtype=torch.float32)
/// let m = try Tensor([[1, 2], [3, 4]] as [[Float]])    // torch.tensor([[1., 2.], [3., 4.]])
/// let t = try m.transposed(0, 1).contiguous()          // m.transpose(0, 1).contiguous()
/// let h = try m.to(.float16)                           // m.to(torch.float16)
/// ```
///
/// Factories for a shape that is valid cannot fail, so they do not throw: a
/// negative dimension is a programming error, as a negative count is for
/// `Array(repeating:count:)`. Views (``reshaped(_:)`` of a contiguous
/// tensor, ``transposed(_:_:)``, ``permuted(_:)``) share the storage and are
/// saved as views, as PyTorch saves them.
extension Tensor {
    // MARK: Factories

    /// A tensor of `shape` with every element `value` (`torch.full`).
    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32, requiresGrad: Bool = false) -> Tensor {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(dtype.elementsPerByte == 1 && !dtype.isComplex && !dtype.isQuantized, "full of \(dtype.name) is not supported")
        let count = shape.reduce(1, *)
        let one = encode(value, as: dtype)
        var bytes = [UInt8]()
        bytes.reserveCapacity(count * one.count)
        for _ in 0..<count { bytes += one }
        return fromBytes(bytes, dtype: dtype, shape: shape, requiresGrad: requiresGrad)
    }

    /// A tensor of zeros (`torch.zeros`).
    public static func zeros(_ shape: [Int], dtype: DType = .float32, requiresGrad: Bool = false) -> Tensor {
        full(shape, 0, dtype: dtype, requiresGrad: requiresGrad)
    }

    /// A tensor of ones (`torch.ones`).
    public static func ones(_ shape: [Int], dtype: DType = .float32, requiresGrad: Bool = false) -> Tensor {
        full(shape, 1, dtype: dtype, requiresGrad: requiresGrad)
    }

    /// `start, start + step, …` up to but excluding `end` (`torch.arange`);
    /// int64 by default, as `torch.arange` of integers.
    public static func arange(_ start: Double = 0, _ end: Double, step: Double = 1, dtype: DType = .int64) -> Tensor {
        precondition(step != 0, "arange step must be nonzero")
        let count = max(0, Int(((end - start) / step).rounded(.up)))
        let values = (0..<count).map { start + Double($0) * step }
        return fromDoubles(values, dtype: dtype, shape: [count])
    }

    /// `0, 1, …, end - 1` (`torch.arange(end)`).
    public static func arange(_ end: Int, dtype: DType = .int64) -> Tensor {
        arange(0, Double(end), dtype: dtype)
    }

    /// Normally distributed values, mean 0 and standard deviation 1, from a
    /// seeded generator: the same seed gives the same values on every
    /// machine. (Not PyTorch's generator: `torch.manual_seed(s); torch.randn`
    /// gives other values.)
    public static func randn(_ shape: [Int], seed: UInt64 = 0, dtype: DType = .float32, requiresGrad: Bool = false) -> Tensor {
        var generator = SplitMix64(seed: seed)
        let count = shape.reduce(1, *)
        var values: [Double] = []
        values.reserveCapacity(count)
        while values.count < count {
            // Box–Muller, two values per pair of uniforms.
            let u1 = max(generator.unit(), .leastNonzeroMagnitude), u2 = generator.unit()
            let r = (-2 * log(u1)).squareRoot()
            values.append(r * cos(2 * .pi * u2))
            if values.count < count { values.append(r * sin(2 * .pi * u2)) }
        }
        return fromDoubles(values, dtype: dtype, shape: shape, requiresGrad: requiresGrad)
    }

    /// Uniform values in [0, 1) from a seeded generator (see ``randn(_:seed:dtype:requiresGrad:)``).
    public static func rand(_ shape: [Int], seed: UInt64 = 0, dtype: DType = .float32, requiresGrad: Bool = false) -> Tensor {
        var generator = SplitMix64(seed: seed)
        let values = (0..<shape.reduce(1, *)).map { _ in generator.unit() }
        return fromDoubles(values, dtype: dtype, shape: shape, requiresGrad: requiresGrad)
    }

    // MARK: From Swift values and memory

    /// A 0-d tensor holding one value (`torch.tensor(3.5)`).
    public convenience init<T: TensorScalar>(_ value: T) throws {
        try self.init(scalars: [value], shape: [])
    }

    /// A 1-d tensor of the values (`torch.tensor([1., 2.])`).
    public convenience init<T: TensorScalar>(_ values: [T]) throws {
        try self.init(scalars: values, shape: [values.count])
    }

    /// A 2-d tensor of rows of equal length (`torch.tensor([[1., 2.], [3., 4.]])`).
    ///
    /// - Throws: ``TensorError`` when the rows differ in length.
    public convenience init<T: TensorScalar>(_ rows: [[T]]) throws {
        let width = rows.first?.count ?? 0
        guard rows.allSatisfy({ $0.count == width }) else {
            throw TensorError("rows of lengths \(rows.map(\.count)) do not make a tensor: every row needs \(width) elements")
        }
        try self.init(scalars: rows.flatMap { $0 }, shape: [rows.count, width])
    }

    /// A 3-d tensor of equally shaped matrices.
    ///
    /// - Throws: ``TensorError`` when the matrices or their rows differ in shape.
    public convenience init<T: TensorScalar>(_ planes: [[[T]]]) throws {
        let rows = planes.first?.count ?? 0, width = planes.first?.first?.count ?? 0
        guard planes.allSatisfy({ $0.count == rows && $0.allSatisfy { $0.count == width } }) else {
            throw TensorError("nested arrays of unequal shapes do not make a tensor: every matrix needs \(rows) rows of \(width)")
        }
        try self.init(scalars: planes.flatMap { $0.flatMap { $0 } }, shape: [planes.count, rows, width])
    }

    /// A tensor that copies its little-endian elements from memory.
    public convenience init(copying bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int], requiresGrad: Bool = false) throws {
        try self.init(bytes: Array(bytes), dtype: dtype, shape: shape, requiresGrad: requiresGrad)
    }

    /// A tensor over memory you own, without copying: `owner` keeps `bytes`
    /// valid and unchanged for as long as the tensor (and any checkpoint
    /// saving it) may read them. The elements are little-endian, row-major.
    ///
    /// ```swift
    /// final class Weights { let buffer: UnsafeMutableRawBufferPointer … deinit { buffer.deallocate() } }
    /// let t = try Tensor(borrowing: UnsafeRawBufferPointer(weights.buffer), owner: weights, dtype: .float32, shape: [256, 256])
    /// ```
    ///
    /// - Throws: ``TensorError`` when the shape needs another number of bytes.
    public convenience init(borrowing bytes: UnsafeRawBufferPointer, owner: AnyObject, dtype: DType, shape: [Int],
                            requiresGrad: Bool = false) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw TensorError("negative size in \(shape)") }
        let expected = Tensor.byteCount(shape: shape, dtype: dtype)
        guard let expected, bytes.count == expected else {
            throw TensorError("shape \(shape) of \(dtype.name) needs \(expected.map(String.init) ?? "more than Int.max") bytes, got \(bytes.count)")
        }
        let raw = RawBytes(baseAddress: bytes.baseAddress, count: bytes.count, owner: owner)
        let storage = Storage(key: "0", dtype: dtype, bytes: raw)
        self.init(dtype: dtype, shape: shape, stride: Tensor.contiguousStrides(shape), storage: storage, requiresGrad: requiresGrad)
    }

    // MARK: Views and copies

    /// The same elements with another shape (`tensor.reshape`): a view when
    /// the tensor is contiguous, otherwise a contiguous copy. One dimension
    /// may be `-1`, inferred from the others.
    ///
    /// - Throws: ``TensorError`` when the shapes hold different numbers of elements.
    public func reshaped(_ shape: [Int]) throws -> Tensor {
        let count = elementCount
        var shape = shape
        if let unknown = shape.firstIndex(of: -1) {
            let known = shape.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 * $1.element }
            guard known > 0, count % known == 0, shape.filter({ $0 == -1 }).count == 1 else {
                throw TensorError("shape '\(shape)' is invalid for input of size \(count)")
            }
            shape[unknown] = count / known
        }
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == count else {
            throw TensorError("shape '\(shape)' is invalid for input of size \(count)")
        }
        let source = isContiguous ? self : try contiguous()
        return try source.view(shape: shape, stride: Tensor.contiguousStrides(shape), storageOffset: source.storageOffset)
    }

    /// The view with two dimensions swapped (`tensor.transpose(d0, d1)`;
    /// negative dimensions count from the end).
    public func transposed(_ d0: Int, _ d1: Int) throws -> Tensor {
        var order = Array(shape.indices)
        let a = try dimension(d0), b = try dimension(d1)
        order.swapAt(a, b)
        return try permuted(order)
    }

    /// The view with its dimensions in another order (`tensor.permute(dims)`).
    public func permuted(_ dims: [Int]) throws -> Tensor {
        guard dims.count == shape.count else {
            throw TensorError("permute(): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = \(shape.count) is not equal to len(dims) = \(dims.count)")
        }
        let order = try dims.map(dimension)
        guard Set(order).count == order.count else { throw TensorError("permute(): duplicate dims are not allowed.") }
        guard let storage, layout == .strided, quantization == nil else {
            throw TensorError("views of a \(quantization != nil ? "quantized" : layout.rawValue) tensor are not supported")
        }
        return Tensor(dtype: dtype, shape: order.map { shape[$0] }, stride: order.map { stride[$0] }, storageOffset: storageOffset,
                      storage: storage, device: device, requiresGrad: requiresGrad, isConjugated: isConjugated, isNegated: isNegated)
    }

    /// A contiguous tensor of the same elements (`tensor.contiguous()`):
    /// the tensor itself when it is contiguous, otherwise a copy with its
    /// own storage (conjugate and negative bits resolved). A view larger
    /// than its storage is copied only up to `expandedViewLimit` logical bytes.
    public func contiguous(expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) throws -> Tensor {
        if isContiguous && !isConjugated && !isNegated { return self }
        guard layout == .strided, storage != nil else { throw TensorError("a \(layout.rawValue) tensor has no elements to copy") }
        guard quantization == nil else { throw TensorError("contiguous() of a quantized tensor is not supported") }
        let bytes = try contiguousBytes(byteOrder: .little, expandedViewLimit: expandedViewLimit)
        return try Tensor(bytes: bytes, dtype: dtype, shape: shape, requiresGrad: requiresGrad)
            .with(isParameter: isParameter, device: device)
    }

    /// A dimension index, Python style: `-1` is the last.
    package func dimension(_ d: Int) throws -> Int {
        let n = shape.count
        guard (-max(n, 1)..<max(n, 1)).contains(d) else {
            throw TensorError("Dimension out of range (expected to be in range of [\(-max(n, 1)), \(max(n, 1) - 1)], but got \(d))")
        }
        return d < 0 ? d + n : d
    }

    // MARK: Casts, as torch names them

    /// The tensor with elements of another type (`tensor.to(dtype)`): itself
    /// when the type is the same; floating-point to floating-point as
    /// PyTorch's kernels round (NaN bits included, see
    /// ``converted(toFloatingPoint:expandedViewLimit:)``); otherwise as
    /// ``converted(to:expandedViewLimit:)`` (floats to integers truncate toward zero).
    public func to(_ target: DType, expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) throws -> Tensor {
        if target == dtype { return self }
        if dtype.isFloatingPoint && [.float16, .bfloat16, .float32, .float64].contains(target) {
            return try converted(toFloatingPoint: target, expandedViewLimit: expandedViewLimit)
        }
        return try converted(to: target, expandedViewLimit: expandedViewLimit)
    }

    /// `tensor.float()`: float32.
    public func float() throws -> Tensor { try to(.float32) }
    /// `tensor.double()`: float64.
    public func double() throws -> Tensor { try to(.float64) }
    /// `tensor.half()`: float16.
    public func half() throws -> Tensor { try to(.float16) }
    /// `tensor.bfloat16()`.
    public func bfloat16() throws -> Tensor { try to(.bfloat16) }
    /// `tensor.long()`: int64.
    public func long() throws -> Tensor { try to(.int64) }
    /// `tensor.int()`: int32.
    public func int() throws -> Tensor { try to(.int32) }
    /// `tensor.bool()`.
    public func bool() throws -> Tensor { try to(.bool) }

    // MARK: Helpers

    package static func fromBytes(_ bytes: [UInt8], dtype: DType, shape: [Int], requiresGrad: Bool = false) -> Tensor {
        let storage = Storage(key: "0", dtype: dtype, bytes: RawBytes(bytes))
        return Tensor(dtype: dtype, shape: shape, stride: Tensor.contiguousStrides(shape), storage: storage, requiresGrad: requiresGrad)
    }

    package static func fromDoubles(_ values: [Double], dtype: DType, shape: [Int], requiresGrad: Bool = false) -> Tensor {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * dtype.itemSize)
        for v in values { bytes += encode(v, as: dtype) }
        return fromBytes(bytes, dtype: dtype, shape: shape, requiresGrad: requiresGrad)
    }

    /// One element's little-endian bytes, as `torch.tensor(value, dtype=…)` stores it.
    package static func encode(_ value: Double, as dtype: DType) -> [UInt8] {
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        func int<T: FixedWidthInteger>(_ type: T.Type) -> [UInt8] {
            let t = value.rounded(.towardZero)
            precondition(t.isFinite && t >= Double(T.min) && t <= Double(T.max), "\(value) does not fit \(dtype.name)")
            return le(T(t))
        }
        switch dtype {
        case .float64: return le(value.bitPattern)
        case .float32: return le(Float(value).bitPattern)
        case .float16: return le(ScalarEncoding.float16(Float(value)))
        case .bfloat16: return le(ScalarEncoding.bfloat16(Float(value)))
        case .int64: return int(Int64.self)
        case .int32: return int(Int32.self)
        case .int16: return int(Int16.self)
        case .int8: return int(Int8.self)
        case .uint8: return int(UInt8.self)
        case .uint16: return int(UInt16.self)
        case .uint32: return int(UInt32.self)
        case .uint64: return int(UInt64.self)
        case .bool: return [value != 0 ? 1 : 0]
        default: preconditionFailure("building a \(dtype.name) tensor from numbers is not supported")
        }
    }
}

/// SplitMix64: small, fast and the same on every platform (the seeded
/// factories' generator, and the tests').
package struct SplitMix64: RandomNumberGenerator {
    package var state: UInt64
    package init(seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A uniform double in [0, 1) with 53 random bits.
    package mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
}

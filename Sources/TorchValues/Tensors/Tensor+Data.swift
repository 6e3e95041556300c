extension Tensor {
    /// The storage's bytes as stored (byte order ``Storage/byteOrder``), borrowed
    /// without copying: zero-copy access for tensors that are contiguous.
    ///
    /// Throws for tensors without a storage (sparse, meta).
    public func storageBytes() throws -> RawBytes {
        guard let storage else {
            throw TensorError("a \(layout == .strided ? "meta" : layout.rawValue) tensor has no storage to read")
        }
        return try storage.bytes()
    }

    /// Streams the tensor's logical elements in row-major (C-contiguous)
    /// order, in the requested byte order, whatever the strides and
    /// storage sharing. A contiguous tensor in the right byte order is handed
    /// over in place; otherwise elements are gathered into chunks of at most
    /// `chunkBytes`.
    ///
    /// With `resolvingBits`, a tensor whose conjugate or negative bit is set
    /// yields the values it represents (as `resolve_conj().resolve_neg()`);
    /// without, the values as stored. Packed quantized types (`quint4x2`,
    /// `quint2x4`) yield their packed bytes, as `int_repr()` does.
    ///
    /// A view larger than its storage (``isExpandedView``: a stride-0
    /// dimension, an overlapping `as_strided`) is streamed only when its
    /// logical elements take at most `expandedViewLimit` bytes; otherwise
    /// this throws ``TensorError/Code/expandedViewOverLimit`` before reading
    /// anything. A stride-0 dimension is streamed by repeating what it
    /// repeats, not element by element.
    public func forEachContiguousChunk(byteOrder: ByteOrder = .little, chunkBytes: Int = 1 << 20, resolvingBits: Bool = true,
                                       expandedViewLimit: Int = Tensor.defaultExpandedViewLimit,
                                       _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard layout == .strided else { throw TensorError("a \(layout.rawValue) tensor is not strided") }
        let count = elementCount
        if count == 0 { return }
        try checkExpandedView(limit: expandedViewLimit)
        let raw = try storageBytes()
        let itemSize = dtype.itemSize
        if dtype.elementsPerByte > 1 {
            guard isContiguous, storageOffset % dtype.elementsPerByte == 0 else {
                throw TensorError("a non-contiguous \(dtype.name) tensor cannot be read: its elements are packed")
            }
            let start = storageOffset / dtype.elementsPerByte
            try raw.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + byteCount)])) }
            return
        }
        let swap = try storageByteOrder() != byteOrder && dtype.byteSwapUnit > 1
        let flips = resolvingBits && (isConjugated || isNegated)
        try raw.withUnsafeBytes { bytes in
            if isContiguous && !swap && !flips {
                let start = storageOffset * itemSize
                let all = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count * itemSize)])
                var offset = 0
                let step = max(chunkBytes - chunkBytes % itemSize, itemSize)
                while offset < all.count {
                    let end = min(offset + step, all.count)
                    try body(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                    offset = end
                }
                return
            }
            let capacity = max(min(chunkBytes, count * itemSize) / itemSize, 1) * itemSize
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
            defer { buffer.deallocate() }
            var filled = 0
            func flush() throws {
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<filled])
                if swap { ByteOrder.swapElements(chunk, unit: dtype.byteSwapUnit) }
                if flips { try resolveBits(chunk, byteOrder: byteOrder) }
                try body(UnsafeRawBufferPointer(rebasing: buffer[0..<filled]))
                filled = 0
            }
            try forEachRow { rowStart, rowCount, rowStride in
                if rowStride == 1 {
                    // A contiguous run: copy it in as few pieces as the buffer allows.
                    var done = 0
                    while done < rowCount {
                        let n = min(rowCount - done, (capacity - filled) / itemSize)
                        let src = (rowStart + done) * itemSize
                        (buffer.baseAddress! + filled).copyMemory(from: bytes.baseAddress! + src, byteCount: n * itemSize)
                        filled += n * itemSize
                        done += n
                        if filled == capacity { try flush() }
                    }
                } else if rowStride == 0 {
                    // One element repeated (expand): copy it once, then double what is in the buffer.
                    var done = 0
                    let src = bytes.baseAddress! + rowStart * itemSize
                    while done < rowCount {
                        let n = min(rowCount - done, (capacity - filled) / itemSize)
                        let start = buffer.baseAddress! + filled
                        start.copyMemory(from: src, byteCount: itemSize)
                        var have = 1
                        while have < n {
                            let more = min(have, n - have)
                            (start + have * itemSize).copyMemory(from: start, byteCount: more * itemSize)
                            have += more
                        }
                        filled += n * itemSize
                        done += n
                        if filled == capacity { try flush() }
                    }
                } else {
                    for i in 0..<rowCount {
                        let src = (rowStart + i * rowStride) * itemSize
                        (buffer.baseAddress! + filled).copyMemory(from: bytes.baseAddress! + src, byteCount: itemSize)
                        filled += itemSize
                        if filled == capacity { try flush() }
                    }
                }
            }
            if filled > 0 { try flush() }
        }
    }

    /// The logical elements as contiguous bytes in the requested byte order (a copy).
    ///
    /// A view larger than its storage is copied only up to
    /// `expandedViewLimit` logical bytes (see
    /// ``forEachContiguousChunk(byteOrder:chunkBytes:resolvingBits:expandedViewLimit:_:)``).
    public func contiguousBytes(byteOrder: ByteOrder = .native,
                                expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) throws -> [UInt8] {
        try checkExpandedView(limit: expandedViewLimit)
        var out: [UInt8] = []
        out.reserveCapacity(byteCount)
        try forEachContiguousChunk(byteOrder: byteOrder, expandedViewLimit: expandedViewLimit) { out.append(contentsOf: $0) }
        return out
    }

    /// Copies the elements into a Swift array in row-major order, converting
    /// them to `T` (float16, bfloat16 and float8 widen to `Float`; integers and
    /// floats convert as `tensor.to(dtype)` does). For a quantized tensor the
    /// elements are its integer representation (`int_repr()`).
    ///
    /// Throws for complex tensors (use ``complexScalars(expandedViewLimit:)``),
    /// for packed sub-byte types (read
    /// ``contiguousBytes(byteOrder:expandedViewLimit:)``), for a value the
    /// target type cannot represent, and for a view larger than its storage
    /// whose logical elements take more than `expandedViewLimit` bytes
    /// (``TensorError/Code/expandedViewOverLimit``, before allocating).
    public func scalars<T: TensorScalar>(as type: T.Type = T.self,
                                         expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) throws -> [T] {
        try checkExpandedView(limit: expandedViewLimit)
        let count = elementCount
        if T.dtype == dtype || (dtype.isQuantized && T.dtype == dtype.integerRepresentation) {
            // The elements go straight into the array: one copy, from the
            // mapped file when the tensor is contiguous.
            return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                guard let destination = UnsafeMutableRawPointer(buffer.baseAddress) else { return }
                let capacity = count * MemoryLayout<T>.stride
                var offset = 0
                try forEachContiguousChunk(byteOrder: .native, expandedViewLimit: expandedViewLimit) { chunk in
                    guard let source = chunk.baseAddress else { return }
                    guard chunk.count <= capacity - offset else {
                        throw TensorError("a \(dtype.name) tensor of \(count) elements yielded more than \(capacity) bytes")
                    }
                    (destination + offset).copyMemory(from: source, byteCount: chunk.count)
                    offset += chunk.count
                }
                guard offset == capacity else {
                    throw TensorError("a \(dtype.name) tensor of \(count) elements yielded \(offset) of \(capacity) bytes")
                }
                initialized = count
            }
        }
        let bytes = try contiguousBytes(byteOrder: .native, expandedViewLimit: expandedViewLimit)
        let decode = try elementDecoder()
        var out: [T] = []
        out.reserveCapacity(count)
        try bytes.withUnsafeBytes { raw in
            for i in 0..<count {
                let element = decode(raw.baseAddress! + i * dtype.itemSize)
                let converted: T? = switch element {
                case .floating(let d): T(fromFloatingPoint: d)
                case .signed(let v): T(fromInteger: v)
                case .unsigned(let v): T(fromUnsignedInteger: v)
                }
                guard let converted else {
                    throw TensorError("element \(i) (\(element)) of a \(dtype.name) tensor cannot be represented as \(T.self)")
                }
                out.append(converted)
            }
        }
        return out
    }

    /// Copies the elements of a complex tensor (or any real tensor, with zero
    /// imaginary parts), with the conjugate and negative bits resolved; a
    /// view larger than its storage only up to `expandedViewLimit` logical bytes.
    public func complexScalars(expandedViewLimit: Int = Tensor.defaultExpandedViewLimit) throws -> [Complex] {
        let bytes = try contiguousBytes(byteOrder: .native, expandedViewLimit: expandedViewLimit)
        let count = elementCount
        let half = dtype.isComplex ? dtype.itemSize / 2 : 0
        let part: (UnsafeRawPointer) -> Double
        switch dtype {
        case .complex128: part = { $0.loadUnaligned(as: Double.self) }
        case .complex64: part = { Double($0.loadUnaligned(as: Float.self)) }
        case .complex32: part = { Double(ScalarDecoding.float16($0.loadUnaligned(as: UInt16.self))) }
        case .bcomplex32: part = { Double(ScalarDecoding.bfloat16($0.loadUnaligned(as: UInt16.self))) }
        default:
            let real: [Double] = try scalars(as: Double.self, expandedViewLimit: expandedViewLimit)
            return real.map { Complex(real: $0, imag: 0) }
        }
        return bytes.withUnsafeBytes { raw in
            (0..<count).map { i in
                let p = raw.baseAddress! + i * dtype.itemSize
                return Complex(real: part(p), imag: part(p + half))
            }
        }
    }

    // MARK: Helpers

    /// Applies the conjugate and negative bits to elements laid out in `byteOrder`:
    /// negation flips the sign of every component, conjugation of the imaginary one.
    package func resolveBits(_ chunk: UnsafeMutableRawBufferPointer, byteOrder: ByteOrder) throws {
        let unit = dtype.byteSwapUnit
        let signByte = byteOrder == .little ? unit - 1 : 0
        guard dtype.isFloatingPoint || dtype.isComplex else {
            throw TensorError("a \(dtype.name) tensor with the \(isNegated ? "negative" : "conjugate") bit cannot be resolved")
        }
        var i = 0
        while i < chunk.count {
            if dtype.isComplex {
                if isNegated { chunk[i + signByte] ^= 0x80 }
                if isNegated != isConjugated { chunk[i + unit + signByte] ^= 0x80 }
            } else if isNegated {
                chunk[i + signByte] ^= 0x80
            }
            i += dtype.itemSize
        }
    }

    /// The byte order of the storage (little for tensors built in memory).
    package func storageByteOrder() throws -> ByteOrder { storage?.byteOrder ?? .little }

    /// Calls `body` for each innermost row: its first storage element, its
    /// length and its stride. Rows come in row-major order.
    package func forEachRow(_ body: (Int, Int, Int) throws -> Void) rethrows {
        try Self.forEachRow(shape: shape, stride: stride, offset: storageOffset, body)
    }

    /// Calls `body` for each innermost row of elements laid out by `shape`
    /// and `stride` from `offset`: its first element, its length and its
    /// stride, in row-major order (once, with length 1, for no dimensions).
    package static func forEachRow(shape: [Int], stride: [Int], offset: Int,
                                   _ body: (Int, Int, Int) throws -> Void) rethrows {
        if shape.isEmpty {
            try body(offset, 1, 1)
            return
        }
        let last = shape.count - 1
        let rowCount = shape[last], rowStride = stride[last]
        var index = [Int](repeating: 0, count: last)
        var start = offset
        while true {
            try body(start, rowCount, rowStride)
            // Advance the odometer over the outer dimensions.
            var d = last - 1
            while d >= 0 {
                index[d] += 1
                start += stride[d]
                if index[d] < shape[d] { break }
                start -= stride[d] * shape[d]
                index[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }

    package enum Element: CustomStringConvertible {
        case floating(Double), signed(Int64), unsigned(UInt64)
        package var description: String {
            switch self {
            case .floating(let d): "\(d)"
            case .signed(let v): "\(v)"
            case .unsigned(let v): "\(v)"
            }
        }
    }

    /// Reads one element in native byte order.
    package func elementDecoder() throws -> (UnsafeRawPointer) -> Element {
        // Elements arrive with the conjugate and negative bits already resolved.
        func f(_ x: Float) -> Element { .floating(Double(x)) }
        switch dtype {
        case .float64: return { p in .floating(p.loadUnaligned(as: Double.self)) }
        case .float32: return { f($0.loadUnaligned(as: Float.self)) }
        case .float16: return { f(ScalarDecoding.float16($0.loadUnaligned(as: UInt16.self))) }
        case .bfloat16: return { f(ScalarDecoding.bfloat16($0.loadUnaligned(as: UInt16.self))) }
        case .float8_e5m2: return { f(ScalarDecoding.e5m2[Int($0.load(as: UInt8.self))]) }
        case .float8_e4m3fn: return { f(ScalarDecoding.e4m3fn[Int($0.load(as: UInt8.self))]) }
        case .float8_e5m2fnuz: return { f(ScalarDecoding.e5m2fnuz[Int($0.load(as: UInt8.self))]) }
        case .float8_e4m3fnuz: return { f(ScalarDecoding.e4m3fnuz[Int($0.load(as: UInt8.self))]) }
        case .float8_e8m0fnu: return { f(ScalarDecoding.e8m0fnu[Int($0.load(as: UInt8.self))]) }
        case .int8, .qint8: return { .signed(Int64($0.load(as: Int8.self))) }
        case .int16: return { .signed(Int64($0.loadUnaligned(as: Int16.self))) }
        case .int32, .qint32: return { .signed(Int64($0.loadUnaligned(as: Int32.self))) }
        case .int64: return { .signed($0.loadUnaligned(as: Int64.self)) }
        case .uint8, .quint8, .bool: return { .unsigned(UInt64($0.load(as: UInt8.self))) }
        case .uint16: return { .unsigned(UInt64($0.loadUnaligned(as: UInt16.self))) }
        case .uint32: return { .unsigned(UInt64($0.loadUnaligned(as: UInt32.self))) }
        case .uint64: return { .unsigned($0.loadUnaligned(as: UInt64.self)) }
        case .complex32, .complex64, .complex128, .bcomplex32:
            throw TensorError("a \(dtype.name) tensor has complex elements: use complexScalars()")
        default:
            throw TensorError("\(dtype.name) elements are packed bits: read contiguousBytes() instead")
        }
    }
}

extension DType {
    /// The integer type of a quantized type's representation (`int_repr()`).
    public var integerRepresentation: DType? {
        switch self {
        case .qint8: .int8
        case .quint8, .quint4x2, .quint2x4: .uint8
        case .qint32: .int32
        default: nil
        }
    }
}

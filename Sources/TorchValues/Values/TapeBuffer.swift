/// A growable array of plain values for the pickle decoder's tape: one owner
/// (it cannot be copied), so appending and writing skip the uniqueness check
/// and the reference counting of an `Array`, which were a fifth of decoding a
/// checkpoint of 100,000 tensors. Every access is bounds-checked, as an
/// `Array`'s is.
///
/// Public only for inlining into the pickle machine's module (`package`
/// declarations are not inlined across modules); the SPI keeps it out of the
/// library's API.
@_spi(Tape)
public struct TapeBuffer<Element: BitwiseCopyable>: ~Copyable {
    @usableFromInline var base: UnsafeMutablePointer<Element>
    @usableFromInline var capacity: Int
    @usableFromInline var _count: Int
    /// The number of elements.
    @inlinable public var count: Int { _count }

    /// An empty buffer with room for `capacity` elements before it grows
    /// (memory is touched only as elements are appended).
    @inlinable
    public init(capacity: Int = 0) {
        self.capacity = Swift.max(capacity, 8)
        base = .allocate(capacity: self.capacity)
        _count = 0
    }

    deinit { base.deallocate() }

    @inlinable
    public var isEmpty: Bool { count == 0 }

    @inlinable
    public var last: Element? { count > 0 ? base[count - 1] : nil }

    @inlinable
    public subscript(index: Int) -> Element {
        @inline(__always) get {
            precondition(UInt(bitPattern: index) < UInt(bitPattern: count), "TapeBuffer index out of range")
            return base[index]
        }
        @inline(__always) set {
            precondition(UInt(bitPattern: index) < UInt(bitPattern: count), "TapeBuffer index out of range")
            base[index] = newValue
        }
    }

    @inlinable @inline(__always)
    public mutating func append(_ element: Element) {
        if count == capacity { grow(toAtLeast: count + 1) }
        (base + count).initialize(to: element)
        _count += 1
    }

    @inlinable
    public mutating func append(contentsOf elements: UnsafeBufferPointer<Element>) {
        guard let source = elements.baseAddress, !elements.isEmpty else { return }
        if capacity - count < elements.count { grow(toAtLeast: count + elements.count) }
        (base + count).initialize(from: source, count: elements.count)
        _count += elements.count
    }

    @inlinable @inline(__always)
    @discardableResult
    public mutating func removeLast() -> Element {
        precondition(count > 0, "removeLast from an empty TapeBuffer")
        _count -= 1
        return base[count]
    }

    @inlinable @inline(__always)
    public mutating func removeLast(_ k: Int) {
        precondition(k >= 0 && k <= count, "TapeBuffer cannot remove more elements than it has")
        _count -= k
    }

    /// Removes every element, keeping the memory.
    @inlinable @inline(__always)
    public mutating func removeAll() {
        _count = 0
    }

    @inlinable @inline(__always)
    public mutating func popLast() -> Element? {
        guard count > 0 else { return nil }
        _count -= 1
        return base[count]
    }

    /// The elements in `range`, for `body` only (the buffer may move when it grows).
    @inlinable
    public func withElements<R>(_ range: Range<Int>, _ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "TapeBuffer range out of bounds")
        return try body(UnsafeBufferPointer(start: base + range.lowerBound, count: range.count))
    }

    /// Every element, for `body` only.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    /// Grows to at least `minimum` elements (at least doubling).
    @usableFromInline @inline(never)
    mutating func grow(toAtLeast minimum: Int) {
        let newCapacity = Swift.max(minimum, capacity &* 2)
        let fresh = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        fresh.moveInitialize(from: base, count: count)
        base.deallocate()
        base = fresh
        capacity = newCapacity
    }
}

// Read only once handed to a tape (a `let` of a shared class); the decoder owns it alone before.
extension TapeBuffer: @unchecked Sendable where Element: Sendable {}

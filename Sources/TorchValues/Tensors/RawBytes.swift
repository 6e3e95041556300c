/// Bytes borrowed from a mapped file or owned in memory, kept alive by their owner.
///
/// A storage read from a checkpoint points into the memory-mapped file: no
/// copy is made, and only the pages that are read are touched.
public struct RawBytes: @unchecked Sendable {
    /// The first byte; nil when empty.
    public let baseAddress: UnsafeRawPointer?
    /// The number of bytes.
    public let count: Int
    /// What keeps the memory valid (a format reader's record, for one).
    package let owner: AnyObject?

    /// Wraps memory that `owner` keeps valid for its lifetime.
    public init(baseAddress: UnsafeRawPointer?, count: Int, owner: AnyObject?) {
        self.baseAddress = count == 0 ? nil : baseAddress
        self.count = count
        self.owner = owner
    }

    /// Takes ownership of an array's bytes.
    public init(_ bytes: [UInt8]) {
        let box = OwnedBuffer(bytes)
        self.init(baseAddress: box.pointer, count: bytes.count, owner: box)
    }

    /// No bytes.
    public static let empty = RawBytes(baseAddress: nil, count: 0, owner: nil)

    /// Calls `body` with the bytes.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let r = try body(UnsafeRawBufferPointer(start: baseAddress, count: count))
        withExtendedLifetime(owner) {}
        return r
    }

    /// The bytes `range` of this buffer, sharing its owner.
    public func slice(_ range: Range<Int>) -> RawBytes {
        precondition(range.lowerBound >= 0 && range.upperBound <= count)
        return RawBytes(baseAddress: baseAddress.map { $0 + range.lowerBound }, count: range.count, owner: owner)
    }

    /// A copy of the bytes.
    public var array: [UInt8] { withUnsafeBytes { Array($0) } }
}

/// An owned, immutable heap buffer.
package final class OwnedBuffer: @unchecked Sendable {
    package let pointer: UnsafeMutableRawPointer?
    package init(_ bytes: [UInt8]) {
        if bytes.isEmpty {
            pointer = nil
        } else {
            let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
            bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            pointer = p
        }
    }
    deinit { pointer?.deallocate() }
}

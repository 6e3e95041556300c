#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A heap buffer holding one inflated record, 64-byte aligned for tensor data.
///
/// Filled once by the inflater, then only read: safe to share between threads.
/// A buffer may start smaller than the record and ``grow(toAtLeast:)`` as the
/// inflated bytes arrive, so that memory follows what a record really holds
/// rather than what its header claims.
final class InflatedBuffer: @unchecked Sendable {
    /// The first byte; `nil` when `capacity` is 0.
    private(set) var pointer: UnsafeMutableRawPointer?
    /// The number of bytes the record holds.
    let count: Int
    /// The number of bytes allocated so far (`count` once the buffer is full).
    private(set) var capacity: Int
    private let record: String

    /// Allocates room for `initialCapacity` of the record's `count` bytes (all
    /// of them by default), uninitialised, with `posix_memalign(3)`.
    ///
    /// - Throws: ``ZipError/Code/io`` when the allocation fails (instead of trapping).
    init(count: Int, record: String, initialCapacity: Int? = nil) throws(ZipError) {
        self.count = count
        self.record = record
        capacity = 0
        pointer = nil
        try allocate(min(count, initialCapacity ?? count))
    }

    private func allocate(_ newCapacity: Int) throws(ZipError) {
        guard newCapacity > capacity else { return }
        var memory: UnsafeMutableRawPointer?
        let status = posix_memalign(&memory, 64, newCapacity)
        guard status == 0, let memory else {
            throw ZipError(.io, "cannot allocate \(newCapacity) bytes to inflate into (error \(status))", record: record)
        }
        if let pointer {
            memory.copyMemory(from: pointer, byteCount: capacity)
            free(pointer)
        }
        pointer = memory
        capacity = newCapacity
    }

    /// Makes room for at least `needed` bytes (at most ``count``), doubling
    /// the allocation, so that filling it copies each byte at most once more on average.
    func grow(toAtLeast needed: Int) throws(ZipError) {
        try allocate(min(count, max(needed, capacity * 2)))
    }

    /// The bytes.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }

    deinit {
        free(pointer)
    }
}

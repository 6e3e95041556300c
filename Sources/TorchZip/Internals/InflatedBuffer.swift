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
final class InflatedBuffer: @unchecked Sendable {
    /// The first byte; `nil` when `count` is 0.
    let pointer: UnsafeMutableRawPointer?
    /// The number of bytes.
    let count: Int

    /// Allocates `count` uninitialised bytes with `posix_memalign(3)`.
    ///
    /// - Throws: ``ZipError/Code/io`` when the allocation fails (instead of trapping).
    init(count: Int, record: String) throws(ZipError) {
        self.count = count
        guard count > 0 else {
            pointer = nil
            return
        }
        var memory: UnsafeMutableRawPointer?
        let status = posix_memalign(&memory, 64, count)
        guard status == 0, let memory else {
            throw ZipError(.io, "cannot allocate \(count) bytes to inflate into (error \(status))", record: record)
        }
        pointer = memory
    }

    /// The bytes.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }

    deinit {
        free(pointer)
    }
}

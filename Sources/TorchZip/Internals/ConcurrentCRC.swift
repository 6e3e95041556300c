import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A CRC-32 computed on a second processor while the caller hands the same
/// bytes to the kernel: a record's CRC goes in the data descriptor after its
/// data, so the two need not take turns.
///
/// Writing 1 GiB spent an eighth of its time folding the CRC on the writing
/// thread, while the other processor had nothing to do.
enum ConcurrentCRC {
    /// Chunks at least this large are worth the handoff (tens of
    /// microseconds; folding 1 MiB takes about a hundred).
    static let threshold = 1 << 20

    /// Whether there is a second processor to fold on.
    static let isWorthwhile: Bool = sysconf(Int32(_SC_NPROCESSORS_ONLN)) > 1

    /// The bytes, the seed and the result, handed between the two threads;
    /// the group's wait orders the result's write before its read.
    private final class Job: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer
        let seed: UInt32
        var result: UInt32 = 0

        init(bytes: UnsafeRawBufferPointer, seed: UInt32) {
            self.bytes = bytes
            self.seed = seed
        }
    }

    /// The CRC-32 of `bytes` after `seed` (see ``crc32(_:seed:)``), folded on
    /// a global queue while `body` runs on this thread.
    ///
    /// Returns (or rethrows `body`'s error) only after the fold is done, so
    /// `bytes` need only live for the call.
    static func crc32<E: Error>(of bytes: UnsafeRawBufferPointer, seed: UInt32, during body: () throws(E) -> Void) throws(E) -> UInt32 {
        let job = Job(bytes: bytes, seed: seed)
        let group = DispatchGroup()
        DispatchQueue.global(qos: .userInitiated).async(group: group) {
            job.result = TorchZip.crc32(job.bytes, seed: job.seed)
        }
        do {
            try body()
        } catch {
            group.wait()
            throw error
        }
        group.wait()
        return job.result
    }
}

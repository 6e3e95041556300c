internal import CFileCalls
import Dispatch
import Synchronization

/// A CRC-32 computed on a second processor while the caller hands the same
/// bytes to the kernel: a record's CRC goes in the data descriptor after its
/// data, so the two need not take turns.
///
/// Writing 1 GiB spent an eighth of its time folding the CRC on the writing
/// thread, while the other processor had nothing to do.
///
/// The caller never waits for a fold that has not started: when `body`
/// returns and no thread of the global queue has taken the job (all busy, as
/// when every thread of a pool is itself writing), the caller takes it back
/// and folds the bytes itself. So the helper is only ever a gain, and no pool
/// can deadlock on it.
package enum ConcurrentCRC {
    /// Chunks at least this large are worth the handoff (tens of
    /// microseconds; folding 1 MiB takes about a hundred).
    package static let threshold = 1 << 20

    /// Whether there is a second processor to fold on (one this process may
    /// run on: a container limited to one processor has none).
    static let isWorthwhile: Bool = pth_usable_processor_count() > 1

    /// Who folds a job's bytes.
    private enum State: Int {
        case waiting, folding, done, takenBack
    }

    /// The bytes, the seed and the result, handed between the two threads.
    /// `state` orders the result's write (before `done`, releasing) before
    /// its read (after `done`, acquiring); `finished` lets the caller sleep
    /// until then.
    private final class Job: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer
        let seed: UInt32
        var result: UInt32 = 0
        let state = Atomic<Int>(State.waiting.rawValue)
        let finished = DispatchSemaphore(value: 0)

        init(bytes: UnsafeRawBufferPointer, seed: UInt32) {
            self.bytes = bytes
            self.seed = seed
        }

        /// Folds the bytes on the helper, unless the caller took the job back.
        func fold() {
            guard state.compareExchange(expected: State.waiting.rawValue, desired: State.folding.rawValue,
                                        ordering: .acquiring).exchanged else { return }
            result = TorchZip.crc32(bytes, seed: seed)
            state.store(State.done.rawValue, ordering: .releasing)
            finished.signal()
        }

        /// Makes sure the helper no longer reads the bytes: takes the job
        /// back if it has not started, else waits for it.
        func abandon() {
            if !state.compareExchange(expected: State.waiting.rawValue, desired: State.takenBack.rawValue,
                                      ordering: .relaxed).exchanged {
                finished.wait()
            }
        }

        /// The CRC: folded here if the helper has not started, else its result once it is done.
        func collect() -> UInt32 {
            if state.compareExchange(expected: State.waiting.rawValue, desired: State.takenBack.rawValue,
                                     ordering: .relaxed).exchanged {
                return TorchZip.crc32(bytes, seed: seed)
            }
            finished.wait()
            precondition(state.load(ordering: .acquiring) == State.done.rawValue)
            return result
        }
    }

    /// The CRC-32 of `bytes` after `seed` (see ``crc32(_:seed:)``), folded on
    /// a global queue while `body` runs on this thread (or on this thread
    /// after it, when no helper thread was free).
    ///
    /// Returns (or rethrows `body`'s error) only once no other thread reads
    /// `bytes`, so they need only live for the call.
    ///
    /// - Parameter schedule: Runs the helper's work on another thread (tests
    ///   hold it back, to check the caller takes the job back).
    package static func crc32<E: Error>(
        of bytes: UnsafeRawBufferPointer, seed: UInt32,
        schedule: (@escaping @Sendable () -> Void) -> Void = { DispatchQueue.global(qos: .userInitiated).async(execute: $0) },
        during body: () throws(E) -> Void
    ) throws(E) -> UInt32 {
        let job = Job(bytes: bytes, seed: seed)
        schedule { job.fold() }
        do {
            try body()
        } catch {
            job.abandon()
            throw error
        }
        return job.collect()
    }
}

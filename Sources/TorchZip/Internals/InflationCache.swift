import Synchronization

/// Inflated records of one archive, each inflated at most once.
///
/// Two locks: `buffers` is held only to look up or insert, so readers of
/// records already inflated never wait behind an inflation; `reader` is held
/// for the whole of an inflation, because libzip's handle is not thread-safe,
/// and the cache is checked again under it so that no record is inflated
/// twice. Lock order: `reader`, then `buffers`.
final class InflationCache: Sendable {
    private let buffers = Mutex<[Int: InflatedBuffer]>([:])
    private let reader = Mutex<LibzipReader?>(nil)
    /// Every critical section below starts with an acquiring load of this
    /// counter and ends with a releasing add to it. The locks already order
    /// the holders, but ThreadSanitizer cannot see it (Swift's `Mutex` waits
    /// on a futex inside the uninstrumented standard library), and reported a
    /// record inflated on one thread and looked up on another as a race.
    private let order = Atomic<Int>(0)
    /// What a record of a method without a known ratio bound (bzip2, xz, zstd)
    /// gets at first, whatever its header claims.
    static let initialCapacity = 16 << 20

    /// The inflated bytes of `entry`, inflating them on first use.
    ///
    /// - Parameters:
    ///   - entry: A compressed entry of the archive in `file`.
    ///   - count: `entry.uncompressedSize`, checked by the caller to fit the limits.
    ///   - file: The archive's mapped file.
    ///   - entryCount: How many entries the archive has, to check libzip agrees.
    func buffer(for entry: ZipEntry, count: Int, in file: MappedFile, entryCount: Int) throws(ZipError) -> InflatedBuffer {
        if let cached = buffers.withLock({ buffers in ordered { buffers[entry.index] } }) {
            return cached
        }
        return try reader.withLock { (handle: inout LibzipReader?) throws(ZipError) -> InflatedBuffer in
            try ordered { () throws(ZipError) -> InflatedBuffer in
                if let cached = buffers.withLock({ buffers in ordered { buffers[entry.index] } }) {
                    return cached
                }
                let libzip: LibzipReader
                if let handle {
                    libzip = handle
                } else {
                    libzip = try LibzipReader(file: file, entryCount: entryCount)
                    handle = libzip
                }
                // Deflate's ratio is bounded (ZipArchive.bytes(of:) checked the claim
                // against it); other methods' is not, so their buffers grow with the output.
                let buffer = try InflatedBuffer(count: count, record: entry.name,
                                                initialCapacity: entry.isDeflated ? nil : Self.initialCapacity)
                try libzip.inflate(entry, into: buffer)
                buffers.withLock { buffers in ordered { buffers[entry.index] = buffer } }
                return buffer
            }
        }
    }

    /// Runs a critical section's body between the counter's acquiring load and releasing add.
    @inline(__always) private func ordered<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        _ = order.load(ordering: .acquiring)
        defer { order.wrappingAdd(1, ordering: .releasing) }
        return try body()
    }
}

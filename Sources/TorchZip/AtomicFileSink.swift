import Dispatch
import Synchronization

/// A ``ZipSink`` that writes a file atomically: readers of the destination see
/// the old file or the complete new one, never a partial archive.
///
/// Bytes go to a new temporary file in the destination's directory, mode
/// `rw-rw-rw-` less the umask, like any new file. On Linux it is an unnamed
/// file (`O_TMPFILE`), so a process killed while writing leaves nothing
/// behind: the kernel frees the file with its last descriptor. Elsewhere, or
/// where the file system cannot make unnamed files, it is a hidden
/// `.NAME.XXXXXXXXXXXX.tmp` created with `O_EXCL`.
///
/// ``commit()`` hands every byte to the kernel, names an unnamed file
/// (`linkat`), then `rename`s the file over the destination; with
/// ``Durability/durable`` it also `fsync`s the file before the rename and the
/// directory after it. On any error before the rename, on ``abandon()``, and
/// when the sink goes away without a commit, the temporary file is removed
/// and the destination is left as it was.
///
/// Small writes (headers) are gathered in a buffer; large ones (record data)
/// go straight to the file after the buffer is flushed.
///
/// On Linux, two costs of replacing a large file leave the writing thread:
///
/// - **Writeback.** ext4 starts writing a file's cached data to the disk when
///   the file is renamed over another (its `auto_da_alloc` rule, which keeps
///   the new file's data from being lost behind the rename in a crash). For a
///   gigabyte that took half a second inside `rename`. The sink starts that
///   writeback itself, on a queue of its own, once per 16 MiB written
///   (`sync_file_range` with `SYNC_FILE_RANGE_WRITE`; one start at a time,
///   each covering all that was written since the last), so the disk works
///   while the rest is written and `rename` finds little left. The data
///   reaches the disk no later than before, and the rename happens after
///   every byte was written, as before.
/// - **Freeing the replaced file.** The old destination is freed when its
///   last link and handle go: in `rename`, which then drops its cached pages
///   and frees its blocks (a sixth of a second for a gigabyte). For a
///   replaced file of 64 MiB or more with no other link, on a local file
///   system, the sink holds a handle on it (`O_PATH`) across the rename and
///   closes that handle on a background queue, where the file is freed: its
///   disk space comes back just after ``commit()`` returns, not before. A
///   process that exits at once frees it on exit.
///
/// ```swift
/// let sink = try AtomicFileSink(destination: "model.pth")
/// let writer = try PyTorchZipWriter(sink: sink, prefix: "model")
/// try writer.writeRecord("data.pkl", bytes: pickle)
/// …
/// try writer.finish()
/// try sink.commit()
/// ```
public final class AtomicFileSink: ZipSink {
    /// How many bytes written since writeback was last started make the next start due.
    static let writebackStep: UInt64 = 16 << 20
    /// Writeback starts and ends on multiples of this, so that a page still being written is left for later.
    static let writebackAlignment: UInt64 = 1 << 20

    /// What ``commit()`` guarantees beyond atomicity.
    public enum Durability: Sendable {
        /// The rename happens after every byte was written: a process killed
        /// at any point (or an error) leaves the old file or the complete new
        /// one. Not synced to the disk, as `torch.save` and safetensors do
        /// not sync: after a power loss, what the disk holds is up to the
        /// file system (ext4, XFS and btrfs flush a file renamed over another
        /// before the rename).
        case atomic
        /// Also `fsync`s the file before the rename and the directory after
        /// it, so the new file survives a power loss once ``commit()``
        /// returns; costs the time to write the file to the disk.
        case durable
    }

    /// What ``commit()`` guarantees.
    public let durability: Durability

    /// The path the file is committed to.
    public let destination: String

    /// The name of the temporary file the bytes go to until ``commit()``:
    /// `nil` while it is an unnamed file (Linux), and once it was renamed into
    /// place or removed.
    public private(set) var temporaryPath: String?

    /// Whether the bytes go to an unnamed file, which only gets a name at ``commit()``.
    public let isUnnamed: Bool

    /// The number of bytes written so far (buffered ones included).
    public private(set) var position: UInt64 = 0

    /// The system calls, replaceable in tests.
    private let calls: FileSystemCalls
    /// The temporary file's descriptor; -1 once closed.
    private var descriptor: Int32
    /// Small writes not yet handed to the file.
    private var buffer: [UInt8] = []
    /// The buffer's size; writes at least this large bypass it.
    private let bufferCapacity: Int
    /// Why the sink can no longer be written to, once it cannot.
    private var closedReason: String?
    /// The queue that starts writeback of what was written, made when the first start is due.
    private var writebackQueue: DispatchQueue?
    /// Whether a writeback start is queued or running: the next waits for it,
    /// so that a slow disk does not pile starts up on the queue.
    private let writebackInFlight = WritebackFlag()
    /// The file offset up to which writeback was started.
    private var writebackStarted: UInt64 = 0

    /// Creates the temporary file next to `destination`.
    ///
    /// - Parameters:
    ///   - destination: The file to create or replace on ``commit()``.
    ///   - durability: Whether ``commit()`` also syncs to the disk (it does not by default).
    /// - Throws: ``ZipError/Code/cannotOpen`` when the temporary file cannot be
    ///   created (for example, the directory does not exist or is not writable).
    public convenience init(destination: String, durability: Durability = .atomic) throws(ZipError) {
        try self.init(destination: destination, durability: durability, calls: .system)
    }

    /// Creates the temporary file next to `destination`, making system calls through `calls`.
    ///
    /// - Parameters:
    ///   - destination: The file to create or replace on ``commit()``.
    ///   - durability: Whether ``commit()`` also syncs to the disk.
    ///   - calls: The system calls to make.
    ///   - bufferCapacity: The size of the buffer for small writes.
    package init(destination: String, durability: Durability = .atomic, calls: FileSystemCalls,
                 bufferCapacity: Int = 1 << 18) throws(ZipError) {
        self.destination = destination
        self.durability = durability
        self.calls = calls
        self.bufferCapacity = max(1, bufferCapacity)
        let (directory, name) = Self.split(destination)
        guard !name.isEmpty else {
            throw ZipError(.cannotOpen, "cannot write '\(destination)': the path names a directory, not a file")
        }
        let unnamed = calls.openUnnamed(directory, FileSystemCalls.newFileMode)
        if unnamed >= 0 {
            descriptor = unnamed
            isUnnamed = true
        } else {
            // No unnamed files here (another system, a file system without O_TMPFILE):
            // a named one, whose own error says what is wrong with the directory.
            isUnnamed = false
            descriptor = -1
            try withFreeName(next: destination) { (candidate) throws(ZipError) -> Int32 in
                let result = calls.open(candidate, FileSystemCalls.createExclusive, FileSystemCalls.newFileMode)
                if result >= 0 {
                    descriptor = result
                    temporaryPath = candidate
                    return 0
                }
                return result
            } failure: { candidate, code in
                ZipError(.cannotOpen, "cannot create a temporary file next to '\(destination)' ('\(candidate)'): \(FileSystemCalls.describe(code))")
            }
        }
        buffer.reserveCapacity(self.bufferCapacity)
    }

    /// Calls `attempt` with fresh hidden names next to `destination` until it
    /// returns 0; a name taken by another writer (`-EEXIST`) draws another,
    /// any other error is final.
    private func withFreeName(next destination: String, _ attempt: (String) throws(ZipError) -> Int32,
                              failure: (String, Int32) -> ZipError) throws(ZipError) {
        let (directory, name) = Self.split(destination)
        for _ in 0 ..< 100 {
            let candidate = directory + "/." + name + "." + Self.randomSuffix() + ".tmp"
            let result = try attempt(candidate)
            if result == 0 { return }
            guard -result == FileSystemCalls.fileExists else { throw failure(candidate, -result) }
        }
        throw failure(directory + "/." + name + ".*.tmp", FileSystemCalls.fileExists)
    }

    deinit {
        abandon()
    }

    /// Appends `bytes`: into the buffer when they are small, else to the file directly.
    ///
    /// - Throws: ``ZipError/Code/io`` when the file cannot be written; the
    ///   temporary file is then removed and the sink refuses further writes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(ZipError) {
        try requireOpen()
        if bytes.count >= bufferCapacity {
            try flushBuffer()
            try writeFully(bytes)
        } else {
            if bytes.count > bufferCapacity - buffer.count {
                try flushBuffer()
            }
            buffer.append(contentsOf: bytes)
        }
        position += UInt64(bytes.count)
        startWritebackIfDue()
    }

    /// Appends bytes of another file, copied by the kernel (`copy_file_range(2)`)
    /// where it can: after the buffered bytes, at the file's end.
    ///
    /// - Returns: How many bytes were appended, from the first on (none when
    ///   the kernel cannot copy between the two files); the caller writes the rest.
    /// - Throws: ``ZipError/Code/io`` when the copy fails; the temporary file
    ///   is then removed and the sink refuses further writes.
    public func append(copying count: Int, of source: Int32, at offset: Int64) throws(ZipError) -> Int {
        try requireOpen()
        guard let copyRange = calls.copyRange, count > 0 else { return 0 }
        try flushBuffer()
        let (copied, error) = copyRange(source, offset, descriptor, count)
        position += UInt64(copied)
        if let error {
            throw fail("cannot copy \(count) bytes into the temporary file at byte \(position)", code: error)
        }
        startWritebackIfDue()
        return copied
    }

    /// Makes the file the destination: flushes the buffer, closes the
    /// temporary file and `rename`s it over the destination; with
    /// ``Durability/durable``, `fsync`s the file before the rename and the
    /// directory after it.
    ///
    /// On Linux it first waits for a writeback start still on the sink's
    /// queue (see the type's discussion); a large replaced file is freed on a
    /// background queue just after it returns.
    ///
    /// - Throws: ``ZipError/Code/io`` naming the step that failed. Before the
    ///   rename, the temporary file is removed and the destination is
    ///   untouched; a failure to sync the directory after the rename is
    ///   reported too, though the new file is then already in place.
    public func commit() throws(ZipError) {
        try requireOpen()
        try flushBuffer()
        if durability == .durable {
            let synced = calls.fsync(descriptor)
            guard synced == 0 else {
                throw fail("cannot fsync the temporary file", code: -synced)
            }
        }
        if isUnnamed {
            // The unnamed file gets a name next to the destination, to rename it over the destination.
            try withFreeName(next: destination) { (candidate) throws(ZipError) -> Int32 in
                let result = calls.link(descriptor, candidate)
                if result == 0 { temporaryPath = candidate }
                return result
            } failure: { candidate, code in
                fail("cannot name the temporary file '\(candidate)' (linkat)", code: code)
            }
        }
        finishWriteback()
        let closed = calls.close(descriptor)
        descriptor = -1
        guard closed == 0 else {
            throw fail("cannot close the temporary file", code: -closed)
        }
        guard let temporary = temporaryPath else {
            throw ZipError(.io, "cannot commit '\(destination)': the temporary file is gone")
        }
        // A handle on the file the rename replaces, so that it is freed when the handle closes, not in `rename`.
        let replaced = calls.holdInode?(destination) ?? -1
        let renamed = calls.rename(temporary, destination)
        if replaced >= 0 {
            release(replaced, inBackground: renamed == 0)
        }
        guard renamed == 0 else {
            throw fail("cannot rename the temporary file '\(temporary)' to the destination", code: -renamed)
        }
        temporaryPath = nil
        closedReason = "the file was committed"
        if durability == .durable { try syncDirectory() }
    }

    /// Gives the file up: closes and removes the temporary file, leaving the
    /// destination as it was. Does nothing after ``commit()`` or a failure.
    public func abandon() {
        if descriptor >= 0 {
            finishWriteback()
            _ = calls.close(descriptor)
            descriptor = -1
        }
        if let temporary = temporaryPath {
            _ = calls.unlink(temporary)
            temporaryPath = nil
        }
        buffer.removeAll()
        if closedReason == nil {
            closedReason = "the file was abandoned"
        }
    }

    /// Throws unless the sink can still be written to.
    private func requireOpen() throws(ZipError) {
        if let closedReason {
            throw ZipError(.io, "cannot write '\(destination)': \(closedReason)")
        }
    }

    /// Starts the kernel writing the file's data to the disk, on the sink's
    /// queue, once ``writebackStep`` more bytes are in the file and no start
    /// is in flight: from where the last start ended to the last
    /// ``writebackAlignment`` boundary.
    private func startWritebackIfDue() {
        guard let start = calls.startWriteback else { return }
        let inFile = position - UInt64(buffer.count)
        let end = inFile - inFile % Self.writebackAlignment
        guard end >= writebackStarted + Self.writebackStep,
              !writebackInFlight.value.exchange(true, ordering: .acquiring) else { return }
        let queue = writebackQueue ?? DispatchQueue(label: "AtomicFileSink.writeback", qos: .utility)
        writebackQueue = queue
        let (descriptor, offset, count) = (descriptor, Int64(writebackStarted), Int64(end - writebackStarted))
        let inFlight = writebackInFlight
        // Only a start: an error here (the disk's, say) is the kernel's to report at fsync, as for any writeback.
        queue.async {
            _ = start(descriptor, offset, count)
            inFlight.value.store(false, ordering: .releasing)
        }
        writebackStarted = end
    }

    /// Waits for the writeback starts already queued, before the descriptor they use is closed.
    private func finishWriteback() {
        writebackQueue?.sync {}
        writebackQueue = nil
    }

    /// The flag of a writeback start in flight, shared with the queue's work.
    private final class WritebackFlag: Sendable {
        let value = Atomic<Bool>(false)
    }

    /// Closes the handle on a replaced file, which frees the file when it
    /// was the last: on a background queue after a rename, at once otherwise.
    private func release(_ handle: Int32, inBackground: Bool) {
        guard inBackground else {
            _ = calls.close(handle)
            return
        }
        let close = calls.close
        DispatchQueue.global(qos: .utility).async { _ = close(handle) }
    }

    /// Writes the buffered bytes to the file.
    private func flushBuffer() throws(ZipError) {
        guard !buffer.isEmpty else { return }
        let result = buffer.withUnsafeBytes { raw in
            Result { () throws(ZipError) in try writeFully(raw) }
        }
        try result.get()
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes all of `bytes` to the file: at most 1 GiB per `write(2)`,
    /// continuing after short writes and interruptions.
    private func writeFully(_ bytes: UnsafeRawBufferPointer) throws(ZipError) {
        var done = 0
        while done < bytes.count {
            let chunk = min(bytes.count - done, 1 << 30)
            let written = calls.write(descriptor, UnsafeRawBufferPointer(rebasing: bytes[done ..< done + chunk]))
            if written < 0 {
                if Int32(clamping: -written) == FileSystemCalls.interrupted { continue }
                throw fail("cannot write \(chunk) bytes at byte \(position + UInt64(done)) of the temporary file", code: Int32(clamping: -written))
            }
            if written == 0 {
                throw fail("cannot write \(chunk) bytes at byte \(position + UInt64(done)) of the temporary file: no progress", code: nil)
            }
            done += written
        }
    }

    /// `fsync`s the destination's directory, so that the rename survives a crash.
    private func syncDirectory() throws(ZipError) {
        let (directory, _) = Self.split(destination)
        let handle = calls.open(directory, FileSystemCalls.openDirectory, 0)
        guard handle >= 0 else {
            throw ZipError(.io, "'\(destination)' is in place, but its directory cannot be opened to fsync it: \(FileSystemCalls.describe(-handle))")
        }
        let synced = calls.fsync(handle)
        _ = calls.close(handle)
        // Some file systems cannot sync directories (EINVAL): nothing more can be done there.
        guard synced == 0 || -synced == FileSystemCalls.invalidArgument else {
            throw ZipError(.io, "'\(destination)' is in place, but its directory cannot be fsynced: \(FileSystemCalls.describe(-synced))")
        }
    }

    /// Removes the temporary file, closes the sink, and returns the error to throw.
    private func fail(_ what: String, code: Int32?) -> ZipError {
        let temporary = temporaryPath.map { " ('\($0)')" } ?? (isUnnamed ? " (unnamed)" : "")
        abandon()
        let reason = code.map { ": " + FileSystemCalls.describe($0) } ?? ""
        closedReason = "an earlier error left it incomplete (\(what))"
        return ZipError(.io, "\(what)\(temporary)\(reason); it was removed and '\(destination)' is untouched")
    }

    /// The directory of `path` (`.` when it has none) and its last component.
    private static func split(_ path: String) -> (directory: String, name: String) {
        let utf8 = Array(path.utf8)
        guard let slash = utf8.lastIndex(of: UInt8(ascii: "/")) else {
            return (".", path)
        }
        let directory = slash == 0 ? "/" : String(decoding: utf8[..<slash], as: UTF8.self)
        return (directory, String(decoding: utf8[(slash + 1)...], as: UTF8.self))
    }

    /// Twelve random hexadecimal digits.
    private static func randomSuffix() -> String {
        let digits = String(UInt64.random(in: 0 ..< (1 << 48)), radix: 16)
        return String(repeating: "0", count: 12 - digits.count) + digits
    }
}

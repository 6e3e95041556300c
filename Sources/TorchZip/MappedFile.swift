import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file (`mmap` with `PROT_READ`, `MAP_PRIVATE`).
///
/// Opening copies nothing: only the pages that are read are touched, so a
/// multi-gigabyte checkpoint opens in constant time and memory, and the
/// operating system can drop clean pages under memory pressure. The mapping
/// lives as long as the object; ``bytes`` must not be used after the last
/// reference is gone (``RecordBytes`` keeps its file alive for that reason).
///
/// An empty file maps fine: ``count`` is 0 and ``bytes`` is empty.
///
/// - Important: As with any memory map, if another process truncates the file
///   while it is mapped, reading the pages that disappeared raises `SIGBUS`.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened with (or the name given to an in-memory copy).
    public let path: String

    /// The number of bytes in the file.
    public let count: Int

    /// The start of the mapping; `nil` when the file is empty.
    private let base: UnsafeMutableRawPointer?

    /// For a slice: the file whose mapping it shares (kept alive, unmapped by it).
    private let parent: MappedFile?
    /// Where a slice starts in its parent file (0 otherwise).
    private let sliceOffset: Int
    /// Whether the mapping is of a file (its pages can be dropped and read again).
    private var isFileMapping: Bool { fileBacked }
    private let fileBacked: Bool

    /// The open file, for ``readWithoutMapping(at:into:)`` until
    /// ``closeDescriptor()``; -1 for an in-memory copy or once closed.
    private let descriptor = Mutex<Int32>(-1)
    /// The mapped file's device and inode, to know it again (``openForCopying()``).
    private var identity: (device: UInt64, inode: UInt64)?

    /// The whole file's bytes, valid for the object's lifetime.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: count)
    }

    /// Maps the file at `path` read-only.
    ///
    /// Wraps `open(2)`, `fstat(2)` and `mmap(2)`; the descriptor stays open
    /// for ``readWithoutMapping(at:into:)`` until ``closeDescriptor()`` or
    /// the object goes away.
    ///
    /// - Throws: ``ZipError`` with code ``ZipError/Code/cannotOpen`` when the
    ///   file cannot be opened or is not a regular file, ``ZipError/Code/io``
    ///   when it cannot be mapped.
    public init(path: String) throws(ZipError) {
        self.path = path
        parent = nil
        sliceOffset = 0
        fileBacked = true
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ZipError(.cannotOpen, "cannot open '\(path)': \(Self.systemError())")
        }
        var keep = false
        defer { if !keep { close(fd) } }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ZipError(.cannotOpen, "cannot stat '\(path)': \(Self.systemError())")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ZipError(.cannotOpen, "'\(path)' is not a regular file")
        }
        guard let size = Int(exactly: info.st_size), size >= 0 else {
            throw ZipError(.cannotOpen, "'\(path)' has a size (\(info.st_size) bytes) this process cannot map")
        }
        count = size
        identity = (UInt64(info.st_dev), UInt64(info.st_ino))
        if size == 0 {
            base = nil  // mmap rejects a zero length.
            return
        }
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw ZipError(.io, "cannot map '\(path)' (\(size) bytes): \(Self.systemError())")
        }
        base = mapped
        descriptor.withLock { $0 = fd }
        keep = true
    }

    /// Copies `buffer.count` bytes from `offset` with `pread(2)`, without
    /// touching the mapping: reading a few bytes through a map makes the
    /// kernel map whole page-cache folios around them (up to megabytes each
    /// on Linux 6.x), which count as this process's resident memory. Returns
    /// false when the descriptor is closed (or the file is an in-memory
    /// copy) or the read comes up short; read ``bytes`` then.
    public func readWithoutMapping(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard let start = buffer.baseAddress, offset >= 0, buffer.count <= count, offset <= count - buffer.count else { return false }
        if let parent { return parent.readWithoutMapping(at: sliceOffset + offset, into: buffer) }
        return descriptor.withLock { fd in
            guard fd >= 0 else { return false }
            var done = 0
            while done < buffer.count {
                let n = pread(fd, start + done, buffer.count - done, off_t(offset + done))
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { return false }
                done += n
            }
            return true
        }
    }

    /// A new descriptor of the mapped file, for the kernel to copy from
    /// (``AtomicFileSink/append(copying:of:at:)``), with the offset of this
    /// file's first byte in it (a slice's start in its parent): the path
    /// opened again and checked to name the file that is mapped (the same
    /// device and inode, at least as long). nil for an in-memory copy, or when
    /// the path now names another file or none. The caller closes it.
    package func openForCopying() -> (descriptor: Int32, offset: Int)? {
        if let parent { return parent.openForCopying().map { ($0.descriptor, $0.offset + sliceOffset) } }
        guard fileBacked, let identity else { return nil }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0, UInt64(info.st_dev) == identity.device, UInt64(info.st_ino) == identity.inode,
              Int(exactly: info.st_size).map({ $0 >= count }) == true else {
            close(fd)
            return nil
        }
        return (fd, 0)
    }

    /// Closes the descriptor kept for ``readWithoutMapping(at:into:)``: the
    /// mapping stays valid. Opening a checkpoint closes it once the headers
    /// are read, so that open checkpoints hold no file descriptors.
    public func closeDescriptor() {
        descriptor.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    /// Copies `source` into a new private anonymous mapping, then makes it read-only.
    ///
    /// For bytes that are already in memory (tests, downloads, fuzzing): the
    /// result behaves exactly like a mapped file. Wraps `mmap(2)` with
    /// `MAP_ANONYMOUS` and `mprotect(2)`.
    ///
    /// - Parameters:
    ///   - source: The bytes to copy.
    ///   - path: A name for messages; nothing is opened.
    /// - Throws: ``ZipError`` with code ``ZipError/Code/io`` when the mapping fails.
    public init(copying source: UnsafeRawBufferPointer, path: String = "<memory>") throws(ZipError) {
        self.path = path
        parent = nil
        sliceOffset = 0
        fileBacked = false
        count = source.count
        base = try Self.mapCopy(of: source, path: path)
    }

    /// Copies `source` into a new read-only anonymous mapping.
    ///
    /// - Parameters:
    ///   - source: The bytes to copy.
    ///   - path: A name for messages; nothing is opened.
    /// - Throws: ``ZipError`` with code ``ZipError/Code/io`` when the mapping fails.
    public init(copying source: [UInt8], path: String = "<memory>") throws(ZipError) {
        self.path = path
        parent = nil
        sliceOffset = 0
        fileBacked = false
        count = source.count
        // Array.withUnsafeBytes rethrows untyped errors: carry the typed one out as a value.
        let mapped = source.withUnsafeBytes { raw in
            Result { () throws(ZipError) in try Self.mapCopy(of: raw, path: path) }
        }
        base = try mapped.get()
    }

    /// Bytes produced in place (decompressed, assembled) into a new private
    /// anonymous mapping of `capacity` bytes, then made read-only: `fill`
    /// writes into the buffer and returns how many bytes it wrote. Pages past
    /// them are given back. Only the pages written become resident, so a
    /// generous capacity costs address space, not memory.
    ///
    /// - Throws: ``ZipError`` with code ``ZipError/Code/io`` when the mapping
    ///   fails, or what `fill` throws.
    public init(capacity: Int, path: String, fill: (UnsafeMutableRawBufferPointer) throws(ZipError) -> Int) throws(ZipError) {
        self.path = path
        parent = nil
        sliceOffset = 0
        fileBacked = false
        let length = max(capacity, 1)
        let mapped = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw ZipError(.io, "cannot map \(capacity) bytes for '\(path)': \(Self.systemError())")
        }
        let used: Int
        do {
            used = try fill(UnsafeMutableRawBufferPointer(start: mapped, count: capacity))
        } catch {
            munmap(mapped, length)
            throw error
        }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let kept = used == 0 ? 0 : (used + page - 1) / page * page
        if kept < length { munmap(mapped + kept, length - kept) }
        count = min(used, capacity)
        base = used == 0 ? nil : mapped
        if used > 0, mprotect(mapped, kept, PROT_READ) != 0 {
            let reason = Self.systemError()
            munmap(mapped, kept)
            throw ZipError(.io, "cannot protect '\(path)': \(reason)")
        }
    }

    /// Gives back the pages of a file mapping that reading touched (`madvise`
    /// `MADV_DONTNEED`): they stop counting as this process's memory, and are
    /// read from the file again if used again. For a slice, the pages wholly
    /// inside it; for a copy in memory, nothing (its bytes live only there).
    public func releasePages() {
        guard let parent else {
            return
        }
        parent.releaseFilePages(sliceOffset..<(sliceOffset + count))
    }

    /// `MADV_DONTNEED` on the whole pages of `range` of a file mapping.
    private func releaseFilePages(_ range: Range<Int>) {
        if let parent { return parent.releaseFilePages((sliceOffset + range.lowerBound)..<(sliceOffset + range.upperBound)) }
        guard let base, isFileMapping, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound + page - 1) / page * page
        let end = range.upperBound / page * page
        guard start < end else { return }
        _ = madvise(base + start, end - start, Int32(MADV_DONTNEED))
    }

    /// A part of another file's mapping, as a file of its own: a `torch.save`
    /// archive stored inside a bigger file (a distributed checkpoint's
    /// `.distcp`), read in place. Nothing is copied; the slice keeps `file`
    /// mapped. Reading without the map goes through `file`'s descriptor.
    ///
    /// - Throws: ``ZipError`` with code ``ZipError/Code/truncated`` when
    ///   `range` is not inside `file` (the file is shorter than its index says).
    public init(slice range: Range<Int>, of file: MappedFile, path: String) throws(ZipError) {
        guard range.lowerBound >= 0, range.upperBound <= file.count else {
            throw ZipError(.truncated, "'\(file.path)' has \(file.count) bytes, not \(range.lowerBound)..<\(range.upperBound) for '\(path)'")
        }
        self.path = path
        count = range.count
        base = range.isEmpty ? nil : file.base.map { $0 + range.lowerBound }
        parent = file
        sliceOffset = range.lowerBound
        fileBacked = file.fileBacked
    }


    deinit {
        closeDescriptor()
        if parent == nil, let base {
            munmap(base, count)
        }
    }

    /// Maps `count` bytes anonymously, copies `source` there and makes them read-only.
    private static func mapCopy(of source: UnsafeRawBufferPointer, path: String) throws(ZipError) -> UnsafeMutableRawPointer? {
        guard source.count > 0, let sourceBase = source.baseAddress else {
            return nil
        }
        let mapped = mmap(nil, source.count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw ZipError(.io, "cannot map \(source.count) bytes for '\(path)': \(systemError())")
        }
        mapped.copyMemory(from: sourceBase, byteCount: source.count)
        guard mprotect(mapped, source.count, PROT_READ) == 0 else {
            let reason = systemError()
            munmap(mapped, source.count)
            throw ZipError(.io, "cannot protect the copy of '\(path)': \(reason)")
        }
        return mapped
    }

    /// The text of `errno`, from `strerror(3)`.
    private static func systemError() -> String {
        let code = errno
        if let text = strerror(code) {
            return String(cString: text) + " (errno \(code))"
        }
        return "errno \(code)"
    }
}

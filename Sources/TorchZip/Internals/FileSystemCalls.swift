internal import CFileCalls
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The system calls ``AtomicFileSink`` makes, in one replaceable table, so
/// that tests can make any of them fail and check that the sink cleans up.
///
/// Every call returns what the C function returns on success and `-errno`
/// on failure (the kernel's own convention), so a replacement reports an
/// error without touching `errno`.
package struct FileSystemCalls: Sendable {
    /// `open(2)`: a file descriptor, or `-errno`.
    package var open: @Sendable (_ path: String, _ flags: Int32, _ mode: UInt32) -> Int32
    /// `write(2)`: the number of bytes written, or `-errno`.
    package var write: @Sendable (_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Int
    /// `fsync(2)`: 0, or `-errno`.
    package var fsync: @Sendable (_ descriptor: Int32) -> Int32
    /// `close(2)`: 0, or `-errno`.
    package var close: @Sendable (_ descriptor: Int32) -> Int32
    /// `rename(2)`: 0, or `-errno`.
    package var rename: @Sendable (_ from: String, _ to: String) -> Int32
    /// `unlink(2)`: 0, or `-errno`.
    package var unlink: @Sendable (_ path: String) -> Int32
    /// `open(2)` of an unnamed file in a directory (Linux's `O_TMPFILE`): a
    /// file descriptor, or `-errno` (`-EOPNOTSUPP` where there is no such thing).
    package var openUnnamed: @Sendable (_ directory: String, _ mode: UInt32) -> Int32 = systemOpenUnnamed
    /// `linkat(2)`: gives the unnamed file open as `descriptor` the name `path`; 0, or `-errno`.
    package var link: @Sendable (_ descriptor: Int32, _ path: String) -> Int32 = systemLink
    /// `copy_file_range(2)` from `source` at `offset` to `destination`'s file
    /// offset: the bytes copied, and `errno` of a real failure (see
    /// ``KernelCopy``). nil (the default for a table of one's own, as tests
    /// build) makes the sink write every byte with `write`.
    package var copyRange: (@Sendable (_ source: Int32, _ offset: Int64, _ destination: Int32, _ count: Int) -> (copied: Int, error: Int32?))?
    /// `sync_file_range(2)` with `SYNC_FILE_RANGE_WRITE` (Linux): starts
    /// writing `count` bytes of the file from `offset` to the disk, without
    /// waiting; 0, or `-errno`. nil (the default for a table of one's own, and
    /// on other systems) makes the sink leave all writeback to the kernel.
    package var startWriteback: (@Sendable (_ descriptor: Int32, _ offset: Int64, _ count: Int64) -> Int32)?
    /// A handle that keeps the file `path` names alive across the rename
    /// that replaces it, when freeing it would take a while (see
    /// ``holdLargeFile(minimumBytes:)``); a descriptor, or a negative number
    /// when nothing is held. nil (the default for a table of one's own, and
    /// on other systems) makes the sink free a replaced file in `rename`.
    package var holdInode: (@Sendable (_ path: String) -> Int32)?

    /// The real calls.
    package static let system: FileSystemCalls = {
        var calls = FileSystemCalls(
            open: systemOpen, write: systemWrite, fsync: systemFsync,
            close: systemClose, rename: systemRename, unlink: systemUnlink)
        calls.copyRange = { KernelCopy.copy(from: $0, at: $1, to: $2, count: $3) }
        #if os(Linux)
        calls.startWriteback = { pth_start_writeback($0, $1, $2) }
        calls.holdInode = holdLargeFile(minimumBytes: replacedFileHoldThreshold)
        #endif
        return calls
    }()

    /// Replaced files at least this large are freed after the rename, off the writing thread.
    package static let replacedFileHoldThreshold: Int64 = 64 << 20

    /// `open(2)` with `O_PATH | O_NOFOLLOW` (Linux) of a regular file of at
    /// least `minimumBytes` with no other link, on a local file system: a
    /// handle that keeps its inode alive without opening it for reading or
    /// writing; `-ECANCELED` for another file (a small one is freed quickly,
    /// a linked one is not freed at all, and NFS keeps a `.nfs` file for a
    /// name still open), `-errno` when it cannot be opened.
    package static func holdLargeFile(minimumBytes: Int64) -> @Sendable (_ path: String) -> Int32 {
        { pth_hold_large_file($0, minimumBytes) }
    }

    /// Creates a table of calls.
    package init(
        open: @escaping @Sendable (String, Int32, UInt32) -> Int32,
        write: @escaping @Sendable (Int32, UnsafeRawBufferPointer) -> Int,
        fsync: @escaping @Sendable (Int32) -> Int32,
        close: @escaping @Sendable (Int32) -> Int32,
        rename: @escaping @Sendable (String, String) -> Int32,
        unlink: @escaping @Sendable (String) -> Int32
    ) {
        self.open = open
        self.write = write
        self.fsync = fsync
        self.close = close
        self.rename = rename
        self.unlink = unlink
    }

    /// The flags for a new file that must not exist yet: write-only, created exclusively, close-on-exec.
    static let createExclusive: Int32 = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC
    /// The flags for opening a directory to `fsync` it.
    static let openDirectory: Int32 = O_RDONLY | O_DIRECTORY | O_CLOEXEC
    /// The mode of a new file before the umask: `rw-rw-rw-`, as `fopen` and `open(…, 0666)` use.
    static let newFileMode: UInt32 = 0o666
    /// `EEXIST`.
    static let fileExists: Int32 = EEXIST
    /// `EINTR`.
    static let interrupted: Int32 = EINTR
    /// `EINVAL`, which some file systems return for `fsync` on a directory.
    static let invalidArgument: Int32 = EINVAL

    /// The text of an error number, from `strerror(3)`.
    static func describe(_ code: Int32) -> String {
        if let text = strerror(code) {
            return String(cString: text) + " (errno \(code))"
        }
        return "errno \(code)"
    }
}

// The C calls, at file scope where their names are not shadowed by the table's properties.

private func systemOpen(_ path: String, _ flags: Int32, _ mode: UInt32) -> Int32 {
    let descriptor = open(path, flags, mode_t(mode))
    return descriptor >= 0 ? descriptor : -errno
}

private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
    let written = write(descriptor, bytes.baseAddress, bytes.count)
    return written >= 0 ? written : -Int(errno)
}

private func systemFsync(_ descriptor: Int32) -> Int32 {
    fsync(descriptor) == 0 ? 0 : -errno
}

private func systemClose(_ descriptor: Int32) -> Int32 {
    close(descriptor) == 0 ? 0 : -errno
}

private func systemRename(_ from: String, _ to: String) -> Int32 {
    rename(from, to) == 0 ? 0 : -errno
}

private func systemUnlink(_ path: String) -> Int32 {
    unlink(path) == 0 ? 0 : -errno
}

#if os(Linux)
// Glibc's module leaves out these _GNU_SOURCE flags: O_TMPFILE is __O_TMPFILE
// (0o20000000 on the architectures Swift runs on) with O_DIRECTORY, AT_EMPTY_PATH 0x1000.
private let linuxTemporaryFile: Int32 = 0o20000000 | O_DIRECTORY
private let linuxEmptyPath: Int32 = 0x1000
#endif

private func systemOpenUnnamed(_ directory: String, _ mode: UInt32) -> Int32 {
    #if os(Linux)
    // linkat needs /proc to name the file at commit, unless the process may use AT_EMPTY_PATH.
    guard access("/proc/self/fd", X_OK) == 0 else { return -EOPNOTSUPP }
    let descriptor = open(directory, linuxTemporaryFile | O_WRONLY | O_CLOEXEC, mode_t(mode))
    return descriptor >= 0 ? descriptor : -errno
    #else
    return -EOPNOTSUPP
    #endif
}

private func systemLink(_ descriptor: Int32, _ path: String) -> Int32 {
    #if os(Linux)
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc link works for anyone.
    if linkat(descriptor, "", AT_FDCWD, path, linuxEmptyPath) == 0 { return 0 }
    guard errno == ENOENT || errno == EPERM else { return -errno }
    return linkat(AT_FDCWD, "/proc/self/fd/\(descriptor)", AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 ? 0 : -errno
    #else
    return -EOPNOTSUPP
    #endif
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `copy_file_range(2)`: the kernel copies bytes between two files without
/// them passing through this process (a reflink or a server-side copy where
/// the file system has one, a page-cache copy otherwise).
///
/// Looked up at run time: glibc declares it only under `_GNU_SOURCE`, which
/// Swift's Glibc module does not set, and other systems lack it; without it,
/// ``copy(from:at:to:count:)`` copies nothing and the caller writes the bytes.
enum KernelCopy {
    private typealias Function = @convention(c) (
        Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32
    ) -> Int

    private static let function: Function? = {
        #if os(Linux)
        // RTLD_DEFAULT is a null handle on glibc and musl.
        guard let symbol = dlsym(nil, "copy_file_range") else { return nil }
        return unsafeBitCast(symbol, to: Function.self)
        #else
        return nil
        #endif
    }()

    /// Copies up to `count` bytes from `source` at `offset` to `destination`
    /// at its file offset (which moves past them).
    ///
    /// - Returns: The bytes copied: all of them, or fewer when the kernel
    ///   cannot copy between these files (other file systems on an old
    ///   kernel, special files, no `copy_file_range`); then the caller writes
    ///   the rest itself. A real I/O error is reported as `errno`.
    static func copy(from source: Int32, at offset: Int64, to destination: Int32, count: Int) -> (copied: Int, error: Int32?) {
        guard let function, count > 0 else { return (0, nil) }
        var from = offset
        var copied = 0
        while copied < count {
            let n = function(source, &from, destination, nil, min(count - copied, 1 << 30), 0)
            if n > 0 {
                copied += n
                continue
            }
            if n == 0 { return (copied, nil) }  // the source ended early: the caller's bytes decide
            let code = errno
            switch code {
            case EINTR: continue
            // Not possible between these two files: write instead.
            case ENOSYS, EXDEV, EINVAL, EOPNOTSUPP, EBADF, ETXTBSY, EPERM: return (copied, nil)
            default: return (copied, code)
            }
        }
        return (copied, nil)
    }
}

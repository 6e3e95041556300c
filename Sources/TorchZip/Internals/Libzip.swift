internal import CLibzip

// Every call into libzip and zlib lives in this file, so that C types never
// reach the public API and the C layer can be read (and replaced) in one place.

/// The C layer: libzip for records another tool compressed and for a second
/// opinion on an archive's consistency, zlib for CRC-32.
package enum Libzip {
    /// zlib's `crc32`, fed in chunks of at most 1 GiB because its length is a `uInt`.
    static func crc32(_ bytes: UnsafeRawBufferPointer, seed: UInt32) -> UInt32 {
        guard var next = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return seed }
        var crc = uLong(seed)
        var left = bytes.count
        while left > 0 {
            let chunk = min(left, 1 << 30)
            crc = CLibzip.crc32(crc, next, uInt(chunk))
            next += chunk
            left -= chunk
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    /// A raw deflate stream (RFC 1951, no zlib header or trailer) of `input`, for tests.
    ///
    /// Wraps zlib's `compress2` and strips the 2-byte zlib header and the
    /// 4-byte Adler-32 trailer it adds. Returns `nil` if zlib fails.
    package static func rawDeflate(_ input: [UInt8], level: Int32 = 6) -> [UInt8]? {
        var capacity = compressBound(uLong(input.count))
        var output = [UInt8](repeating: 0, count: Int(clamping: capacity))
        let status = output.withUnsafeMutableBufferPointer { out in
            input.withUnsafeBufferPointer { source in
                compress2(out.baseAddress, &capacity, source.baseAddress, uLong(source.count), level)
            }
        }
        guard status == Z_OK, capacity >= 6 else { return nil }
        return Array(output[2 ..< Int(clamping: capacity) - 4])
    }

    /// Inflates a raw deflate stream (RFC 1951) with zlib, into at most
    /// `limit` bytes; a longer output (unless `truncating`: then its first
    /// `limit` bytes are returned), a damaged stream or one that ends early
    /// is an error naming `record`.
    static func rawInflate(_ input: UnsafeRawBufferPointer, limit: Int, truncating: Bool = false, record: String,
                           offset: UInt64) throws(ZipError) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ZipError(.inflateFailed, "zlib cannot start inflating", record: record, offset: offset)
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: min(max(input.count * 4, 4096), limit))
        var produced = 0
        var consumed = 0
        while true {
            if produced == output.count {
                guard output.count < limit else {
                    if truncating { return output }
                    throw ZipError(.tooLarge, "inflates to more than \(limit) bytes, the scanning limit", record: record, offset: offset)
                }
                output.append(contentsOf: repeatElement(0, count: min(output.count, limit - output.count)))
            }
            let inChunk = min(input.count - consumed, Int(UInt32.max))
            let outChunk = min(output.count - produced, Int(UInt32.max))
            let status: Int32 = output.withUnsafeMutableBytes { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress.map { $0.assumingMemoryBound(to: Bytef.self) + consumed })
                stream.avail_in = uInt(inChunk)
                stream.next_out = out.baseAddress.map { $0.assumingMemoryBound(to: Bytef.self) + produced }
                stream.avail_out = uInt(outChunk)
                return inflate(&stream, Z_NO_FLUSH)
            }
            consumed += inChunk - Int(stream.avail_in)
            produced += outChunk - Int(stream.avail_out)
            if status == Z_STREAM_END { break }
            guard status == Z_OK || (status == Z_BUF_ERROR && produced == output.count) else {
                let reason = status == Z_BUF_ERROR ? "the stream ends early" : (stream.msg.map { String(cString: $0) } ?? "zlib error \(status)")
                throw ZipError(.inflateFailed, "cannot inflate the record: \(reason)", record: record, offset: offset)
            }
            if inChunk == 0 && stream.avail_out > 0 {
                throw ZipError(.inflateFailed, "cannot inflate the record: the stream ends early", record: record, offset: offset)
            }
        }
        output.removeLast(output.count - produced)
        return output
    }

    /// Opens `file` with libzip, for reading: `zip_source_buffer_create` over
    /// the mapped bytes (no copy; libzip does not free them) and
    /// `zip_open_from_source` with `ZIP_RDONLY` plus `extraFlags`.
    ///
    /// On success the returned `zip_t` owns the source (freed by `zip_discard`);
    /// on failure the source is still ours and is freed here (`zip_source_free`).
    static func open(_ file: MappedFile, checkConsistency: Bool) throws(ZipError) -> OpaquePointer {
        var error = zip_error_t()
        zip_error_init(&error)
        defer { zip_error_fini(&error) }
        guard let source = zip_source_buffer_create(file.bytes.baseAddress, zip_uint64_t(file.count), 0, &error) else {
            throw zipError(&error, "libzip could not wrap the mapped file (zip_source_buffer_create)")
        }
        let flags = ZIP_RDONLY | (checkConsistency ? ZIP_CHECKCONS : 0)
        guard let archive = zip_open_from_source(source, flags, &error) else {
            let failure = zipError(&error, checkConsistency ? "libzip's consistency check (ZIP_CHECKCONS) failed" : "libzip could not open the archive")
            zip_source_free(source)
            throw failure
        }
        return archive
    }

    /// Checks that libzip read the same entry as ours at `entry.index`:
    /// name, sizes, CRC and method, through `zip_stat_index`.
    ///
    /// Guards against libzip picking a different end record than ours in a
    /// crafted file, which would make its indices mean other entries.
    static func compare(_ archive: OpaquePointer, with entry: ZipEntry) throws(ZipError) {
        var stat = zip_stat_t()
        zip_stat_init(&stat)
        guard zip_stat_index(archive, zip_uint64_t(entry.index), zip_flags_t(ZIP_FL_ENC_RAW), &stat) == 0 else {
            throw zipError(zip_get_error(archive), "libzip has no entry #\(entry.index)", record: entry.name)
        }
        let name = stat.name.map { String(cString: $0) }
        guard name == entry.name, stat.size == entry.uncompressedSize, stat.comp_size == entry.compressedSize,
              stat.crc == entry.crc32, stat.comp_method == entry.compressionMethod
        else {
            throw ZipError(
                .libzip,
                "libzip reads entry #\(entry.index) differently: name '\(name ?? "?")', \(stat.comp_size) → \(stat.size) bytes, CRC \(hex(stat.crc)), method \(stat.comp_method); this parser: \(entry.compressedSize) → \(entry.uncompressedSize) bytes, CRC \(hex(entry.crc32)), method \(entry.compressionMethod)",
                record: entry.name, offset: entry.localHeaderOffset)
        }
    }

    /// Checks that libzip counts `count` entries (`zip_get_num_entries`).
    static func compareCount(_ archive: OpaquePointer, with count: Int) throws(ZipError) {
        let libzipCount = zip_get_num_entries(archive, 0)
        guard libzipCount == Int64(count) else {
            throw ZipError(.libzip, "libzip finds \(libzipCount) entries, this parser \(count)")
        }
    }

    /// Opens `file` with `ZIP_CHECKCONS`, which makes libzip compare every
    /// local header with its central directory entry and check the offsets,
    /// then compares every entry libzip read with `entries`.
    static func checkConsistency(of file: MappedFile, expecting entries: [ZipEntry]) throws(ZipError) {
        let archive = try open(file, checkConsistency: true)
        defer { zip_discard(archive) }
        try compareCount(archive, with: entries.count)
        for entry in entries {
            try compare(archive, with: entry)
        }
    }

    /// A ``ZipError`` from libzip's error: the code mapped to ours, the text
    /// from `zip_error_strerror`.
    static func zipError(
        _ error: UnsafeMutablePointer<zip_error_t>, _ what: String,
        record: String? = nil, offset: UInt64? = nil
    ) -> ZipError {
        let code: ZipError.Code = switch zip_error_code_zip(error) {
        case ZIP_ER_CRC: .crcMismatch
        case ZIP_ER_COMPNOTSUPP: .unsupportedCompression
        case ZIP_ER_ENCRNOTSUPP, ZIP_ER_NOPASSWD, ZIP_ER_WRONGPASSWD: .encrypted
        case ZIP_ER_ZLIB, ZIP_ER_COMPRESSED_DATA: .inflateFailed
        case ZIP_ER_MEMORY: .io
        default: .libzip
        }
        let text = String(cString: zip_error_strerror(error))
        return ZipError(code, "\(what): \(text)", record: record, offset: offset)
    }
}

/// A libzip handle on a mapped archive, for inflating compressed records.
///
/// Not safe for concurrent use (libzip's source keeps one read position):
/// callers serialise access.
final class LibzipReader: @unchecked Sendable {
    /// The `zip_t *`.
    private let archive: OpaquePointer
    /// Keeps the bytes under libzip's buffer source mapped.
    private let file: MappedFile

    /// Opens `file` with libzip and checks that it sees `entryCount` entries.
    init(file: MappedFile, entryCount: Int) throws(ZipError) {
        let archive = try Libzip.open(file, checkConsistency: false)
        do throws(ZipError) {
            try Libzip.compareCount(archive, with: entryCount)
        } catch {
            zip_discard(archive)
            throw error
        }
        self.archive = archive
        self.file = file
    }

    /// Inflates `entry` into `buffer`, which holds exactly `entry.uncompressedSize` bytes:
    /// `zip_fopen_index`, then `zip_fread` until the buffer is full, then one
    /// more `zip_fread` that must find the end of the data (that read also
    /// makes libzip check the CRC-32 and the size).
    func inflate(_ entry: ZipEntry, into buffer: InflatedBuffer) throws(ZipError) {
        try Libzip.compare(archive, with: entry)
        guard let handle = zip_fopen_index(archive, zip_uint64_t(entry.index), 0) else {
            throw Libzip.zipError(zip_get_error(archive), "libzip cannot open the record (zip_fopen_index)", record: entry.name, offset: entry.dataOffset)
        }
        defer { zip_fclose(handle) }
        var done = 0
        while done < buffer.count {
            if done == buffer.capacity { try buffer.grow(toAtLeast: done + 1) }
            guard let base = buffer.pointer else { break }
            let chunk = min(buffer.capacity - done, 1 << 30)
            let read = zip_fread(handle, base + done, zip_uint64_t(chunk))
            if read < 0 {
                throw readError(handle, entry, after: done)
            }
            if read == 0 {
                throw ZipError(.sizeMismatch, "inflates to only \(done) bytes, but the central directory declares \(entry.uncompressedSize)", record: entry.name, offset: entry.dataOffset)
            }
            done += Int(read)
        }
        var probe: UInt8 = 0
        let extra = zip_fread(handle, &probe, 1)
        if extra < 0 {
            throw readError(handle, entry, after: done)
        }
        if extra > 0 {
            throw ZipError(.sizeMismatch, "inflates to more than the \(entry.uncompressedSize) bytes the central directory declares", record: entry.name, offset: entry.dataOffset)
        }
    }

    /// The error of a failed `zip_fread` (`zip_file_get_error`). libzip reports
    /// a size that differs from the declared one as an inconsistency at the
    /// end of the data.
    private func readError(_ handle: OpaquePointer, _ entry: ZipEntry, after done: Int) -> ZipError {
        let what = "inflating failed after \(done) of \(entry.uncompressedSize) bytes (zip_fread)"
        guard let error = zip_file_get_error(handle) else {
            return ZipError(.libzip, what, record: entry.name, offset: entry.dataOffset)
        }
        if zip_error_code_zip(error) == ZIP_ER_INCONS {
            let text = String(cString: zip_error_strerror(error))
            return ZipError(.sizeMismatch, "\(what): \(text): the data does not inflate to the declared \(entry.uncompressedSize) bytes", record: entry.name, offset: entry.dataOffset)
        }
        return Libzip.zipError(error, what, record: entry.name, offset: entry.dataOffset)
    }

    deinit {
        zip_discard(archive)
    }
}

enum LibzipMethods {
    /// Whether libzip can decompress records of this compression method.
    static func canDecompress(_ method: UInt16) -> Bool {
        zip_compression_method_supported(Int32(method), 0) != 0
    }
}

import CZstd
import TorchZip

/// zstd decompression (libzstd), for the streams torch's `ZStandard` extension writes.
enum Zstd {
    struct Failure: Error { let message: String }

    /// Decompresses every frame in `source` (concatenated frames, empty ones and
    /// frames without a content size included) straight into a new read-only
    /// mapping, refusing to produce more than `limit` bytes (a stream that
    /// would is damaged or hostile). Memory: the output, once.
    static func decompress(_ source: UnsafeRawBufferPointer, limit: Int, path: String) throws(Failure) -> MappedFile {
        guard let stream = ZSTD_createDStream() else { throw Failure(message: "cannot allocate a zstd stream") }
        defer { ZSTD_freeDStream(stream) }
        var failure: Failure?
        let file: MappedFile
        do {
            file = try MappedFile(capacity: limit + 1, path: path + " (zstd decompressed)") { buffer throws(ZipError) in
                var input = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
                var output = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
                var last = 0
                repeat {
                    let before = (input.pos, output.pos)
                    let result = ZSTD_decompressStream(stream, &output, &input)
                    if ZSTD_isError(result) != 0 {
                        failure = Failure(message: "zstd: \(String(cString: ZSTD_getErrorName(result))) at input byte \(input.pos)")
                        throw ZipError(.inflateFailed, "zstd")
                    }
                    last = result
                    if output.pos > limit {
                        failure = Failure(message: "the zstd stream decompresses to more than \(limit) bytes")
                        throw ZipError(.tooLarge, "zstd")
                    }
                    if (input.pos, output.pos) == before {
                        failure = Failure(message: "the zstd stream ends inside a frame (truncated)")
                        throw ZipError(.truncated, "zstd")
                    }
                } while input.pos < input.size || last != 0
                return output.pos
            }
        } catch {
            throw failure ?? Failure(message: error.message)
        }
        return file
    }
}

extension Zstd {
    /// One zstd frame of `source` at the default level, written as a stream
    /// (no content size in the header), as pyzstd's `ZstdCompressor().compress(data)`
    /// followed by `flush()` writes it.
    static func compressFrame(_ source: [UInt8]) throws(Failure) -> [UInt8] {
        guard let stream = ZSTD_createCStream() else { throw Failure(message: "cannot allocate a zstd stream") }
        defer { ZSTD_freeCStream(stream) }
        ZSTD_CCtx_setParameter(stream, ZSTD_c_compressionLevel, ZSTD_CLEVEL_DEFAULT)
        var output: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: Int(ZSTD_CStreamOutSize()))
        func run(_ input: inout ZSTD_inBuffer, _ mode: ZSTD_EndDirective) throws(Failure) -> Int {
            let (produced, remaining) = scratch.withUnsafeMutableBytes { raw -> (Int, Int) in
                var out = ZSTD_outBuffer(dst: raw.baseAddress, size: raw.count, pos: 0)
                let r = ZSTD_compressStream2(stream, &out, &input, mode)
                return (out.pos, r)
            }
            if ZSTD_isError(remaining) != 0 { throw Failure(message: "zstd: \(String(cString: ZSTD_getErrorName(remaining)))") }
            output.append(contentsOf: scratch[..<produced])
            return remaining
        }
        let result = source.withUnsafeBytes { raw in
            Result { () throws(Failure) in
                var input = ZSTD_inBuffer(src: raw.baseAddress, size: raw.count, pos: 0)
                while input.pos < input.size { _ = try run(&input, ZSTD_e_continue) }
                var empty = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
                while try run(&empty, ZSTD_e_end) != 0 {}
            }
        }
        try result.get()
        return output
    }

    /// The frame pyzstd's second `flush()` writes after a finished frame: no
    /// content (single segment, content size 0, one empty raw block).
    static func emptyFrame() -> [UInt8] { [0x28, 0xB5, 0x2F, 0xFD, 0x20, 0x00, 0x01, 0x00, 0x00] }
}

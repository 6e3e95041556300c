/// The file format a checkpoint was written in.
public enum CheckpointFormat: Sendable, Equatable, CustomStringConvertible {
    /// The zip format of `torch.save` (PyTorch 1.6 and later).
    /// - prefix: the folder every record sits under (from the file name torch.save was given).
    /// - version: the `version` record.
    /// - byteOrder: from the `byteorder` record (little when absent).
    /// - isTorchScript: whether the archive is a TorchScript module (`constants.pkl`, `code/`).
    case zip(prefix: String, version: Int, byteOrder: ByteOrder, isTorchScript: Bool)

    public var description: String {
        switch self {
        case .zip(let prefix, let version, let byteOrder, let ts):
            "\(ts ? "TorchScript " : "")zip (prefix '\(prefix)', version \(version), \(byteOrder)-endian)"
        }
    }
}

/// Recognises a file by its content, never by its extension.
enum FormatSniffer {
    enum Kind { case zip, legacyPickle, tar, unknown(String) }

    static func sniff(_ bytes: UnsafeRawBufferPointer) -> Kind {
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            bytes.count >= offset + prefix.count && zip(prefix.indices, prefix).allSatisfy { bytes[offset + $0] == $1 }
        }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) { return .zip }
        if starts(Array("ustar".utf8), at: 257) { return .tar }
        // Legacy files are a sequence of pickles starting with the magic number
        // 0x1950a86a20f9469cfc6c (LONG1 of 10 bytes), whatever the protocol.
        let magic: [UInt8] = [0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
        let head = Array(bytes.prefix(64))
        if head.count >= magic.count {
            for i in 0...(head.count - magic.count) where Array(head[i..<(i + magic.count)]) == magic {
                return .legacyPickle
            }
        }
        if bytes.isEmpty { return .unknown("the file is empty") }
        if bytes.first == 0x80 { return .unknown("a bare pickle (protocol \(bytes.count > 1 ? Int(bytes[1]) : 0)) without torch's magic number, not a torch.save file") }
        if starts(Array("\u{93}NUMPY".unicodeScalars.map { UInt8($0.value) })) { return .unknown("a numpy .npy file") }
        if bytes.count >= 8 {
            let n = bytes.loadUnaligned(as: UInt64.self).littleEndian
            if n > 0, n < UInt64(bytes.count), bytes.count > 8, bytes[8] == UInt8(ascii: "{") {
                return .unknown("a safetensors file (JSON header of \(n) bytes)")
            }
        }
        if starts([0x1F, 0x8B]) { return .unknown("a gzip stream") }
        if starts(Array("\u{89}HDF".unicodeScalars.map { UInt8($0.value) })) { return .unknown("an HDF5 file") }
        let printable = bytes.prefix(256).allSatisfy { $0 == 9 || $0 == 10 || $0 == 13 || (32..<127).contains($0) }
        if printable { return .unknown("text, not a binary checkpoint") }
        let hex = bytes.prefix(8).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
        return .unknown("unknown content starting with bytes \(hex)")
    }
}

/// The file format a checkpoint was written in.
public enum CheckpointFormat: Sendable, Equatable, CustomStringConvertible {
    /// The zip format of `torch.save` (PyTorch 1.6 and later).
    /// - prefix: the folder every record sits under (from the file name torch.save was given).
    /// - version: the `version` record.
    /// - byteOrder: from the `byteorder` record (little when absent).
    /// - isTorchScript: whether the archive is a TorchScript module (`constants.pkl`, `code/`).
    case zip(prefix: String, version: Int, byteOrder: ByteOrder, isTorchScript: Bool)
    /// The legacy format of `torch.save` (PyTorch before 1.6, or
    /// `_use_new_zipfile_serialization=False`): pickles back to back, then the
    /// storages, always little-endian. Read and written.
    /// - systemInfo: what the writing machine said of itself (informational: PyTorch ignores it).
    case legacy(systemInfo: LegacySystemInfo)
    /// The tar format of PyTorch 0.1 (members `sys_info`, `pickle`, `tensors`, `storages`). Read only.
    case tar(systemInfo: LegacySystemInfo)
    /// A distributed checkpoint (`torch.distributed.checkpoint`, DCP): a
    /// directory with `.metadata` and the `.distcp` files of every rank. Read only.
    /// - files: how many data files the metadata names.
    /// - version: the metadata's `version`, when it has one.
    case distributed(files: Int, version: String?)
    /// A Hugging Face sharded set: shards (`torch.save` or safetensors files)
    /// and the `*.index.json` that maps each tensor to one. Read only.
    /// - shardFormat: `torch.save` or safetensors files.
    /// - shards: how many shard files the index names.
    case sharded(shardFormat: ShardedCheckpoint.ShardFormat, shards: Int)
    /// A `torch.export` archive (`.pt2`, `torch.export.save`): a zip whose
    /// exported programs' weights and tensor constants are read (the graphs are not). Read only.
    /// - models: the exported programs' names (`model`).
    case exportArchive(models: [String])
    /// A bare pickle (`pickle.dump` output, a DCP `.metadata`), read with
    /// ``Checkpoint/init(picklePath:options:)``; `torch.load` refuses it.
    case pickle(protocol: Int)

    public var description: String {
        switch self {
        case .zip(let prefix, let version, let byteOrder, let ts):
            "\(ts ? "TorchScript " : "")zip (prefix '\(prefix)', version \(version), \(byteOrder)-endian)"
        case .legacy(let info):
            "legacy (PyTorch before 1.6\(info.summary))"
        case .tar(let info):
            "tar (PyTorch 0.1\(info.summary))"
        case .distributed(let files, let version):
            "distributed checkpoint (DCP\(version.map { " \($0)" } ?? ""), \(files) data file\(files == 1 ? "" : "s"))"
        case .sharded(let shardFormat, let shards):
            "sharded set (\(shards) \(shardFormat.rawValue) shard\(shards == 1 ? "" : "s"))"
        case .exportArchive(let models):
            "torch.export archive (.pt2: \(models.joined(separator: ", ")))"
        case .pickle(let version):
            "bare pickle (protocol \(version); pickle.dump output, which torch.load refuses)"
        }
    }
}

/// Recognises a file by its content, never by its extension.
enum FormatSniffer {
    /// What a file is. TorchScript archives are zip files; the zip reader tells them apart.
    enum Kind { case zip, legacyPickle, tar, unknown(String) }

    static func sniff(_ bytes: UnsafeRawBufferPointer) -> Kind {
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            bytes.count >= offset + prefix.count && zip(prefix.indices, prefix).allSatisfy { bytes[offset + $0] == $1 }
        }
        func starts(_ text: String, at offset: Int = 0) -> Bool {
            starts(text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }, at: offset)
        }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) { return .zip }
        if legacyMagicEnd(bytes) != nil { return .legacyPickle }
        if starts("ustar", at: 257) { return .tar }
        if bytes.isEmpty { return .unknown("the file is empty") }
        if starts([0x50, 0x4B]) { return .unknown("a zip archive that does not start with a local file header (a spanned or self-extracting archive)") }
        if starts([0x1F, 0x8B]) { return .unknown("a gzip stream (PyTorch reads no compressed checkpoint: decompress it first)") }
        if starts("BZh") { return .unknown("a bzip2 stream (decompress it first)") }
        if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return .unknown("an xz stream (decompress it first)") }
        if starts([0x28, 0xB5, 0x2F, 0xFD]) { return .unknown("a zstd stream (decompress it first)") }
        if starts([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) { return .unknown("an HDF5 file (Keras .h5 weights?), not a PyTorch checkpoint") }
        if starts("\u{93}NUMPY") { return .unknown("a numpy .npy file") }
        if starts("GGUF") { return .unknown("a GGUF file (llama.cpp), not a PyTorch checkpoint") }
        if starts("TFL3", at: 4) { return .unknown("a TensorFlow Lite model") }
        if bytes.count >= 8 {
            let n = bytes.loadUnaligned(as: UInt64.self).littleEndian
            if n > 0, n < UInt64(bytes.count), bytes.count > 8, bytes[8] == UInt8(ascii: "{") {
                return .unknown("a safetensors file (JSON header of \(n) bytes)")
            }
        }
        if bytes.first == 0x80, bytes.count > 1, bytes[1] <= 5 {
            return .unknown("a bare pickle (protocol \(bytes[1])) without torch's magic number: pickle.dump output, not a torch.save file")
        }
        let printable = bytes.prefix(256).allSatisfy { $0 == 9 || $0 == 10 || $0 == 13 || (32..<127).contains($0) }
        if printable { return .unknown("text, not a binary checkpoint") }
        if bytes.count >= 512, bytes[257..<262].allSatisfy({ $0 == 0 }), TarArchive.headerChecksumMatches(bytes) {
            return .unknown("a tar archive without the ustar magic (a V7 tar), which PyTorch never wrote")
        }
        let hex = bytes.prefix(8).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
        return .unknown("unknown content starting with bytes \(hex)")
    }

    /// The 10 bytes of torch's magic number 0x1950a86a20f9469cfc6c, little-endian (LONG1's argument).
    static let magicBytes: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    /// The magic number as protocols 0 and 1 write it (`LONG` with a decimal argument).
    static let magicText = "L119547037146038801333356L\n"

    /// Where the first pickle of a legacy file (the magic number) ends its
    /// `LONG`, or nil: `PROTO n` and a `FRAME` may come first, so any protocol
    /// is recognised, not only protocol 2's header bytes.
    static func legacyMagicEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        if bytes.count >= 2, bytes[0] == 0x80 { i = 2 }                 // PROTO n
        if bytes.count >= i + 9, bytes[i] == 0x95 { i += 9 }            // FRAME length (protocol 4+)
        if bytes.count >= i + 12, bytes[i] == 0x8A, bytes[i + 1] == 10,
           magicBytes.indices.allSatisfy({ bytes[i + 2 + $0] == magicBytes[$0] }) {
            return i + 12
        }
        let text = Array(magicText.utf8)
        if bytes.count >= i + text.count, text.indices.allSatisfy({ bytes[i + $0] == text[$0] }) {
            return i + text.count
        }
        return nil
    }
}

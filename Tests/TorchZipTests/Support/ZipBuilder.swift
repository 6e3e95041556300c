import TorchZip

/// Writes small zip archives byte by byte, in PyTorch's layout or a plain
/// one, so tests need neither Python nor committed binaries.
struct ZipBuilder {
    /// How records and end records are laid out.
    enum Layout {
        /// As torch.save writes: stored, flags 0x0808, zero CRC and sizes in the
        /// local header, `FB` padding to 64 bytes, data descriptors, zip64 end
        /// records always.
        case pytorch
        /// As common zip tools write small archives: CRC and sizes in the local
        /// header, no padding, no descriptors, classic end record only.
        case plain
    }

    /// Which central directory fields are moved into a zip64 extra field.
    struct Zip64Fields: OptionSet {
        let rawValue: Int
        static let uncompressed = Zip64Fields(rawValue: 1)
        static let compressed = Zip64Fields(rawValue: 2)
        static let offset = Zip64Fields(rawValue: 4)
        static let all: Zip64Fields = [.uncompressed, .compressed, .offset]
    }

    /// One record to write.
    struct Record {
        /// The full name, prefix included.
        var name: String
        /// The uncompressed contents.
        var contents: [UInt8]
        /// The compression method written to the headers.
        var method: UInt16 = 0
        /// The bytes written as the record's data; `contents` when `nil`.
        var payload: [UInt8]? = nil
        /// Flags to OR into the layout's own.
        var extraFlags: UInt16 = 0
        /// Central directory fields written as sentinels plus a zip64 extra.
        var zip64: Zip64Fields = []
        /// Overrides the CRC written to the central directory.
        var crc: UInt32? = nil
        /// Overrides the uncompressed size written to the central directory.
        var declaredSize: UInt64? = nil

        /// A stored record.
        static func stored(_ name: String, _ contents: [UInt8]) -> Record {
            Record(name: name, contents: contents)
        }

        /// A stored record holding UTF-8 text.
        static func stored(_ name: String, _ text: String) -> Record {
            Record(name: name, contents: Array(text.utf8))
        }

        /// A deflate record (method 8) whose stream is made of stored blocks
        /// (BTYPE 00), written by hand.
        static func deflatedByHand(_ name: String, _ contents: [UInt8]) -> Record {
            Record(name: name, contents: contents, method: 8, payload: storedBlockDeflate(contents))
        }

        /// A deflate record (method 8) compressed by zlib.
        static func deflatedByZlib(_ name: String, _ contents: [UInt8]) -> Record {
            Record(name: name, contents: contents, method: 8, payload: Libzip.rawDeflate(contents) ?? [])
        }
    }

    /// Where the builder put things.
    struct Layouted {
        var bytes: [UInt8]
        var localHeaderOffsets: [Int] = []
        var dataOffsets: [Int] = []
        var centralEntryOffsets: [Int] = []
        var centralDirectoryOffset = 0
        var zip64EndRecordOffset: Int?
        var endRecordOffset = 0
    }

    var layout: Layout = .pytorch
    var records: [Record] = []
    /// The archive comment (plain layout end record).
    var comment: [UInt8] = []
    /// Bytes appended after the end record (after the comment).
    var trailer: [UInt8] = []

    /// Builds the archive.
    func build() -> Layouted {
        var out = Layouted(bytes: [])
        var b: [UInt8] = []
        var flagsOf: [UInt16] = []
        var crcs: [UInt32] = []
        for record in records {
            let payload = record.payload ?? record.contents
            let crc = record.contents.withUnsafeBytes { crc32($0) }
            crcs.append(crc)
            let start = b.count
            out.localHeaderOffsets.append(start)
            let name = Array(record.name.utf8)
            switch layout {
            case .pytorch:
                let flags: UInt16 = (record.contents.isEmpty ? 0x0800 : 0x0808) | record.extraFlags
                flagsOf.append(flags)
                b.u32(0x0403_4B50); b.u16(0); b.u16(flags); b.u16(record.method)
                b.u16(0); b.u16(0); b.u32(0); b.u32(0); b.u32(0)
                let unpadded = start + 30 + name.count + 4
                let padding = (64 - unpadded % 64) % 64
                b.u16(UInt16(name.count)); b.u16(UInt16(4 + padding))
                b += name
                b += [0x46, 0x42]; b.u16(UInt16(padding))
                b += [UInt8](repeating: UInt8(ascii: "Z"), count: padding)
                out.dataOffsets.append(b.count)
                b += payload
                if !record.contents.isEmpty {
                    b.u32(0x0807_4B50); b.u32(crc); b.u32(UInt32(payload.count)); b.u32(UInt32(record.contents.count))
                }
            case .plain:
                let flags: UInt16 = record.extraFlags
                flagsOf.append(flags)
                b.u32(0x0403_4B50); b.u16(20); b.u16(flags); b.u16(record.method)
                b.u16(0x6000); b.u16(0x5A21); b.u32(crc); b.u32(UInt32(payload.count)); b.u32(UInt32(record.contents.count))
                b.u16(UInt16(name.count)); b.u16(0)
                b += name
                out.dataOffsets.append(b.count)
                b += payload
            }
        }
        let cdStart = b.count
        out.centralDirectoryOffset = cdStart
        for (i, record) in records.enumerated() {
            out.centralEntryOffsets.append(b.count)
            let payload = record.payload ?? record.contents
            let name = Array(record.name.utf8)
            let uncompressed = record.declaredSize ?? UInt64(record.contents.count)
            let compressed = UInt64(payload.count)
            let offset = UInt64(out.localHeaderOffsets[i])
            var extra: [UInt8] = []
            if !record.zip64.isEmpty {
                var fields: [UInt8] = []
                if record.zip64.contains(.uncompressed) { fields.u64(uncompressed) }
                if record.zip64.contains(.compressed) { fields.u64(compressed) }
                if record.zip64.contains(.offset) { fields.u64(offset) }
                extra.u16(0x0001); extra.u16(UInt16(fields.count)); extra += fields
            }
            b.u32(0x0201_4B50)
            b.u16(layout == .pytorch ? 0 : 0x031E); b.u16(layout == .pytorch ? 0 : 20)
            b.u16(flagsOf[i]); b.u16(record.method)
            b.u16(layout == .pytorch ? 0 : 0x6000); b.u16(layout == .pytorch ? 0 : 0x5A21)
            b.u32(record.crc ?? crcs[i])
            b.u32(record.zip64.contains(.compressed) ? 0xFFFF_FFFF : UInt32(compressed))
            b.u32(record.zip64.contains(.uncompressed) ? 0xFFFF_FFFF : UInt32(uncompressed))
            b.u16(UInt16(name.count)); b.u16(UInt16(extra.count)); b.u16(0)
            b.u16(0); b.u16(0); b.u32(layout == .pytorch ? 0 : 0o100644 << 16)
            b.u32(record.zip64.contains(.offset) ? 0xFFFF_FFFF : UInt32(offset))
            b += name
            b += extra
        }
        let cdSize = b.count - cdStart
        if layout == .pytorch {
            let zip64End = b.count
            out.zip64EndRecordOffset = zip64End
            b.u32(0x0606_4B50); b.u64(44); b.u16(0x031E); b.u16(45); b.u32(0); b.u32(0)
            b.u64(UInt64(records.count)); b.u64(UInt64(records.count)); b.u64(UInt64(cdSize)); b.u64(UInt64(cdStart))
            b.u32(0x0706_4B50); b.u32(0); b.u64(UInt64(zip64End)); b.u32(1)
        }
        out.endRecordOffset = b.count
        b.u32(0x0605_4B50); b.u16(0); b.u16(0)
        b.u16(UInt16(records.count)); b.u16(UInt16(records.count)); b.u32(UInt32(cdSize)); b.u32(UInt32(cdStart))
        b.u16(UInt16(comment.count)); b += comment
        b += trailer
        out.bytes = b
        return out
    }

    /// A raw deflate stream of stored blocks (BTYPE 00): for each block of at
    /// most 65,535 bytes, a header byte (BFINAL on the last), LEN, ~LEN, the bytes.
    static func storedBlockDeflate(_ contents: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var start = 0
        repeat {
            let end = min(contents.count, start + 0xFFFF)
            out.append(end == contents.count ? 1 : 0)
            let length = UInt16(end - start)
            out.u16(length); out.u16(~length)
            out += contents[start ..< end]
            start = end
        } while start < contents.count
        return out
    }
}

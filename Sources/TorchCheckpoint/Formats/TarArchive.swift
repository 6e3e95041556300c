/// The members of a tar archive, read in place: what Python's `tarfile`
/// reads of the ustar and PAX archives PyTorch 0.1 wrote (`tarfile.PAX_FORMAT`).
///
/// Each 512-byte header is checked (its checksum, its size against the file);
/// PAX extended headers (`x`) and GNU long names (`L`) rename or resize the
/// member after them. Members' data is never copied.
struct TarArchive {
    /// One file in the archive.
    struct Member {
        /// The member's path, as `tarfile` reports it.
        let name: String
        /// Where its header starts in the file.
        let headerOffset: Int
        /// Where its data starts in the file.
        let dataOffset: Int
        /// The size of its data in bytes.
        let size: Int
    }

    /// An archive that cannot be read: what is wrong and at which byte.
    struct Problem: Error {
        let message: String
        let offset: Int
    }

    /// Regular files, in archive order.
    let members: [Member]

    /// The last member of that name (as `tarfile.getmember`).
    func member(_ name: String) -> Member? { members.last { $0.name == name } }

    static let blockSize = 512

    init(_ bytes: UnsafeRawBufferPointer) throws(Problem) {
        var members: [Member] = []
        var offset = 0
        var paxPath: String?
        var paxSize: Int?
        var longName: String?
        while bytes.count - offset >= Self.blockSize {
            let header = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + Self.blockSize)])
            if header.allSatisfy({ $0 == 0 }) { break }      // end of archive
            guard Self.checksumMatches(header) else {
                throw Problem(message: "the header's checksum does not match its bytes (not a tar header, or a damaged one)", offset: offset)
            }
            guard let headerSize = Self.number(header, 124, 12) else {
                throw Problem(message: "the header's size field is not a number", offset: offset)
            }
            let type = header[156]
            var size = headerSize
            if let paxSize, type != UInt8(ascii: "x"), type != UInt8(ascii: "g") { size = paxSize }
            let dataOffset = offset + Self.blockSize
            guard size >= 0, size <= bytes.count - dataOffset else {
                throw Problem(message: "the member's \(size) bytes from byte \(dataOffset) run past the end of the file at byte \(bytes.count)", offset: offset)
            }
            let data = UnsafeRawBufferPointer(rebasing: bytes[dataOffset..<(dataOffset + size)])
            switch type {
            case UInt8(ascii: "x"):
                // A PAX extended header: "<length> <key>=<value>\n" records for the next member.
                let records = try Self.paxRecords(data, at: dataOffset)
                paxPath = records["path"] ?? paxPath
                if let text = records["size"] {
                    guard let n = Int(text), n >= 0 else {
                        throw Problem(message: "the PAX size \(text.debugDescription) is not a size", offset: dataOffset)
                    }
                    paxSize = n
                }
            case UInt8(ascii: "g"):
                break     // global PAX records: nothing PyTorch's members need
            case UInt8(ascii: "L"):
                longName = Self.cString(data, 0, data.count)
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
                var name = Self.cString(header, 0, 100)
                if Self.isUstar(header) {
                    let prefix = Self.cString(header, 345, 155)
                    if !prefix.isEmpty { name = prefix + "/" + name }
                }
                members.append(Member(name: paxPath ?? longName ?? name, headerOffset: offset, dataOffset: dataOffset, size: size))
                (paxPath, paxSize, longName) = (nil, nil, nil)
            default:
                // Directories, links, devices: no data PyTorch reads.
                (paxPath, paxSize, longName) = (nil, nil, nil)
            }
            let padded = (size + Self.blockSize - 1) / Self.blockSize * Self.blockSize
            offset = dataOffset + min(padded, bytes.count - dataOffset)
        }
        self.members = members
    }

    /// Whether the first 512 bytes are a tar header with a valid checksum.
    static func headerChecksumMatches(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= blockSize && checksumMatches(UnsafeRawBufferPointer(rebasing: bytes[0..<blockSize]))
    }

    /// The checksum field against the sum of the header's bytes with that field
    /// as spaces; unsigned or signed, as `tarfile` accepts either.
    static func checksumMatches(_ header: UnsafeRawBufferPointer) -> Bool {
        guard let stored = number(header, 148, 8) else { return false }
        var unsigned = 0, signed = 0
        for (i, byte) in header.enumerated() {
            let b = (148..<156).contains(i) ? 0x20 : byte
            unsigned += Int(b)
            signed += Int(Int8(bitPattern: b))
        }
        return stored == unsigned || stored == signed
    }

    static func isUstar(_ header: UnsafeRawBufferPointer) -> Bool {
        Array(header[257..<262]) == Array("ustar".utf8)
    }

    /// An octal field (NUL- or space-terminated), or GNU's base-256 with the high bit set.
    static func number(_ header: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> Int? {
        let field = header[start..<(start + length)]
        if let first = field.first, first & 0x80 != 0 {
            guard first == 0x80 else { return nil }    // negative numbers have no use here
            var value = 0
            for byte in field.dropFirst() {
                let (shifted, overflow) = value.multipliedReportingOverflow(by: 256)
                guard !overflow else { return nil }
                value = shifted | Int(byte)
            }
            return value
        }
        var value = 0
        var digits = 0
        for byte in field {
            if byte == 0 || byte == 0x20 {
                if digits > 0 { break } else { continue }
            }
            guard (0x30...0x37).contains(byte) else { return nil }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 8)
            guard !overflow else { return nil }
            value = shifted + Int(byte - 0x30)
            digits += 1
        }
        return value
    }

    static func cString(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> String {
        let field = bytes[start..<(start + length)]
        let end = field.firstIndex(of: 0) ?? field.endIndex
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    static func paxRecords(_ data: UnsafeRawBufferPointer, at base: Int) throws(Problem) -> [String: String] {
        var records: [String: String] = [:]
        var i = 0
        while i < data.count {
            if data[i] == 0 { break }
            guard let space = data[i...].firstIndex(of: 0x20),
                  let length = Int(String(decoding: data[i..<space], as: UTF8.self)), length > space - i,
                  length <= data.count - i, data[i + length - 1] == 0x0A else {
                throw Problem(message: "a PAX record is malformed", offset: base + i)
            }
            let record = data[(space + 1)..<(i + length - 1)]
            if let equals = record.firstIndex(of: UInt8(ascii: "=")) {
                records[String(decoding: data[record.startIndex..<equals], as: UTF8.self)] =
                    String(decoding: data[(equals + 1)..<record.endIndex], as: UTF8.self)
            }
            i += length
        }
        return records
    }
}

/// The `.data/serialization_id` record PyTorch 2.1 and later writes last in
/// every archive: 40 decimal digits, `%020llu` of ``nameHash`` then `%020llu`
/// of ``crcHash``, both folded with `c10::hash_combine`.
///
/// This is the id PyTorch's Linux builds compute (libstdc++'s `std::hash` and
/// `std::unordered_set`); builds against other C++ runtimes compute other ids
/// for the same records, so a file written by one of them keeps its id only
/// when it is passed to ``PyTorchZipWriter/finish(serializationID:)``.
///
/// ```swift
/// let id = SerializationID.compute(prefix: "model", records: records)
/// print(id)   // "0561108523619670529413758554171180139871"
/// ```
public struct SerializationID: Sendable, Hashable, CustomStringConvertible {
    /// The record names folded in the iteration order of a libstdc++
    /// `std::unordered_set<std::string>` that received them in write order.
    public var nameHash: UInt64

    /// The CRC-32s seen in the writer's output: one per data descriptor
    /// (every non-empty record), plus the quirks described in ``compute(prefix:records:)``.
    public var crcHash: UInt64

    /// Creates an id from its two halves.
    public init(nameHash: UInt64, crcHash: UInt64) {
        self.nameHash = nameHash
        self.crcHash = crcHash
    }

    /// The 40 digits PyTorch writes: each half as 20 decimal digits, zero-padded.
    public var description: String {
        Self.twentyDigits(nameHash) + Self.twentyDigits(crcHash)
    }

    /// One record as the serialization id sees it.
    public struct Record: Sendable, Hashable {
        /// The record name without the prefix folder (`data/0`).
        public var name: String
        /// The CRC-32 written for the record (0 when CRCs are not computed).
        public var crc32: UInt32
        /// The record's size in bytes.
        public var size: UInt64
        /// The first bytes of the record's data: at least 8 when the record has
        /// 8 or more (more are ignored), all of them when it is shorter.
        public var leadingBytes: [UInt8]

        /// Describes a record.
        ///
        /// - Parameters:
        ///   - name: The record name without the prefix folder.
        ///   - crc32: The CRC-32 written for the record.
        ///   - size: The record's size in bytes.
        ///   - leadingBytes: The first (up to 8) bytes of its data.
        public init(name: String, crc32: UInt32, size: UInt64, leadingBytes: [UInt8]) {
            self.name = name
            self.crc32 = crc32
            self.size = size
            self.leadingBytes = leadingBytes
        }
    }

    /// The id PyTorch's `PyTorchStreamWriter` (Linux, libstdc++) computes for
    /// an archive whose records were written in this order.
    ///
    /// - *crcHash*: PyTorch's write callback looks at every block miniz hands
    ///   it; a block of at least 8 bytes that starts with `PK\x07\x08` (a data
    ///   descriptor's signature) has the `UInt32` at offset 4 folded in. Each
    ///   non-empty record's data descriptor thus folds its CRC-32. miniz also
    ///   hands over the full record name (`prefix/name`) and the record's data
    ///   as single blocks, so a record whose data starts with `PK\x07\x08`
    ///   folds its bytes 4 to 7 first, and so does every record name when the
    ///   prefix starts with those four bytes.
    /// - *nameHash*: libstdc++'s `std::hash<std::string>` of each name (prefix
    ///   excluded), folded in the iteration order of a libstdc++
    ///   `std::unordered_set<std::string>` that received the names in write
    ///   order (which follows its bucket layout and prime rehash policy, not
    ///   the write order).
    ///
    /// - Parameters:
    ///   - prefix: The archive's prefix folder.
    ///   - records: The records in write order, `.data/serialization_id` itself excluded.
    /// - Returns: The id.
    public static func compute(prefix: String, records: [Record]) -> SerializationID {
        var accumulator = SerializationIDAccumulator()
        let folder = Array((prefix + "/").utf8)
        for record in records {
            accumulator.observeWrite(folder + Array(record.name.utf8))
            if record.size >= 8 {
                accumulator.observeWrite(record.leadingBytes)
            }
            if record.size > 0 {
                accumulator.foldDescriptor(crc32: record.crc32)
            }
            accumulator.insertName(record.name)
        }
        return accumulator.id
    }

    /// `%020llu`.
    private static func twentyDigits(_ value: UInt64) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }
}

/// The running state behind a ``SerializationID``: the CRC fold over the
/// writer's output blocks and the set of record names.
struct SerializationIDAccumulator {
    /// `combined_uncomp_crc32_`.
    private(set) var crcHash: UInt64 = 0
    /// `files_written_`, for its iteration order.
    private var names = LibstdcxxUnorderedSetOrder()

    /// Looks at one block PyTorch's write callback receives: when it holds at
    /// least 8 bytes and starts with `PK\x07\x08`, folds the `UInt32` at offset 4.
    mutating func observeWrite(_ block: UnsafeRawBufferPointer) {
        guard block.count >= 8,
              block[0] == 0x50, block[1] == 0x4B, block[2] == 0x07, block[3] == 0x08
        else { return }
        let value = block.loadLittleEndian(UInt32.self, at: 4)
        crcHash = hashCombine(crcHash, UInt64(value))
    }

    /// ``observeWrite(_:)`` for bytes in an array.
    mutating func observeWrite(_ block: [UInt8]) {
        block.withUnsafeBytes { observeWrite($0) }
    }

    /// Folds a data descriptor's CRC-32, as observing the descriptor block would.
    mutating func foldDescriptor(crc32: UInt32) {
        crcHash = hashCombine(crcHash, UInt64(crc32))
    }

    /// Adds a record name (without the prefix) to the name set; names must be distinct.
    mutating func insertName(_ name: String) {
        names.insert(hash: LibstdcxxHash.hash(name))
    }

    /// The name hashes folded in the set's iteration order.
    var nameHash: UInt64 {
        var combined: UInt64 = 0
        for node in names.iterationOrder() {
            combined = hashCombine(combined, names.hashes[node])
        }
        return combined
    }

    /// The id of everything observed so far.
    var id: SerializationID {
        SerializationID(nameHash: nameHash, crcHash: crcHash)
    }
}

/// The `sys_info` a legacy or tar checkpoint carries: what the machine that
/// wrote it said of itself.
///
/// PyTorch's loader reads this pickle and ignores it: storages in the legacy
/// format are little-endian on disk whatever `littleEndian` says (torch's
/// `THPStorage_writeFileRaw` converts to little-endian on big-endian machines,
/// and `readFileRaw` converts back), so this library ignores it too. Fields the
/// pickle lacks, or holds with another type, are nil.
public struct LegacySystemInfo: Sendable, Equatable {
    /// `protocol_version`: 1001 in the legacy format, 1000 in the tar format.
    public var protocolVersion: Int?
    /// `little_endian`: whether the writing machine was little-endian.
    public var littleEndian: Bool?
    /// `type_sizes['short']`, in bytes.
    public var shortSize: Int?
    /// `type_sizes['int']`, in bytes.
    public var intSize: Int?
    /// `type_sizes['long']`, in bytes: `struct.Struct('=l').size`, which is 4 on
    /// every platform (standard sizes), whatever the C `long` is.
    public var longSize: Int?

    /// Creates a description; every field is optional.
    public init(protocolVersion: Int? = nil, littleEndian: Bool? = nil, shortSize: Int? = nil,
                intSize: Int? = nil, longSize: Int? = nil) {
        self.protocolVersion = protocolVersion
        self.littleEndian = littleEndian
        self.shortSize = shortSize
        self.intSize = intSize
        self.longSize = longSize
    }

    /// What `torch.save(..., _use_new_zipfile_serialization=False)` writes on
    /// a machine of the given byte order.
    static func written(littleEndian: Bool) -> LegacySystemInfo {
        LegacySystemInfo(protocolVersion: LegacyCheckpointReader.protocolVersion, littleEndian: littleEndian,
                         shortSize: 2, intSize: 4, longSize: 4)
    }

    /// Reads the sys_info dict leniently, as PyTorch does not check it at all.
    init(_ value: Value) {
        func entry(_ d: PyDict, _ key: String) -> Value? { d[key] ?? d[.bytes(Array(key.utf8))] }
        guard case .dict(let d) = value else { return }
        protocolVersion = entry(d, "protocol_version").flatMap { if case .int(let i) = $0 { i } else { nil } }
        littleEndian = entry(d, "little_endian")?.bool
        if case .dict(let sizes)? = entry(d, "type_sizes") {
            func size(_ key: String) -> Int? { entry(sizes, key).flatMap { if case .int(let i) = $0 { i } else { nil } } }
            shortSize = size("short")
            intSize = size("int")
            longSize = size("long")
        }
    }

    /// The dict `torch.save` pickles, in its key order.
    var value: Value {
        let sizes = PyDict()
        sizes["short"] = shortSize.map(Value.int) ?? Value.None
        sizes["int"] = intSize.map(Value.int) ?? Value.None
        sizes["long"] = longSize.map(Value.int) ?? Value.None
        let d = PyDict()
        d["protocol_version"] = protocolVersion.map(Value.int) ?? Value.None
        d["little_endian"] = littleEndian.map(Value.bool) ?? Value.None
        d["type_sizes"] = .dict(sizes)
        return .dict(d)
    }

    /// `, written on a little-endian machine`, or nothing when unknown.
    var summary: String {
        guard let littleEndian else { return "" }
        return ", written on a \(littleEndian ? "little" : "big")-endian machine"
    }
}

/// The pickle encoder: writes a ``Value`` as CPython's C pickler writes the
/// same object graph, byte for byte (protocols 2 to 5; 2 is `torch.save`'s).
///
/// Object identity follows Python's: containers, tensors and objects are
/// memoized by reference, so a node reached twice is written once and then
/// referenced (`BINGET`); immutable values (`str`, `bytes`, `complex`,
/// devices) are one object where the decoded pickle said so (see
/// ``PickleProvenance``) and where CPython shares them (the empty string,
/// one-character strings, `'latin1'` in `_codecs.encode`); otherwise they are
/// written afresh, as distinct Python objects are. Tensors are written with
/// the rebuild functions and persistent ids `torch.save` uses.
public struct PickleEncoder: Sendable {
    /// The pickle protocol, 2 to 5.
    public var protocolVersion: Int
    /// String identities of the decoded file, when writing one back.
    public var provenance: PickleProvenance?

    /// Creates an encoder for a protocol (2 to 5; 2 is `torch.save`'s default),
    /// with the provenance of a decoded pickle when writing it back.
    public init(protocolVersion: Int = 2, provenance: PickleProvenance? = nil) {
        self.protocolVersion = protocolVersion
        self.provenance = provenance
    }

    /// Whether every `str` with the same text is one Python object: written
    /// once, then referenced from the memo, as `torch.save` writes a Python
    /// object whose strings come from one literal or are interned (`labels =
    /// ["cat", "dog"]` used again as keys `{"cat": 0}`). Off, a string built
    /// in Swift is its own object each time it appears (as a string Python
    /// builds at run time is), except the empty and one-character strings,
    /// which CPython always shares. A decoded file's own identities (its
    /// ``provenance``) win either way.
    public var sharesEqualStrings = false

    /// Whether storages get new keys `"0"`, `"1"`, … in the order the pickle
    /// first meets them, as `torch.save` numbers them (for a new file), rather
    /// than keeping their own keys (for writing a loaded file back).
    public var renumbersStorages = false

    /// The key of a renumbered storage, from its index in the order first met
    /// (`"0"`, `"1"`, … when nil). Only used with ``renumbersStorages``.
    public var storageKey: (@Sendable (_ index: Int, _ storage: Storage) -> String)?

    /// How a persistent id names a storage.
    public enum PersistentIDStyle: Sendable {
        /// `('storage', class, key, location, numel)`: the zip format and TorchScript.
        case zip
        /// `('storage', class, root_key, location, root_numel, view_metadata)`: the
        /// legacy format of `torch.save` before 1.6, where `view_metadata` is None,
        /// or `(view_key, offset, size)` for a storage in ``legacyViews``. The key is
        /// written afresh at every reference, as `str(storage._cdata)` makes a new string.
        case legacy
    }

    /// How persistent ids name storages: `.zip` (the default) or `.legacy`.
    public var persistentIDStyle: PersistentIDStyle = .zip

    /// A storage that is a view into a larger one, as files of PyTorch before
    /// 1.0 could hold: its persistent id names the root's key and size, and
    /// carries `(view key, offset, size)`.
    public struct LegacyStorageView: Sendable {
        /// The storage whose bytes the view shows; its data is what the file holds.
        public let root: Storage
        /// Where the view starts in the root, in elements.
        public let offset: Int
        /// Creates a view description.
        public init(root: Storage, offset: Int) {
            self.root = root
            self.offset = offset
        }
    }

    /// For `.legacy` persistent ids: the storages that are views into another,
    /// by the view storage's identity. The view's own ``Storage/key`` and
    /// ``Storage/elementCount`` are its view key and size.
    public var legacyViews: [ObjectIdentifier: LegacyStorageView] = [:]

    /// Classes written as persistent ids instead of globals, as the legacy
    /// `torch.save` of a whole `nn.Module` names each module class:
    /// `('module', cls, source_file, source)`. Keyed by the class's
    /// ``PyGlobal`` identity; each reference to the class takes the next
    /// persistent id of its list (torch's `persistent_id` builds a new tuple at
    /// every reference), and references past the end are written as globals.
    public var classPersistentIDs: [ObjectIdentifier: [Value]] = [:]

    /// A pickle and the storages it refers to.
    public struct Encoded: Sendable {
        /// The pickle.
        public let bytes: [UInt8]
        /// Every storage the pickle refers to, with the key it was written
        /// under, in the order first referenced.
        public let storages: [(key: String, storage: Storage)]
    }

    /// Encodes a value; throws ``PickleError`` (code `.unsupported`) for values
    /// this encoder cannot write as Python would.
    public func encode(_ value: Value) throws(PickleError) -> [UInt8] {
        try encodeWithStorages(value).bytes
    }

    /// Encodes a value and reports the storages it refers to (the records a checkpoint needs).
    public func encodeWithStorages(_ value: Value) throws(PickleError) -> Encoded {
        guard (2...5).contains(protocolVersion) else {
            throw PickleError(.unsupportedProtocol, "the encoder writes protocols 2 to 5, not \(protocolVersion)", offset: 0, opcode: nil)
        }
        var writer = PickleWriter(protocolVersion: protocolVersion, provenance: provenance ?? PickleProvenance(),
                                  sharesSingletons: provenance == nil)
        writer.renumbersStorages = renumbersStorages
        writer.sharesEqualStrings = sharesEqualStrings
        writer.storageKey = storageKey
        writer.persistentIDStyle = persistentIDStyle
        writer.legacyViews = legacyViews
        writer.classPersistentIDs = classPersistentIDs
        try writer.dump(value)
        return Encoded(bytes: writer.output, storages: writer.storagesInOrder)
    }
}

/// The encoder's state for one pickle.
struct PickleWriter {
    let proto: Int
    var output: [UInt8] = []
    // Frames (protocol 4+): where the open frame's 9-byte header was reserved.
    var framing = false
    var frameStart = -1
    static let frameSizeTarget = 64 * 1024
    static let frameSizeMin = 4

    var memoCount = 0
    var memoByObject: [ObjectIdentifier: Int] = [:]
    var memoByToken: [Int32: Int] = [:]
    var memoByGlobal: [String: Int] = [:]
    var constantTokens: [String: Int32] = [:]
    // Objects kept alive while memoized, so identifiers are not reused.
    var keepAlive: [AnyObject] = []
    // Distinct token space for strings the encoder itself shares (CPython singletons).
    var nextSyntheticToken: Int32 = -1

    let provenance: PickleProvenance
    var storageReferenceCounts: [ObjectIdentifier: Int] = [:]
    /// Values built in Swift share what CPython usually shares (the empty and
    /// one-character strings, `b''` and one-byte bytes); a decoded pickle's own
    /// identities are authoritative instead, since a file may hold distinct
    /// one-character strings.
    let sharesSingletons: Bool
    var renumbersStorages = false
    var sharesEqualStrings = false
    var storageKey: (@Sendable (Int, Storage) -> String)?
    var persistentIDStyle = PickleEncoder.PersistentIDStyle.zip
    var legacyViews: [ObjectIdentifier: PickleEncoder.LegacyStorageView] = [:]
    var classPersistentIDs: [ObjectIdentifier: [Value]] = [:]
    var storageKeys: [ObjectIdentifier: String] = [:]
    var storagesInOrder: [(key: String, storage: Storage)] = []

    init(protocolVersion: Int, provenance: PickleProvenance, sharesSingletons: Bool) {
        self.proto = protocolVersion
        self.provenance = provenance
        self.sharesSingletons = sharesSingletons
        // Memo slots numbered as the decoded pickle's were (cPickle from 1).
        if protocolVersion < 4 { memoCount = provenance.memoBase }
        output.reserveCapacity(4096)
    }

    // MARK: Output and frames

    mutating func dump(_ value: Value) throws(PickleError) {
        output.append(Opcode.proto.rawValue)
        output.append(UInt8(proto))
        if proto >= 4 { framing = true }
        try save(value)
        write(Opcode.stop.rawValue)
        commitFrame()
    }

    mutating func write(_ byte: UInt8) {
        startFrameIfNeeded()
        output.append(byte)
    }

    mutating func write<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        startFrameIfNeeded()
        output.append(contentsOf: bytes)
    }

    mutating func startFrameIfNeeded() {
        if framing && frameStart == -1 {
            frameStart = output.count
            output.append(contentsOf: repeatElement(0, count: 9))
        }
    }

    /// Closes the open frame: fills in its header, or removes the header when
    /// the frame is too small to be worth one (as CPython's `_Pickler_CommitFrame`).
    mutating func commitFrame() {
        guard framing, frameStart != -1 else { return }
        let length = output.count - frameStart - 9
        if length >= Self.frameSizeMin {
            output[frameStart] = Opcode.frame.rawValue
            withUnsafeBytes(of: UInt64(length).littleEndian) { b in
                for i in 0..<8 { output[frameStart + 1 + i] = b[i] }
            }
        } else {
            output.removeSubrange(frameStart..<(frameStart + 9))
        }
        frameStart = -1
    }

    /// After each object: start a new frame once this one reaches the target size.
    mutating func opcodeBoundary() {
        guard framing, frameStart != -1 else { return }
        if output.count - frameStart - 9 >= Self.frameSizeTarget { commitFrame() }
    }

    /// Writes an opcode header and a payload; a payload of a frame's size or
    /// more goes outside any frame (CPython's `_Pickler_write_bytes`).
    mutating func writeBytes(header: [UInt8], payload: UnsafeRawBufferPointer) {
        if payload.count >= Self.frameSizeTarget && framing {
            commitFrame()
            framing = false
            output.append(contentsOf: header)
            output.append(contentsOf: payload)
            framing = true
        } else {
            write(header)
            write(payload)
        }
    }

    mutating func writeInteger<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { write($0) }
    }

    // MARK: The memo

    /// Memoizes the object just written, returning its index.
    mutating func memoize() {
        if proto >= 4 {
            write(Opcode.memoize.rawValue)
        } else if memoCount < 256 {
            write([Opcode.binPut.rawValue, UInt8(memoCount)])
        } else {
            write(Opcode.longBinPut.rawValue)
            writeInteger(UInt32(memoCount))
        }
        memoCount += 1
    }

    mutating func memoGet(_ index: Int) {
        if index < 256 {
            write([Opcode.binGet.rawValue, UInt8(index)])
        } else {
            write(Opcode.longBinGet.rawValue)
            writeInteger(UInt32(index))
        }
    }

    mutating func memoizeObject(_ object: AnyObject) {
        memoByObject[ObjectIdentifier(object)] = memoCount
        keepAlive.append(object)
        memoize()
    }

    mutating func memoizeToken(_ token: Int32?) {
        if let token { memoByToken[token] = memoCount }
        memoize()
    }

    /// A token for values CPython keeps as one object: the empty and
    /// one-character strings, `b''` and one-byte bytes, interned constants.
    mutating func constantToken(_ key: String) -> Int32 {
        if let token = constantTokens[key] { return token }
        let token = nextSyntheticToken
        nextSyntheticToken -= 1
        constantTokens[key] = token
        return token
    }

    // MARK: Saving

    mutating func save(_ value: Value, token: Int32? = nil) throws(PickleError) {
        try saveValue(value, token: token)
        opcodeBoundary()
    }

    mutating func saveValue(_ value: Value, token: Int32?) throws(PickleError) {
        switch value {
        case .None: write(Opcode.none.rawValue)
        case .bool(let b): write(b ? Opcode.newTrue.rawValue : Opcode.newFalse.rawValue)
        case .int(let i): saveInt(i)
        case .bigInt(let b): saveLong(b)
        case .float(let d):
            write(Opcode.binFloat.rawValue)
            withUnsafeBytes(of: d.bitPattern.bigEndian) { write($0) }
        case .string(let s): saveString(s, token: token)
        case .bytes(let b): try saveBytes(b, token: token)
        case .byteArray(let b): try saveByteArray(b, token: token)
        case .complex(let c):
            if let token, let index = memoByToken[token] { return memoGet(index) }
            try saveReduce(callable: .global(PyGlobal(module: "builtins", name: "complex")),
                           arguments: [.float(c.real), .float(c.imag)], argumentTokens: [:])
            memoizeToken(token)
        case .list(let l): try saveList(l)
        case .tuple(let t): try saveTuple(t)
        case .dict(let d): try saveDict(d)
        case .set(let s): try saveSet(s)
        case .dtype(let d): saveGlobal(module: "torch", name: d.name)
        case .device(let d):
            if let token, let index = memoByToken[token] { return memoGet(index) }
            var args: [Value] = [.string(d.type)]
            if let index = d.index { args.append(.int(index)) }
            try saveReduce(callable: .global(PyGlobal(module: "torch", name: "device")), arguments: args,
                           argumentTokens: token.flatMap { provenance.callArguments[$0] } ?? [:])
            memoizeToken(token)
        case .global(let g):
            if var ids = classPersistentIDs[ObjectIdentifier(g)], !ids.isEmpty {
                let pid = ids.removeFirst()
                classPersistentIDs[ObjectIdentifier(g)] = ids
                try save(pid)
                write(Opcode.binPersID.rawValue)
            } else if case .layout(let layout)? = g.known, !g.pickledAsGlobal {
                try saveLayout(layout)
            } else {
                saveGlobal(module: g.module, name: g.name)
            }
        case .tensor(let t): try saveTensor(t)
        case .storage(let s): try savePersistentStorage(s)
        case .ndarray(let a): try saveArray(a)
        case .numpyDType(let d): try saveNumpyDType(d)
        case .object(let o): try saveObject(o)
        }
    }

    // MARK: Numbers

    mutating func saveInt(_ i: Int) {
        if i >= 0 && i <= 0xFF {
            write([Opcode.binInt1.rawValue, UInt8(i)])
        } else if i >= 0 && i <= 0xFFFF {
            write(Opcode.binInt2.rawValue)
            writeInteger(UInt16(i))
        } else if i >= Int(Int32.min) && i <= Int(Int32.max) {
            write(Opcode.binInt.rawValue)
            writeInteger(Int32(i))
        } else {
            saveLong(PythonInt(i))
        }
    }

    mutating func saveLong(_ b: PythonInt) {
        if let i = b.exactInt, i >= Int(Int32.min) && i <= Int(Int32.max) { return saveInt(i) }
        let bytes = b.twosComplementBytes
        if bytes.count < 256 {
            write([Opcode.long1.rawValue, UInt8(bytes.count)])
        } else {
            write(Opcode.long4.rawValue)
            writeInteger(Int32(bytes.count))
        }
        write(bytes)
    }

    // MARK: Strings and bytes

    /// The token of a string: the decoded identity, or CPython's sharing of
    /// the empty and one-character (Latin-1) strings.
    ///
    /// When sharing singletons (a value built or re-saved here, as `torch.save`
    /// of what `torch.load` gave), the empty and one-character ASCII strings
    /// come first: CPython's decoders return its singletons for those, so they
    /// are one object even across pickles.
    mutating func stringToken(_ s: String, _ token: Int32?) -> Int32? {
        // (Not a string the encoder itself gave an identity, such as a storage key, made by str(int).)
        if sharesSingletons, s.utf8.count <= 1, token.map({ $0 >= 0 }) ?? true { return constantToken("str:" + s) }
        if let token { return token }
        if sharesEqualStrings { return constantToken("str:" + s) }
        guard sharesSingletons else { return nil }
        let scalars = s.unicodeScalars
        if scalars.isEmpty || (scalars.count == 1 && scalars.first!.value < 256) { return constantToken("str:" + s) }
        return nil
    }

    mutating func saveString(_ s: String, token: Int32?) {
        let token = stringToken(s, token)
        if let token, let index = memoByToken[token] { return memoGet(index) }
        if let token, let raw = provenance.legacyStrings[token] { return saveLegacyString(raw, token: token) }
        var utf8 = Array(s.utf8)
        let header: [UInt8]
        if proto >= 4 && utf8.count < 256 {
            header = [Opcode.shortBinUnicode.rawValue, UInt8(utf8.count)]
        } else if proto >= 4 && utf8.count > 0xFFFF_FFFF {
            header = [Opcode.binUnicode8.rawValue] + withUnsafeBytes(of: UInt64(utf8.count).littleEndian, Array.init)
        } else {
            header = [Opcode.binUnicode.rawValue] + withUnsafeBytes(of: UInt32(utf8.count).littleEndian, Array.init)
        }
        utf8.withUnsafeMutableBytes { writeBytes(header: header, payload: UnsafeRawBufferPointer($0)) }
        memoizeToken(token)
    }

    /// `b''` and one-byte bytes are one object each in CPython whatever made them, so
    /// when sharing singletons (a value built or re-saved here) that rule comes first.
    mutating func bytesToken(_ b: [UInt8], _ token: Int32?) -> Int32? {
        if sharesSingletons, b.count <= 1 { return constantToken("bytes:" + b.map(String.init).joined()) }
        return token
    }

    /// A Python 2 `str`, as it was pickled (`SHORT_BINSTRING`, or `BINSTRING` from 256 bytes).
    mutating func saveLegacyString(_ raw: [UInt8], token: Int32) {
        let header: [UInt8] = raw.count < 256
            ? [Opcode.shortBinString.rawValue, UInt8(raw.count)]
            : [Opcode.binString.rawValue] + withUnsafeBytes(of: UInt32(raw.count).littleEndian, Array.init)
        raw.withUnsafeBytes { writeBytes(header: header, payload: $0) }
        memoizeToken(token)
    }

    mutating func saveBytes(_ b: [UInt8], token: Int32?) throws(PickleError) {
        let token = bytesToken(b, token)
        if let token, let index = memoByToken[token] { return memoGet(index) }
        if let token, let raw = provenance.legacyStrings[token] { return saveLegacyString(raw, token: token) }
        if proto < 3 {
            // Python 2 had no bytes: `bytes()` or `_codecs.encode(latin-1 text, 'latin1')`.
            if b.isEmpty {
                try saveReduce(callable: .global(PyGlobal(module: "builtins", name: "bytes")), arguments: [], argumentTokens: [:])
            } else {
                var scalars = String.UnicodeScalarView()
                scalars.append(contentsOf: b.map { Unicode.Scalar($0) })
                // 'latin1' is one interned string; the text is new, unless the file said otherwise.
                let recorded = token.flatMap { provenance.callArguments[$0] }
                try saveReduce(callable: .global(PyGlobal(module: "_codecs", name: "encode")),
                               arguments: [.string(String(scalars)), .string("latin1")],
                               argumentTokens: recorded ?? [1: provenance.latin1 ?? constantToken("str:latin1")])
            }
        } else {
            let header: [UInt8]
            if b.count < 256 {
                header = [Opcode.shortBinBytes.rawValue, UInt8(b.count)]
            } else if b.count <= 0xFFFF_FFFF {
                header = [Opcode.binBytes.rawValue] + withUnsafeBytes(of: UInt32(b.count).littleEndian, Array.init)
            } else {
                header = [Opcode.binBytes8.rawValue] + withUnsafeBytes(of: UInt64(b.count).littleEndian, Array.init)
            }
            b.withUnsafeBytes { writeBytes(header: header, payload: $0) }
        }
        memoizeToken(token)
    }

    mutating func saveByteArray(_ b: [UInt8], token: Int32?) throws(PickleError) {
        if let token, let index = memoByToken[token] { return memoGet(index) }
        if proto < 5 {
            let args: [Value] = b.isEmpty ? [] : [.bytes(b)]
            try saveReduce(callable: .global(PyGlobal(module: "builtins", name: "bytearray")), arguments: args,
                           argumentTokens: token.flatMap { provenance.callArguments[$0] } ?? [:])
        } else {
            let header = [Opcode.byteArray8.rawValue] + withUnsafeBytes(of: UInt64(b.count).littleEndian, Array.init)
            b.withUnsafeBytes { writeBytes(header: header, payload: $0) }
        }
        memoizeToken(token)
    }

    // MARK: Globals

    /// Writes a global as CPython names it for the protocol (Python 2 names below 3),
    /// memoized by name: a global is one Python object.
    mutating func saveGlobal(module: String, name: String) {
        let (m, n) = Self.pickledName(module: module, name: name, proto: proto)
        let key = m + "\n" + n
        if let index = memoByGlobal[key] { return memoGet(index) }
        if proto >= 4 {
            // The module name string is shared by every global of a module (its `__name__`), except
            // where CPython takes it from a C type's name (`torch.Size.__module__` is a string of its own).
            let tokens = provenance.globalNames[m + "\n" + n]
            let ownModuleString = m == "torch" && n == "Size"
            saveString(m, token: tokens?.module ?? (ownModuleString ? nil : constantToken("module:" + m)))
            saveString(n, token: tokens?.name)
            write(Opcode.stackGlobal.rawValue)
        } else {
            write(Opcode.global.rawValue)
            write(Array(m.utf8) + [0x0A] + Array(n.utf8) + [0x0A])
        }
        memoByGlobal[key] = memoCount
        memoize()
    }

    /// A layout as torch registers it with copyreg: `_get_layout('torch.sparse_coo')`,
    /// one object per layout.
    mutating func saveLayout(_ layout: Layout) throws(PickleError) {
        let key = "layout:" + layout.rawValue
        if let index = memoByGlobal[key] { return memoGet(index) }
        try saveReduce(callable: .global(PyGlobal(module: "torch.serialization", name: "_get_layout")),
                       arguments: [.string(layout.rawValue)], argumentTokens: [:])
        memoByGlobal[key] = memoCount
        memoize()
    }

    /// `_compat_pickle`'s reverse mapping for protocols below 3 (`builtins` → `__builtin__`),
    /// and its forward mapping for 3 and above.
    static func pickledName(module: String, name: String, proto: Int) -> (String, String) {
        if proto < 3 {
            switch module {
            case "builtins": return ("__builtin__", name)
            case "copyreg": return ("copy_reg", name)
            default: return (module, name)
            }
        }
        switch module {
        case "__builtin__": return ("builtins", name)
        case "copy_reg": return ("copyreg", name)
        default: return (module, name)
        }
    }
}

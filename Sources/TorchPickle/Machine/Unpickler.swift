/// The pickle machine: reads a pickle of any protocol from 0 to 5 and builds
/// the ``Value`` it describes, without ever executing code.
///
/// Globals are looked up in a registry of the classes and functions this
/// library rebuilds (torch's tensor rebuild functions, `torch.Size`,
/// `collections.OrderedDict`, builtins, `_codecs.encode`, numpy arrays);
/// any other global produces a ``PyObject`` that keeps its module, name,
/// arguments, state and items. Persistent ids (how torch refers to storages)
/// are handed to ``persistentLoad``.
///
/// ```swift
/// let value = try Unpickler().load(bytes)
/// ```
public struct Unpickler: Sendable {
    /// Limits and choices.
    public var options: UnpicklerOptions
    /// Resolves a persistent id (`PERSID`, `BINPERSID`) to a value; torch
    /// checkpoints use it for storages. Without it, a persistent id is an error.
    public var persistentLoad: (@Sendable (Value) throws -> Value)?
    /// Resolves a persistent id in the form `torch.save` writes
    /// (`('storage', class, key, location, numel)`) from its parts, without
    /// the id as a value: what ``persistentLoad`` gives for that id. The fast
    /// path calls it when the options say the loader is repeatable.
    package var storageLoad: (@Sendable (StorageReference) throws -> Storage)?

    /// Creates a machine.
    public init(options: UnpicklerOptions = .init(), persistentLoad: (@Sendable (Value) throws -> Value)? = nil) {
        self.options = options
        self.persistentLoad = persistentLoad
    }

    /// Reads one pickle that starts at the first byte and returns the object
    /// `STOP` leaves; bytes after `STOP` are ignored.
    public func load(_ bytes: UnsafeRawBufferPointer) throws(PickleError) -> Value {
        try load(bytes, at: 0).value
    }

    /// Reads one pickle that starts at `offset` and returns the object and the
    /// offset just past its `STOP` (legacy files hold several pickles back to back).
    public func load(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(PickleError) -> (value: Value, end: Int) {
        let r = try decode(bytes, at: offset)
        return (r.value, r.end)
    }

    /// What one pickle held, and how it was written.
    public struct Decoded: Sendable {
        /// The object `STOP` left.
        public let value: Value
        /// The offset just past `STOP`.
        public let end: Int
        /// The protocol of the `PROTO` opcode; for a pickle without one, 1
        /// when it uses a binary opcode of protocol 1 (as `pickletools`
        /// reckons it), otherwise 0.
        public let protocolVersion: Int
        /// Identities of strings the value model does not keep, for writing the pickle back.
        public let provenance: PickleProvenance
        /// Every call of a callable this library does not rebuild, in the
        /// order the pickle makes them: what `pickle.load` would execute.
        public let calls: [PickleCall]
        /// Every global the pickle names (`GLOBAL`, `STACK_GLOBAL`, `INST`),
        /// as Python 3 imports it (`module.name`), in order of first use:
        /// `pickle.load` imports each, called or not.
        public let globals: [String]
    }

    /// Reads one pickle that starts at `offset`, with its protocol.
    public func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int = 0) throws(PickleError) -> Decoded {
        if options.usesPlainDecoder {
            // Plain data first, into a tape (PlainDecoder); anything else is the machine's.
            let plain = PlainDecoder(input: bytes, position: offset, options: options, persistentLoad: persistentLoad,
                                     storageLoad: storageLoad)
            if let decoded = plain.run() { return decoded }
        }
        var machine = Machine(input: bytes, position: offset, options: options, persistentLoad: persistentLoad)
        let (value, end) = try machine.run()
        return Decoded(value: value, end: end, protocolVersion: machine.protocolVersion, provenance: machine.provenance,
                       calls: machine.calls, globals: machine.namedGlobals)
    }

    /// Reads one pickle from an array of bytes.
    public func load(_ bytes: [UInt8]) throws(PickleError) -> Value {
        let result: Result<Value, PickleError> = bytes.withUnsafeBytes { raw in
            Result { () throws(PickleError) in try load(raw) }
        }
        return try result.get()
    }
}

/// The machine's state while it runs.
struct Machine {
    let input: UnsafeRawBufferPointer
    var position: Int
    let options: UnpicklerOptions
    let persistentLoad: (@Sendable (Value) throws -> Value)?

    var stack: [Value] = []
    var marks: [Int] = []
    // Object identity of memoized immutable values (str, bytes, complex, device):
    // the token of each stack slot (parallel to `stack`, TokenTable.noToken
    // when none) and of each memo slot. Containers record the tokens of their
    // items, so a writer can reproduce which occurrences were one Python object.
    var stackTokens: [Int32] = []
    // The tokens of memoized immutable values: dense indices in a table, any
    // other index (a hostile file's) in a dictionary, as the memo keeps them.
    var memoTokens = TokenTable()
    var sparseMemoTokens: [Int: Int32] = [:]
    // The token the next newly memoized immutable value gets.
    var nextToken: Int32 = 0
    // Tokens reached a second time (memo GET, DUP): only those are kept.
    var referencedTokens = TokenSet()
    var tokenHolders: [any TokenHolder] = []
    let provenance = PickleProvenance()
    // The argument tokens of the last REDUCE that built an immutable value, until it is memoized.
    var pendingCall: (slot: Int, tokens: TokenTable)?
    // A Python 2 str just pushed, with its bytes: kept in the provenance if the next opcode memoizes it.
    var pendingLegacyString: (slot: Int, raw: [UInt8])?
    var memo: [Value?] = []
    // Containers pushed a second time (memo GET, DUP), where each was first
    // pushed again: only these can close a reference cycle (ReferenceGraph).
    var repushed: [Value] = []
    var repushedAt: [(offset: Int, opcode: Opcode?)] = []
    var repushedIDs = Set<ObjectIdentifier>()
    var sparseMemo: [Int: Value] = [:]
    var memoCount = 0
    // Whether a PUT was met yet (the first one's index tells the numbering).
    var sawMemoPut = false
    var protocolVersion = 0
    // Where the current opcode started, and which it is: every error names them.
    var opcodeOffset = 0
    var opcode: Opcode?
    // Where the current FRAME ends (-1 outside one), and where it began.
    var frameEnd = -1
    var frameStart = 0
    // Calls of callables not rebuilt here (each a PyObject), with where the pickle makes them.
    var calls: [PickleCall] = []
    // Every global named, once each, in order.
    var namedGlobals: [String] = []
    var namedGlobalSet = Set<String>()

    init(input: UnsafeRawBufferPointer, position: Int, options: UnpicklerOptions,
         persistentLoad: (@Sendable (Value) throws -> Value)?) {
        self.input = input
        self.position = position
        self.options = options
        self.persistentLoad = persistentLoad
        stack.reserveCapacity(64)
    }

    // MARK: Errors

    func fail(_ code: PickleError.Code, _ message: String) -> PickleError {
        PickleError(code, message, offset: opcodeOffset, opcode: opcode)
    }

    // MARK: Reading the input, bounds-checked

    mutating func readByte() throws(PickleError) -> UInt8 {
        guard position < input.count else { throw fail(.truncated, "the pickle ends inside this opcode's argument") }
        defer { position += 1 }
        return input[position]
    }

    mutating func readInteger<T: FixedWidthInteger>(_: T.Type) throws(PickleError) -> T {
        let size = MemoryLayout<T>.size
        guard input.count - position >= size else {
            throw fail(.truncated, "the pickle ends inside this opcode's \(size)-byte argument")
        }
        defer { position += size }
        return T(littleEndian: input.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    /// Reads `count` bytes, after checking they exist (so a length field
    /// claiming gigabytes in a small file allocates nothing).
    mutating func readBytes(_ count: UInt64) throws(PickleError) -> UnsafeRawBufferPointer {
        guard count <= UInt64(input.count - position) else {
            throw fail(.truncated, "length \(count) runs past the end of the pickle (\(input.count - position) bytes left)")
        }
        let n = Int(count)
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: input[position..<(position + n)])
    }

    /// Reads up to and excluding the next newline, consuming it.
    mutating func readLine() throws(PickleError) -> UnsafeRawBufferPointer {
        let start = position
        var i = position
        while i < input.count {
            if input[i] == 0x0A {
                position = i + 1
                return UnsafeRawBufferPointer(rebasing: input[start..<i])
            }
            i += 1
        }
        throw fail(.truncated, "the pickle ends before the newline that ends this opcode's argument")
    }

    mutating func readLineText() throws(PickleError) -> String {
        let line = try readLine()
        return String(decoding: line, as: UTF8.self)
    }

    // MARK: The stack

    var fence: Int { marks.last ?? 0 }

    mutating func push(_ value: Value) throws(PickleError) {
        guard stack.count < options.maxStackDepth else {
            throw fail(.limitExceeded, "more than \(options.maxStackDepth) items on the stack (UnpicklerOptions.maxStackDepth)")
        }
        stack.append(value)
        stackTokens.append(TokenTable.noToken)
    }

    mutating func pop() throws(PickleError) -> Value {
        guard stack.count > fence else { throw fail(.stackUnderflow, "the stack has no item to pop") }
        stackTokens.removeLast()
        return stack.removeLast()
    }

    /// Pops the top item with its identity token.
    mutating func popWithToken() throws(PickleError) -> (Value, Int32?) {
        guard stack.count > fence else { throw fail(.stackUnderflow, "the stack has no item to pop") }
        let token = stackTokens.removeLast()
        return (stack.removeLast(), token == TokenTable.noToken ? nil : token)
    }

    /// The tokens of stack slots `start...`, as offsets from `start` (the
    /// caller removes the slots).
    mutating func tokens(from start: Int) -> TokenTable {
        var taken = TokenTable()
        for index in start..<stackTokens.count where stackTokens[index] != TokenTable.noToken {
            taken[index - start] = stackTokens[index]
        }
        return taken
    }

    mutating func top() throws(PickleError) -> Value {
        guard stack.count > fence, let last = stack.last else { throw fail(.stackUnderflow, "the stack is empty") }
        return last
    }

    /// Pops everything above the topmost mark, and the mark.
    mutating func popMark() throws(PickleError) -> [Value] {
        try popMarkWithTokens().items
    }

    /// Pops everything above the topmost mark, and the mark, with the items' identity tokens.
    mutating func popMarkWithTokens() throws(PickleError) -> (items: [Value], tokens: TokenTable) {
        let mark = try popMarkPosition()
        let items = Array(stack[mark...])
        let tokens = tokens(from: mark)
        stack.removeSubrange(mark...)
        stackTokens.removeSubrange(mark...)
        return (items, tokens)
    }

    /// Pops the topmost mark and returns where its items start, leaving them on the stack.
    mutating func popMarkPosition() throws(PickleError) -> Int {
        guard let mark = marks.popLast() else { throw fail(.missingMark, "no MARK to pop to") }
        guard stack.count - mark <= options.maxContainerSize else {
            throw fail(.limitExceeded, "\(stack.count - mark) items exceed UnpicklerOptions.maxContainerSize (\(options.maxContainerSize))")
        }
        return mark
    }

    mutating func checkDepth(_ value: Value) throws(PickleError) {
        if value.nestingDepth > options.maxNestingDepth {
            throw fail(.limitExceeded, "containers nest deeper than \(options.maxNestingDepth) (UnpicklerOptions.maxNestingDepth)")
        }
    }

    // MARK: The memo

    /// Memoizes the top of the stack; an immutable value gets an identity token.
    mutating func memoPutTop(_ index: Int) throws(PickleError) {
        let value = try top()
        try memoPut(index, value)
        switch value {
        case .string, .bytes, .byteArray, .complex, .device:
            let slot = stack.count - 1
            var token = stackTokens[slot]
            if token == TokenTable.noToken {
                // A new object: the next token, in the order objects are
                // memoized. Not the memo index: a pickle may put two objects
                // in one slot, and each must keep its own identity.
                guard nextToken < Int32.max else {
                    if index < memo.count { memoTokens[index] = nil } else { sparseMemoTokens[index] = nil }
                    pendingCall = nil
                    pendingLegacyString = nil
                    return
                }
                token = nextToken
                nextToken += 1
                stackTokens[slot] = token
            }
            if index < memo.count {
                memoTokens[index] = token
            } else {
                sparseMemoTokens[index] = token
            }
            if let pending = pendingCall, pending.slot == slot {
                provenance.callArguments[token] = pending.tokens
            }
            pendingCall = nil
            if let pending = pendingLegacyString, pending.slot == slot {
                provenance.legacyStrings[token] = pending.raw
            }
            pendingLegacyString = nil
        default:
            if !memoTokens.isEmpty { memoTokens[index] = nil }
            if !sparseMemoTokens.isEmpty { sparseMemoTokens[index] = nil }
        }
    }

    /// Pushes a memo entry, with its identity token.
    mutating func memoPush(_ index: Int) throws(PickleError) {
        let value = try memoGet(index)
        try push(value)
        notePushedAgain(value)
        if let token = memoTokens[index] ?? sparseMemoTokens[index] {
            stackTokens[stack.count - 1] = token
            referencedTokens.insert(token)
        }
    }

    /// Notes the numbering of the pickle's first PUT: Python 2's `cPickle`
    /// starts at 1, where `pickle` starts at 0.
    mutating func numbered(_ index: Int) -> Int {
        if !sawMemoPut {
            sawMemoPut = true
            if index == 1 && memo.isEmpty {
                provenance.memoBase = 1
                memo.append(nil)
            }
        }
        return index
    }

    mutating func memoPut(_ index: Int, _ value: Value) throws(PickleError) {
        guard index >= 0 else { throw fail(.invalidArgument, "negative memo index \(index)") }
        // Dense indices (what every pickler writes, from 0, or from 1 as
        // cPickle does) live in an array; any other index in a dictionary, so
        // a huge index allocates nothing.
        if index < memo.count {
            if memo[index] == nil { memoCount += 1 }
            memo[index] = value
            return
        }
        if sparseMemo[index] == nil { memoCount += 1 }
        guard memoCount <= options.maxMemoEntries else {
            throw fail(.limitExceeded, "more than \(options.maxMemoEntries) memo entries (UnpicklerOptions.maxMemoEntries)")
        }
        if index == memo.count {
            sparseMemo[index] = nil
            memo.append(value)
        } else {
            sparseMemo[index] = value
        }
    }

    mutating func memoGet(_ index: Int) throws(PickleError) -> Value {
        if index >= 0, index < memo.count, let v = memo[index] { return v }
        if let v = sparseMemo[index] { return v }
        throw fail(.memoMissing, "memo slot \(index) was never set")
    }

    // MARK: Text arguments

    mutating func decimal(_ line: UnsafeRawBufferPointer, what: String) throws(PickleError) -> Int {
        let text = String(decoding: line, as: UTF8.self)
        guard let v = Int(text.trimmingSpaces) else { throw fail(.invalidArgument, "\(what) \(text.debugDescription) is not an integer") }
        return v
    }

    /// The argument of `INT` or `LONG`, read as Python reads it: `int(text, 0)`,
    /// so `0x41`, `0o17`, `0b101` and `1_000` are numbers too (a pickle writer
    /// never writes them, a crafted file may), and `010` is not.
    mutating func pythonInteger(_ text: String) throws(PickleError) -> Value {
        var t = Substring(text.trimmingSpaces)
        if t.hasSuffix("L") { t = t.dropLast() }
        func invalid() -> PickleError {
            fail(.invalidArgument, "\(text.debugDescription) is not an integer (or has more than \(PythonInt.maxDecimalDigits) digits)")
        }
        var negative = false
        if let sign = t.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            t = t.dropFirst()
        }
        var radix = 10
        if t.count > 2, t.first == "0", let p = t.dropFirst().first?.lowercased() {
            switch p {
            case "x": radix = 16
            case "o": radix = 8
            case "b": radix = 2
            default: break
            }
            if radix != 10 {
                t = t.dropFirst(2)
                if t.first == "_" { t = t.dropFirst() }
            }
        }
        // Underscores only between digits, one at a time.
        guard !t.isEmpty, t.first != "_", t.last != "_", !t.contains("__") else { throw invalid() }
        let digits = String(t.filter { $0 != "_" })
        // Base 0 takes no leading zeros in a decimal number, other than in zero itself.
        if radix == 10, digits.count > 1, digits.first == "0", digits.contains(where: { $0 != "0" }) { throw invalid() }
        if let magnitude = UInt64(digits, radix: radix) {
            if negative, magnitude <= UInt64(Int.max) + 1 { return .int(magnitude == UInt64(Int.max) + 1 ? Int.min : -Int(magnitude)) }
            if !negative, magnitude <= UInt64(Int.max) { return .int(Int(magnitude)) }
        }
        guard radix == 10, digits.allSatisfy(\.isASCII), let big = PythonInt(decimal: Substring((negative ? "-" : "") + digits)) else {
            if radix != 10, digits.allSatisfy({ $0.isHexDigit }) {
                throw fail(.unsupported, "\(text.debugDescription): an integer past 64 bits written in base \(radix)")
            }
            throw invalid()
        }
        return .integer(big)
    }

    mutating func utf8String(_ bytes: UnsafeRawBufferPointer) throws(PickleError) -> String {
        // ASCII (most keys and names) is valid UTF-8 as it is: decoding it
        // skips the generic validation, which looks up type metadata per call.
        var high: UInt8 = 0
        for byte in bytes { high |= byte }
        if high < 0x80 { return String(decoding: bytes, as: UTF8.self) }
        guard let s = String(validating: bytes, as: UTF8.self) else {
            if Self.isUTF8WithSurrogates(bytes) {
                // Python reads these ('surrogatepass'); a Swift String cannot hold a lone surrogate.
                throw fail(.unsupported, "string of \(bytes.count) bytes holds a lone surrogate (U+D800 to U+DFFF), "
                           + "which a Python str can hold and a Swift String cannot")
            }
            throw fail(.invalidArgument, "string of \(bytes.count) bytes is not valid UTF-8")
        }
        return s
    }

    /// Whether `bytes` is UTF-8 once surrogates encoded as three bytes
    /// (`ED A0..BF 80..BF`, which Python's pickle reads with 'surrogatepass') are allowed.
    static func isUTF8WithSurrogates(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var cleaned: [UInt8] = []
        cleaned.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0xED, i + 2 < bytes.count, (0xA0...0xBF).contains(bytes[i + 1]), (0x80...0xBF).contains(bytes[i + 2]) {
                cleaned += [0xEF, 0xBF, 0xBD]
                i += 3
            } else {
                cleaned.append(bytes[i])
                i += 1
            }
        }
        return String(validating: cleaned, as: UTF8.self) != nil
    }

    /// A string argument for scanning: its text, with anything that is not
    /// UTF-8 replaced (U+FFFD), so that the walk goes on.
    func lenientString(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// A Python 2 `str`, decoded as the options say.
    mutating func legacyString(_ bytes: [UInt8]) throws(PickleError) -> Value {
        switch options.stringEncoding {
        case .bytes: return .bytes(bytes)
        case .latin1:
            var scalars = String.UnicodeScalarView()
            scalars.append(contentsOf: bytes.map { Unicode.Scalar($0) })
            return .string(String(scalars))
        case .utf8:
            guard let s = String(validating: bytes, as: UTF8.self) else {
                throw fail(.invalidArgument, "Python 2 str is not valid UTF-8; open with stringEncoding .latin1 or .bytes")
            }
            return .string(s)
        }
    }

    /// Drops the tokens of values that were never referenced again: only
    /// objects the pickle reached more than once need their identity kept.
    mutating func pruneUnsharedTokens() {
        let legacy = provenance.legacyStrings
        for holder in tokenHolders {
            // A Python 2 str keeps its token even when used once: it is how the encoder knows its opcode.
            holder.removeItemTokens { !referencedTokens.contains($0) && (legacy.isEmpty || legacy[$0] == nil) }
        }
        tokenHolders = []
    }

    // MARK: Running

    mutating func run() throws(PickleError) -> (value: Value, end: Int) {
        let result: (value: Value, end: Int)
        do {
            result = try runOpcodes()
        } catch {
            // What was built is thrown away: break its cycles, or it leaks.
            if !repushed.isEmpty, ReferenceGraph.firstCycle(from: repushed) != nil {
                ReferenceGraph.dismantle(repushed)
            }
            throw error
        }
        guard !repushed.isEmpty, options.referenceCycles == .refuse,
              let cycle = ReferenceGraph.firstCycle(from: repushed) else { return result }
        ReferenceGraph.dismantle(repushed)
        let at = repushedAt[cycle.root]
        let root = repushed[cycle.root]
        let found = ReferenceGraph.identity(root) == ReferenceGraph.identity(cycle.object)
            ? "" : ", found from the \(root.typeName) pushed again here"
        throw PickleError(.referenceCycle,
                          "a \(cycle.object.typeName) x reaches itself as \(ReferenceGraph.describe(cycle.path))\(found); "
                          + "Swift cannot free such objects, so they are refused (UnpicklerOptions.referenceCycles = .keep keeps them)",
                          offset: at.offset, opcode: at.opcode)
    }

    /// Notes a container pushed a second time: it may close a reference cycle.
    mutating func notePushedAgain(_ value: Value) {
        guard let id = ReferenceGraph.identity(value), repushedIDs.insert(id).inserted else { return }
        repushed.append(value)
        repushedAt.append((opcodeOffset, opcode))
    }

    mutating func runOpcodes() throws(PickleError) -> (value: Value, end: Int) {
        while true {
            opcodeOffset = position
            opcode = nil
            guard position < input.count else {
                throw fail(.truncated, "the pickle ends without STOP")
            }
            let byte = input[position]
            position += 1
            guard let op = Opcode(rawValue: byte) else {
                throw fail(.unknownOpcode, "byte 0x\(String(byte, radix: 16)) is not a pickle opcode")
            }
            opcode = op
            switch op {
            case .put, .binPut, .longBinPut, .memoize: break
            default: pendingLegacyString = nil
            }
            if op == .stop {
                let result = try pop()
                pruneUnsharedTokens()
                noteWhereCallsWereLeft()
                return (result, position)
            }
            // Without PROTO, the protocol is what the opcodes need, as
            // pickletools reckons it: 1 once a binary opcode of protocol 1 appears.
            if protocolVersion == 0 && op.introducedIn == 1 { protocolVersion = 1 }
            try execute(op)
            try checkFrame()
        }
    }

    /// Notes, for each call, whether its result stayed on the stack or in the memo.
    mutating func noteWhereCallsWereLeft() {
        guard !calls.isEmpty else { return }
        func ids(_ values: some Sequence<Value>) -> Set<ObjectIdentifier> {
            Set(values.compactMap { if case .object(let o) = $0 { ObjectIdentifier(o) } else { nil } })
        }
        let onStack = ids(stack)
        let inMemo = ids(memo.compactMap { $0 }).union(ids(sparseMemo.values))
        for i in calls.indices {
            let id = ObjectIdentifier(calls[i].object)
            if onStack.contains(id) { calls[i].leftBehind = .stack } else if inMemo.contains(id) { calls[i].leftBehind = .memo }
        }
    }

    /// Refuses an opcode that began inside a FRAME and read past its end, as
    /// Python's own unpickler does ("pickle exhausted before end of frame"):
    /// such a pickle loads differently from how it disassembles (CPython
    /// issue 154848), the trick that hides a call from frame-honouring scanners.
    mutating func checkFrame() throws(PickleError) {
        guard frameEnd >= 0 else { return }
        if position > frameEnd {
            throw fail(.invalidArgument, "the opcode runs \(position - frameEnd) bytes past the end of the FRAME at byte "
                       + "\(frameStart), which ends at byte \(frameEnd): an opcode may not straddle a frame boundary")
        }
        if position == frameEnd { frameEnd = -1 }
    }

    mutating func execute(_ op: Opcode) throws(PickleError) {
        switch op {
        case .stop:
            break
        case .proto:
            let v = try readByte()
            guard v <= 5 else { throw fail(.unsupportedProtocol, "pickle protocol \(v) is newer than 5") }
            protocolVersion = Int(v)
        case .frame:
            guard frameEnd < 0 else {
                throw fail(.invalidArgument, "a FRAME begins before the end of the FRAME at byte \(frameStart), "
                           + "which ends at byte \(frameEnd)")
            }
            let length = try readInteger(UInt64.self)
            guard length <= UInt64(input.count - position) else {
                throw fail(.truncated, "frame of \(length) bytes runs past the end of the pickle")
            }
            frameStart = opcodeOffset
            frameEnd = position + Int(length)
        case .mark:
            guard marks.count < options.maxMarkDepth else {
                throw fail(.limitExceeded, "more than \(options.maxMarkDepth) open MARKs (UnpicklerOptions.maxMarkDepth)")
            }
            marks.append(stack.count)
        case .pop:
            if let m = marks.last, m == stack.count {
                marks.removeLast()
            } else {
                _ = try pop()
            }
        case .popMark:
            _ = try popMark()
        case .dup:
            try push(try top())
            notePushedAgain(stack[stack.count - 1])
            let token = stackTokens[stack.count - 2]
            if token != TokenTable.noToken {
                stackTokens[stack.count - 1] = token
                referencedTokens.insert(token)
            }

        // Numbers
        case .none: try push(.None)
        case .newTrue: try push(.bool(true))
        case .newFalse: try push(.bool(false))
        case .binInt: try push(.int(Int(try readInteger(Int32.self))))
        case .binInt1: try push(.int(Int(try readByte())))
        case .binInt2: try push(.int(Int(try readInteger(UInt16.self))))
        case .int:
            let text = try readLineText()
            switch text {
            case "00": try push(.bool(false))
            case "01": try push(.bool(true))
            default: try push(try pythonInteger(text))
            }
        case .long:
            try push(try pythonInteger(try readLineText()))
        case .long1:
            let n = try readByte()
            try push(.integer(PythonInt(twosComplement: try readBytes(UInt64(n)))))
        case .long4:
            let n = try readInteger(Int32.self)
            guard n >= 0 else { throw fail(.invalidArgument, "negative LONG4 length \(n)") }
            try push(.integer(PythonInt(twosComplement: try readBytes(UInt64(n)))))
        case .float:
            let text = try readLineText()
            guard let d = Double(text.trimmingSpaces) else { throw fail(.invalidArgument, "\(text.debugDescription) is not a float") }
            try push(.float(d))
        case .binFloat:
            let bits = UInt64(bigEndian: try readBytes(8).loadUnaligned(as: UInt64.self))
            try push(.float(Double(bitPattern: bits)))

        // Strings and bytes
        case .binUnicode:
            try push(.string(try utf8String(try readBytes(UInt64(try readInteger(UInt32.self))))))
        case .shortBinUnicode:
            try push(.string(try utf8String(try readBytes(UInt64(try readByte())))))
        case .binUnicode8:
            try push(.string(try utf8String(try readBytes(try readInteger(UInt64.self)))))
        case .unicode:
            try push(.string(try rawUnicodeEscape(try readLine())))
        case .binString:
            let n = try readInteger(Int32.self)
            guard n >= 0 else { throw fail(.invalidArgument, "negative BINSTRING length \(n)") }
            let raw = Array(try readBytes(UInt64(n)))
            try push(try legacyString(raw))
            pendingLegacyString = (stack.count - 1, raw)
        case .shortBinString:
            let raw = Array(try readBytes(UInt64(try readByte())))
            try push(try legacyString(raw))
            pendingLegacyString = (stack.count - 1, raw)
        case .string:
            try push(try legacyString(try escapedStringLiteral(try readLine())))
        case .binBytes:
            try push(.bytes(Array(try readBytes(UInt64(try readInteger(UInt32.self))))))
        case .shortBinBytes:
            try push(.bytes(Array(try readBytes(UInt64(try readByte())))))
        case .binBytes8:
            try push(.bytes(Array(try readBytes(try readInteger(UInt64.self)))))
        case .byteArray8:
            try push(.byteArray(Array(try readBytes(try readInteger(UInt64.self)))))
        case .nextBuffer:
            throw fail(.unsupported, "the pickle refers to an out-of-band buffer (protocol 5), which a file cannot carry")
        case .readonlyBuffer:
            _ = try top()

        // Containers
        case .emptyList: try push(.list(PyList()))
        case .emptyDict: try push(.dict(PyDict()))
        case .emptySet: try push(.set(PySet()))
        case .emptyTuple: try push(.tuple(PyTuple([])))
        case .list:
            let (items, tokens) = try popMarkWithTokens()
            let l = PyList(items)
            hold(l, tokens, base: 0)
            try checkDepth(.list(l))
            try push(.list(l))
        case .tuple:
            let (items, tokens) = try popMarkWithTokens()
            let t = PyTuple(items)
            hold(t, tokens, base: 0)
            try checkDepth(.tuple(t))
            try push(.tuple(t))
        case .tuple1, .tuple2, .tuple3:
            let n = Int(op.rawValue - Opcode.tuple1.rawValue) + 1
            guard stack.count - fence >= n else { throw fail(.stackUnderflow, "\(op.name) needs \(n) items") }
            let t = PyTuple(Array(stack[(stack.count - n)...]))
            hold(t, tokens(from: stack.count - n), base: 0)
            stack.removeLast(n)
            stackTokens.removeLast(n)
            try checkDepth(.tuple(t))
            try push(.tuple(t))
        case .dict:
            let mark = try popMarkPosition()
            let d = PyDict()
            try setItems(d, stackFrom: mark)
            try push(.dict(d))
        case .frozenSet:
            let (items, tokens) = try popMarkWithTokens()
            let s = PySet(frozen: true)
            for item in items { try insert(item, into: s) }
            hold(s, tokens, base: 0)
            try checkDepth(.set(s))
            try push(.set(s))
        case .append:
            let (item, token) = try popWithToken()
            try append([item], tokens: token.map { [0: $0] } ?? [:], to: try top())
        case .appends:
            let (items, tokens) = try popMarkWithTokens()
            try append(items, tokens: tokens, to: try top())
        case .setItem:
            // The key and value stay on the stack until set: no copy of them is made.
            guard stack.count - fence >= 2 else { throw fail(.stackUnderflow, "the stack has no item to pop") }
            guard stack.count - fence >= 3 else { throw fail(.stackUnderflow, "the stack is empty") }
            try setItems(on: stack[stack.count - 3], stackFrom: stack.count - 2)
        case .setItems:
            let mark = try popMarkPosition()
            guard mark > fence else { throw fail(.stackUnderflow, "the stack is empty") }
            try setItems(on: stack[mark - 1], stackFrom: mark)
        case .addItems:
            let (items, tokens) = try popMarkWithTokens()
            guard case .set(let s) = try top(), !s.isFrozen else {
                throw fail(.invalidArgument, "ADDITEMS on a \(try top().typeName), not a set")
            }
            let base = s.count
            for item in items { try insert(item, into: s) }
            hold(s, tokens, base: base)
            try checkDepth(.set(s))

        // The memo
        case .put: try memoPutTop(numbered(try decimal(try readLine(), what: "memo index")))
        case .binPut: try memoPutTop(numbered(Int(try readByte())))
        case .longBinPut: try memoPutTop(numbered(Int(try readInteger(UInt32.self))))
        case .memoize: try memoPutTop(memoCount)
        case .get: try memoPush(try decimal(try readLine(), what: "memo index"))
        case .binGet: try memoPush(Int(try readByte()))
        case .longBinGet: try memoPush(Int(try readInteger(UInt32.self)))

        // Objects
        case .global:
            let module = try readLineText()
            let name = try readLineText()
            noteGlobal(module, name)
            try push(Self.global(module: module, name: name))
        case .stackGlobal:
            let (name, nameToken) = try popWithToken()
            let (module, moduleToken) = try popWithToken()
            guard case .string(let n) = name, case .string(let m) = module else {
                throw fail(.invalidArgument, "STACK_GLOBAL needs two str, found \(module.typeName) and \(name.typeName)")
            }
            provenance.globalNames[m + "\n" + n] = (moduleToken, nameToken)
            noteGlobal(m, n)
            try push(Self.global(module: m, name: n))
        case .reduce:
            let args = try pop()
            let callable = try pop()
            guard case .tuple(let t) = args else {
                throw fail(.invalidArgument, "REDUCE arguments must be a tuple, found \(args.typeName)")
            }
            let result = try call(callable, t.items, construction: .reduce, argumentTokens: t)
            try push(result)
            if case .bytes = result, provenance.latin1 == nil, t.count == 2, case .string("latin1") = t.items[1] {
                provenance.latin1 = t.itemTokens[1]
            }
            if case .dict(let d) = result, case .global(let g) = callable, g.known == .orderedDict, t.count == 1,
               let pairs = t.items[0].items, d.count == pairs.count {
                // OrderedDict([[k, v], ...]), as Python 2.7 pickled it: written back the same way.
                let pairsAreLists = pairs.allSatisfy { if case .list = $0 { true } else { false } }
                let inList = if case .list = t.items[0] { true } else { false }
                provenance.recordPairsForm(d, .init(inList: inList, pairsAreLists: pairsAreLists))
            }
            if case .tensor(let tensor) = result, case .None = tensor.backwardHooks,
               case .global(let g) = callable, [.rebuildTensorV2, .rebuildTensorV3, .rebuildQTensor].contains(g.known) {
                provenance.recordHooksPickledAsNone(tensor)
            }
            switch result {
            case .bytes, .byteArray, .device, .complex:
                pendingCall = t.itemTokens.isEmpty ? nil : (stack.count - 1, t.itemTokens)
            default:
                break
            }
        case .newObj:
            let args = try pop()
            let cls = try pop()
            guard case .tuple(let t) = args else {
                throw fail(.invalidArgument, "NEWOBJ arguments must be a tuple, found \(args.typeName)")
            }
            try push(try call(cls, t.items, construction: .newObject, argumentTokens: t))
        case .newObjEx:
            let kwargs = try pop()
            let args = try pop()
            let cls = try pop()
            guard case .tuple(let t) = args, case .dict = kwargs else {
                throw fail(.invalidArgument, "NEWOBJ_EX needs a tuple and a dict, found \(args.typeName) and \(kwargs.typeName)")
            }
            try push(try call(cls, t.items, construction: .newObjectWithKeywords, keywords: kwargs, argumentTokens: t))
        case .inst:
            let module = try readLineText()
            let name = try readLineText()
            noteGlobal(module, name)
            let args = try popMark()
            try push(try call(.global(PyGlobal(module: module, name: name)), args, construction: .inst))
        case .obj:
            var args = try popMark()
            guard !args.isEmpty else { throw fail(.stackUnderflow, "OBJ needs a class after the MARK") }
            let cls = args.removeFirst()
            try push(try call(cls, args, construction: .obj))
        case .build:
            let state = try pop()
            try build(try top(), state: state)
        case .persID:
            let line = try readLine()
            guard line.allSatisfy({ $0 < 0x80 }) else {
                throw fail(.invalidArgument, "persistent id is not ASCII")
            }
            try push(try loadPersistent(.string(String(decoding: line, as: UTF8.self))))
        case .binPersID:
            let pid = try pop()
            let loaded = try loadPersistent(pid)
            if case .storage(let storage) = loaded, case .tuple(let t) = pid {
                provenance.recordReference(storage, tokens: t.itemTokens)
            }
            try push(loaded)
        case .ext1, .ext2, .ext4:
            let code: Int = switch op {
            case .ext1: Int(try readByte())
            case .ext2: Int(try readInteger(UInt16.self))
            default: Int(try readInteger(Int32.self))
            }
            throw fail(.unsupported, "extension code \(code) refers to Python's copyreg extension registry, which holds nothing here")
        }
    }

    /// Notes a global the pickle names, by its Python 3 name.
    mutating func noteGlobal(_ module: String, _ name: String) {
        let qualified = GlobalRegistry.python3Name(module: module, name: name)
        if namedGlobalSet.insert(qualified).inserted { namedGlobals.append(qualified) }
    }

    /// A named global: a dtype is a value of its own; anything else a ``PyGlobal``.
    static func global(module: String, name: String) -> Value {
        let g = PyGlobal(module: module, name: name)
        if case .dtype(let d)? = g.known { return .dtype(d) }
        g.pickledAsGlobal = true
        return .global(g)
    }

    // MARK: Container operations

    /// Records identity tokens of items placed in a container at `base`.
    mutating func hold(_ holder: any TokenHolder, _ tokens: TokenTable, base: Int) {
        guard !tokens.isEmpty else { return }
        if holder.itemTokens.isEmpty { tokenHolders.append(holder) }
        for (offset, token) in tokens { holder.setItemToken(token, at: base + offset) }
    }

    mutating func append(_ items: [Value], tokens: TokenTable, to target: Value) throws(PickleError) {
        switch target {
        case .list(let l):
            guard l.items.count + items.count <= options.maxContainerSize else {
                throw fail(.limitExceeded, "list grows past UnpicklerOptions.maxContainerSize (\(options.maxContainerSize))")
            }
            hold(l, tokens, base: l.items.count)
            l.items.append(contentsOf: items)
            for item in items { l.depth = max(l.depth, item.nestingDepth + 1) }
            try checkDepth(target)
        case .object(let o):
            // A list subclass or a deque: `obj.extend(items)` / `obj.append(item)`.
            hold(o.listTokens, tokens, base: o.listItems.count)
            o.listItems.append(contentsOf: items)
            for item in items { o.depth = max(o.depth, item.nestingDepth + 1) }
            try checkDepth(target)
        default:
            throw fail(.invalidArgument, "cannot append to a \(target.typeName)")
        }
    }

    /// Sets the key–value pairs on the stack from `start` on a dict, or on an
    /// object of a dict subclass (`obj[key] = value`), and removes them.
    mutating func setItems(on target: Value, stackFrom start: Int) throws(PickleError) {
        switch target {
        case .dict(let d):
            try setItems(d, stackFrom: start)
        case .object(let o):
            let d = o.dictItems ?? PyDict()
            o.dictItems = d
            try setItems(d, stackFrom: start)
            o.depth = max(o.depth, d.depth + 1)
        default:
            throw fail(.invalidArgument, "cannot set items on a \(target.typeName)")
        }
        try checkDepth(target)
    }

    /// Sets the key–value pairs on the stack from `start` on a dict, and
    /// removes them from the stack (`DICT`, `SETITEM`, `SETITEMS`, without
    /// copying the items out first).
    mutating func setItems(_ d: PyDict, stackFrom start: Int) throws(PickleError) {
        let end = stack.count
        let count = end - start
        guard count % 2 == 0 else { throw fail(.invalidArgument, "odd number of items (\(count)) for key–value pairs") }
        guard d.count + count / 2 <= options.maxContainerSize else {
            throw fail(.limitExceeded, "dict grows past UnpicklerOptions.maxContainerSize (\(options.maxContainerSize))")
        }
        d.reserve(count / 2)
        var hasTokens = false
        for i in start..<end where stackTokens[i] != TokenTable.noToken {
            hasTokens = true
            break
        }
        var i = start
        while i < end {
            let entry: Int
            do {
                entry = try d.setReturningIndex(stack[i + 1], for: stack[i])
            } catch {
                throw fail(.invalidArgument, error.message)
            }
            if hasTokens {
                // Python keeps the first key object of an entry; a value replaces the old one.
                let key = stackTokens[i], value = stackTokens[i + 1]
                if key != TokenTable.noToken || value != TokenTable.noToken, d.itemTokens.isEmpty { tokenHolders.append(d) }
                if key != TokenTable.noToken, d.itemTokens[2 * entry] == nil { d.itemTokens[2 * entry] = key }
                d.itemTokens[2 * entry + 1] = value == TokenTable.noToken ? nil : value
            }
            i += 2
        }
        stack.removeSubrange(start...)
        stackTokens.removeSubrange(start...)
        try checkDepth(.dict(d))
    }

    mutating func insert(_ item: Value, into s: PySet) throws(PickleError) {
        guard s.count < options.maxContainerSize else {
            throw fail(.limitExceeded, "set grows past UnpicklerOptions.maxContainerSize (\(options.maxContainerSize))")
        }
        do { try s.insert(item) } catch { throw fail(.invalidArgument, error.message) }
    }

    // MARK: Calls, BUILD and persistent ids

    mutating func call(_ callable: Value, _ args: [Value], construction: PyObject.Construction, keywords: Value? = nil,
                       argumentTokens: (any TokenHolder)? = nil) throws(PickleError) -> Value {
        if case .global(let g) = callable, let known = g.known, keywords == nil {
            do {
                if let v = try known.call(args, construction: construction) {
                    try checkDepth(v)
                    switch v {
                    case .ndarray(let a): a.origin = (callable, args, argumentTokens?.itemTokens ?? [:])
                    case .numpyDType(let d): d.origin = (callable, args, argumentTokens?.itemTokens ?? [:])
                    default: break
                    }
                    return v
                }
            } catch let error as RebuildError {
                throw fail(error.isTensorProblem ? .invalidTensor : .invalidArgument, "\(g.qualifiedName): \(error.message)")
            } catch {
                throw fail(.invalidArgument, "\(g.qualifiedName): \(error)")
            }
        }
        let object = PyObject(callable: callable, construction: construction, arguments: args, keywordArguments: keywords)
        calls.append(PickleCall(object: object, offset: opcodeOffset, opcode: opcode ?? .reduce))
        if let argumentTokens, !argumentTokens.itemTokens.isEmpty { hold(object.argumentTokens, argumentTokens.itemTokens, base: 0) }
        try checkDepth(.object(object))
        return .object(object)
    }

    mutating func build(_ target: Value, state: Value) throws(PickleError) {
        do {
            try Rebuild.build(target, state: state)
        } catch {
            throw fail(.invalidArgument, "BUILD of a \(target.typeName): \(error.message)")
        }
        try checkDepth(target)
    }

    mutating func loadPersistent(_ pid: Value) throws(PickleError) -> Value {
        guard let persistentLoad else {
            throw fail(.unsupported, "the pickle refers to persistent id \(pid.typeName) but no persistent loader was given")
        }
        do {
            return try persistentLoad(pid)
        } catch let error as PickleError {
            throw fail(error.code, error.message)
        } catch {
            throw fail(.persistentLoad, "\(error)")
        }
    }

    // MARK: Protocol 0 text

    /// Decodes `raw-unicode-escape`: bytes are Latin-1 except `\uXXXX` and `\UXXXXXXXX`.
    mutating func rawUnicodeEscape(_ line: UnsafeRawBufferPointer) throws(PickleError) -> String {
        var scalars = String.UnicodeScalarView()
        var i = 0
        let bytes = Array(line)
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x5C, i + 1 < bytes.count, bytes[i + 1] == 0x75 || bytes[i + 1] == 0x55 {
                let width = bytes[i + 1] == 0x75 ? 4 : 8
                guard i + 2 + width <= bytes.count,
                      let code = UInt32(String(decoding: bytes[(i + 2)..<(i + 2 + width)], as: UTF8.self), radix: 16),
                      let scalar = Unicode.Scalar(code) else {
                    throw fail(.invalidArgument, "bad \\u escape in UNICODE argument")
                }
                scalars.append(scalar)
                i += 2 + width
            } else {
                scalars.append(Unicode.Scalar(b))
                i += 1
            }
        }
        return String(scalars)
    }

    /// Decodes a quoted Python 2 string literal (`'…'` or `"…"`) with its escapes.
    mutating func escapedStringLiteral(_ line: UnsafeRawBufferPointer) throws(PickleError) -> [UInt8] {
        var bytes = Array(line)
        while let last = bytes.last, last == 0x0D || last == 0x20 { bytes.removeLast() }
        guard bytes.count >= 2, let q = bytes.first, q == 0x27 || q == 0x22, bytes.last == q else {
            throw fail(.invalidArgument, "the STRING opcode argument must be quoted")
        }
        let body = bytes[1..<(bytes.count - 1)]
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        var i = body.startIndex
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        while i < body.endIndex {
            let c = body[i]
            guard c == 0x5C, i + 1 < body.endIndex else {
                out.append(c)
                i += 1
                continue
            }
            let e = body[i + 1]
            i += 2
            switch e {
            case 0x6E: out.append(0x0A)   // \n
            case 0x74: out.append(0x09)   // \t
            case 0x72: out.append(0x0D)   // \r
            case 0x61: out.append(0x07)   // \a
            case 0x62: out.append(0x08)   // \b
            case 0x66: out.append(0x0C)   // \f
            case 0x76: out.append(0x0B)   // \v
            case 0x0A: break              // line continuation
            case 0x78:                    // \xhh
                guard i + 1 < body.endIndex, let h = hex(body[i]), let l = hex(body[i + 1]) else {
                    throw fail(.invalidArgument, "bad \\x escape in STRING argument")
                }
                out.append(h << 4 | l)
                i += 2
            case 0x30...0x37:             // \ooo
                var v = Int(e - 0x30)
                var n = 1
                while n < 3, i < body.endIndex, (0x30...0x37).contains(body[i]) {
                    v = v * 8 + Int(body[i] - 0x30)
                    i += 1
                    n += 1
                }
                out.append(UInt8(truncatingIfNeeded: v))
            case 0x5C, 0x27, 0x22: out.append(e)
            default: out.append(0x5C); out.append(e)
            }
        }
        return out
    }
}

extension String {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\r" { s = s.dropLast() }
        return s
    }
}

/// A set of identity tokens: a bitmap for the unpickler's (non-negative,
/// dense: they count memoized objects), a `Set` for any other.
struct TokenSet {
    private var bits: [UInt64] = []
    private var others = Set<Int32>()

    mutating func insert(_ token: Int32) {
        if token >= 0, token < 1 << 26 {
            let word = Int(token) >> 6
            if word >= bits.count { bits.append(contentsOf: repeatElement(0, count: word - bits.count + 1)) }
            bits[word] |= 1 << UInt64(token & 63)
        } else {
            others.insert(token)
        }
    }

    func contains(_ token: Int32) -> Bool {
        if token >= 0, token < 1 << 26 {
            let word = Int(token) >> 6
            return word < bits.count && bits[word] & (1 << UInt64(token & 63)) != 0
        }
        return others.contains(token)
    }
}

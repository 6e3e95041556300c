/// Reads the class definitions of one `code/…/*.py` record of a TorchScript
/// archive: for each top-level `class`, its bases, `__parameters__`,
/// `__buffers__`, attribute annotations and constants. Nothing else of the
/// source (methods, functions) is looked at, and nothing is executed.
///
/// The source is what TorchScript's printer writes (python_print.cpp): a
/// class line at column 0, class-level statements one per line at the body's
/// indentation, method bodies deeper. Lines this reader does not need are
/// skipped; the two lists it does need must be well formed.
enum TorchScriptSource {
    /// The classes a record defines, by name (not qualified).
    ///
    /// - Parameters:
    ///   - source: the record's bytes.
    ///   - record: the record's name, for errors and ``TorchScriptClass/record``.
    ///   - module: the qualified module the record holds (`__torch__.torch.nn.modules.linear`).
    static func classes(in source: [UInt8], record: String, module: String) throws(TorchScriptError) -> [String: TorchScriptClass] {
        let lines = splitLines(source)
        var classes: [String: TorchScriptClass] = [:]
        var i = 0
        while i < lines.count {
            let line = lines[i]
            guard line.starts(with: Array("class".utf8)), line.count > 5, line[5] == 0x20 || line[5] == 0x09 else {
                i += 1
                continue
            }
            let header = try classHeader(line, record: record, module: module, line: i + 1)
            let qualified = module + "." + header.name
            var body: [BodyLine] = []
            var j = i + 1
            while j < lines.count {
                let l = lines[j]
                let indent = indentation(l)
                if indent == l.count || l[indent] == UInt8(ascii: "#") {   // blank or comment
                    j += 1
                    continue
                }
                if indent == 0 { break }
                body.append(BodyLine(text: l[indent...], indent: indent, line: j + 1))
                j += 1
            }
            guard classes[header.name] == nil else {
                throw .malformedClassDefinition(className: qualified, record: record, line: i + 1,
                                                reason: "class \(header.name) is defined twice")
            }
            classes[header.name] = try classBody(body, qualifiedName: qualified, bases: header.bases, record: record, line: i + 1)
            i = j
        }
        return classes
    }

    // MARK: Lines

    /// A line of a class body that is not blank or a comment: its text after the indentation.
    struct BodyLine {
        let text: ArraySlice<UInt8>
        let indent: Int
        let line: Int
    }

    /// The lines, each its own array (indices from 0), without `\n` or a trailing `\r`.
    static func splitLines(_ source: [UInt8]) -> [[UInt8]] {
        source.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            Array(line.last == 0x0D ? line.dropLast() : line)
        }
    }

    /// Leading spaces and tabs.
    static func indentation(_ line: [UInt8]) -> Int {
        line.prefix { $0 == 0x20 || $0 == 0x09 }.count
    }

    // MARK: The class line

    /// `class Name:` or `class Name(Base, …):`.
    static func classHeader(_ line: [UInt8], record: String, module: String, line number: Int) throws(TorchScriptError) -> (name: String, bases: [String]) {
        var s = Scanner(line.dropFirst(5), record: record, className: module + ".?", line: number)
        s.skipSpaces()
        let name = try s.identifier()
        s.className = module + "." + name
        s.skipSpaces()
        var bases: [String] = []
        if s.consume(UInt8(ascii: "(")) {
            guard let close = s.rest.firstIndex(of: UInt8(ascii: ")")) else { throw s.error("the list of base classes is not closed") }
            bases = String(decoding: s.rest[s.rest.startIndex..<close], as: UTF8.self)
                .split(separator: ",").map { String($0).trimmingCharacters(in: " \t") }.filter { !$0.isEmpty }
            s.rest = s.rest[(close + 1)...]
            s.skipSpaces()
        }
        guard s.consume(UInt8(ascii: ":")) else { throw s.error("expected ':' after the class name") }
        return (name, bases)
    }

    // MARK: The body

    /// The class-level statements (at the body's indentation; deeper lines belong to methods).
    static func classBody(_ body: [BodyLine], qualifiedName: String, bases: [String],
                          record: String, line: Int) throws(TorchScriptError) -> TorchScriptClass {
        var parameters: [String]?
        var buffers: [String]?
        var attributes: [(name: String, type: String)] = []
        var constants: [(name: String, type: String, value: String)] = []
        var methods: [String] = []
        var setState: TorchScriptClass.SetState?
        let bodyIndent = body.first?.indent
        for (k, statement) in body.enumerated() where statement.indent == bodyIndent {
            let (text, number) = (statement.text, statement.line)
            var s = Scanner(text, record: record, className: qualifiedName, line: number)
            guard let word = s.optionalIdentifier() else { continue }   // some other statement
            s.skipSpaces()
            switch word {
            case "__parameters__", "__buffers__":
                guard s.consume(UInt8(ascii: "=")) else { throw s.error("expected '=' after \(word)") }
                let names = try s.stringList()
                if word == "__parameters__" {
                    guard parameters == nil else { throw s.error("__parameters__ is assigned twice") }
                    parameters = names
                } else {
                    guard buffers == nil else { throw s.error("__buffers__ is assigned twice") }
                    buffers = names
                }
            case "__annotations__":
                // __annotations__["0"] = __torch__.torch.nn.modules.linear.Linear
                // torch 1.x put `__annotations__ = []` before these; PyTorch's importer ignores any
                // assignment to the name itself (import_source.cpp), and so does this reader.
                if s.consume(UInt8(ascii: "=")) { continue }
                guard s.consume(UInt8(ascii: "[")) else { throw s.error("expected '[' or '=' after __annotations__") }
                s.skipSpaces()
                let name = try s.stringLiteral()
                s.skipSpaces()
                guard s.consume(UInt8(ascii: "]")) else { throw s.error("expected ']' after the annotation's name") }
                s.skipSpaces()
                guard s.consume(UInt8(ascii: "=")) else { throw s.error("expected '=' in the annotation of '\(name)'") }
                let type = s.remainder()
                guard !type.isEmpty else { throw s.error("the annotation of '\(name)' has no type") }
                attributes.append((name, type))
            case "def":
                s.skipSpaces()
                guard let name = s.optionalIdentifier() else { throw s.error("expected a method name after def") }
                methods.append(name)
                if name == "__setstate__" {
                    // The header and body: the deeper lines up to the next class-level statement.
                    let rest = body[(k + 1)...]
                    let end = rest.firstIndex { $0.indent <= statement.indent } ?? body.endIndex
                    setState = try Self.setState(header: s, lines: body[(k + 1)..<end], record: record,
                                                 className: qualifiedName, line: number)
                }
            default:
                // name : Type    or    name : Final[T] = value
                guard s.consume(UInt8(ascii: ":")) else { continue }   // some other statement
                let (type, value) = try s.annotation()
                guard !type.isEmpty else { throw s.error("the annotation of '\(word)' has no type") }
                if let value {
                    constants.append((word, type, value))
                } else {
                    attributes.append((word, type))
                }
            }
        }
        var seen = Set<String>()
        for (name, _) in attributes where !seen.insert(name).inserted {
            throw .malformedClassDefinition(className: qualifiedName, record: record, line: line,
                                            reason: "attribute '\(name)' is annotated twice")
        }
        return TorchScriptClass(qualifiedName: qualifiedName, record: record, line: line, bases: bases,
                                parameterNames: parameters ?? [], bufferNames: buffers ?? [],
                                attributes: attributes, constants: constants, methodNames: methods, setState: setState)
    }

    // MARK: __setstate__

    /// `def __setstate__(self: T, state: S) -> None:` and its body, read for
    /// the slots it fills straight from `state`: statements at the top of the
    /// body of the form `self.name = (state)[i]`, `(state)["key"]` or `state`.
    /// Any other assignment to `self.name` in the body makes that slot's value
    /// unknown; calls (`self.set_weight_bias((state)[10], …)`) are not followed.
    ///
    /// - Parameters:
    ///   - header: the scanner after `def __setstate__` on its line.
    ///   - lines: the deeper lines that follow: the rest of the header, then the body.
    static func setState(header: Scanner, lines: ArraySlice<BodyLine>, record: String, className: String,
                         line: Int) throws(TorchScriptError) -> TorchScriptClass.SetState {
        // The parameter list may continue over several lines: up to its closing parenthesis.
        var s = header
        s.skipSpaces()
        guard s.consume(UInt8(ascii: "(")) else { throw s.error("expected '(' after def __setstate__") }
        var parameterText: [UInt8] = []
        var depth = 0
        var bodyStart = lines.startIndex
        var closed = false
        var current = s.rest
        while true {
            var k = current.startIndex
            while k < current.endIndex {
                let b = current[k]
                if b == UInt8(ascii: "(") || b == UInt8(ascii: "[") { depth += 1 }
                if b == UInt8(ascii: ")") || b == UInt8(ascii: "]") {
                    if depth == 0 && b == UInt8(ascii: ")") { closed = true; break }
                    depth -= 1
                }
                parameterText.append(b)
                k += 1
            }
            if closed { break }
            guard bodyStart < lines.endIndex else { throw s.error("the parameters of __setstate__ are not closed") }
            parameterText.append(UInt8(ascii: " "))
            current = lines[bodyStart].text
            bodyStart += 1
        }
        // self, then the state: `name : Type`, split at the commas outside brackets.
        var pieces: [ArraySlice<UInt8>] = []
        depth = 0
        var start = parameterText.startIndex
        for (k, b) in parameterText.enumerated() {
            if b == UInt8(ascii: "[") || b == UInt8(ascii: "(") { depth += 1 }
            if b == UInt8(ascii: "]") || b == UInt8(ascii: ")") { depth -= 1 }
            if b == UInt8(ascii: ","), depth == 0 {
                pieces.append(parameterText[start..<k])
                start = k + 1
            }
        }
        pieces.append(parameterText[start...])
        let names = pieces.compactMap { piece -> String? in
            var p = Scanner(piece, record: record, className: className, line: line)
            p.skipSpaces()
            return p.optionalIdentifier()
        }
        guard names.count == 2 else {
            throw s.error("__setstate__ takes \(names.count) parameter\(names.count == 1 ? "" : "s"), not self and the state")
        }
        let state = names[1]

        let body = lines[bodyStart...]
        let top = body.first?.indent
        var assignments: [(attribute: String, key: TorchScriptClass.SetState.Key, line: Int)] = []
        var otherwise = Set<String>()
        for statement in body {
            var t = Scanner(statement.text, record: record, className: className, line: statement.line)
            guard t.consume("self."), let attribute = t.optionalIdentifier() else { continue }
            t.skipSpaces()
            guard t.consume(UInt8(ascii: "=")), t.rest.first != UInt8(ascii: "=") else {
                // `self.name += …` and the like change the slot too.
                let operators = t.rest.prefix { "+-*/%&|^@<>".utf8.contains($0) }
                if !operators.isEmpty, t.rest.dropFirst(operators.count).first == UInt8(ascii: "=") {
                    assignments.removeAll { $0.attribute == attribute }
                    otherwise.insert(attribute)
                }
                continue
            }
            t.skipSpaces()
            if statement.indent == top, let key = t.stateKey(state), t.rest.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                assignments.removeAll { $0.attribute == attribute }
                otherwise.remove(attribute)
                assignments.append((attribute, key, statement.line))
            } else {
                assignments.removeAll { $0.attribute == attribute }
                otherwise.insert(attribute)
            }
        }
        return TorchScriptClass.SetState(line: line, assignments: assignments, otherwiseAssigned: otherwise)
    }

    // MARK: Scanning one line

    /// A bounds-checked cursor over one line.
    struct Scanner {
        var rest: ArraySlice<UInt8>
        let record: String
        var className: String
        let line: Int

        init(_ text: ArraySlice<UInt8>, record: String, className: String, line: Int) {
            self.rest = text
            self.record = record
            self.className = className
            self.line = line
        }

        func error(_ reason: String) -> TorchScriptError {
            .malformedClassDefinition(className: className, record: record, line: line, reason: reason)
        }

        mutating func skipSpaces() {
            rest = rest.drop { $0 == 0x20 || $0 == 0x09 }
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard rest.first == byte else { return false }
            rest = rest.dropFirst()
            return true
        }

        mutating func consume(_ word: String) -> Bool {
            let bytes = Array(word.utf8)
            guard rest.starts(with: bytes) else { return false }
            rest = rest.dropFirst(bytes.count)
            return true
        }

        static func isIdentifierStart(_ b: UInt8) -> Bool {
            (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b >= 0x80
        }

        static func isIdentifierByte(_ b: UInt8) -> Bool {
            isIdentifierStart(b) || (b >= 0x30 && b <= 0x39)
        }

        mutating func optionalIdentifier() -> String? {
            guard let first = rest.first, Self.isIdentifierStart(first) else { return nil }
            let name = rest.prefix(while: Self.isIdentifierByte)
            rest = rest.dropFirst(name.count)
            return String(decoding: name, as: UTF8.self)
        }

        mutating func identifier() throws(TorchScriptError) -> String {
            guard let name = optionalIdentifier() else { throw error("expected a class name") }
            return name
        }

        /// The rest of the line, without surrounding spaces.
        mutating func remainder() -> String {
            defer { rest = rest[rest.endIndex...] }
            return String(decoding: rest, as: UTF8.self).trimmingCharacters(in: " \t")
        }

        /// After `name :`: the type, and the value after a top-level `=` (a class constant).
        mutating func annotation() throws(TorchScriptError) -> (type: String, value: String?) {
            var depth = 0
            var quote: UInt8?
            var k = rest.startIndex
            while k < rest.endIndex {
                let b = rest[k]
                if let q = quote {
                    if b == 0x5C { k += 1 } else if b == q { quote = nil }
                } else if b == 0x22 || b == 0x27 {
                    quote = b
                } else if b == UInt8(ascii: "[") || b == UInt8(ascii: "(") {
                    depth += 1
                } else if b == UInt8(ascii: "]") || b == UInt8(ascii: ")") {
                    depth -= 1
                    guard depth >= 0 else { throw error("unbalanced brackets in an annotation") }
                } else if b == UInt8(ascii: "="), depth == 0 {
                    let type = String(decoding: rest[rest.startIndex..<k], as: UTF8.self).trimmingCharacters(in: " \t")
                    let value = String(decoding: rest[(k + 1)...], as: UTF8.self).trimmingCharacters(in: " \t")
                    rest = rest[rest.endIndex...]
                    return (type, value)
                }
                k += 1
            }
            guard depth == 0, quote == nil else { throw error("unbalanced brackets or quotes in an annotation") }
            return (remainder(), nil)
        }

        /// `(state)[3]`, `state[3]`, `(state)["key"]` or `state`, where `state` is the given name; nil for anything else.
        mutating func stateKey(_ state: String) -> TorchScriptClass.SetState.Key? {
            let saved = rest
            let parenthesized = consume(UInt8(ascii: "("))
            guard optionalIdentifier() == state, !parenthesized || consume(UInt8(ascii: ")")) else {
                rest = saved
                return nil
            }
            skipSpaces()
            guard consume(UInt8(ascii: "[")) else { return .whole }
            skipSpaces()
            let key: TorchScriptClass.SetState.Key
            if rest.first == 0x22 || rest.first == 0x27 {
                guard let name = try? stringLiteral() else { rest = saved; return nil }
                key = .key(name)
            } else {
                let digits = rest.prefix { $0 >= 0x30 && $0 <= 0x39 }
                guard !digits.isEmpty, digits.count <= 9, let index = Int(String(decoding: digits, as: UTF8.self)) else {
                    rest = saved
                    return nil
                }
                rest = rest.dropFirst(digits.count)
                key = .index(index)
            }
            skipSpaces()
            guard consume(UInt8(ascii: "]")) else { rest = saved; return nil }
            return key
        }

        /// `["a", "b", ]`: a list of string literals, optionally with a trailing comma; nothing may follow.
        mutating func stringList() throws(TorchScriptError) -> [String] {
            skipSpaces()
            guard consume(UInt8(ascii: "[")) else { throw error("expected a list of names in brackets") }
            var names: [String] = []
            while true {
                skipSpaces()
                if consume(UInt8(ascii: "]")) { break }
                guard !rest.isEmpty else { throw error("the list of names is not closed") }
                names.append(try stringLiteral())
                skipSpaces()
                if consume(UInt8(ascii: ",")) { continue }
                guard consume(UInt8(ascii: "]")) else { throw error("expected ',' or ']' after '\(names.last ?? "")'") }
                break
            }
            skipSpaces()
            guard rest.isEmpty else { throw error("unexpected text after the list of names") }
            return names
        }

        /// `"name"` or `'name'`, with the escapes TorchScript's printer writes.
        mutating func stringLiteral() throws(TorchScriptError) -> String {
            guard let quote = rest.first, quote == 0x22 || quote == 0x27 else { throw error("expected a quoted name") }
            rest = rest.dropFirst()
            var bytes: [UInt8] = []
            while let b = rest.first {
                rest = rest.dropFirst()
                if b == quote { return String(decoding: bytes, as: UTF8.self) }
                guard b == 0x5C else {
                    bytes.append(b)
                    continue
                }
                guard let e = rest.first else { break }
                rest = rest.dropFirst()
                switch e {
                case 0x5C, 0x22, 0x27: bytes.append(e)
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                default: throw error("unknown escape '\\\(String(decoding: [e], as: UTF8.self))' in a quoted name")
                }
            }
            throw error("a quoted name is not closed")
        }
    }
}

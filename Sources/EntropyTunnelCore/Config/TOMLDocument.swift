/// A value of the TOML subset a config file is written in.
public enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    /// A float, `inf` and `nan` included (each setting with a range refuses them).
    case float(Double)
    case boolean(Bool)
    /// One level only: the elements are never arrays.
    case array([TOMLValue])

    /// The value as TOML spells it, for messages: strings quoted and shown printable.
    public var displayed: String {
        switch self {
        case .string(let s): return "\"" + TOMLValue.printable(s, limit: 80) + "\""
        case .integer(let n): return "\(n)"
        case .float(let d): return d.isNaN ? "nan" : d.isInfinite ? (d < 0 ? "-inf" : "inf") : "\(d)"
        case .boolean(let b): return "\(b)"
        case .array(let elements):
            let shown = elements.prefix(8).map(\.displayed).joined(separator: ", ")
            return "[" + shown + (elements.count > 8 ? ", ..." : "") + "]"
        }
    }

    /// `text` for a message: controls and other invisible characters as `\u{..}`, at most
    /// `limit` characters. A config file is an administrator's text, but a message goes to a
    /// terminal or the journal, where an escape sequence would be obeyed.
    public static func printable(_ text: String, limit: Int) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit { out += "..."; break }
            count += 1
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned, .privateUse:
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// A config file in the part of TOML entropy-tunnel uses, parsed in one pass: one table of
/// `key = value` lines; basic and literal strings on one line (TOML's escapes), integers
/// (sign, `_`, `0x`/`0o`/`0b`), floats (exponent, `inf`, `nan`), booleans, and arrays of those
/// (over several lines, with comments and a trailing comma); comments, blank lines, LF or CRLF.
///
/// Every value keeps its line and column. Malformed text of any kind is a `TunnelError`
/// `PATH:LINE: TOML syntax error: what is wrong (column C)`, never a trap. Valid TOML outside
/// the subset is refused by name with its line: tables (`[x]`, `[[x]]`), inline tables, dotted
/// keys, dates and times, multi-line strings, nested arrays. A key set twice is refused.
///
/// It replaces TOMLKit (toml++, whose asserts abort the process on some malformed input, and
/// whose public types bring Foundation and ICU into the binary), the pre-scanner that guarded
/// it, and the rescan that found a key's line.
public struct TOMLDocument: Sendable {
    /// One `key = value` line.
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: TOMLValue
        /// 1-based line of the key.
        public var line: Int
        /// 1-based column (in characters) where the value starts.
        public var column: Int
    }

    /// The entries in the order of the file.
    public let entries: [Entry]

    /// The largest file read: a config file is a few KiB.
    public static let sizeLimit = 1 << 20

    /// The entry of `key`, if the file sets it.
    public subscript(key: String) -> Entry? { entries.first { $0.key == key } }

    /// Parses `text`; `path` is only used in messages.
    public init(parsing text: String, path: String) throws(TunnelError) {
        var text = text
        let result: Result<[Entry], TunnelError> = text.withUTF8 { buffer in
            var parser = Parser(bytes: buffer, path: path)
            do throws(TunnelError) {
                if buffer.count > Self.sizeLimit {
                    throw TunnelError(.configuration, "\(path): larger than 1 MiB: not a config file")
                }
                try parser.document()
                return .success(parser.entries)
            } catch {
                return .failure(error)
            }
        }
        entries = try result.get()
    }
}

extension TOMLDocument {
    /// The parser: a cursor over the UTF-8 bytes (valid UTF-8: they come from a `String`).
    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        let path: String
        var index = 0
        var line = 1
        /// Where the current line starts, for columns.
        var lineStart = 0
        var entries: [Entry] = []
        /// Each key's line, to refuse one set twice without a quadratic search.
        var lines: [String: Int] = [:]

        init(bytes: UnsafeBufferPointer<UInt8>, path: String) {
            self.bytes = bytes
            self.path = path
        }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        func peek(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }

        /// The 1-based column of byte `offset` of the current line, counted in characters.
        func column(at offset: Int) -> Int {
            var n = 1
            var i = lineStart
            while i < offset && i < bytes.count {
                if bytes[i] & 0xC0 != 0x80 { n += 1 }
                i += 1
            }
            return n
        }

        func fail(_ what: String, at offset: Int? = nil) -> TunnelError {
            TunnelError(.configuration, "\(path):\(line): TOML syntax error: \(what) (column \(column(at: offset ?? index)))")
        }

        // MARK: Lines

        mutating func document() throws(TunnelError) {
            // A byte order mark, as some editors write one.
            if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
                index = 3
                lineStart = 3
            }
            while true {
                skipBlanks()
                guard let c = current else { return }
                switch c {
                case Byte.lineFeed, Byte.carriageReturn, Byte.hash:
                    try endOfLine()
                case Byte.openBracket:
                    try tableHeader()
                default:
                    try keyValue()
                }
            }
        }

        mutating func skipBlanks() {
            while let c = current, c == Byte.space || c == Byte.tab { index += 1 }
        }

        /// Blanks, an optional comment, then the end of the line or of the text.
        mutating func endOfLine(after what: String = "the value") throws(TunnelError) {
            skipBlanks()
            if current == Byte.hash { try comment() }
            guard let c = current else { return }
            if c == Byte.carriageReturn {
                guard peek(1) == Byte.lineFeed else { throw fail("a carriage return without a line feed") }
                index += 1
            }
            guard current == Byte.lineFeed else {
                throw fail("unexpected \(describe(at: index)) after \(what); one setting per line, and strings are quoted")
            }
            newLine()
        }

        mutating func newLine() {
            index += 1
            line += 1
            lineStart = index
        }

        /// `# ...` up to the end of the line; control characters other than tab are refused.
        mutating func comment() throws(TunnelError) {
            while let c = current, c != Byte.lineFeed {
                if c == Byte.carriageReturn && peek(1) == Byte.lineFeed { return }
                if (c < 0x20 && c != Byte.tab) || c == 0x7F { throw fail("control character \(describe(at: index)) in a comment") }
                index += 1
            }
        }

        /// `[name]` or `[[name]]`: valid TOML, but this file is one table of keys.
        mutating func tableHeader() throws(TunnelError) {
            let start = index
            index += 1
            if current == Byte.openBracket {
                throw fail("arrays of tables ([[...]]) are not part of this file's format; write `key = value` lines only", at: start)
            }
            skipBlanks()
            let name = try key(allowDots: true)
            skipBlanks()
            guard current == Byte.closeBracket else { throw fail("a table header must end with ']'") }
            throw TunnelError(.configuration,
                              "\(path):\(line): unknown section or key '\(TOMLValue.printable(name, limit: 64))': this file has no " +
                              "sections ([...]); write its keys at the top, like `window = \"64K\"`")
        }

        mutating func keyValue() throws(TunnelError) {
            let keyLine = line
            let name = try key(allowDots: false)
            skipBlanks()
            guard current == Byte.equals else {
                if current == Byte.dot {
                    throw fail("dotted keys (a.b = ...) are not part of this file's format; keys are like window or fifo_size")
                }
                throw fail(current == nil || current == Byte.lineFeed || current == Byte.carriageReturn
                           ? "expected '=' and a value after the key '\(TOMLValue.printable(name, limit: 64))'"
                           : "expected '=' after the key '\(TOMLValue.printable(name, limit: 64))', found \(describe(at: index))")
            }
            index += 1
            skipBlanks()
            let valueColumn = column(at: index)
            let value = try self.value(inArray: false)
            try endOfLine()
            if let first = lines[name] {
                throw TunnelError(.configuration,
                                  "\(path):\(keyLine): '\(TOMLValue.printable(name, limit: 64))' is set twice (also on line " +
                                  "\(first)); keep one")
            }
            lines[name] = keyLine
            entries.append(Entry(key: name, value: value, line: keyLine, column: valueColumn))
        }

        /// A bare key (`A-Za-z0-9_-`) or a quoted one; with `allowDots`, a dotted one (table names).
        mutating func key(allowDots: Bool) throws(TunnelError) -> String {
            var parts: [String] = []
            while true {
                guard let c = current else { throw fail("a key is missing") }
                if c == Byte.quote || c == Byte.apostrophe {
                    parts.append(try string(quote: c))
                } else {
                    let start = index
                    while let c = current, Byte.isBareKey(c) { index += 1 }
                    if index == start {
                        throw fail(c == Byte.equals ? "a key is missing before '='"
                                   : "\(describe(at: index)) cannot start a key; keys are like host or fifo_size")
                    }
                    parts.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
                }
                guard allowDots else { return parts[0] }
                skipBlanks()
                guard current == Byte.dot else { return parts.joined(separator: ".") }
                index += 1
                skipBlanks()
            }
        }

        // MARK: Values

        mutating func value(inArray: Bool) throws(TunnelError) -> TOMLValue {
            guard let c = current, c != Byte.lineFeed, c != Byte.carriageReturn, c != Byte.hash else {
                throw fail("a value is missing after '='")
            }
            switch c {
            case Byte.quote, Byte.apostrophe:
                return .string(try string(quote: c))
            case Byte.openBracket:
                if inArray {
                    throw fail("arrays inside arrays are not part of this file's format; a list holds strings, like [\"a\", \"b\"]")
                }
                return try array()
            case Byte.openBrace:
                throw fail("inline tables ({...}) are not part of this file's format; write each key on its own line")
            default:
                return try scalar()
            }
        }

        /// `[a, b, ...]`, over several lines if need be, comments and a trailing comma allowed.
        mutating func array() throws(TunnelError) -> TOMLValue {
            let openLine = line
            index += 1
            var elements: [TOMLValue] = []
            var expectingValue = true
            while true {
                // Blanks, newlines and comments between elements.
                while let c = current {
                    if c == Byte.space || c == Byte.tab {
                        index += 1
                    } else if c == Byte.lineFeed {
                        newLine()
                    } else if c == Byte.carriageReturn && peek(1) == Byte.lineFeed {
                        index += 1
                        newLine()
                    } else if c == Byte.hash {
                        try comment()
                    } else {
                        break
                    }
                }
                guard let c = current else {
                    throw fail("the array opened on line \(openLine) is not closed with ']'")
                }
                if c == Byte.closeBracket {
                    index += 1
                    return .array(elements)
                }
                if c == Byte.comma {
                    if expectingValue { throw fail("',' without a value before it in an array") }
                    index += 1
                    expectingValue = true
                    continue
                }
                if !expectingValue { throw fail("array values must be separated by ','") }
                elements.append(try value(inArray: true))
                expectingValue = false
            }
        }

        /// A basic (`"..."`, with escapes) or literal (`'...'`) string on one line.
        mutating func string(quote: UInt8) throws(TunnelError) -> String {
            let start = index
            if peek(1) == quote && peek(2) == quote {
                throw fail("multi-line strings (\(quote == Byte.quote ? "\"\"\"" : "'''")...) are not part of this file's " +
                           "format; write the value on one line", at: start)
            }
            index += 1
            let contentStart = index
            // The decoded bytes, kept only once an escape makes them differ from the text.
            var decoded: [UInt8] = []
            var escaped = false
            while true {
                guard let c = current else { throw fail("a string is not closed", at: start) }
                if c == quote {
                    let text = escaped
                        ? String(decoding: decoded, as: UTF8.self)
                        : String(decoding: UnsafeBufferPointer(rebasing: bytes[contentStart..<index]), as: UTF8.self)
                    index += 1
                    return text
                }
                if c == Byte.lineFeed || c == Byte.carriageReturn {
                    throw fail("a string is not closed on its line", at: start)
                }
                if (c < 0x20 && c != Byte.tab) || c == 0x7F {
                    throw fail("control character \(describe(at: index)) in a string; write it as an escape like \\u0007")
                }
                if c == Byte.backslash && quote == Byte.quote {
                    if !escaped {
                        decoded = Array(UnsafeBufferPointer(rebasing: bytes[contentStart..<index]))
                        escaped = true
                    }
                    try escape(into: &decoded)
                    continue
                }
                if escaped { decoded.append(c) }
                index += 1
            }
        }

        /// One escape after a backslash in a basic string.
        mutating func escape(into out: inout [UInt8]) throws(TunnelError) {
            let start = index
            index += 1
            guard let e = current else { throw fail("a string is not closed") }
            index += 1
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "t"): out.append(Byte.tab)
            case UInt8(ascii: "n"): out.append(Byte.lineFeed)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "r"): out.append(Byte.carriageReturn)
            case Byte.quote: out.append(Byte.quote)
            case Byte.backslash: out.append(Byte.backslash)
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let digits = e == UInt8(ascii: "u") ? 4 : 8
                var code: UInt32 = 0
                for _ in 0..<digits {
                    guard let h = current, let d = Byte.hexValue(h) else {
                        throw fail("\\\(Character(Unicode.Scalar(e))) needs \(digits) hex digits", at: start)
                    }
                    code = code << 4 | d
                    index += 1
                }
                guard let scalar = Unicode.Scalar(code) else {
                    throw fail("\\\(Character(Unicode.Scalar(e))) names no Unicode character", at: start)
                }
                out.append(contentsOf: String(scalar).utf8)
            default:
                throw fail("unknown escape \\\(describeByte(e)) in a string; use \\\\ for a backslash", at: start)
            }
        }

        /// A number, a boolean, or something that is not a value (an unquoted string, a date).
        mutating func scalar() throws(TunnelError) -> TOMLValue {
            let start = index
            while let c = current, Byte.isScalar(c) { index += 1 }
            guard index > start else {
                throw fail("\(describe(at: index)) cannot start a value; quote strings, like \"rng.example\"")
            }
            let token = UnsafeBufferPointer(rebasing: bytes[start..<index])
            let text = String(decoding: token, as: UTF8.self)
            let shown = TOMLValue.printable(text, limit: 40)
            switch Scalar.parse(token) {
            case .value(let value): return value
            case .integerOutOfRange: throw fail("the integer \(shown) is too large", at: start)
            case .invalid: break
            }
            if Scalar.looksLikeDateOrTime(token) {
                throw fail("dates and times (\(shown)) are not part of this file's format", at: start)
            }
            if let first = token.first, Byte.isDigit(first) || first == UInt8(ascii: "+") || first == UInt8(ascii: "-") ||
                first == UInt8(ascii: ".") {
                throw fail("\(shown) is not a number (numbers are like 10, 2.5, 1e-12 or 1_000)", at: start)
            }
            throw fail("\(shown) is not a value: quote strings, like \"\(shown)\"", at: start)
        }

        func describe(at offset: Int) -> String {
            offset < bytes.count ? describeByte(bytes[offset]) : "the end of the file"
        }

        func describeByte(_ c: UInt8) -> String {
            (0x21..<0x7F).contains(c) ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
        }
    }

    /// The bytes the grammar names.
    private enum Byte {
        static let tab: UInt8 = 0x09
        static let lineFeed: UInt8 = 0x0A
        static let carriageReturn: UInt8 = 0x0D
        static let space: UInt8 = 0x20
        static let quote = UInt8(ascii: "\"")
        static let apostrophe = UInt8(ascii: "'")
        static let hash = UInt8(ascii: "#")
        static let equals = UInt8(ascii: "=")
        static let dot = UInt8(ascii: ".")
        static let comma = UInt8(ascii: ",")
        static let backslash = UInt8(ascii: "\\")
        static let openBracket = UInt8(ascii: "[")
        static let closeBracket = UInt8(ascii: "]")
        static let openBrace = UInt8(ascii: "{")

        static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

        static func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }

        static func isBareKey(_ c: UInt8) -> Bool { isLetter(c) || isDigit(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") }

        /// What a number, boolean or date token may hold.
        static func isScalar(_ c: UInt8) -> Bool {
            isBareKey(c) || c == UInt8(ascii: "+") || c == dot || c == UInt8(ascii: ":")
        }

        static func hexValue(_ c: UInt8) -> UInt32? {
            switch c {
            case 0x30...0x39: return UInt32(c - 0x30)
            case 0x61...0x66: return UInt32(c - 0x61 + 10)
            case 0x41...0x46: return UInt32(c - 0x41 + 10)
            default: return nil
            }
        }
    }

    /// TOML's number and boolean tokens.
    private enum Scalar {
        enum Parsed {
            case value(TOMLValue)
            /// Integer syntax, but beyond Int's range.
            case integerOutOfRange
            case invalid
        }

        static func parse(_ t: UnsafeBufferPointer<UInt8>) -> Parsed {
            if equals(t, "true") { return .value(.boolean(true)) }
            if equals(t, "false") { return .value(.boolean(false)) }
            if let special = specialFloat(t) { return .value(.float(special)) }
            if t.count > 2, t[0] == 0x30, let radix = radix(t[1]) {
                return prefixedInteger(UnsafeBufferPointer(rebasing: t[2...]), radix: radix)
            }
            return decimal(t)
        }

        static func equals(_ t: UnsafeBufferPointer<UInt8>, _ word: StaticString) -> Bool {
            guard t.count == word.utf8CodeUnitCount else { return false }
            return word.withUTF8Buffer { w in t.elementsEqual(w) }
        }

        /// `inf`, `nan`, with an optional sign.
        static func specialFloat(_ t: UnsafeBufferPointer<UInt8>) -> Double? {
            var rest = t[...]
            var negative = false
            if let first = rest.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
                negative = first == UInt8(ascii: "-")
                rest = rest.dropFirst()
            }
            let word = UnsafeBufferPointer(rebasing: rest)
            if equals(word, "inf") { return negative ? -.infinity : .infinity }
            if equals(word, "nan") { return .nan }
            return nil
        }

        static func radix(_ c: UInt8) -> Int? {
            switch c {
            case UInt8(ascii: "x"): return 16
            case UInt8(ascii: "o"): return 8
            case UInt8(ascii: "b"): return 2
            default: return nil
            }
        }

        /// The digits after `0x`, `0o` or `0b`: underscores only between digits, no sign.
        static func prefixedInteger(_ t: UnsafeBufferPointer<UInt8>, radix: Int) -> Parsed {
            guard let digits = digitsWithoutUnderscores(t, isDigit: { Int(Byte.hexValue($0) ?? 99) < radix }) else { return .invalid }
            return Int(String(decoding: digits, as: UTF8.self), radix: radix).map { .value(.integer($0)) } ?? .integerOutOfRange
        }

        /// `t` without its underscores, when each one sits between two digits; nil otherwise.
        static func digitsWithoutUnderscores(_ t: some Collection<UInt8>, isDigit: (UInt8) -> Bool) -> [UInt8]? {
            var out: [UInt8] = []
            out.reserveCapacity(t.count)
            var previousWasDigit = false
            for c in t {
                if c == UInt8(ascii: "_") {
                    guard previousWasDigit else { return nil }
                    previousWasDigit = false
                } else {
                    guard isDigit(c) else { return nil }
                    out.append(c)
                    previousWasDigit = true
                }
            }
            return previousWasDigit ? out : nil
        }

        /// `[+-] int [. frac] [e [+-] exp]`: an integer without `.`/exponent, else a float.
        static func decimal(_ t: UnsafeBufferPointer<UInt8>) -> Parsed {
            var i = 0
            var normalized: [UInt8] = []
            normalized.reserveCapacity(t.count)
            if i < t.count, t[i] == UInt8(ascii: "+") || t[i] == UInt8(ascii: "-") {
                if t[i] == UInt8(ascii: "-") { normalized.append(t[i]) }
                i += 1
            }
            // The integer part: digits (underscores between them), no leading zero.
            func part(_ isEnd: (UInt8) -> Bool) -> [UInt8]? {
                let start = i
                while i < t.count, !isEnd(t[i]) { i += 1 }
                return digitsWithoutUnderscores(UnsafeBufferPointer(rebasing: t[start..<i]), isDigit: Byte.isDigit)
            }
            let isFractionOrExponent: (UInt8) -> Bool = { $0 == Byte.dot || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
            guard let integer = part(isFractionOrExponent) else { return .invalid }
            if integer.count > 1 && integer[0] == 0x30 { return .invalid }
            normalized += integer
            var isFloat = false
            if i < t.count, t[i] == Byte.dot {
                i += 1
                guard let fraction = part({ $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) else { return .invalid }
                normalized.append(Byte.dot)
                normalized += fraction
                isFloat = true
            }
            if i < t.count, t[i] == UInt8(ascii: "e") || t[i] == UInt8(ascii: "E") {
                i += 1
                normalized.append(UInt8(ascii: "e"))
                if i < t.count, t[i] == UInt8(ascii: "+") || t[i] == UInt8(ascii: "-") {
                    normalized.append(t[i])
                    i += 1
                }
                guard let exponent = part({ _ in false }) else { return .invalid }
                normalized += exponent
                isFloat = true
            }
            guard i == t.count else { return .invalid }
            let text = String(decoding: normalized, as: UTF8.self)
            // A float beyond Double's range reads as infinity, which every setting refuses.
            if isFloat { return Double(text).map { .value(.float($0)) } ?? .invalid }
            return Int(text).map { .value(.integer($0)) } ?? .integerOutOfRange
        }

        /// `1979-05-27`, `07:32:00`, `1979-05-27T07:32:00Z`: TOML's dates and times.
        static func looksLikeDateOrTime(_ t: UnsafeBufferPointer<UInt8>) -> Bool {
            func digits(_ range: Range<Int>) -> Bool { range.upperBound <= t.count && range.allSatisfy { Byte.isDigit(t[$0]) } }
            let isDate = digits(0..<4) && t.count > 4 && t[4] == UInt8(ascii: "-") && digits(5..<7)
            let isTime = digits(0..<2) && t.count > 2 && t[2] == UInt8(ascii: ":")
            return isDate || isTime
        }
    }
}

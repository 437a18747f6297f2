/// Checks that a config file stays inside the part of TOML entropy-tunnel's config uses, before
/// TOMLKit parses it.
///
/// toml++ 3.4 (inside TOMLKit 0.6) aborts the whole process on some malformed input — a table
/// header that starts with a character no key can start with (`[é]`), `host = [}` — and its
/// asserts stay live in release builds (found by `install/fuzz.sh config`). A config file is a
/// careless admin's input, so it is scanned first: comments, blank lines, `[section]` headers
/// (reported as unknown by the reader), and `key = value` where a value is a basic or literal
/// string on one line, a number, boolean or date token, or an array of values. Inline tables and
/// multi-line strings are refused: the config has no use for them. Anything else is a syntax
/// error naming the line, and TOMLKit never sees it.
public enum TOMLSubset {
    public static func check(_ text: String, path: String) throws(TunnelError) {
        var scanner = Scanner(bytes: Array(text.utf8), path: path)
        try scanner.document()
    }

    private struct Scanner {
        let bytes: [UInt8]
        let path: String
        var index = 0
        var line = 1

        init(bytes: [UInt8], path: String) {
            self.bytes = bytes
            self.path = path
        }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        func fail(_ what: String) -> TunnelError {
            TunnelError(.configuration, "\(path):\(line): TOML syntax error: \(what)")
        }

        mutating func skipSpaces() {
            while let c = current, c == 0x20 || c == 0x09 { index += 1 }
        }

        /// Spaces, then an optional comment, then the end of the line (or of the text).
        mutating func endOfLine() throws(TunnelError) {
            skipSpaces()
            if current == UInt8(ascii: "#") { try comment() }
            guard let c = current else { return }
            if c == 0x0d, index + 1 < bytes.count, bytes[index + 1] == 0x0a { index += 1 }
            guard current == 0x0a else { throw fail("unexpected \(describe(c)) after the value; one setting per line") }
            index += 1
            line += 1
        }

        mutating func comment() throws(TunnelError) {
            while let c = current, c != 0x0a, !(c == 0x0d && index + 1 < bytes.count && bytes[index + 1] == 0x0a) {
                if c < 0x20 && c != 0x09 { throw fail("control character \(describe(c)) in a comment") }
                index += 1
            }
        }

        mutating func document() throws(TunnelError) {
            while current != nil {
                skipSpaces()
                guard let c = current else { return }
                switch c {
                case 0x0a, 0x0d, UInt8(ascii: "#"):
                    try endOfLine()
                case UInt8(ascii: "["):
                    try header()
                default:
                    try keyValue()
                }
            }
        }

        mutating func header() throws(TunnelError) {
            index += 1
            if current == UInt8(ascii: "[") { throw fail("arrays of tables ([[...]]) are not used in this file") }
            skipSpaces()
            try key()
            skipSpaces()
            guard current == UInt8(ascii: "]") else { throw fail("a section header must be [name]") }
            index += 1
            try endOfLine()
        }

        mutating func keyValue() throws(TunnelError) {
            try key()
            skipSpaces()
            guard current == UInt8(ascii: "=") else { throw fail("expected `key = value`") }
            index += 1
            skipSpaces()
            try value(depth: 0)
            try endOfLine()
        }

        /// A bare, quoted or dotted key.
        mutating func key() throws(TunnelError) {
            while true {
                guard let c = current else { throw fail("a key is missing") }
                if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                    try string()
                } else {
                    let start = index
                    while let c = current, isBareKey(c) { index += 1 }
                    if index == start { throw fail("\(describe(c)) cannot start a key; keys are like host or fifo_size") }
                }
                skipSpaces()
                guard current == UInt8(ascii: ".") else { return }
                index += 1
                skipSpaces()
            }
        }

        mutating func value(depth: Int) throws(TunnelError) {
            guard let c = current else { throw fail("a value is missing after '='") }
            switch c {
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                try string()
            case UInt8(ascii: "["):
                try array(depth: depth + 1)
            case UInt8(ascii: "{"):
                throw fail("inline tables ({...}) are not used in this file")
            default:
                let start = index
                while let c = current, isScalar(c) { index += 1 }
                if index == start { throw fail("\(describe(c)) cannot start a value; quote strings, like \"rng.example\"") }
                if index - start > 64 { throw fail("a value of more than 64 characters that is not a string") }
            }
        }

        mutating func array(depth: Int) throws(TunnelError) {
            if depth > 4 { throw fail("arrays nested more than 4 deep") }
            index += 1  // [
            var expectingValue = true
            while true {
                skipArraySpace: while let c = current {
                    switch c {
                    case 0x20, 0x09: index += 1
                    case 0x0a: index += 1; line += 1
                    case 0x0d where index + 1 < bytes.count && bytes[index + 1] == 0x0a: index += 2; line += 1
                    case UInt8(ascii: "#"): try comment()
                    default: break skipArraySpace
                    }
                }
                guard let c = current else { throw fail("an array is not closed with ']'") }
                if c == UInt8(ascii: "]") {
                    index += 1
                    return
                }
                if c == UInt8(ascii: ",") {
                    if expectingValue { throw fail("an array holds ',' without a value before it") }
                    index += 1
                    expectingValue = true
                    continue
                }
                if !expectingValue { throw fail("array values must be separated by ','") }
                try value(depth: depth)
                expectingValue = false
            }
        }

        /// A basic ("...") or literal ('...') string on one line.
        mutating func string() throws(TunnelError) {
            let quote = current!
            if index + 2 < bytes.count, bytes[index + 1] == quote, bytes[index + 2] == quote {
                throw fail("multi-line strings are not used in this file")
            }
            index += 1
            while true {
                guard let c = current else { throw fail("a string is not closed") }
                if c == quote { index += 1; return }
                if c == 0x0a || c == 0x0d { throw fail("a string is not closed on its line") }
                if c < 0x20 && c != 0x09 || c == 0x7f { throw fail("control character \(describe(c)) in a string") }
                if c == UInt8(ascii: "\\") && quote == UInt8(ascii: "\"") {
                    index += 1
                    guard let e = current else { throw fail("a string is not closed") }
                    switch e {
                    case UInt8(ascii: "b"), UInt8(ascii: "t"), UInt8(ascii: "n"), UInt8(ascii: "f"), UInt8(ascii: "r"),
                         UInt8(ascii: "\""), UInt8(ascii: "\\"):
                        index += 1
                    case UInt8(ascii: "u"), UInt8(ascii: "U"):
                        let digits = e == UInt8(ascii: "u") ? 4 : 8
                        index += 1
                        var value: UInt32 = 0
                        for _ in 0..<digits {
                            guard let h = current, let d = hexValue(h) else { throw fail("\\\(Character(Unicode.Scalar(e))) needs \(digits) hex digits") }
                            value = value << 4 | d
                            index += 1
                        }
                        if Unicode.Scalar(value) == nil { throw fail("\\\(Character(Unicode.Scalar(e))) names no Unicode character") }
                    default:
                        throw fail("unknown escape \\\(describe(e)) in a string")
                    }
                    continue
                }
                index += 1
            }
        }

        func isBareKey(_ c: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c) ||
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }

        /// Numbers (`10`, `2.5`, `-1e-12`, `0x1F`, `1_000`), `true`/`false`, `nan`, `inf`, dates.
        func isScalar(_ c: UInt8) -> Bool {
            isBareKey(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":")
        }

        func hexValue(_ c: UInt8) -> UInt32? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(c - UInt8(ascii: "A") + 10)
            default: return nil
            }
        }

        func describe(_ c: UInt8) -> String {
            (0x21..<0x7f).contains(c) ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
        }
    }
}

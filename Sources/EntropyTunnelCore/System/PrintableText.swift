/// Text that came from somewhere else (a host's stderr, its exit-signal name, a state file) made
/// safe to show: remote text is data, never terminal control sequences or protocol lines.
///
/// Two steps, at two places:
/// - `reduce(_:limit:)` where the text is received: invalid UTF-8, control characters (C0, DEL,
///   C1), format characters (bidi overrides and isolates, zero-width characters, BOM), line and
///   paragraph separators, private-use, surrogate and unassigned scalars become visible escapes
///   (`\x1b`, `\u{202E}`), and the result is cut at `limit` UTF-8 bytes.
/// - `escape(_:for:)` at every sink a person or a program parses (sd_notify, a terminal, syslog,
///   a Prometheus label): the same replacement again (the sink cannot know where its text came
///   from), plus what the sink's own syntax needs (`\` and `"` in a label).
///
/// Both are idempotent on their own output for the notify, terminal and syslog sinks: escaping
/// reduced text changes nothing.
public enum PrintableText {
    /// Where text goes.
    public enum Sink: Sendable {
        /// An sd_notify datagram value (`STATUS=...`): one line, no control characters.
        case notify
        /// A terminal (`status`, `check`): no escape sequences, no bidi tricks.
        case terminal
        /// A syslog or journal message: one line.
        case syslog
        /// A Prometheus label value: additionally `\` as `\\` and `"` as `\"`.
        case metricsLabel
    }

    /// The longest reduced text by default (bytes of UTF-8).
    public static let defaultLimit = 1024

    /// What is appended to text cut at its limit.
    public static let truncationMark = "..."

    /// `bytes` (any bytes: UTF-8 or not) as printable text of at most `limit` UTF-8 bytes.
    public static func reduce(_ bytes: some Sequence<UInt8>, limit: Int = defaultLimit) -> String {
        var out = Output(limit: limit)
        var decoder = UTF8Decoder(Array(bytes))
        while let item = decoder.next() {
            switch item {
            case .scalar(let scalar): out.append(scalar)
            case .invalid(let byte): out.append(escaped: hex(byte))
            }
            if out.full { break }
        }
        return out.text
    }

    /// `text` as printable text of at most `limit` UTF-8 bytes.
    public static func reduce(_ text: String, limit: Int = defaultLimit) -> String {
        var out = Output(limit: limit)
        for scalar in text.unicodeScalars {
            out.append(scalar)
            if out.full { break }
        }
        return out.text
    }

    /// `text` made safe for `sink`; never longer than needed, never cut.
    public static func escape(_ text: String, for sink: Sink) -> String {
        var out = Output(limit: .max)
        for scalar in text.unicodeScalars {
            if sink == .metricsLabel, scalar == "\\" || scalar == "\"" {
                out.append(escaped: "\\" + String(scalar))
            } else if sink == .metricsLabel, scalar != "\n", !isPrintable(scalar) {
                // The exposition format knows only \\, \" and \n: other escapes are shown as text.
                out.append(escaped: "\\" + escapeSequence(scalar))
            } else {
                out.append(scalar)
            }
        }
        return out.text
    }

    /// Whether `scalar` may appear as itself: printable, not a control, format, separator,
    /// private-use, surrogate or unassigned code point.
    public static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value >= 0x20 && scalar.value < 0x7f { return true }
        if scalar.value < 0xa0 { return false }  // C0, DEL, C1
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned:
            return false
        default:
            return !scalar.properties.isNoncharacterCodePoint
        }
    }

    /// The escape shown for a scalar that is not printable: `\n`, `\t`, `\r`, `\xNN` below 0x100,
    /// `\u{XXXX}` above.
    static func escapeSequence(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": return "\\n"
        case "\t": return "\\t"
        case "\r": return "\\r"
        default:
            if scalar.value < 0x100 { return hex(UInt8(scalar.value)) }
            return "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        }
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: [UInt8(ascii: "\\"), UInt8(ascii: "x"), digits[Int(byte >> 4)], digits[Int(byte & 15)]], as: UTF8.self)
    }

    /// Collects the result, cutting it at `limit` UTF-8 bytes on a whole escape or scalar.
    private struct Output {
        let limit: Int
        var text = ""
        var bytes = 0
        var full = false

        init(limit: Int) { self.limit = max(0, limit) }

        mutating func append(_ scalar: Unicode.Scalar) {
            if PrintableText.isPrintable(scalar) {
                add(String(scalar))
            } else {
                add(PrintableText.escapeSequence(scalar))
            }
        }

        mutating func append(escaped: String) { add(escaped) }

        private mutating func add(_ piece: String) {
            guard !full else { return }
            let size = piece.utf8.count
            if bytes + size > limit {
                // Room for the mark: drop whole pieces already added until it fits.
                let mark = PrintableText.truncationMark
                while bytes + mark.utf8.count > limit, let last = text.unicodeScalars.last {
                    text.unicodeScalars.removeLast()
                    bytes -= String(last).utf8.count
                }
                if bytes + mark.utf8.count <= limit { text += mark; bytes += mark.utf8.count }
                full = true
                return
            }
            text += piece
            bytes += size
        }
    }

    /// A strict UTF-8 decoder that yields scalars and, for every byte that is not part of a
    /// well-formed sequence (overlong forms, surrogates and values above U+10FFFF included), that
    /// byte on its own.
    private struct UTF8Decoder {
        enum Item { case scalar(Unicode.Scalar), invalid(UInt8) }
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func next() -> Item? {
            guard index < bytes.count else { return nil }
            let first = bytes[index]
            let length: Int
            var value: UInt32
            var lower: UInt8 = 0x80, upper: UInt8 = 0xbf
            switch first {
            case 0x00...0x7f:
                index += 1
                return .scalar(Unicode.Scalar(first))
            case 0xc2...0xdf: length = 2; value = UInt32(first & 0x1f)
            case 0xe0: length = 3; value = 0; lower = 0xa0
            case 0xe1...0xec, 0xee...0xef: length = 3; value = UInt32(first & 0x0f)
            case 0xed: length = 3; value = 0x0d; upper = 0x9f
            case 0xf0: length = 4; value = 0; lower = 0x90
            case 0xf1...0xf3: length = 4; value = UInt32(first & 0x07)
            case 0xf4: length = 4; value = 4; upper = 0x8f
            default:
                index += 1
                return .invalid(first)
            }
            guard index + length <= bytes.count else {
                index += 1
                return .invalid(first)
            }
            for offset in 1..<length {
                let byte = bytes[index + offset]
                let (low, high) = offset == 1 ? (lower, upper) : (UInt8(0x80), UInt8(0xbf))
                guard byte >= low && byte <= high else {
                    index += 1
                    return .invalid(first)
                }
                value = value << 6 | UInt32(byte & 0x3f)
            }
            index += length
            guard let scalar = Unicode.Scalar(value) else { return .invalid(first) }
            return .scalar(scalar)
        }
    }
}

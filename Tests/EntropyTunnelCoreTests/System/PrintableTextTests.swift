import EntropyTunnelCore
import Testing

/// Remote text is data: `PrintableText.reduce` where it is received and `escape` at each sink,
/// against hostile strings.
struct PrintableTextTests {
    struct Hostile: CustomTestStringConvertible, Sendable {
        let name: String
        let bytes: [UInt8]
        /// What must come out of `reduce`.
        let reduced: String
        var testDescription: String { name }
    }

    static let hostile: [Hostile] = [
        Hostile(name: "newline and sd_notify lines", bytes: Array("TERM\nWATCHDOG=trigger\nSTOPPING=1".utf8),
                reduced: "TERM\\nWATCHDOG=trigger\\nSTOPPING=1"),
        Hostile(name: "ESC sequences: title, clear screen", bytes: Array("\u{1B}]0;owned\u{07}\u{1B}[2J\u{1B}[H$ ".utf8),
                reduced: "\\x1b]0;owned\\x07\\x1b[2J\\x1b[H$ "),
        Hostile(name: "NUL and DEL", bytes: [0x41, 0x00, 0x42, 0x7F], reduced: "A\\x00B\\x7f"),
        Hostile(name: "C1 controls (CSI 0x9b) as UTF-8 and raw", bytes: [0xC2, 0x9B, 0x32, 0x4A, 0x9B], reduced: "\\x9b2J\\x9b"),
        Hostile(name: "invalid UTF-8: overlong, surrogate, truncated, out of range",
                bytes: [0xC0, 0xAF, 0xED, 0xA0, 0x80, 0xE2, 0x82, 0xF4, 0x90, 0x80, 0x80],
                reduced: "\\xc0\\xaf\\xed\\xa0\\x80\\xe2\\x82\\xf4\\x90\\x80\\x80"),
        Hostile(name: "bidi overrides and isolates", bytes: Array("abc\u{202E}fdp.exe\u{2066}x\u{2069}".utf8),
                reduced: "abc\\u{202E}fdp.exe\\u{2066}x\\u{2069}"),
        Hostile(name: "zero-width, BOM, line and paragraph separators", bytes: Array("a\u{200B}b\u{FEFF}c\u{2028}d\u{2029}".utf8),
                reduced: "a\\u{200B}b\\u{FEFF}c\\u{2028}d\\u{2029}"),
        Hostile(name: "tab and carriage return", bytes: Array("a\tb\rc".utf8), reduced: "a\\tb\\rc"),
        Hostile(name: "printable text in any script stays", bytes: Array("Permission denied: /dev/hwrng – Zugriff verweigert ✓ 乱数".utf8),
                reduced: "Permission denied: /dev/hwrng – Zugriff verweigert ✓ 乱数"),
    ]

    @Test("reduce: controls, invalid UTF-8 and invisible scalars become visible escapes; printable text stays", arguments: hostile)
    func reduce(_ c: Hostile) {
        let reduced = PrintableText.reduce(c.bytes)
        #expect(reduced == c.reduced)
        #expect(reduced.unicodeScalars.allSatisfy(PrintableText.isPrintable), "\(reduced.debugDescription)")
        for sink in [PrintableText.Sink.notify, .terminal, .syslog] {
            // Escaping what was reduced changes nothing: the sinks' escape is idempotent on it.
            #expect(PrintableText.escape(reduced, for: sink) == reduced)
        }
    }

    @Test("escape at the sinks: nothing that is not printable reaches sd_notify, a terminal or syslog, whatever the String holds",
          arguments: hostile)
    func escapeAtSinks(_ c: Hostile) {
        let raw = String(decoding: c.bytes, as: UTF8.self)
        for sink in [PrintableText.Sink.notify, .terminal, .syslog, .metricsLabel] {
            let escaped = PrintableText.escape(raw, for: sink)
            #expect(!escaped.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }), "\(sink): \(escaped.debugDescription)")
            #expect(escaped.unicodeScalars.allSatisfy(PrintableText.isPrintable), "\(sink): \(escaped.debugDescription)")
        }
        #expect(SystemdNotifier.status(raw).split(separator: "\n").count == 1)
        #expect(SystemdNotifier.status(raw).hasPrefix("STATUS="))
    }

    @Test("metrics labels: \\\\, \\\" and \\n as the exposition format wants, other escapes as text")
    func metricsLabel() {
        #expect(PrintableText.escape("a\\b\"c\nd", for: .metricsLabel) == "a\\\\b\\\"c\\nd")
        #expect(PrintableText.escape("x\u{1B}y", for: .metricsLabel) == "x\\\\x1by")
    }

    @Test("huge input: cut at the limit in bytes, on a whole escape or character, marked")
    func limits() {
        let huge = [UInt8](repeating: 0x1B, count: 1 << 20)
        let reduced = PrintableText.reduce(huge, limit: 100)
        #expect(reduced.utf8.count <= 100)
        #expect(reduced.hasSuffix(PrintableText.truncationMark))
        #expect(reduced.hasPrefix("\\x1b\\x1b"))
        let multibyte = PrintableText.reduce(Array(String(repeating: "乱", count: 1000).utf8), limit: 10)
        #expect(multibyte.utf8.count <= 10 && multibyte.hasSuffix("...") && multibyte.hasPrefix("乱"))
        #expect(PrintableText.reduce([UInt8](), limit: 10) == "")
        #expect(PrintableText.reduce(Array("short".utf8), limit: 5) == "short")
    }
}

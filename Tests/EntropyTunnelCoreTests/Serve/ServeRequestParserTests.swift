import EntropyTunnelCore
import Testing

/// The host's request parser on valid and hostile input: every request read, every malformed line
/// refused as early as possible.
struct ServeRequestParserTests {
    /// Feeds `input` to a fresh parser and returns every non-`needMore` step, stopping at the
    /// first malformed one.
    static func steps(_ input: [UInt8], max: Int = 4096) -> [ServeRequestParser.Step] {
        var parser = ServeRequestParser(maxRequest: max)
        var out: [ServeRequestParser.Step] = []
        for byte in input {
            let step = parser.consume(byte)
            if step == .needMore { continue }
            out.append(step)
            if case .malformed = step { break }
        }
        return out
    }

    struct GoodCase: CustomTestStringConvertible, Sendable {
        let input: String
        let expected: [Int]
        var testDescription: String { input.debugDescription }
    }

    @Test("valid requests", arguments: [
        GoodCase(input: "1\n", expected: [1]),
        GoodCase(input: "512\n", expected: [512]),
        GoodCase(input: "4096\n", expected: [4096]),
        GoodCase(input: "10\n20\n4096\n", expected: [10, 20, 4096]),
    ])
    func valid(_ c: GoodCase) {
        #expect(Self.steps(Array(c.input.utf8)) == c.expected.map { .request($0) })
    }

    struct BadCase: CustomTestStringConvertible, Sendable {
        let name: String
        let input: [UInt8]
        /// How many bytes are consumed before the verdict (judged as early as possible).
        let decidedAfter: Int
        let mentions: String
        var testDescription: String { name }
    }

    @Test("malformed requests are refused, early", arguments: [
        BadCase(name: "empty line", input: Array("\n".utf8), decidedAfter: 1, mentions: "empty"),
        BadCase(name: "zero", input: Array("0\n".utf8), decidedAfter: 1, mentions: "leading zeros"),
        BadCase(name: "leading zero", input: Array("0512\n".utf8), decidedAfter: 1, mentions: "leading zeros"),
        BadCase(name: "plus sign", input: Array("+5\n".utf8), decidedAfter: 1, mentions: "'+'"),
        BadCase(name: "minus sign", input: Array("-5\n".utf8), decidedAfter: 1, mentions: "'-'"),
        BadCase(name: "leading space", input: Array(" 5\n".utf8), decidedAfter: 1, mentions: "0x20"),
        BadCase(name: "trailing space", input: Array("5 \n".utf8), decidedAfter: 2, mentions: "0x20"),
        BadCase(name: "carriage return", input: Array("5\r\n".utf8), decidedAfter: 2, mentions: "0x0d"),
        BadCase(name: "NUL byte", input: [0x35, 0x00, 0x0a], decidedAfter: 2, mentions: "0x00"),
        BadCase(name: "above max", input: Array("4097\n".utf8), decidedAfter: 5, mentions: "more than --max-request 4096"),
        BadCase(name: "huge number", input: Array("99999999999999999999999\n".utf8), decidedAfter: 8, mentions: "longer than"),
        BadCase(name: "digits for ever without newline", input: Array(repeating: 0x39, count: 1 << 16), decidedAfter: 8, mentions: "longer than"),
        BadCase(name: "text", input: Array("GET / HTTP/1.0\n".utf8), decidedAfter: 1, mentions: "'G'"),
    ])
    func malformed(_ c: BadCase) {
        var parser = ServeRequestParser(maxRequest: 4096)
        var consumed = 0
        var verdict: ServeRequestParser.Step = .needMore
        for byte in c.input {
            consumed += 1
            verdict = parser.consume(byte)
            if verdict != .needMore { break }
        }
        guard case .malformed(let message) = verdict else {
            Issue.record("expected malformed, got \(verdict)")
            return
        }
        #expect(consumed == c.decidedAfter)
        #expect(message.contains(c.mentions), "\(message)")
        // Nothing after a malformed line is ever a request.
        #expect(parser.consume(UInt8(ascii: "5")) != .request(5))
        #expect(parser.consume(UInt8(ascii: "\n")) != .request(5))
    }

    @Test("max request is the bound, inclusive")
    func maxRequest() {
        #expect(Self.steps(Array("100\n".utf8), max: 100) == [.request(100)])
        guard case .malformed = Self.steps(Array("101\n".utf8), max: 100).first else {
            Issue.record("101 accepted with max 100")
            return
        }
        #expect(Self.steps(Array("1048576\n".utf8), max: 1 << 20) == [.request(1 << 20)])
    }
}

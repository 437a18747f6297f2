import EntropyTunnelCore
import Testing

/// The client's side of `serve` as a value: serve or a plain reader, decided from the first bytes.
struct StreamGreetingTests {
    @Test("the magic line, in any pieces, is serve; the bytes after it are kept")
    func magicInPieces() {
        let line = Array("entropy-tunnel-serve 1\n".utf8)
        for split in 0...line.count {
            var greeting = StreamGreeting()
            greeting.take(line[0..<split])
            #expect(split == line.count ? greeting.kind == .serve(version: 1) : greeting.kind == .undecided)
            greeting.take(line[split...])
            #expect(greeting.kind == .serve(version: 1))
            #expect(greeting.data.isEmpty)
        }
        var other = StreamGreeting()
        other.take(Array("entropy-tunnel-serve 12\n".utf8))
        #expect(other.kind == .serve(version: 12))
    }

    struct PlainCase: CustomTestStringConvertible, Sendable {
        let name: String
        let bytes: [UInt8]
        /// Bytes taken when it decides plain.
        let decidedAt: Int
        var testDescription: String { name }
    }

    @Test("anything else is plain, decided early, every byte kept as data", arguments: [
        PlainCase(name: "random first byte", bytes: [0x9c, 1, 2, 3], decidedAt: 1),
        PlainCase(name: "a prefix of the magic, then other bytes", bytes: Array("entropy-tunnel-sXrest".utf8), decidedAt: 17),
        PlainCase(name: "no version", bytes: Array("entropy-tunnel-serve \n".utf8), decidedAt: 22),
        PlainCase(name: "a letter in the version", bytes: Array("entropy-tunnel-serve 1a\n".utf8), decidedAt: 23),
        PlainCase(name: "digits for ever", bytes: Array("entropy-tunnel-serve ".utf8) + Array(repeating: 0x31, count: 40), decidedAt: ServeProtocol.magicLineLimit),
    ])
    func plain(_ c: PlainCase) {
        var greeting = StreamGreeting()
        var taken = 0
        for byte in c.bytes where greeting.kind == .undecided {
            greeting.take([byte])
            taken += 1
        }
        #expect(greeting.kind == .plain)
        #expect(taken == c.decidedAt)
        #expect(greeting.data == Array(c.bytes[0..<taken]))
        #expect(greeting.wants == 0)
    }

    @Test("a stream that ends undecided was a plain reader's data")
    func endsUndecided() {
        var greeting = StreamGreeting()
        greeting.take(Array("entropy".utf8))
        #expect(greeting.wants == ServeProtocol.magicLineLimit - 7)
        greeting.endOfStream()
        #expect(greeting.kind == .plain)
        #expect(greeting.data == Array("entropy".utf8))
    }
}

import EntropyTunnelCore
import Testing

/// The `serve` protocol as values: the host's request parser on hostile input, the token bucket,
/// the request split.
struct ServeProtocolTests {
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

    @Test("magic line and request lines")
    func wire() {
        #expect(ServeProtocol.magicLine == Array("entropy-tunnel-serve 1\n".utf8))
        #expect(ServeProtocol.requestLine(512) == Array("512\n".utf8))
        #expect(ServeProtocol.requests(for: 10000, maxRequest: 4096) == [4096, 4096, 1808])
        #expect(ServeProtocol.requests(for: 4096, maxRequest: 4096) == [4096])
        #expect(ServeProtocol.requests(for: 0).isEmpty)
    }

    @Test("token bucket: burst of one capacity, then the rate")
    func bucket() {
        let start = Instant(nanoseconds: 1_000_000_000)
        var bucket = TokenBucket(rate: 1000, capacity: 4096, now: start)
        #expect(bucket.available(at: start) == 4096)
        // The first full burst goes at once.
        #expect(bucket.take(4096, at: start) == start)
        // The next 1000 bytes are due one second later.
        #expect(bucket.take(1000, at: start) == start + .seconds(1))
        // 500 more after those: 1.5 s from the start.
        #expect(bucket.take(500, at: start) == start + .milliseconds(1500))
        // Idle for an hour: refilled to the capacity, no more.
        let later = start + .seconds(3600)
        #expect(bucket.available(at: later) == 4096)
        #expect(bucket.take(4096, at: later) == later)
        #expect(bucket.take(1, at: later) == later + .milliseconds(1))
    }

    @Test("token bucket: the sustained rate over many requests is the rate")
    func bucketRate() {
        let start = Instant(nanoseconds: 0)
        var bucket = TokenBucket(rate: 2048, capacity: 4096, now: start)
        var now = start
        var sent = 0
        // A greedy client: asks again as soon as each answer is due.
        while now < start + .seconds(100) {
            now = max(now, bucket.take(512, at: now))
            sent += 512
        }
        // 100 s at 2048 B/s plus the 4096 burst, give or take one request.
        #expect(abs(sent - (100 * 2048 + 4096)) <= 512, "\(sent)")
    }

    @Test("token bucket: huge idle times and a rate of one byte per second do not overflow")
    func bucketExtremes() {
        var bucket = TokenBucket(rate: 1, capacity: 1 << 20, now: Instant(nanoseconds: 0))
        let far = Instant(nanoseconds: Int64.max / 4)
        #expect(bucket.available(at: far) == 1 << 20)
        #expect(bucket.take(1 << 20, at: far) == far)
        #expect(bucket.take(1, at: far) == far + .seconds(1))
        let fast = TokenBucket(rate: 1 << 30, capacity: 1 << 20, now: Instant(nanoseconds: 0))
        #expect(fast.available(at: far) == 1 << 20)
    }
}

/// The client's side as values: serve-or-plain from the first bytes, and what to request.
struct ServeClientTests {
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

    @Test("kernel sink: one window per due feed, nothing while one is on its way")
    func kernelDemand() {
        var demand = ServeDemand()
        // Due: the kernel sink reports at least one window of room.
        #expect(demand.requests(sinkRoom: 512, buffered: 0, limitLeft: nil, threshold: 1, unit: 512) == [512])
        #expect(demand.requests(sinkRoom: 512, buffered: 0, limitLeft: nil, threshold: 1, unit: 512) == [])
        demand.arrived(512)
        // 32 bytes went to the kernel, 480 are left here: the next feed needs no request.
        #expect(demand.requests(sinkRoom: 512, buffered: 480, limitLeft: nil, threshold: 1, unit: 512) == [32])
        #expect(demand.requested == 1024 - 480)
    }

    @Test("pre-readiness burst and fetch: exactly the count, whole windows with the tests, lines of at most 512")
    func burstAndLimit() {
        var burst = ServeDemand()
        #expect(burst.requests(sinkRoom: 4096, buffered: 0, limitLeft: nil, threshold: 1, unit: 512) == Array(repeating: 512, count: 8))
        var fetch = ServeDemand()
        #expect(fetch.requests(sinkRoom: .max, buffered: 0, limitLeft: 1000, threshold: 1, unit: 512) == [512, 512])
        var exact = ServeDemand()
        #expect(exact.requests(sinkRoom: .max, buffered: 0, limitLeft: 1000, threshold: 1, unit: 1) == [512, 488])
        #expect(exact.requests(sinkRoom: .max, buffered: 0, limitLeft: 1000, threshold: 1, unit: 1) == [])
        // A failed health window was dropped: it is asked for again.
        var dropped = ServeDemand()
        _ = dropped.requests(sinkRoom: .max, buffered: 0, limitLeft: 1024, threshold: 1, unit: 512)
        dropped.arrived(1024)
        #expect(dropped.requests(sinkRoom: .max, buffered: 512, limitLeft: 1024, threshold: 1, unit: 512) == [512])
        // A sink without end and no limit: at most aheadLimit ahead.
        var file = ServeDemand()
        #expect(file.requests(sinkRoom: .max, buffered: 0, limitLeft: nil, threshold: 1, unit: 512).reduce(0, +) == ServeDemand.aheadLimit)
    }

    @Test("FIFO sink: refills up to its capacity once it is half empty, not in drips")
    func fifoDemand() {
        var demand = ServeDemand()
        let capacity = 65536
        #expect(demand.requests(sinkRoom: capacity, buffered: 0, limitLeft: nil, threshold: capacity / 2, unit: 512).reduce(0, +) == capacity)
        demand.arrived(capacity)
        // The consumer took 20K: below the threshold, nothing.
        #expect(demand.requests(sinkRoom: 20 << 10, buffered: 0, limitLeft: nil, threshold: capacity / 2, unit: 512) == [])
        // It took 40K: refill the 40K.
        #expect(demand.requests(sinkRoom: 40 << 10, buffered: 0, limitLeft: nil, threshold: capacity / 2, unit: 512).reduce(0, +) == 40 << 10)
    }
}

import EntropyTunnelCore
import Testing

/// The pump's buffer rules as a value: reads never exceed the sink's room, no unverified byte is
/// ready for the sink, the byte limit holds.
struct PumpBufferTests {
    struct AllowanceCase: CustomTestStringConvertible, Sendable {
        let name: String
        let window: Int?
        let limit: Int?
        /// Bytes read before asking, and how many of the windows among them pass.
        let read: Int
        let sinkRoom: Int
        let expected: Int
        var testDescription: String { name }
    }

    @Test("read allowance", arguments: [
        AllowanceCase(name: "no tests, room below the chunk", window: nil, limit: nil, read: 0, sinkRoom: 100, expected: 100),
        AllowanceCase(name: "no tests, room above the chunk", window: nil, limit: nil, read: 0, sinkRoom: 1 << 20, expected: 4096),
        AllowanceCase(name: "full sink reads nothing", window: 512, limit: nil, read: 0, sinkRoom: 0, expected: 0),
        AllowanceCase(name: "a partial window uses sink room", window: 512, limit: nil, read: 100, sinkRoom: 300, expected: 200),
        AllowanceCase(name: "partial window larger than the room", window: 512, limit: nil, read: 400, sinkRoom: 300, expected: 0),
        AllowanceCase(name: "limit without tests is exact", window: nil, limit: 1000, read: 0, sinkRoom: 1 << 20, expected: 1000),
        AllowanceCase(name: "limit with tests rounds up to a window", window: 512, limit: 1000, read: 0, sinkRoom: 1 << 20, expected: 1024),
        AllowanceCase(name: "limit with tests, partial window read", window: 512, limit: 1000, read: 300, sinkRoom: 1 << 20, expected: 724),
        AllowanceCase(name: "limit of one byte reads one window", window: 512, limit: 1, read: 0, sinkRoom: 1 << 20, expected: 512),
    ])
    func allowance(_ c: AllowanceCase) {
        var buffer = PumpBuffer(readChunk: 4096, window: c.window, byteLimit: c.limit)
        buffer.read(c.read)
        #expect(buffer.readAllowance(sinkRoom: c.sinkRoom) == c.expected)
    }

    @Test("verified bytes waiting for the sink stop all reads")
    func readyBlocksReads() {
        var buffer = PumpBuffer(readChunk: 4096, window: 512, byteLimit: nil)
        buffer.read(600)
        buffer.passWindow()
        #expect(buffer.ready == 0..<512)
        #expect(buffer.readAllowance(sinkRoom: 1 << 20) == 0)
        // Everything ready went out: the 88-byte partial window moves to the front.
        #expect(buffer.wrote(512) == 512..<600)
        #expect(buffer.filled == 88 && buffer.verified == 0 && buffer.written == 0 && buffer.delivered == 512)
        #expect(buffer.readAllowance(sinkRoom: 1 << 20) == 4096)
    }

    @Test("no unverified byte is ready; a failed window is cut out")
    func unverifiedNeverReady() {
        var buffer = PumpBuffer(readChunk: 4096, window: 512, byteLimit: nil)
        buffer.read(1500)
        #expect(buffer.ready.isEmpty)
        #expect(buffer.nextWindow == 0..<512)
        #expect(buffer.dropWindow() == 512..<1500)
        #expect(buffer.filled == 988 && buffer.ready.isEmpty)
        buffer.passWindow()
        #expect(buffer.ready == 0..<512)
        #expect(buffer.nextWindow == nil)  // 476 bytes: not a whole window
    }

    @Test("the byte limit holds even when more is verified")
    func limitHolds() {
        var buffer = PumpBuffer(readChunk: 4096, window: 512, byteLimit: 700)
        buffer.read(1024)
        buffer.passWindow()
        buffer.passWindow()
        #expect(buffer.ready == 0..<700)
        _ = buffer.wrote(300)
        #expect(buffer.ready == 300..<700)
        _ = buffer.wrote(400)
        #expect(buffer.limitReached && buffer.ready.isEmpty)
        #expect(buffer.readAllowance(sinkRoom: 1 << 20) == 0)
    }

    /// A long random run: the host sends labelled windows, some fail, the sink takes random
    /// amounts. Every step checks the rules; at the end, the sink got exactly the passing
    /// windows, in order, up to the limit.
    @Test("random runs keep every rule", arguments: [nil, 5000, 100_000] as [Int?])
    func randomRuns(limit: Int?) {
        var random = SystemRandomNumberGenerator()
        for window in [512, nil] as [Int?] {
            var buffer = PumpBuffer(readChunk: 2048, window: window, byteLimit: limit)
            var memory = [UInt8](repeating: 0, count: buffer.capacity)
            var source: [UInt8] = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &random) }
            var sourceOffset = 0
            var expected: [UInt8] = []  // what should reach the sink: the passing windows
            var sink: [UInt8] = []
            var failing = Set<Int>()  // source offsets of windows that fail
            if let window {
                for start in stride(from: 0, to: source.count, by: window) where Int.random(in: 0..<5, using: &random) == 0 {
                    failing.insert(start)
                }
            }
            for start in stride(from: 0, to: source.count, by: window ?? source.count) where !failing.contains(start) {
                expected += source[start..<min(source.count, start + (window ?? source.count))]
            }
            var judged = 0  // source offset of the next window to judge
            var steps = 0
            while !buffer.limitReached && steps < 100_000 {
                steps += 1
                let sinkRoom = Int.random(in: 0...3000, using: &random)
                if buffer.hasReady {
                    let ready = buffer.ready
                    #expect(ready.lowerBound >= buffer.written && ready.upperBound <= buffer.verified)
                    let n = min(ready.count, sinkRoom)
                    sink += memory[ready.lowerBound..<ready.lowerBound + n]
                    if let move = buffer.wrote(n) {
                        memory.replaceSubrange(0..<move.count, with: memory[move])
                    }
                    if let limit { #expect(buffer.delivered <= limit) }
                    continue
                }
                let allowance = buffer.readAllowance(sinkRoom: sinkRoom)
                #expect(allowance <= max(0, sinkRoom - (buffer.filled - buffer.written)))
                guard allowance > 0, sourceOffset < source.count else { if sourceOffset >= source.count { break }; continue }
                let n = min(Int.random(in: 1...allowance, using: &random), source.count - sourceOffset)
                let range = buffer.readRange(n)
                memory.replaceSubrange(range, with: source[sourceOffset..<sourceOffset + n])
                sourceOffset += n
                buffer.read(n)
                while let next = buffer.nextWindow {
                    if failing.contains(judged) {
                        let after = buffer.dropWindow()
                        memory.replaceSubrange(next.lowerBound..<next.lowerBound + after.count, with: memory[after])
                    } else {
                        buffer.passWindow()
                    }
                    judged += window!
                }
            }
            let wanted = limit.map { Array(expected.prefix($0)) } ?? Array(expected.prefix(sink.count))
            #expect(sink == wanted, "window \(String(describing: window)) limit \(String(describing: limit))")
            if let limit { #expect(sink.count == limit) }
            source.removeAll()
        }
    }
}

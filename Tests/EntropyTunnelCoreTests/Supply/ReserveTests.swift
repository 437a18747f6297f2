import EntropyTunnelCore
import Testing

/// The reserve's rules: reads never exceed what the consumer will take (in whole windows), no
/// byte is given before its window passed, failed windows and a closed connection's partial
/// window are dropped, and every byte that leaves is zeroed.
struct ReserveTests {
    struct AllowanceCase: CustomTestStringConvertible, Sendable {
        let name: String
        let need: Int
        let ready: Int
        let unjudged: Int
        let window: Int?
        let free: Int
        let expected: Int
        var testDescription: String { name }
    }

    @Test("read allowance", arguments: [
        AllowanceCase(name: "nothing wanted reads nothing", need: 0, ready: 0, unjudged: 0, window: 512, free: 16896, expected: 0),
        AllowanceCase(name: "a kernel feed (96 bytes) reads one whole window", need: 96, ready: 0, unjudged: 0, window: 512, free: 16896, expected: 512),
        AllowanceCase(name: "what is ready counts", need: 96, ready: 448, unjudged: 0, window: 512, free: 16448, expected: 0),
        AllowanceCase(name: "a partial window counts", need: 1000, ready: 0, unjudged: 300, window: 512, free: 16596, expected: 724),
        AllowanceCase(name: "no tests: exactly what is missing", need: 1000, ready: 100, unjudged: 0, window: nil, free: 16384, expected: 900),
        AllowanceCase(name: "at most one read", need: 1 << 20, ready: 0, unjudged: 0, window: 512, free: 16896, expected: 16384),
        AllowanceCase(name: "at most the free room", need: 1 << 20, ready: 0, unjudged: 0, window: 512, free: 1000, expected: 1000),
        AllowanceCase(name: "one byte wanted reads one window", need: 1, ready: 0, unjudged: 0, window: 512, free: 4096, expected: 512),
        AllowanceCase(name: "a partial window beyond the need reads nothing", need: 100, ready: 0, unjudged: 512, window: 512, free: 4096, expected: 0),
    ])
    func allowance(_ c: AllowanceCase) {
        #expect(Reserve.readAllowance(need: c.need, ready: c.ready, unjudged: c.unjudged, window: c.window, free: c.free,
                                      chunk: 16384) == c.expected)
    }

    /// Reads `bytes` into the reserve as the channel would.
    func read(_ reserve: Reserve, _ bytes: [UInt8]) {
        let space = reserve.readSpace(bytes.count)
        bytes.withUnsafeBytes { space.copyMemory(from: $0) }
        reserve.appended(bytes.count)
    }

    /// Takes up to `limit` ready bytes, as the consumer would.
    func take(_ reserve: Reserve, _ limit: Int) -> [UInt8] {
        var taken: [UInt8] = []
        _ = try? reserve.give(upTo: limit) { (bytes) throws(TunnelError) -> Int in
            taken = Array(bytes)
            return bytes.count
        }
        return taken
    }

    @Test("no byte is ready before its window passed; a failed window is cut out; a closed connection's partial window goes")
    func judgedWindowsOnly() {
        let reserve = Reserve(capacity: 4096, window: 512)
        read(reserve, Array(repeating: 1, count: 512) + Array(repeating: 2, count: 512) + Array(repeating: 3, count: 100))
        #expect(reserve.ready == 0 && reserve.unjudged == 1124)
        #expect(take(reserve, 4096).isEmpty)
        #expect(reserve.nextWindow.map(Array.init) == Array(repeating: 1, count: 512))
        reserve.dropWindow()
        #expect(reserve.unjudged == 612)
        #expect(reserve.nextWindow.map(Array.init) == Array(repeating: 2, count: 512))
        reserve.passWindow()
        #expect(reserve.ready == 512 && reserve.nextWindow == nil)
        reserve.dropUnjudged()
        #expect(reserve.ready == 512 && reserve.unjudged == 0)
        #expect(take(reserve, 100) == Array(repeating: 2, count: 100))
        #expect(take(reserve, 4096) == Array(repeating: 2, count: 412))
        #expect(reserve.ready == 0 && reserve.free == 4096)
    }

    @Test("a failed connection's newest bytes can be dropped; older ones stay, in order")
    func dropNewest() {
        let reserve = Reserve(capacity: 4096, window: 512)
        read(reserve, Array(repeating: 1, count: 512) + Array(repeating: 2, count: 1024) + Array(repeating: 3, count: 100))
        reserve.passWindow(); reserve.passWindow(); reserve.passWindow()
        #expect(take(reserve, 200) == Array(repeating: 1, count: 200))
        reserve.dropNewest(1024)
        #expect(reserve.ready == 312 && reserve.unjudged == 0)
        #expect(take(reserve, 4096) == Array(repeating: 1, count: 312))
        reserve.dropNewest(100)
        #expect(reserve.ready == 0 && reserve.free == 4096)
    }

    @Test("the ready bytes outlive a connection; reads after them reuse the room taken")
    func readyOutlivesConnections() {
        let reserve = Reserve(capacity: 1024, window: 512)
        read(reserve, Array(repeating: 7, count: 1024))
        reserve.passWindow()
        reserve.passWindow()
        #expect(take(reserve, 600).count == 600)
        #expect(reserve.free == 600)
        // A read of the whole free room moves what is held to the front first.
        read(reserve, Array(repeating: 8, count: 512))
        reserve.passWindow()
        #expect(reserve.ready == 936)
        #expect(take(reserve, 1024) == Array(repeating: 7, count: 424) + Array(repeating: 8, count: 512))
    }

    /// A long random run: a host sends labelled windows, some fail, connections end at random
    /// (their partial window goes), the consumer takes random amounts. At the end the consumer
    /// got exactly the bytes of the passing windows, in order.
    @Test("random runs keep every rule", arguments: [512, nil] as [Int?])
    func randomRuns(window: Int?) {
        var random = SystemRandomNumberGenerator()
        let reserve = Reserve(capacity: 4096 + (window ?? 0), window: window)
        var expected: [UInt8] = []
        var consumed: [UInt8] = []
        var pending: [UInt8] = []  // what the current connection sent and is not judged yet
        for _ in 0..<20_000 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5:
                let need = Int.random(in: 0...3000, using: &random)
                let allowance = reserve.readAllowance(need: need, chunk: 2048)
                #expect(allowance <= reserve.free)
                guard allowance > 0 else { continue }
                let bytes = (0..<Int.random(in: 1...allowance, using: &random)).map { _ in UInt8.random(in: 1...255, using: &random) }
                read(reserve, bytes)
                pending += bytes
                guard let window else {
                    expected += pending
                    pending = []
                    continue
                }
                while reserve.nextWindow != nil {
                    if Int.random(in: 0..<5, using: &random) == 0 {
                        reserve.dropWindow()
                    } else {
                        expected += pending.prefix(window)
                        reserve.passWindow()
                    }
                    pending.removeFirst(window)
                }
            case 5..<9:
                let ready = reserve.ready
                let got = take(reserve, Int.random(in: 0...3000, using: &random))
                #expect(got.count <= ready)
                consumed += got
            default:
                reserve.dropUnjudged()
                pending = []
            }
            #expect(reserve.ready + reserve.unjudged + reserve.free == reserve.capacity)
        }
        consumed += take(reserve, .max)
        #expect(consumed == expected)
    }
}

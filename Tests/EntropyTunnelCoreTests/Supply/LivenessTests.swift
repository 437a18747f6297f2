import EntropyTunnelCore
import Testing

/// Liveness as a table: what arrived when, and the verdict asked for at a moment. Dead peer
/// after 3 s of silence while waiting on the socket; a data timeout of 10 s during which a whole
/// 512-byte window must arrive while bytes are outstanding.
struct LivenessTests {
    static let start = Instant(nanoseconds: 5_000_000_000_000)
    static func at(_ seconds: Double) -> Instant { start + .milliseconds(Int64(seconds * 1000)) }

    enum Event: Sendable {
        case heard(Double)
        case received(Int, Double)
        case idle(Double)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let events: [Event]
        let now: Double
        let watchingSocket: Bool
        let outstanding: Bool
        let expected: Liveness.Verdict
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "nothing watched: ok", events: [], now: 100, watchingSocket: false, outstanding: false, expected: .ok),
        Case(name: "waiting on the socket: wake when the peer would count as dead", events: [],
             now: 1, watchingSocket: true, outstanding: false, expected: .wakeAt(at(3))),
        Case(name: "silence for the dead-peer time while waiting on the socket: dead", events: [],
             now: 3, watchingSocket: true, outstanding: false, expected: .dead(silence: .seconds(3))),
        Case(name: "silence is not death while bytes flow (not waiting on the socket)", events: [],
             now: 5, watchingSocket: false, outstanding: false, expected: .ok),
        Case(name: "a keepalive reply restarts the dead-peer clock", events: [.heard(2.5)],
             now: 4, watchingSocket: true, outstanding: false, expected: .wakeAt(at(5.5))),
        Case(name: "bytes outstanding and none arriving: stalled at the data timeout",
             events: [.heard(2), .heard(4), .heard(6), .heard(8)],
             now: 10, watchingSocket: true, outstanding: true, expected: .stalled(received: 0)),
        Case(name: "a trickle (a byte every 0.9 s) is stalled at the data timeout: less than a window",
             events: (1...11).map { .received(1, Double($0) * 0.9) },
             now: 10, watchingSocket: true, outstanding: true, expected: .stalled(received: 11)),
        Case(name: "a whole window within the timeout restarts the data clock",
             events: [.received(512, 9.9)],
             now: 10, watchingSocket: true, outstanding: true, expected: .wakeAt(at(12.9))),
        Case(name: "a window in pieces counts when its last piece arrives",
             events: [.received(300, 5), .received(212, 9)],
             now: 18.9, watchingSocket: false, outstanding: true, expected: .wakeAt(at(19))),
        Case(name: "the bytes beyond a window count towards the next one",
             events: [.received(600, 1), .received(424, 8)],
             now: 17.9, watchingSocket: false, outstanding: true, expected: .wakeAt(at(18))),
        Case(name: "time with nothing outstanding (a full FIFO, the kernel between feeds) does not count",
             events: [.idle(1), .idle(30), .idle(59)],
             now: 68, watchingSocket: false, outstanding: true, expected: .wakeAt(at(69))),
        Case(name: "after the idle time the clock runs again",
             events: [.idle(59)],
             now: 69, watchingSocket: false, outstanding: true, expected: .stalled(received: 0)),
        Case(name: "dead takes precedence over stalled", events: [],
             now: 10, watchingSocket: true, outstanding: true, expected: .dead(silence: .seconds(10))),
    ]

    @Test("liveness verdicts", arguments: cases)
    func verdict(_ c: Case) {
        var liveness = Liveness(deadPeerTimeout: .seconds(3), dataTimeout: .seconds(10), window: 512, now: Self.start)
        for event in c.events {
            switch event {
            case .heard(let t): liveness.heard(at: Self.at(t))
            case .received(let n, let t): liveness.received(n, at: Self.at(t))
            case .idle(let t): liveness.idle(at: Self.at(t))
            }
        }
        #expect(liveness.verdict(at: Self.at(c.now), watchingSocket: c.watchingSocket, outstanding: c.outstanding) == c.expected)
    }
}

import EntropyTunnelCore
import Testing

/// The kernel sink's feeding rules, apart from the I/O.
@Suite struct KernelFeedPolicyTests {
    let t0 = Instant(nanoseconds: 1_000_000_000_000)

    struct Credit: Sendable, CustomTestStringConvertible {
        let minEntropy: Double
        let bytes: Int
        let ready: Bool
        let bits: Int
        var testDescription: String { "H=\(minEntropy) \(bytes) B \(ready ? "ready" : "not ready") -> \(bits) bits" }
    }

    @Test("credit is floor(H x bytes) before the CRNG is ready, and nothing after", arguments: [
        Credit(minEntropy: 7, bytes: 64, ready: false, bits: 448),
        Credit(minEntropy: 0.1, bytes: 64, ready: false, bits: 6),      // 6.4 rounds down
        Credit(minEntropy: 8, bytes: 64, ready: false, bits: 512),
        Credit(minEntropy: 7.9, bytes: 1, ready: false, bits: 7),
        Credit(minEntropy: 0, bytes: 64, ready: false, bits: 0),        // no health claim: no credit
        Credit(minEntropy: 7, bytes: 0, ready: false, bits: 0),
        Credit(minEntropy: 7, bytes: 64, ready: true, bits: 0),
        Credit(minEntropy: 8, bytes: 4096, ready: true, bits: 0),
    ])
    func credit(_ c: Credit) {
        let policy = KernelFeedPolicy(minEntropy: c.minEntropy)
        #expect(policy.creditBits(for: c.bytes, crngReady: c.ready) == c.bits)
    }

    @Test("before readiness the sink takes what arrives, never waiting for a schedule")
    func beforeReadinessAlwaysRoom() {
        var policy = KernelFeedPolicy(interval: .seconds(60), batchBytes: 64, minEntropy: 7)
        #expect(policy.room(at: t0, crngReady: false) == KernelFeedPolicy.earlyRoom)
        #expect(policy.wakeAt(t0, crngReady: false) == nil)
        policy.fed(at: t0)  // even right after a scheduled feed
        #expect(policy.room(at: t0 + .seconds(1), crngReady: false) == KernelFeedPolicy.earlyRoom)
    }

    struct Step: Sendable, CustomTestStringConvertible {
        let at: Double         // seconds after t0
        let room: Int          // expected room then
        let take: Int          // bytes taken then (0: none)
        let complete: Bool     // the batch completes (and is fed at that moment)
        var testDescription: String { "t=\(at) room \(room) take \(take)" }
    }

    /// After readiness: a batch at start, then one per interval, nothing in between; a batch
    /// that arrives in pieces completes exactly at the batch size.
    @Test("after readiness: kernel-bytes at start and every interval, nothing in between", arguments: [
        (interval: 5.0, batch: 64, steps: [
            Step(at: 0, room: 64, take: 64, complete: true),       // at start
            Step(at: 0.001, room: 0, take: 0, complete: false),
            Step(at: 4.999, room: 0, take: 0, complete: false),
            Step(at: 5, room: 64, take: 40, complete: false),      // due; a piece arrives
            Step(at: 5.2, room: 24, take: 24, complete: true),     // the rest; fed at 5.2
            Step(at: 10.1, room: 0, take: 0, complete: false),     // next due at 10.2, not 10
            Step(at: 10.2, room: 64, take: 64, complete: true),
        ]),
        (interval: 60.0, batch: 4096, steps: [
            Step(at: 0, room: 4096, take: 4096, complete: true),
            Step(at: 59.9, room: 0, take: 0, complete: false),
            Step(at: 60, room: 4096, take: 0, complete: false),
            Step(at: 3600, room: 4096, take: 4096, complete: true), // a late feed does not pile up
            Step(at: 3600.5, room: 0, take: 0, complete: false),
        ]),
    ])
    func schedule(_ table: (interval: Double, batch: Int, steps: [Step])) {
        var policy = KernelFeedPolicy(interval: .milliseconds(Int64(table.interval * 1000)), batchBytes: table.batch, minEntropy: 7)
        for step in table.steps {
            let now = t0 + .milliseconds(Int64(step.at * 1000))
            #expect(policy.room(at: now, crngReady: true) == step.room, "\(step)")
            if step.room == 0 {
                #expect(policy.wakeAt(now, crngReady: true) == policy.nextDue, "\(step)")
                #expect(policy.nextDue.map { $0 > now } == true, "\(step)")
            }
            if step.take > 0 {
                let complete = policy.take(step.take)
                #expect(complete == step.complete, "\(step)")
                if complete {
                    policy.fed(at: now)
                    #expect(policy.nextDue == now + policy.interval)
                    #expect(policy.collected == 0)
                }
            }
        }
    }

    @Test("SIGUSR1 (force) makes a feed due at once, and only one")
    func forceFeedsNow() {
        var policy = KernelFeedPolicy(interval: .seconds(60), batchBytes: 64, minEntropy: 7)
        var complete = policy.take(64)
        #expect(complete)
        policy.fed(at: t0)
        #expect(policy.room(at: t0 + .seconds(10), crngReady: true) == 0)
        policy.force()
        #expect(policy.isDue(at: t0 + .seconds(10)))
        #expect(policy.room(at: t0 + .seconds(10), crngReady: true) == 64)
        #expect(policy.wakeAt(t0 + .seconds(10), crngReady: true) == nil)
        complete = policy.take(64)
        #expect(complete)
        policy.fed(at: t0 + .seconds(10))
        // The schedule restarts from the forced feed.
        #expect(!policy.forced)
        #expect(policy.room(at: t0 + .seconds(11), crngReady: true) == 0)
        #expect(policy.nextDue == t0 + .seconds(70))
    }
}

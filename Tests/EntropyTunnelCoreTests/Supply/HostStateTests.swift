import EntropyTunnelCore
import Testing

/// The host plan's per-host retry bookkeeping, as a value: when each host may be tried again.
@Suite struct HostStateTests {
    let start = Instant(nanoseconds: 1_000_000_000_000)
    let backoff = Backoff.Configuration(initial: .seconds(1), cap: .seconds(60), healthyPeriod: .seconds(30))

    @Test("a configuration problem is retried every 5 s for the first 5 minutes after start, then at the cap")
    func configurationProblemsEarlyThenCap() {
        var state = HostState(count: 2, backoff: backoff, startedAt: start)
        #expect(state.failed(0, configurationProblem: true, uptime: .zero, now: start) == .seconds(5))
        #expect(state.firstEligible(below: 2, now: start) == 1)
        #expect(state.firstEligible(below: 1, now: start + .seconds(4)) == nil)
        #expect(state.firstEligible(below: 1, now: start + .seconds(5)) == 0)
        #expect(state.failed(0, configurationProblem: true, uptime: .zero, now: start + .seconds(299)) == .seconds(5))
        #expect(state.failed(0, configurationProblem: true, uptime: .zero, now: start + .seconds(300)) == .seconds(60))
        #expect(state.earliestRetry(below: 1) == start + .seconds(360))
    }

    @Test("the quick retry never exceeds the backoff cap, and can be tuned")
    func quickRetryBoundedByCap() {
        let small = Backoff.Configuration(initial: .milliseconds(100), cap: .seconds(2), healthyPeriod: .seconds(30))
        let state = HostState(count: 1, backoff: small, startedAt: start)
        #expect(state.configurationProblemDelay(at: start) == .seconds(2))
        let tuned = HostState(count: 1, backoff: backoff, startedAt: start,
                              configurationRetry: .init(eagerPeriod: .seconds(10), eagerInterval: .seconds(1)))
        #expect(tuned.configurationProblemDelay(at: start + .seconds(9)) == .seconds(1))
        #expect(tuned.configurationProblemDelay(at: start + .seconds(10)) == .seconds(60))
    }

    @Test("the same failure in a row is counted per host; a connection starts the count over")
    func repeatedMessages() {
        var state = HostState(count: 2, backoff: backoff, startedAt: start)
        #expect(state.recordMessage(0, "host key unknown") == 1)
        #expect(state.recordMessage(0, "host key unknown") == 2)
        #expect(state.recordMessage(1, "host key unknown") == 1)
        #expect(state.recordMessage(0, "connection refused") == 1)
        #expect(state.recordMessage(0, "connection refused") == 2)
        state.connected(0)
        #expect(state.recordMessage(0, "connection refused") == 1)
    }

    @Test("a connection failure waits its host's own backoff, below the streak's ceiling")
    func connectionFailuresBackOff() {
        var state = HostState(count: 2, backoff: backoff, startedAt: start)
        for (n, ceiling) in [1, 2, 4, 8].enumerated() {
            let delay = state.failed(1, configurationProblem: false, uptime: .zero, now: start + .seconds(Int64(n)))
            #expect(delay >= .zero && delay < .seconds(Int64(ceiling)))
        }
        // Host 0 is untouched by host 1's streak.
        #expect(state.firstEligible(below: 2, now: start) == 0)
    }
}

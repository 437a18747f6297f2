import EntropyTunnelCore
import Testing

/// The host plan as a table: each scenario is a list of events and the action or verdict the
/// plan returns after each, in every policy (persistent, on demand, once), including reloads
/// during backoff and a problem of this machine (the private key) in each.
struct HostPlanTests {
    static let start = Instant(nanoseconds: 1_000_000_000_000)
    static func at(_ seconds: Double) -> Instant { start + .milliseconds(Int64(seconds * 1000)) }
    static let never = Instant.distantFuture

    /// What a failure is expected to be taken as.
    enum Expected: Sendable, Equatable {
        case local(news: Bool)
        /// A host failure: its log level, the host to fail over to; a configuration problem
        /// (retried after 5 s, at the cap after 5 minutes) or, with nil, a connection problem
        /// (retried within the backoff's ceiling: 1 s, 2 s for a second failure in a row).
        case host(HostPlan.Failure.Level, failoverTo: Int?, retryIn: Duration?)
    }

    enum Step: Sendable {
        case next(Double, wanted: Bool = true, HostPlan.Action)
        case connected(Int, at: Double, previousKey: Bool = false)
        case failed(Int, TunnelError.Code, message: String = "it failed", at: Double, uptime: Duration = .zero, Expected)
        case closed(at: Double)
        case endedIdle(at: Double)
        case keyProbeFailed(at: Double)
        case reload(hosts: Int, keeping: Int?, home: Int?, at: Double)
    }

    struct Scenario: CustomTestStringConvertible, Sendable {
        let name: String
        let policy: HostPlan.Policy
        let hosts: Int
        let steps: [Step]
        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = [
        // MARK: persistent
        Scenario(name: "persistent: start with the most preferred host, bytes wanted or not (the connection is held ready)", policy: .persistent, hosts: 2, steps: [
            .next(0, wanted: false, .connect(0)),
            .next(0, .connect(0)),
        ]),
        Scenario(name: "persistent: the preferred host held: keep, no deadline, whether bytes are wanted or not", policy: .persistent, hosts: 2, steps: [
            .connected(0, at: 0),
            .next(1, .keep(until: never)),
            .next(2, wanted: false, .keep(until: never)),
        ]),
        Scenario(name: "persistent: the host ends an idle session: no blame, no connection until bytes are wanted, then the same host", policy: .persistent, hosts: 2, steps: [
            .connected(0, at: 0),
            .endedIdle(at: 300),
            .next(300, wanted: false, .wait(until: never)),
            .next(900, wanted: false, .wait(until: never)),
            .next(901, .connect(0)),
            .connected(0, at: 901),
            .next(902, wanted: false, .keep(until: never)),
        ]),
        Scenario(name: "persistent: an idle end on a fallback: the fallback again when wanted, failback as scheduled", policy: .persistent, hosts: 2, steps: [
            .failed(0, .authenticationFailed, at: 0, .host(.error, failoverTo: 1, retryIn: .seconds(5))),
            .connected(1, at: 0),
            .endedIdle(at: 100),
            .next(100, wanted: false, .wait(until: never)),
            .next(150, .connect(1)),
            .connected(1, at: 150),
            .next(151, .keep(until: at(300))),
            .next(300, .probe(0)),
        ]),
        Scenario(name: "persistent: after an idle end a failure of the host is a failure again (no repeated free reconnects)", policy: .persistent, hosts: 1, steps: [
            .connected(0, at: 0),
            .endedIdle(at: 100),
            .next(150, .connect(0)),
            .failed(0, .hostKeyMismatch, at: 150, .host(.error, failoverTo: nil, retryIn: .seconds(5))),
            .next(150, .wait(until: at(155))),
        ]),
        Scenario(name: "persistent: on a fallback, keep until the failback interval, then probe the preferred host", policy: .persistent, hosts: 2, steps: [
            .failed(0, .authenticationFailed, at: 0, .host(.error, failoverTo: 1, retryIn: .seconds(5))),
            .next(0, .connect(1)),
            .connected(1, at: 0),
            .next(1, .keep(until: at(300))),
            .next(300, .probe(0)),
            .connected(0, at: 300),
            .next(301, .keep(until: never)),
        ]),
        Scenario(name: "persistent: failed probes go down the list, then keep until the next interval", policy: .persistent, hosts: 3, steps: [
            .failed(0, .authenticationFailed, at: 0, .host(.error, failoverTo: 1, retryIn: .seconds(5))),
            .failed(1, .authenticationFailed, at: 0, .host(.error, failoverTo: 2, retryIn: .seconds(5))),
            .next(0, .connect(2)),
            .connected(2, at: 0),
            .next(1, .keep(until: at(300))),
            .next(300, .probe(0)),
            // Five minutes after the start a configuration problem is retried at the backoff cap.
            .failed(0, .authenticationFailed, message: "again", at: 300, .host(.error, failoverTo: 1, retryIn: .seconds(60))),
            .next(300, .probe(1)),
            .failed(1, .authenticationFailed, message: "again", at: 300, .host(.error, failoverTo: 2, retryIn: .seconds(60))),
            .next(300, .keep(until: at(600))),
        ]),
        Scenario(name: "persistent: failback due while the preferred host backs off: keep until later", policy: .persistent, hosts: 2, steps: [
            .failed(0, .authenticationFailed, at: 0, .host(.error, failoverTo: 1, retryIn: .seconds(5))),
            .connected(1, at: 0),
            .failed(0, .authenticationFailed, message: "still", at: 299, .host(.error, failoverTo: 1, retryIn: .seconds(5))),
            .next(300, .keep(until: at(600))),
        ]),
        Scenario(name: "persistent: authenticated with the previous key: the new key is probed every minute", policy: .persistent, hosts: 1, steps: [
            .connected(0, at: 0, previousKey: true),
            .next(1, .keep(until: at(60))),
            .next(60, .probeNewKey(0)),
            .keyProbeFailed(at: 60),
            .next(61, .keep(until: at(120))),
            .next(120, .probeNewKey(0)),
            .connected(0, at: 120),
            .next(121, .keep(until: never)),
        ]),
        Scenario(name: "persistent: the held connection fails: the next host that may be tried", policy: .persistent, hosts: 2, steps: [
            .connected(0, at: 0),
            .failed(0, .connectionLost, at: 100, uptime: .seconds(100), .host(.warning, failoverTo: 1, retryIn: nil)),
            .next(100, .connect(1)),
        ]),
        Scenario(name: "persistent: a reconnect after a wait (a local problem) takes the most preferred host that may be tried then", policy: .persistent, hosts: 2, steps: [
            .connected(0, at: 0),
            .failed(0, .connectionLost, at: 1, uptime: .seconds(1), .host(.warning, failoverTo: 1, retryIn: nil)),
            .next(1, .connect(1)),
            .failed(1, .privateKey, at: 1, .local(news: true)),
            .next(5, .wait(until: at(11))),
            .next(11, .connect(0)),
        ]),
        Scenario(name: "persistent: every host backing off: wait for the first, then try it", policy: .persistent, hosts: 2, steps: [
            .failed(0, .hostKeyUnknown, at: 0, .host(.error, failoverTo: 1, retryIn: .seconds(5))),
            .failed(1, .hostKeyUnknown, at: 1, .host(.error, failoverTo: nil, retryIn: .seconds(5))),
            .next(2, .wait(until: at(5))),
            .next(5, .connect(0)),
        ]),
        Scenario(name: "persistent: a local key problem blames no host, is said once, and is looked at again after 10 s", policy: .persistent, hosts: 2, steps: [
            .failed(0, .privateKey, message: "key unreadable", at: 0, .local(news: true)),
            .next(0, .wait(until: at(10))),
            .next(10, .connect(0)),
            .failed(0, .privateKey, message: "key unreadable", at: 10, .local(news: false)),
            .next(15, .wait(until: at(20))),
            .failed(0, .configuration, message: "known_hosts unreadable", at: 20, .local(news: true)),
            .next(30, .connect(0)),
            .connected(0, at: 30),
            .next(31, .keep(until: never)),
        ]),
        Scenario(name: "persistent: a local problem met by a failback probe: the held connection goes on, the probe waits 10 s", policy: .persistent, hosts: 2, steps: [
            .failed(0, .authenticationFailed, at: 0, .host(.error, failoverTo: 1, retryIn: .seconds(5))),
            .connected(1, at: 0),
            .next(300, .probe(0)),
            .failed(0, .privateKey, at: 300, .local(news: true)),
            .next(300, .keep(until: at(310))),
            .next(310, .probe(0)),
        ]),
        Scenario(name: "persistent: a reload during backoff makes every host eligible at once", policy: .persistent, hosts: 2, steps: [
            .failed(0, .authenticationFailed, at: 0, .host(.error, failoverTo: 1, retryIn: .seconds(5))),
            .failed(1, .authenticationFailed, at: 0, .host(.error, failoverTo: nil, retryIn: .seconds(5))),
            .next(1, .wait(until: at(5))),
            .reload(hosts: 2, keeping: nil, home: nil, at: 1),
            .next(1, .connect(0)),
        ]),
        Scenario(name: "persistent: a reload keeps the held connection at its new place; failback from there", policy: .persistent, hosts: 1, steps: [
            .connected(0, at: 0),
            .reload(hosts: 3, keeping: 2, home: nil, at: 10),
            .next(11, .keep(until: at(310))),
            .next(310, .probe(0)),
        ]),
        Scenario(name: "persistent: a reload that drops the held host: connect from the new list", policy: .persistent, hosts: 2, steps: [
            .connected(0, at: 0),
            .reload(hosts: 2, keeping: nil, home: nil, at: 10),
            .next(10, .connect(0)),
        ]),
        Scenario(name: "persistent: the same failure again is a notice, and news again after a connection", policy: .persistent, hosts: 1, steps: [
            .failed(0, .authenticationFailed, message: "refused", at: 0, .host(.error, failoverTo: nil, retryIn: .seconds(5))),
            .failed(0, .authenticationFailed, message: "refused", at: 5, .host(.notice, failoverTo: nil, retryIn: .seconds(5))),
            .connected(0, at: 10),
            .failed(0, .authenticationFailed, message: "refused", at: 20, uptime: .seconds(10), .host(.error, failoverTo: nil, retryIn: .seconds(5))),
        ]),

        // MARK: on demand
        Scenario(name: "on demand: a connection only while a fill is wanted; closed when done; the next fill from the same host", policy: .onDemand, hosts: 2, steps: [
            .next(0, wanted: false, .wait(until: never)),
            .next(1, .connect(0)),
            .connected(0, at: 1),
            .next(2, .keep(until: never)),
            .next(3, wanted: false, .close),
            .closed(at: 3),
            .next(4, wanted: false, .wait(until: never)),
            .next(100, .connect(0)),
        ]),
        Scenario(name: "on demand: a broken preferred host: fills stay on the fallback until the failback interval", policy: .onDemand, hosts: 2, steps: [
            .failed(0, .healthTestFailed, at: 0, .host(.error, failoverTo: 1, retryIn: nil)),
            .next(0, .connect(1)),
            .connected(1, at: 0),
            .closed(at: 1),
            .next(30, .connect(1)),
            .connected(1, at: 30),
            .closed(at: 31),
            .next(299, .connect(1)),
            .next(300, .connect(0)),
            .failed(0, .healthTestFailed, message: "again", at: 300, .host(.error, failoverTo: 1, retryIn: nil)),
            .next(300, .connect(1)),
            .connected(1, at: 300),
            .closed(at: 301),
            .next(599, .connect(1)),
            .next(600, .connect(0)),
        ]),
        Scenario(name: "on demand: after its host failed, the next fill comes from the fallback even when the failed host may be tried again", policy: .onDemand, hosts: 2, steps: [
            .connected(0, at: 0),
            .closed(at: 1),
            .failed(0, .healthTestFailed, at: 10, .host(.error, failoverTo: 1, retryIn: nil)),
            .next(30, wanted: false, .wait(until: never)),
            .next(40, .connect(1)),
            .connected(1, at: 40),
            .closed(at: 41),
            .next(309, .connect(1)),
            .next(310, .connect(0)),
        ]),
        Scenario(name: "on demand: a fill that fails on its host goes to the most preferred host that may be tried", policy: .onDemand, hosts: 2, steps: [
            .failed(0, .connectionLost, at: 0, .host(.warning, failoverTo: 1, retryIn: nil)),
            .next(0, .connect(1)),
            .connected(1, at: 0),
            .failed(1, .connectionLost, at: 50, uptime: .seconds(50), .host(.warning, failoverTo: 0, retryIn: nil)),
            .next(50, .connect(0)),
        ]),
        Scenario(name: "on demand: a local key problem tries no host and fails none over, and is looked at again after 10 s", policy: .onDemand, hosts: 2, steps: [
            .failed(0, .privateKey, at: 0, .local(news: true)),
            .next(0, .wait(until: at(10))),
            .next(9, wanted: false, .wait(until: never)),
            .next(10, .connect(0)),
            .failed(0, .privateKey, at: 10, .local(news: false)),
            .next(11, .wait(until: at(20))),
        ]),
        Scenario(name: "on demand: a reload during backoff: the next fill at once", policy: .onDemand, hosts: 1, steps: [
            .failed(0, .hostKeyMismatch, at: 0, .host(.error, failoverTo: nil, retryIn: .seconds(5))),
            .next(1, .wait(until: at(5))),
            .reload(hosts: 1, keeping: nil, home: nil, at: 2),
            .next(2, .connect(0)),
        ]),
        Scenario(name: "on demand: a reload moves the home host to its new place", policy: .onDemand, hosts: 2, steps: [
            .failed(0, .connectionFailed, at: 0, .host(.warning, failoverTo: 1, retryIn: nil)),
            .connected(1, at: 0),
            .closed(at: 1),
            .reload(hosts: 3, keeping: nil, home: 2, at: 10),
            .next(11, .connect(2)),
            .next(310, .connect(0)),
        ]),

        Scenario(name: "on demand: a host that ends a fill's session idle is not failed: the next fill goes to it", policy: .onDemand, hosts: 2, steps: [
            .connected(0, at: 0),
            .endedIdle(at: 1),
            .next(2, wanted: false, .wait(until: never)),
            .next(60, .connect(0)),
        ]),

        // MARK: once (fetch, check)
        Scenario(name: "once: each host once, in order, then give up (the last failure is the caller's to report)", policy: .once, hosts: 2, steps: [
            .next(0, .connect(0)),
            .failed(0, .connectionFailed, at: 0, .host(.warning, failoverTo: 1, retryIn: nil)),
            .next(0, .connect(1)),
            .failed(1, .authenticationFailed, at: 0, .host(.quiet, failoverTo: nil, retryIn: .seconds(5))),
            .next(0, .giveUp),
        ]),
        Scenario(name: "once: a host whose stream failed is not tried again; a consumer taking nothing now keeps the connection", policy: .once, hosts: 2, steps: [
            .connected(0, at: 0),
            .failed(0, .remoteCommandFailed, at: 1, .host(.error, failoverTo: 1, retryIn: nil)),
            .next(1, .connect(1)),
            .connected(1, at: 1),
            .next(2, wanted: false, .keep(until: never)),
        ]),
        Scenario(name: "once: the host ends an idle session (stdout blocked): the same host again once bytes are wanted", policy: .once, hosts: 2, steps: [
            .connected(0, at: 0),
            .endedIdle(at: 300),
            .next(300, wanted: false, .wait(until: never)),
            .next(310, .connect(0)),
        ]),
        Scenario(name: "once: a local key problem gives up at once", policy: .once, hosts: 2, steps: [
            .failed(0, .privateKey, at: 0, .local(news: true)),
            .next(0, .giveUp),
        ]),
    ]

    @Test("host plan scenarios", arguments: scenarios)
    func scenario(_ scenario: Scenario) {
        var plan = HostPlan(policy: scenario.policy, hostCount: scenario.hosts,
                            backoff: .init(initial: .seconds(1), cap: .seconds(60), healthyPeriod: .seconds(30)),
                            timing: .init(failbackInterval: .seconds(300)), now: Self.start)
        for (number, step) in scenario.steps.enumerated() {
            let where_ = "step \(number + 1): \(step)"
            switch step {
            case .next(let t, let wanted, let expected):
                #expect(plan.next(at: Self.at(t), wanted: wanted) == expected, "\(where_)")
            case .connected(let index, let t, let previousKey):
                plan.connected(index, previousKey: previousKey, at: Self.at(t))
            case .failed(let index, let code, let message, let t, let uptime, let expected):
                let verdict = plan.failed(index, TunnelError(code, message), uptime: uptime, at: Self.at(t))
                switch (verdict, expected) {
                case (.local(let news), .local(let expectedNews)):
                    #expect(news == expectedNews, "\(where_)")
                case (.host(let failure), .host(let level, let failoverTo, let retryIn)):
                    #expect(failure.level == level && failure.failoverTo == failoverTo, "\(where_): \(failure)")
                    if let retryIn {
                        #expect(failure.retryIn == retryIn, "\(where_): \(failure)")
                    } else {
                        #expect(failure.retryIn < .seconds(2), "\(where_): \(failure)")
                    }
                default:
                    Issue.record("\(where_): \(verdict), expected \(expected)")
                }
            case .closed(let t):
                plan.closed(at: Self.at(t))
            case .endedIdle(let t):
                plan.endedIdle(at: Self.at(t))
            case .keyProbeFailed(let t):
                plan.keyProbeFailed(at: Self.at(t))
            case .reload(let hosts, let keeping, let home, let t):
                plan.reload(hostCount: hosts, keeping: keeping, home: home,
                            backoff: .init(initial: .seconds(1), cap: .seconds(60), healthyPeriod: .seconds(30)),
                            failbackInterval: .seconds(300), at: Self.at(t))
            }
        }
    }

    @Test("a local problem never marks a host: its retry time and backoff are untouched")
    func localProblemBlamesNoHost() {
        for policy in [HostPlan.Policy.persistent, .onDemand] {
            var plan = HostPlan(policy: policy, hostCount: 2, backoff: .init(), timing: .init(failbackInterval: .seconds(300)),
                                now: Self.start)
            _ = plan.failed(0, TunnelError(.privateKey, "key unreadable"), uptime: .zero, at: Self.start)
            _ = plan.failed(1, TunnelError(.privateKey, "key unreadable"), uptime: .zero, at: Self.start)
            #expect(plan.retryAt(0) <= Self.start && plan.retryAt(1) <= Self.start, "\(policy)")
            #expect(plan.retries.firstEligible(below: 2, now: Self.start) == 0, "\(policy)")
        }
    }
}

import EntropyTunnelCore
import Testing

/// `status`'s health verdict on a state file as a value: healthy, degraded (and why) or not running.
struct DaemonHealthTests {
    /// A state file's text with these values, read as `status` reads it.
    static func state(running: Bool = true, sink: String = "kernel", mode: String = "ioctl", current: String? = "a:22",
                      lastFeed: Double? = 990, lastBytes: Double? = 990, lastFill: String?? = .none,
                      idleSince: Double? = nil) -> DaemonState {
        func json(_ value: Double?) -> String { value.map { "\($0)" } ?? "null" }
        func json(_ value: String?) -> String { value.map { "\"\($0)\"" } ?? "null" }
        let reserve = lastFill.map { host in
            ", \"reserve\": {\"capacity\": 4096, \"level\": 2048, \"fills\": 1, \"sessions\": 1, \"last_host\": \(json(host))}"
        } ?? ""
        let text = """
            {"schema_version": 1, "version": "0.1.0", "running": \(running), "pid": 42, "started_at": 900, "stopped_at": null,
             "updated": 1000, "sink": "\(sink)", "mode": "\(mode)", "kernel_interval": 60,
             "current": \(current.map { "{\"host\": \"\($0)\", \"preferred\": \($0 == "a:22"), \"bytes\": 0}" } ?? "null"),
             "hosts": [{"host": "a:22", "state": "ok"}, {"host": "b:22", "state": "ok"}],
             "connections": 1, "bytes_delivered": 0, "last_bytes_at": \(json(lastBytes)), "idle_since": \(json(idleSince)),
             "kernel": {"mode": "\(mode)", "feeds": 0, "reseeds": 0, "bytes_mixed": 0, "bits_credited": 0, "add_entropy_calls": 0,
                        "add_entropy_failures": {}, "reseed_failures": {}, "last_feed_at": \(json(lastFeed)), "crng_ready_at": null,
                        "started_before_ready": false, "seeds_saved": 0, "seeds_skipped": 0},
             "rngd": null, "health_windows": {"passed": 0, "dropped": 0}, "last_error": null\(reserve)}
            """
        do {
            return try DaemonState.decode(text)
        } catch {
            fatalError("the test's state does not read: \(error.message)\n\(text)")
        }
    }

    @Test("health: exit 0 healthy, 1 degraded, 3 not running", arguments: [
        (state(), true, 0, ""),
        (state(running: false), true, 3, "stopped cleanly"),
        (state(), false, 3, "crashed"),
        (state(current: "b:22"), true, 1, "fallback"),
        (state(mode: "write"), true, 1, "write mode"),
        (state(lastFeed: 869), true, 1, "no kernel feed"),   // 1000 - 869 > 2 x 60 + 10
        (state(lastFeed: 871), true, 0, ""),
        (state(current: nil), true, 0, ""),                   // kernel sink: the feeds decide
        (state(lastFeed: nil), true, 0, ""),                  // started 100 s ago, limit 130 s
        (state(sink: "fifo", current: nil, lastBytes: 960), true, 1, "not connected"),
        (state(sink: "fifo", current: nil, lastBytes: 980), true, 0, ""),
        (state(sink: "rngd", current: "a:22", lastBytes: 100), true, 0, ""),  // a full FIFO nobody reads
        // ...and after the host ended that idle session (serve --idle-timeout): still no problem.
        (state(sink: "fifo", current: nil, lastBytes: 100, idleSince: 400), true, 0, ""),
        // On demand: no connection between fills; the last fill's host tells.
        (state(current: nil, lastFill: "b:22"), true, 1, "last reserve fill from fallback host b:22"),
        (state(current: nil, lastFill: "a:22"), true, 0, ""),
        (state(current: nil, lastFill: .some(nil)), true, 0, ""),       // no fill yet
        (state(current: "a:22", lastFill: "b:22"), true, 0, ""),       // during a fill, the current host decides
    ] as [(DaemonState, Bool, Int32, String)])
    func health(state: DaemonState, pidAlive: Bool, exit: Int32, reason: String) {
        let health = DaemonHealth(state: state, now: 1000, pidAlive: pidAlive)
        #expect(health.exitCode == exit, "\(health)")
        if !reason.isEmpty { #expect(health.reasons.contains { $0.contains(reason) }, "\(health.reasons)") }
    }
}

import EntropyTunnelCore
import Testing

/// A state file that `run` could not have written is "damaged" before anything is computed from
/// it: every number finite and in range, the main members of their types.
struct StateDamageTests {
    static let good = """
        {"version": "0.1.0", "running": true, "pid": 4242, "started_at": 1764000000.5, "stopped_at": null,
         "updated": 1764000010, "sink": "kernel", "mode": "ioctl", "kernel_interval": 60, "current": null,
         "hosts": [{"host": "rng:22", "state": "ok", "retry_at": null, "last_error": null, "last_error_at": null}],
         "connections": 1, "bytes_delivered": 4096, "last_bytes_at": 1764000009,
         "kernel": {"feeds": 3, "last_feed_at": 1764000009}, "rngd": null,
         "health_windows": {"passed": 8, "dropped": 0}, "last_error": null}
        """

    @Test("a file run writes is not damaged")
    func goodFile() throws {
        let state = try #require(JSONValue.parse(Self.good))
        #expect(DaemonState.damage(in: state) == nil)
    }

    @Test("out-of-range and non-finite numbers, huge integers and wrong types are damage", arguments: [
        ("\"started_at\": 1764000000.5", "\"started_at\": 1e300"),
        ("\"started_at\": 1764000000.5", "\"started_at\": -1e300"),
        ("\"started_at\": 1764000000.5", "\"started_at\": 1e19"),
        ("\"updated\": 1764000010", "\"updated\": 1e400"),
        ("\"kernel_interval\": 60", "\"kernel_interval\": -1e400"),
        ("\"kernel_interval\": 60", "\"kernel_interval\": 0"),
        ("\"pid\": 4242", "\"pid\": 99999999999999999999999"),
        ("\"pid\": 4242", "\"pid\": -5"),
        ("\"pid\": 4242", "\"pid\": \"4242\""),
        ("\"running\": true", "\"running\": \"yes\""),
        ("\"bytes_delivered\": 4096", "\"bytes_delivered\": -1"),
        ("\"bytes_delivered\": 4096", "\"bytes_delivered\": 9223372036854775807"),
        ("\"last_feed_at\": 1764000009", "\"last_feed_at\": 1e19"),
        ("\"retry_at\": null", "\"retry_at\": -1e300"),
        ("\"hosts\": [", "\"hosts\": [7, "),
        ("\"current\": null", "\"current\": {\"since\": 1e300}"),
        ("\"current\": null", "\"current\": 5"),
        ("\"last_error\": null}", "\"last_error\": {\"at\": 1e30}}"),
    ])
    func damage(good: String, bad: String) throws {
        let text = Self.good.replacing(good, with: bad)
        #expect(text != Self.good)
        if let state = JSONValue.parse(text) {
            #expect(DaemonState.damage(in: state) != nil, "\(bad)")
        }
        // Not parsing at all is damage too (status says so); either way no trap.
    }

    @Test("NaN-like words, truncation and junk do not parse")
    func junk() {
        for text in ["{\"started_at\": NaN}", "{\"started_at\": nan}", "{\"started_at\": Infinity}", "{\"running\": tru",
                     String(Self.good.prefix(100)), "\u{0}\u{1}\u{2}", "{\"a\": -}", "{\"a\": 1e}"] {
            #expect(JSONValue.parse(text).map { DaemonState.damage(in: $0) != nil } ?? true, "\(text.debugDescription)")
        }
    }
}

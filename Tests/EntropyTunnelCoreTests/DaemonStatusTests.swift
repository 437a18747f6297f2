import EntropyTunnelCore
import Testing

/// The pure parts of `status` and the metrics file: the JSON codec, the health verdict, the
/// exposition's escaping.
struct DaemonStatusTests {
    @Test("JSON: what is written parses back to the same value, keys in order, strings escaped")
    func jsonRoundTrip() {
        let value = JSONValue.object([
            ("z", .string("quote \" backslash \\ newline \n tab \t bell \u{7} é ✓")),
            ("a", .array([.int(-3), .double(1.5), .bool(true), .null, .array([]), .object([])])),
            ("n", .int(Int64.max)),
        ])
        let text = value.rendered()
        #expect(JSONValue.parse(text) == value, "\(text)")
        #expect(JSONValue.parse("{\"a\": 1,}") == nil)
        #expect(JSONValue.parse("{\"a\": 1} x") == nil)
        #expect(JSONValue.parse("[1, 2") == nil)
        #expect(JSONValue.parse("\"\\u0041\"") == .string("A"))
    }

    static func state(running: Bool = true, sink: String = "kernel", mode: String = "ioctl", current: String? = "a:22",
                      lastFeed: Double? = 990, lastBytes: Double? = 990, lastFill: String?? = .none) -> JSONValue {
        .object([
            ("reserve", lastFill.map { host in .object([("level", .int(2048)), ("last_host", host.map(JSONValue.string) ?? .null)]) } ?? .null),
            ("running", .bool(running)), ("pid", .int(42)), ("started_at", .double(900)), ("sink", .string(sink)),
            ("mode", .string(mode)), ("kernel_interval", .double(60)),
            ("current", current.map { .object([("host", .string($0))]) } ?? .null),
            ("hosts", .array([.object([("host", .string("a:22"))]), .object([("host", .string("b:22"))])])),
            ("last_bytes_at", .optional(lastBytes, JSONValue.double)),
            ("kernel", .object([("last_feed_at", .optional(lastFeed, JSONValue.double))])),
        ])
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
        // On demand: no connection between fills; the last fill's host tells.
        (state(current: nil, lastFill: "b:22"), true, 1, "last reserve fill from fallback host b:22"),
        (state(current: nil, lastFill: "a:22"), true, 0, ""),
        (state(current: nil, lastFill: .some(nil)), true, 0, ""),       // no fill yet
        (state(current: "a:22", lastFill: "b:22"), true, 0, ""),       // during a fill, the current host decides
    ] as [(JSONValue, Bool, Int32, String)])
    func health(state: JSONValue, pidAlive: Bool, exit: Int32, reason: String) {
        let health = DaemonHealth(state: state, now: 1000, pidAlive: pidAlive)
        #expect(health.exitCode == exit, "\(health)")
        if !reason.isEmpty { #expect(health.reasons.contains { $0.contains(reason) }, "\(health.reasons)") }
    }

    @Test("metrics: label values escape backslash, quote and newline; HELP and TYPE precede each family")
    func metricsText() throws {
        var configuration = RunConfiguration(hosts: [HostSpec(host: "a", port: 22), HostSpec(host: "b", port: 2222)])
        configuration.sink = .rngd
        let process = DaemonState.Process(pid: 1, startedAt: 1_700_000_000.5, configuration: configuration)
        var snapshot = TunnelStats.Snapshot()
        snapshot.connected = true
        snapshot.host = HostSpec(host: "b", port: 2222)
        snapshot.connections = 3
        snapshot.bytesDelivered = 1 << 40
        let text = MetricsText.render(snapshot, process: process)
        #expect(text.contains("entropy_tunnel_host_up{host=\"a:22\"} 0\n"))
        #expect(text.contains("entropy_tunnel_host_up{host=\"b:2222\"} 1\n"))
        #expect(text.contains("entropy_tunnel_reconnects_total 2\n"))
        #expect(text.contains("entropy_tunnel_bytes_delivered_total 1099511627776\n"))
        #expect(text.contains("entropy_tunnel_start_time_seconds 1700000000.5\n"))
        #expect(text.contains("entropy_tunnel_rngd_restarts_total 0\n"))
        #expect(!text.contains("entropy_tunnel_kernel_"))
        #expect(MetricsText.escape("a\\b\"c\nd", quotes: true) == "a\\\\b\\\"c\\nd")
        let lines = text.split(separator: "\n")
        for (i, line) in lines.enumerated() where line.hasPrefix("# TYPE ") {
            #expect(i > 0 && lines[i - 1].hasPrefix("# HELP \(line.split(separator: " ")[2]) "))
        }
    }
}

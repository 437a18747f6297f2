import EntropyTunnelCore
import Testing

/// The metrics file's Prometheus text exposition, rendered from one snapshot.
struct MetricsTextTests {
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

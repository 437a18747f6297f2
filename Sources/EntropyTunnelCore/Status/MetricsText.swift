/// The daemon's counters in the Prometheus text exposition format (version 0.0.4), for
/// node_exporter's textfile collector: `--metrics-file`.
///
/// Written by hand rather than with swift-prometheus: a dozen gauges and counters rendered from
/// one snapshot need no registry (see docs/architecture.md for the memory measured).
public struct MetricsText {
    private var out = ""

    /// The exposition of `s`.
    public static func render(_ s: TunnelStats.Snapshot, process p: DaemonState.Process) -> String {
        var m = MetricsText()
        m.family("entropy_tunnel_info", .gauge, "Version, sink and kernel sink mode of the running daemon; always 1.")
        m.sample("entropy_tunnel_info", [
            ("version", EntropyTunnelVersion.string), ("sink", p.sink.rawValue),
            ("mode", p.sink == .kernel ? s.kernel?.mode.rawValue ?? "" : p.sink.rawValue),
        ], 1)
        m.family("entropy_tunnel_start_time_seconds", .gauge, "Start time of the daemon since the Unix epoch in seconds.")
        m.sample("entropy_tunnel_start_time_seconds", [], p.startedAt)
        m.family("entropy_tunnel_connected", .gauge, "1 while connected to an entropy host.")
        m.sample("entropy_tunnel_connected", [], s.connected ? 1 : 0)
        m.family("entropy_tunnel_host_up", .gauge, "1 for the entropy host in use, 0 for the others.")
        for host in p.hosts {
            m.sample("entropy_tunnel_host_up", [("host", host.description)], s.connected && s.host == host ? 1 : 0)
        }
        m.family("entropy_tunnel_bytes_delivered_total", .counter, "Bytes that passed the health tests and reached the sink.")
        m.sample("entropy_tunnel_bytes_delivered_total", [], Double(s.bytesDelivered))
        m.family("entropy_tunnel_reconnects_total", .counter, "Connections made after the first one.")
        m.sample("entropy_tunnel_reconnects_total", [], Double(max(s.connections - 1, 0)))
        m.family("entropy_tunnel_health_windows_passed_total", .counter, "512-byte windows that passed the SP 800-90B health tests.")
        m.sample("entropy_tunnel_health_windows_passed_total", [], Double(s.windowsPassed))
        m.family("entropy_tunnel_health_windows_dropped_total", .counter, "512-byte windows dropped by the SP 800-90B health tests.")
        m.sample("entropy_tunnel_health_windows_dropped_total", [], Double(s.windowsDropped))
        if let k = s.kernel {
            m.family("entropy_tunnel_kernel_bytes_mixed_total", .counter, "Bytes mixed into the kernel's pool.")
            m.sample("entropy_tunnel_kernel_bytes_mixed_total", [], Double(k.bytesMixed))
            m.family("entropy_tunnel_kernel_bits_credited_total", .counter, "Entropy bits credited to the kernel (only before its CRNG was ready).")
            m.sample("entropy_tunnel_kernel_bits_credited_total", [], Double(k.bitsCredited))
            m.family("entropy_tunnel_kernel_feeds_total", .counter, "Timed (or SIGUSR1) feeds of the kernel.")
            m.sample("entropy_tunnel_kernel_feeds_total", [], Double(k.feeds))
            m.family("entropy_tunnel_kernel_reseeds_total", .counter, "Successful RNDRESEEDCRNG calls.")
            m.sample("entropy_tunnel_kernel_reseeds_total", [], Double(k.reseeds))
            m.family("entropy_tunnel_kernel_feed_failures_total", .counter, "Failed calls into the kernel, by call and errno.")
            let add = k.mode == .ioctl ? "RNDADDENTROPY" : "write"
            // Both calls always appear, so a rate() has a series to start from.
            for (call, failures) in [(add, k.addEntropyFailures), ("RNDRESEEDCRNG", k.reseedFailures)] {
                if failures.isEmpty {
                    m.sample("entropy_tunnel_kernel_feed_failures_total", [("call", call), ("errno", "EPERM")], 0)
                }
                for (code, count) in failures.sorted(by: { $0.key < $1.key }) {
                    m.sample("entropy_tunnel_kernel_feed_failures_total", [("call", call), ("errno", ErrnoSymbol.name(code))], Double(count))
                }
            }
            m.family("entropy_tunnel_last_feed_timestamp_seconds", .gauge, "Time of the last kernel feed since the Unix epoch in seconds (0: none yet).")
            m.sample("entropy_tunnel_last_feed_timestamp_seconds", [], k.lastFeedAt ?? 0)
        }
        if let r = s.reserve {
            m.family("entropy_tunnel_reserve_bytes", .gauge, "On-demand mode: health-tested bytes held in the reserve.")
            m.sample("entropy_tunnel_reserve_bytes", [], Double(r.level))
            m.family("entropy_tunnel_reserve_fills_total", .counter, "On-demand mode: sessions that filled the reserve.")
            m.sample("entropy_tunnel_reserve_fills_total", [], Double(r.fills))
        }
        if p.sink == .rngd {
            m.family("entropy_tunnel_rngd_restarts_total", .counter, "Times rngd was started again after it ended.")
            m.sample("entropy_tunnel_rngd_restarts_total", [], Double(s.rngdRestarts))
        }
        return m.out
    }

    private enum Kind: String { case counter, gauge }

    private mutating func family(_ name: String, _ kind: Kind, _ help: String) {
        out += "# HELP \(name) \(Self.escape(help, quotes: false))\n# TYPE \(name) \(kind.rawValue)\n"
    }

    private mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        out += name
        if !labels.isEmpty {
            out += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1, quotes: true))\"" }.joined(separator: ",") + "}"
        }
        out += " " + Self.format(value) + "\n"
    }

    /// Label values escape `\`, `"`, newline and every other control or invisible character
    /// (`PrintableText`, metrics-label sink); HELP text escapes `\` and newline.
    package static func escape(_ text: String, quotes: Bool) -> String {
        if quotes { return PrintableText.escape(text, for: .metricsLabel) }
        var escaped = ""
        for c in text.unicodeScalars {
            switch c {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(c)
            }
        }
        return escaped
    }

    /// Integers without a fraction (counters read better), others as Swift prints them.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return "\(Int64(value))" }
        return "\(value)"
    }
}

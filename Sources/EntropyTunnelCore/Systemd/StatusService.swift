import ServiceLifecycle

/// Tells systemd how the tunnel is doing: READY=1 once the FIFO first holds bytes, a STATUS= line
/// on every connection, failure and rngd change, STOPPING=1 at shutdown.
final class StatusService: Service, Sendable {
    let configuration: RunConfiguration
    let stats: TunnelStats
    let notifier: SystemdNotifier

    init(configuration: RunConfiguration, stats: TunnelStats, notifier: SystemdNotifier) {
        self.configuration = configuration
        self.stats = stats
        self.notifier = notifier
    }

    func run() async {
        await cancelWhenGracefulShutdown {
            for await event in self.stats.events {
                switch event {
                case .primed:
                    self.notifier.send("READY=1\nSTATUS=\(self.statusLine())")
                case .connected:
                    self.stats.update { $0.lastError = nil }
                    self.notifier.send("STATUS=\(self.statusLine())")
                case .failed(_, let error):
                    self.stats.update { $0.lastError = error.message }
                    self.notifier.send("STATUS=\(self.statusLine())")
                case .rngdChanged, .kernelFed:
                    self.notifier.send("STATUS=\(self.statusLine())")
                }
            }
        }
        notifier.send("STOPPING=1")
    }

    /// One line of state for `systemctl status`.
    func statusLine() -> String {
        let s = stats.snapshot
        var parts: [String] = []
        if s.connected, let host = s.host {
            parts.append("connected to \(host)")
        } else if let r = s.reserve {
            // On-demand: no connection between fills is the normal state.
            parts.append("on-demand" + (s.host.map { " from \($0)" } ?? "")
                         + ": reserve \(ByteSize.human(UInt64(r.level))) of \(ByteSize.human(UInt64(r.capacity))), \(r.fills) fills"
                         + (s.lastError.map { " (last failure: \($0.prefix(120)))" } ?? ""))
        } else {
            parts.append("not connected" + (s.lastError.map { " (\($0.prefix(120)))" } ?? ""))
        }
        parts.append("\(ByteSize.human(s.bytesDelivered)) delivered")
        if configuration.sink == .rngd { parts.append(s.rngdPID.map { "rngd pid \($0)" } ?? "rngd not running") }
        if let k = s.kernel {
            var kernel = k.mode == .ioctl
                ? "kernel: \(k.feeds) feeds, \(k.reseeds) reseeds, \(ByteSize.human(k.bytesMixed)) mixed"
                : "kernel: WRITE MODE (no CAP_SYS_ADMIN: mixed, not credited, no reseed), \(ByteSize.human(k.bytesMixed)) written"
            if k.bitsCredited > 0 { kernel += ", \(k.bitsCredited) bits credited before the CRNG was ready" }
            let failures = k.addEntropyFailures.values.reduce(0, +) + k.reseedFailures.values.reduce(0, +)
            if failures > 0 { kernel += ", \(failures) failed calls" }
            parts.append(kernel)
        }
        if s.windowsDropped > 0 { parts.append("\(s.windowsDropped) windows failed health tests") }
        return parts.joined(separator: ", ")
    }
}

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
                case .rngdChanged:
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
        } else {
            parts.append("not connected" + (s.lastError.map { " (\($0.prefix(120)))" } ?? ""))
        }
        parts.append("\(ByteSize.human(s.bytesDelivered)) delivered")
        if configuration.sink == .rngd { parts.append(s.rngdPID.map { "rngd pid \($0)" } ?? "rngd not running") }
        if s.windowsDropped > 0 { parts.append("\(s.windowsDropped) windows failed health tests") }
        return parts.joined(separator: ", ")
    }
}

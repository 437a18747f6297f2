import Logging
import ServiceLifecycle

/// Pings systemd's watchdog (WATCHDOG=1 at half of `WatchdogSec=`) only while the tunnel
/// thread's heartbeat is recent: a pump that is stuck stops the pings, and systemd restarts the
/// service. Every loop of the tunnel thread wakes at least once a second except a connection
/// attempt, which is bounded by the connect timeout; `staleAfter` allows for that.
package final class WatchdogService: Service, Sendable {
    let notifier: SystemdNotifier
    let stats: TunnelStats
    let staleAfter: Duration
    let logger: Logger

    package init(notifier: SystemdNotifier, stats: TunnelStats, staleAfter: Duration, logger: Logger) {
        self.notifier = notifier
        self.stats = stats
        self.staleAfter = staleAfter
        self.logger = logger
    }

    package func run() async {
        guard let interval = notifier.watchdogPingInterval else { return }
        var warned = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let age = Instant.now - stats.lastBeat
            if age <= staleAfter {
                notifier.send("WATCHDOG=1")
                warned = false
            } else if !warned {
                logger.critical("""
                    the tunnel thread has not gone round its loop for \(Int(age.seconds)) s; no longer pinging \
                    the systemd watchdog, so that systemd restarts the service
                    """)
                warned = true
            }
            // Ends at shutdown: that ends the loop, it is not an error.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

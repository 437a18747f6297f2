#if canImport(Glibc)
import Glibc
#endif
import Logging
import ServiceLifecycle
import UnixSignals

/// SIGHUP (`systemctl reload entropy-tunnel`, the unit's `ExecReload=`): the configuration is read
/// again and checked as `run` checks it at start (hosts listed once, the key usable, known_hosts
/// readable); what can change while running is handed to the supply loop, which keeps a healthy
/// connection whose host is still in the list (`ConfigurationReload` says what applies at once
/// and what takes a restart; the latter is logged by key). A config that no longer reads or
/// fails the checks is logged as one error and the running configuration and its connection
/// stay in force. Under systemd the
/// reload is framed by RELOADING=1 and READY=1. Without a way to re-read (`reread` nil), SIGHUP
/// is only logged: it must never end the daemon.
final class HangupService: Service, Sendable {
    /// Reads the configuration again as `run` read it at start (config file and flags).
    typealias Reread = @Sendable () throws(TunnelError) -> RunConfiguration

    let logger: Logger
    let running: RunConfiguration
    let reread: Reread?
    let reloads: ConfigurationReloads?
    let notifier: SystemdNotifier?

    init(running: RunConfiguration, reread: Reread?, reloads: ConfigurationReloads?, notifier: SystemdNotifier?, logger: Logger) {
        self.running = running
        self.reread = reread
        self.reloads = reloads
        self.notifier = notifier
        self.logger = logger
    }

    func run() async {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            var running = self.running
            for await _ in signals {
                guard let reread = self.reread, let reloads = self.reloads else {
                    self.logger.notice("""
                        SIGHUP received and ignored: this process cannot re-read its configuration; \
                        run `systemctl restart entropy-tunnel` to apply changes
                        """)
                    continue
                }
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)
                let usec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
                self.notifier?.send("RELOADING=1\nMONOTONIC_USEC=\(usec)")
                defer { self.notifier?.send("READY=1") }
                let rereadConfiguration: RunConfiguration
                do throws(TunnelError) {
                    // Reading files is blocking I/O: off the cooperative pool. What `run` checks at
                    // start is checked here too: a reload that cannot work is not applied at all.
                    rereadConfiguration = try await BlockingThread.run(name: "et-reload") { () throws(TunnelError) in
                        let configuration = try reread()
                        try ConfigurationReload.check(configuration)
                        return configuration
                    }
                } catch {
                    self.logger.error("reload failed, the running configuration stays in force: \(error.message)")
                    continue
                }
                let reload = ConfigurationReload(running: running, reread: rereadConfiguration)
                running = reload.applied
                if !reload.needsRestart.isEmpty {
                    self.logger.warning(
                        "reload left \(reload.needsRestart.joined(separator: ", ")) at the running value: applying it needs `systemctl restart entropy-tunnel`",
                        metadata: ["restart_needed": "\(reload.needsRestart.joined(separator: ","))"])
                }
                reloads.offer(reload.applied)
                self.logger.notice("configuration reloaded", metadata: [
                    "changed": "\(reload.changed.isEmpty ? "nothing" : reload.changed.joined(separator: ","))",
                    "hosts": "\(reload.applied.hosts.map(\.description).joined(separator: ","))",
                ])
            }
        }
    }
}

import ServiceLifecycle
import Synchronization

/// Tells systemd how the tunnel is doing: READY=1 as soon as the daemon runs (the sink is ready
/// and, with `--sink rngd`, rngd was found; never waiting for a host, so that neither boot nor
/// `systemctl restart` waits on the network), a STATUS= line on every host, rngd and kernel event
/// and at least every `refreshInterval` (so that the bytes delivered stay current), STOPPING=1
/// at shutdown.
final class StatusService: Service, Sendable {
    let configuration: RunConfiguration
    let stats: TunnelStats
    let notifier: SystemdNotifier
    /// How often STATUS= is sent even without an event.
    let refreshInterval: Duration
    private let readySent = Atomic<Bool>(false)

    init(configuration: RunConfiguration, stats: TunnelStats, notifier: SystemdNotifier,
         refreshInterval: Duration = .seconds(5)) {
        self.configuration = configuration
        self.stats = stats
        self.notifier = notifier
        self.refreshInterval = refreshInterval
    }

    func run() async {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in self.stats.events { self.handle(event) }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: self.refreshInterval)
                        if self.readySent.load(ordering: .relaxed), !Task.isCancelled {
                            self.notifier.send(SystemdNotifier.status(self.statusLine()))
                        }
                    }
                }
                // The events end with the tunnel: then the refresh ends too.
                await group.next()
                group.cancelAll()
            }
        }
        notifier.send("STOPPING=1")
    }

    private func handle(_ event: TunnelStats.Event) {
        switch event {
        case .connected:
            stats.update { $0.lastError = nil }
        case .failed(_, let error):
            stats.update { $0.lastError = error.message }
        case .reserveFilled, .idle:
            stats.update { $0.lastError = nil }
        case .sinkReady, .rngdFound, .connecting, .primed, .rngdChanged, .kernelFed:
            break
        }
        let s = stats.snapshot
        let running = s.sinkReady && (configuration.sink != .rngd || s.rngdFound)
        if running, !readySent.exchange(true, ordering: .relaxed) {
            notifier.send("READY=1\n" + SystemdNotifier.status(statusLine()))
        } else if readySent.load(ordering: .relaxed) {
            notifier.send(SystemdNotifier.status(statusLine()))
        }
    }

    /// One line of state for `systemctl status`: the connection, the bytes delivered, rngd's pid
    /// or the kernel's last feed, the last error.
    func statusLine(now: Double = WallClock.now()) -> String {
        let s = stats.snapshot
        var parts: [String] = []
        if s.connected, let host = s.host {
            parts.append("connected to \(host)")
        } else if let host = s.connecting {
            parts.append("connecting to \(host)")
        } else if let next = s.hosts.filter({ $0.failing && $0.retryAt != nil }).min(by: { $0.retryAt! < $1.retryAt! }) {
            let wait = max(0, Int((next.retryAt! - now).rounded(.up)))
            let failing = s.hosts.filter(\.failing).map { "\($0.host)" }
            let which = failing.count > 1 ? "all \(failing.count) hosts failing" : "\(next.host) unreachable"
            parts.append("\(which): \((next.lastError ?? "?").prefix(120)); retrying \(next.host) in \(wait) s")
        } else if s.idleSince != nil {
            parts.append("idle" + (s.host.map { ": \($0)" } ?? "") + " ended the session as nothing was read; connecting when bytes are wanted")
        } else if let r = s.reserve {
            // On-demand: no connection between fills is the normal state.
            parts.append("on-demand" + (s.host.map { " from \($0)" } ?? "")
                         + ": reserve \(ByteSize.human(UInt64(r.level))) of \(ByteSize.human(UInt64(r.capacity))), \(r.fills) fills"
                         + (s.lastError.map { " (last failure: \($0.prefix(120)))" } ?? ""))
        } else {
            parts.append("starting")
        }
        parts.append("\(ByteSize.human(s.bytesDelivered)) delivered")
        if configuration.sink == .rngd {
            parts.append(s.rngdPID.map { "rngd pid \($0)" }
                         ?? (s.bytesDelivered == 0 ? "rngd starts with the first bytes" : "rngd not running"))
        }
        if let k = s.kernel {
            var kernel = k.mode == .ioctl
                ? "kernel: \(k.feeds) feeds, \(k.reseeds) reseeds, \(ByteSize.human(k.bytesMixed)) mixed"
                : "kernel: WRITE MODE (no CAP_SYS_ADMIN: mixed, not credited, no reseed), \(ByteSize.human(k.bytesMixed)) written"
            if let last = k.lastFeedAt { kernel += ", last feed \(Age.text(now - last)) ago" }
            if k.bitsCredited > 0 { kernel += ", \(k.bitsCredited) bits credited before the CRNG was ready" }
            let failures = k.addEntropyFailures.values.reduce(0, +) + k.reseedFailures.values.reduce(0, +)
            if failures > 0 { kernel += ", \(failures) failed calls" }
            parts.append(kernel)
        }
        if s.windowsDropped > 0 { parts.append("\(s.windowsDropped) windows failed health tests") }
        // While connected, the last failure stays visible (with its age) until the next one.
        if s.connected, let failure = s.lastFailure, let at = s.lastFailureAt {
            parts.append("last error \(Age.text(now - at)) ago: \(failure.prefix(120))")
        }
        return parts.joined(separator: ", ")
    }
}

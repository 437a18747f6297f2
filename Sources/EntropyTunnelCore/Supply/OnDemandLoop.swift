import Logging

/// `--connection on-demand` (the kernel sink's default), run on a thread of its own: a small
/// reserve of health-tested bytes in memory feeds the kernel sink on its schedule; when it falls
/// below a quarter it is filled in one short session, and no connection is held in between.
///
/// Every fill goes through the same host choice, failover, per-host backoff, host-key check and
/// health tests as a persistent connection (`ConnectionLoop`'s `connect`, `failed` and
/// `HostState`); each fill starts again from the most preferred host that may be tried, so there
/// is no failback probe. While fills fail, the kernel sink is still fed from what is left.
final class OnDemandLoop: Sendable {
    let configuration: RunConfiguration
    let stats: TunnelStats
    let waker: Waker
    let logger: Logger
    private let connections: ConnectionLoop
    /// Reloads (SIGHUP): the new host list and connection settings apply from the next fill.
    let reloads: ConfigurationReloads?

    init(configuration: RunConfiguration, stats: TunnelStats, waker: Waker, reloads: ConfigurationReloads? = nil,
         logger: Logger) {
        self.configuration = configuration
        self.stats = stats
        self.waker = waker
        self.logger = logger
        self.reloads = reloads
        connections = ConnectionLoop(configuration: configuration, stats: stats, waker: waker, reloads: reloads, logger: logger)
    }

    /// Fills the reserve and feeds `sink` from it until stopped; fails only when the sink fails.
    func run(sink: any ByteSink) throws(TunnelError) {
        var hosts = configuration.hosts
        let reserve = ReserveSink(capacity: configuration.reserve, sink: sink)
        var state = HostState(count: hosts.count, backoff: configuration.backoff)
        var settings = TunnelConnection.PumpSettings()
        settings.health = configuration.health
        settings.healthFailureLimit = configuration.healthFailureLimit
        stats.update {
            $0.hosts = hosts.map(TunnelStats.HostStatus.init(host:))
            $0.reserve = TunnelStats.ReserveCounters(capacity: reserve.capacity)
        }

        while !waker.isWoken {
            if let reloaded = reloads?.take() {
                // No connection is held between fills: the new list applies from the next one.
                var none: ConnectionLoop.Current?
                connections.applyReload(reloaded, hosts: &hosts, state: &state, current: &none)
                logger.info("reload applied: the next fill uses the new host list", metadata: ["hosts": "\(hosts.count)"])
            }
            try feed(reserve)
            guard reserve.needsFill else {
                if try wait(until: nil, reserve: reserve) { return }
                continue
            }
            guard let index = state.firstEligible(below: hosts.count) else {
                if try wait(until: state.earliestRetry(below: hosts.count), reserve: reserve) { return }
                continue
            }
            // A window of the fill's size: a plain reader (dd) cannot push more than that ahead
            // into the session, where it would be lost at the close (serve sends only what is asked).
            let request = reserve.fillRequest
            let window = ByteSize(bytes: max(ConnectionOptions.minimumWindow, request))
            guard let current = try connections.connect(index, state: &state, window: window) else { continue }
            let before = reserve.level
            settings.byteLimit = request
            do throws(TunnelError) {
                let outcome = try current.connection.pump(into: reserve, settings: settings, waker: waker, stats: stats)
                current.connection.close(quickly: waker.isWoken)
                stats.update { $0.connected = false }
                if case .stopped = outcome { return }
                state.succeeded(index)
                let duration = Instant.now - current.since
                stats.update { $0.reserve?.fills += 1; $0.reserve?.level = reserve.level; $0.reserve?.lastHost = "\(hosts[index])" }
                stats.emit(.reserveFilled(hosts[index]))
                logger.info("reserve filled", metadata: [
                    "host": "\(hosts[index])", "bytes": "\(current.connection.delivered)",
                    "reserve": "\(reserve.level)", "was": "\(before)",
                    "session_ms": "\(duration.nanoseconds / 1_000_000)",
                ])
            } catch where error.code == .stopped {
                current.connection.close(quickly: true)
                stats.update { $0.connected = false }
                return
            } catch where error.code == .sink {
                current.connection.close(quickly: true)
                stats.update { $0.connected = false }
                throw error
            } catch {
                // What arrived before the failure passed the health tests and stays in the reserve.
                let uptime = Instant.now - current.since
                current.connection.close(quickly: true)
                stats.update { $0.connected = false; $0.reserve?.level = reserve.level }
                connections.failed(index, error, uptime: uptime, state: &state)
            }
        }
    }

    /// Feeds the sink what it takes now and records the reserve's level.
    private func feed(_ reserve: ReserveSink) throws(TunnelError) {
        if try reserve.feed() > 0 {
            let level = reserve.level
            stats.update { $0.reserve?.level = level }
        }
    }

    /// Waits until `deadline` (nil: until the reserve needs a fill) or a stop, feeding the sink
    /// whenever its timer fires (or SIGUSR1 fires it), with a 1-second tick for the heartbeat and
    /// the sink's check; returns true on stop.
    private func wait(until deadline: Instant?, reserve: ReserveSink) throws(TunnelError) -> Bool {
        while !waker.isWoken {
            if let deadline, Instant.now >= deadline { return false }
            if deadline == nil, reserve.needsFill { return false }
            stats.beat()
            var poller = Poller()
            poller.add(waker.fd, .readable)
            poller.add(reserve.descriptor, reserve.pollEvents)
            if let reloads {
                if reloads.isPending { return false }
                poller.add(reloads.fd, .readable)
            }
            _ = try poller.wait(until: min(deadline ?? .distantFuture, .now + .seconds(1)))
            if waker.isWoken { return true }
            try reserve.revalidate()
            try feed(reserve)
        }
        return true
    }
}

import Logging
import Synchronization

/// The daemon's connection policy, run on a thread of its own: which host to use, when to fail
/// over, when to go back, how long to wait. Ends only when stopped.
///
/// - Hosts are tried in order of preference; each has its own backoff streak and the earliest
///   time it may be tried again. A failure moves on to the next host that may be tried now, or
///   waits for the first one that may.
/// - Host-key and authentication failures are configuration problems: during the first minutes
///   after start (the admin is probably fixing it) that host is tried again every few seconds,
///   later only after the backoff cap, never in a tight loop (`HostState`).
/// - On a fallback host, every failback interval the pump pauses (the connection stays open)
///   while the preferred hosts are probed with a full connection; the first that works takes
///   over, and if none does the pump goes on with the fallback, which never noticed.
/// - A reload (`reloads`) interrupts the pump, not the connection: the new host list applies,
///   and the connection is kept when its host is still in the list (see `applyReload`).
/// - During a key rotation (connected with `IDENTITY.old`), every minute (or failback interval,
///   when shorter) the pump pauses likewise while the same host is tried with the new key alone;
///   when it is accepted, the new connection takes over and the old one is closed.
/// - A private key this process cannot use is a problem of this machine, not of a host: it is
///   logged once and checked again every 10 s, and no host is marked failed for it.
final class ConnectionLoop: Sendable {
    /// The configuration in force: the one given, or the last reload applied.
    var configuration: RunConfiguration { active.withLock { $0 } }
    private let active: Mutex<RunConfiguration>
    let stats: TunnelStats
    let waker: Waker
    let reloads: ConfigurationReloads?
    let logger: Logger

    init(configuration: RunConfiguration, stats: TunnelStats, waker: Waker, reloads: ConfigurationReloads? = nil,
         logger: Logger) {
        self.active = Mutex(configuration)
        self.stats = stats
        self.waker = waker
        self.reloads = reloads
        self.logger = logger
    }

    /// The connection in use and since when.
    struct Current {
        var index: Int
        var connection: TunnelConnection
        var since: Instant
        /// When the preferred hosts are probed next (nil: not scheduled yet).
        var failbackAt: Instant?
        /// Authenticated with `IDENTITY.old`: the host does not accept the new key yet.
        var usesPreviousKey: Bool { connection.session.authenticatedIdentity != connection.options.identity }
    }

    /// Connects and pumps into `sink` until stopped; fails only when the sink itself fails.
    func run(sink: any ByteSink) throws(TunnelError) {
        var hosts = configuration.hosts
        var state = HostState(count: hosts.count, backoff: configuration.backoff)
        var settings = TunnelConnection.PumpSettings()
        settings.interrupt = reloads
        settings.health = configuration.health
        settings.healthFailureLimit = configuration.healthFailureLimit
        var current: Current?
        stats.update { $0.hosts = hosts.map(TunnelStats.HostStatus.init(host:)) }
        // Explicit, ordered teardown of whatever connection is open when the loop ends.
        defer { current?.connection.close(quickly: waker.isWoken) }

        var keyProblem: String?
        while !waker.isWoken {
            if let reloaded = reloads?.take() {
                applyReload(reloaded, hosts: &hosts, state: &state, current: &current)
            }
            if current == nil, let problem = localKeyProblem() {
                if problem.message != keyProblem { reportLocal(problem) }
                keyProblem = problem.message
                if try wait(until: .now + .seconds(10), sink: sink) { return }
                continue
            }
            keyProblem = nil
            if current == nil {
                guard let index = state.firstEligible(below: hosts.count) else {
                    if try wait(until: state.earliestRetry(below: hosts.count), sink: sink) { return }
                    continue
                }
                current = try connect(index, state: &state)
                continue
            }
            let index = current!.index
            if current!.failbackAt == nil {
                current!.failbackAt = index == 0 ? .distantFuture
                    : max(.now + configuration.failbackInterval, state.earliestRetry(below: index))
            }
            let keyProbeAt: Instant = current!.usesPreviousKey ? .now + min(.seconds(60), configuration.failbackInterval) : .distantFuture
            settings.until = min(current!.failbackAt!, keyProbeAt)
            do throws(TunnelError) {
                switch try current!.connection.pump(into: sink, settings: settings, waker: waker, stats: stats) {
                case .stopped, .limitReached:
                    return
                case .timeUp:
                    if reloads?.isPending == true { continue }
                    if current!.usesPreviousKey, let renewed = try probeNewKey(index) {
                        logger.notice("switched to the new key", metadata: ["host": "\(hosts[index])", "identity": "\(renewed.connection.options.identity)"])
                        current!.connection.close()
                        current = renewed
                        continue
                    }
                    guard Instant.now >= current!.failbackAt! else { continue }
                    current!.failbackAt = nil
                    if let better = try probePreferred(below: index, state: &state) {
                        logger.info("back on a preferred host", metadata: ["host": "\(hosts[better.index])", "left": "\(hosts[index])"])
                        current!.connection.close()
                        current = better
                    }
                }
            } catch where error.code == .stopped {
                return
            } catch where error.code == .sink {
                throw error
            } catch {
                let uptime = Instant.now - current!.since
                current!.connection.close(quickly: true)
                current = nil
                stats.update { $0.connected = false }
                failed(index, error, uptime: uptime, state: &state)
            }
        }
    }

    /// Puts a reloaded configuration in force. The connection stays open when its host is still
    /// in the list and the options to reach it are unchanged (it moves to its new place in the
    /// order; failback applies from there); otherwise it is closed and the new list is tried in
    /// order. Every host may be tried at once again: the admin has just changed something.
    func applyReload(_ new: RunConfiguration, hosts: inout [HostSpec], state: inout HostState, current: inout Current?) {
        let old = configuration
        active.withLock { $0 = new }
        hosts = new.hosts
        state = HostState(count: hosts.count, backoff: new.backoff)
        stats.update { $0.hosts = hosts.map(TunnelStats.HostStatus.init(host:)) }
        guard let open = current else { return }
        let host = old.hosts[open.index]
        if let index = hosts.firstIndex(of: host), new.connectionOptions(for: host) == old.connectionOptions(for: host) {
            current!.index = index
            current!.failbackAt = nil
            logger.info("reload keeps the connection", metadata: ["host": "\(host)", "position": "\(index + 1) of \(hosts.count)"])
            return
        }
        let reason = hosts.contains(host) ? "the options to reach it changed" : "it is no longer in the host list"
        logger.notice("reload closes the connection to \(host): \(reason)", metadata: ["host": "\(host)"])
        open.connection.close()
        current = nil
        stats.update { $0.connected = false }
    }

    /// Opens a connection to host `index`; on failure records it and returns nil. `window`: at
    /// most this SSH channel window (an on-demand fill's size), whatever the configured one.
    func connect(_ index: Int, state: inout HostState, window: ByteSize? = nil) throws(TunnelError) -> Current? {
        let host = configuration.hosts[index]
        stats.update { $0.connecting = host }
        stats.emit(.connecting(host))
        do throws(TunnelError) {
            var options = configuration.connectionOptions(for: host)
            if let window, window.bytes < options.window.bytes { options.window = window }
            let connection = try TunnelConnection.open(options, waker: waker, logger: logger)
            recordConnected(index, connection)
            stats.update { $0.connecting = nil }
            state.connected(index)
            return Current(index: index, connection: connection, since: .now)
        } catch where error.code == .stopped {
            stats.update { $0.connecting = nil }
            return nil
        } catch {
            failed(index, error, uptime: .zero, state: &state)
            return nil
        }
    }

    /// Records a new connection to host `index` in the stats, and logs a key rotation under way.
    private func recordConnected(_ index: Int, _ connection: TunnelConnection) {
        let host = configuration.hosts[index]
        let hostKey = "\(connection.session.hostKeyType?.rawValue ?? "?") \(connection.session.hostKeyFingerprint)"
        let now = WallClock.now()
        let clientKey = connection.session.authenticatedIdentity
        if clientKey != connection.options.identity {
            logger.notice("authenticated with the previous key: the host does not accept the new one yet", metadata: [
                "host": "\(host)", "identity": "\(clientKey)", "new_identity": "\(connection.options.identity)"])
        }
        stats.update {
            $0.host = host; $0.connected = true; $0.connections += 1
            $0.connectedSince = now; $0.hostKey = hostKey; $0.bytesAtConnect = $0.bytesDelivered
            $0.clientKey = clientKey
            if $0.hosts.indices.contains(index) { $0.hosts[index].retryAt = nil; $0.hosts[index].failing = false }
        }
        stats.emit(.connected(host))
    }

    /// Tries host `index` with the new key alone (no fallback to `.old`); nil while it is refused.
    private func probeNewKey(_ index: Int) throws(TunnelError) -> Current? {
        var options = configuration.connectionOptions(for: configuration.hosts[index])
        options.allowPreviousIdentity = false
        let started = Instant.now
        do throws(TunnelError) {
            let connection = try TunnelConnection.open(options, waker: waker, logger: logger)
            recordConnected(index, connection)
            return Current(index: index, connection: connection, since: .now)
        } catch where error.code == .stopped {
            return nil
        } catch {
            logger.info("the new key is not accepted yet", metadata: [
                "host": "\(configuration.hosts[index])", "probe_ms": "\((Instant.now - started).nanoseconds / 1_000_000)",
                "error": "\(error.message)"])
            return nil
        }
    }

    /// Why this process cannot use its private key, if it cannot (checked before each connection).
    private func localKeyProblem() -> TunnelError? {
        do throws(TunnelError) {
            try PrivateKeyFile.check(configuration.connection.identity)
            return nil
        } catch {
            return error
        }
    }

    /// Logs a local key problem once, without blaming or failing any host.
    private func reportLocal(_ error: TunnelError) {
        logger.error("\(error.message)", metadata: ["problem": "local", "retry_in": "10 s"])
        let now = WallClock.now()
        stats.update { $0.lastFailure = error.message; $0.lastFailureAt = now; $0.lastError = error.message }
    }

    /// Tries the hosts preferred to `index` that may be tried now, in order; returns the first
    /// that connects. The current connection stays open meanwhile.
    private func probePreferred(below index: Int, state: inout HostState) throws(TunnelError) -> Current? {
        while let candidate = state.firstEligible(below: index), !waker.isWoken {
            if let connected = try connect(candidate, state: &state) { return connected }
        }
        return nil
    }

    /// Logs a failure of host `index` and schedules its next try.
    func failed(_ index: Int, _ error: TunnelError, uptime: Duration, state: inout HostState) {
        let hosts = configuration.hosts
        let delay = state.failed(index, configurationProblem: error.isConfigurationProblem, uptime: uptime)
        var metadata: Logger.Metadata = ["host": "\(hosts[index])"]
        let next = state.firstEligible(below: hosts.count)
        if let next {
            metadata["failover_to"] = "\(hosts[next])"
        } else {
            metadata["retry_in"] = "\(Double(delay.nanoseconds / 1_000_000) / 1000) s"
        }
        let times = state.recordMessage(index, error.message)
        if times > 1 {
            // The same failure again (quick retries): said once at its level, then quieter.
            metadata["times"] = "\(times)"
            logger.notice("again: \(error.message)", metadata: metadata)
        } else if error.isConfigurationProblem || error.code == .healthTestFailed || error.code == .remoteCommandFailed {
            logger.error("\(error.message)", metadata: metadata)
        } else {
            logger.warning("\(error.message)", metadata: metadata)
        }
        let now = WallClock.now()
        stats.update {
            $0.connecting = nil
            $0.lastFailure = error.message
            $0.lastFailureAt = now
            if $0.hosts.indices.contains(index) {
                $0.hosts[index].retryAt = now + delay.seconds
                $0.hosts[index].failing = true
                $0.hosts[index].lastError = error.message
                $0.hosts[index].lastErrorAt = now
            }
        }
        stats.emit(.failed(hosts[index], error))
    }

    /// Waits until `deadline` or a stop, checking the sink once a second; returns true on stop.
    private func wait(until deadline: Instant, sink: any ByteSink) throws(TunnelError) -> Bool {
        while Instant.now < deadline {
            stats.beat()
            var poller = Poller()
            poller.add(waker.fd, .readable)
            if let reloads {
                poller.add(reloads.fd, .readable)
                if reloads.isPending { return false }
            }
            if try poller.wait(until: min(deadline, .now + .seconds(1))) { return true }
            try sink.revalidate()
        }
        return false
    }
}

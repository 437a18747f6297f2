import Logging

/// The daemon's connection policy, run on a thread of its own: which host to use, when to fail
/// over, when to go back, how long to wait. Ends only when stopped.
///
/// - Hosts are tried in order of preference; each has its own backoff streak and the earliest
///   time it may be tried again. A failure moves on to the next host that may be tried now, or
///   waits for the first one that may.
/// - Host-key and authentication failures are configuration problems: that host is tried again
///   only after the backoff cap, never in a tight loop.
/// - On a fallback host, every failback interval the pump pauses (the connection stays open)
///   while the preferred hosts are probed with a full connection; the first that works takes
///   over, and if none does the pump goes on with the fallback, which never noticed.
/// - During a key rotation (connected with `IDENTITY.old`), every minute (or failback interval,
///   when shorter) the pump pauses likewise while the same host is tried with the new key alone;
///   when it is accepted, the new connection takes over and the old one is closed.
/// - A private key this process cannot use is a problem of this machine, not of a host: it is
///   logged once and checked again every 10 s, and no host is marked failed for it.
final class ConnectionLoop: Sendable {
    let configuration: RunConfiguration
    let stats: TunnelStats
    let waker: Waker
    let logger: Logger

    init(configuration: RunConfiguration, stats: TunnelStats, waker: Waker, logger: Logger) {
        self.configuration = configuration
        self.stats = stats
        self.waker = waker
        self.logger = logger
    }

    /// The connection in use and since when.
    private struct Current {
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
        let hosts = configuration.hosts
        var state = HostState(count: hosts.count, backoff: configuration.backoff)
        var settings = TunnelConnection.PumpSettings()
        settings.health = configuration.health
        settings.healthFailureLimit = configuration.healthFailureLimit
        var current: Current?
        stats.update { $0.hosts = hosts.map(TunnelStats.HostStatus.init(host:)) }
        // Explicit, ordered teardown of whatever connection is open when the loop ends.
        defer { current?.connection.close(quickly: waker.isWoken) }

        var keyProblem: String?
        while !waker.isWoken {
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

    /// Opens a connection to host `index`; on failure records it and returns nil.
    private func connect(_ index: Int, state: inout HostState) throws(TunnelError) -> Current? {
        let host = configuration.hosts[index]
        do throws(TunnelError) {
            let connection = try TunnelConnection.open(configuration.connectionOptions(for: host), waker: waker, logger: logger)
            recordConnected(index, connection)
            return Current(index: index, connection: connection, since: .now)
        } catch where error.code == .stopped {
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
    private func failed(_ index: Int, _ error: TunnelError, uptime: Duration, state: inout HostState) {
        let hosts = configuration.hosts
        let delay = state.failed(index, configurationProblem: error.isConfigurationProblem, uptime: uptime)
        var metadata: Logger.Metadata = ["host": "\(hosts[index])"]
        let next = state.firstEligible(below: hosts.count)
        if let next {
            metadata["failover_to"] = "\(hosts[next])"
        } else {
            metadata["retry_in"] = "\(Double(delay.nanoseconds / 1_000_000) / 1000) s"
        }
        if error.isConfigurationProblem || error.code == .healthTestFailed || error.code == .remoteCommandFailed {
            logger.error("\(error.message)", metadata: metadata)
        } else {
            logger.warning("\(error.message)", metadata: metadata)
        }
        let now = WallClock.now()
        stats.update {
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
            if try poller.wait(until: min(deadline, .now + .seconds(1))) { return true }
            try sink.revalidate()
        }
        return false
    }
}

/// Per-host retry bookkeeping: each host's backoff streak and earliest next try. A value.
struct HostState {
    private var backoffs: [Backoff]
    private var notBefore: [Instant]
    private let cap: Duration

    init(count: Int, backoff: Backoff.Configuration) {
        backoffs = Array(repeating: Backoff(backoff), count: count)
        notBefore = Array(repeating: .now, count: count)
        cap = backoff.cap
    }

    /// The most preferred host before `end` that may be tried now.
    func firstEligible(below end: Int, now: Instant = .now) -> Int? {
        (0..<end).first { notBefore[$0] <= now }
    }

    /// When the first of the hosts before `end` may be tried again.
    func earliestRetry(below end: Int) -> Instant {
        notBefore[0..<end].min() ?? .now
    }

    /// Records a failure after `uptime`; returns the delay before that host's next try.
    mutating func failed(_ index: Int, configurationProblem: Bool, uptime: Duration) -> Duration {
        // Retrying cannot fix a configuration problem: wait the longest delay, not in a tight loop.
        let delay = configurationProblem ? cap : backoffs[index].nextDelay(afterRunningFor: uptime)
        notBefore[index] = .now + delay
        return delay
    }
}

import Logging

/// The supply loop's connections: opening them (for supply, a failback probe, the new key),
/// their failures, their end, and reloads. What to do is the plan's decision; this performs it
/// and says what happened in the log and the stats.
extension SupplyLoop {
    /// Opens a connection to host `index` and supplies from it; on demand it is one fill.
    func connect(_ index: Int) throws(TunnelError) {
        closeHeld()  // none is held when the plan says connect; never leak one
        var options = settings.options(for: settings.hosts[index])
        if settings.policy == .onDemand {
            let goal = max(HealthParameters.windowSize,
                           (reserve.capacity - reserve.ready) / HealthParameters.windowSize * HealthParameters.windowSize)
            fill = Fill(goal: goal, was: reserve.ready)
            // A window of the fill's size: a plain reader (dd) cannot push more than that ahead
            // into the session, where it would be lost at the close (serve sends only what is asked).
            let window = ByteSize(bytes: max(ConnectionOptions.minimumWindow, goal))
            if window.bytes < options.window.bytes { options.window = window }
        }
        guard let connection = open(index, options) else {
            fill = nil
            return
        }
        held = (index, connection)
        plan.connected(index, previousKey: connection.usesPreviousKey, at: .now)
    }

    /// Keeps the held connection open (paused) and tries the preferred host `index`; the first
    /// that connects takes over.
    func probe(_ index: Int) throws(TunnelError) {
        guard let connection = open(index, settings.options(for: settings.hosts[index])) else { return }
        if let held {
            logger.info("back on a preferred host", metadata: ["host": "\(settings.hosts[index])", "left": "\(settings.hosts[held.index])"])
        }
        switchTo(index, connection)
    }

    /// Keeps the held connection (made with `IDENTITY.old`) open and tries its host with the new
    /// key alone; when the host accepts it, the new connection takes over.
    func probeNewKey(_ index: Int) throws(TunnelError) {
        var options = settings.options(for: settings.hosts[index])
        options.allowPreviousIdentity = false
        let started = Instant.now
        do throws(TunnelError) {
            let connection = try Connection.open(options, health: health(for: settings.hosts[index]), waker: waker,
                                                 stats: stats, logger: logger)
            logger.notice("switched to the new key", metadata: ["host": "\(settings.hosts[index])", "identity": "\(options.identity)"])
            switchTo(index, connection)
        } catch where error.code == .stopped {
            return
        } catch {
            logger.info("the new key is not accepted yet", metadata: [
                "host": "\(settings.hosts[index])", "probe_ms": "\((Instant.now - started).nanoseconds / 1_000_000)",
                "error": "\(error.message)"])
            plan.keyProbeFailed(at: .now)
        }
    }

    /// A new connection replaces the held one: the old one's partial window goes with it.
    private func switchTo(_ index: Int, _ connection: Connection) {
        closeHeld()
        recordConnected(index, connection)
        held = (index, connection)
        plan.connected(index, previousKey: connection.usesPreviousKey, at: .now)
    }

    /// Opens a connection to host `index`; records it, or its failure (then nil).
    private func open(_ index: Int, _ options: ConnectionOptions) -> Connection? {
        let host = settings.hosts[index]
        stats?.update { $0.connecting = host }
        stats?.emit(.connecting(host))
        do throws(TunnelError) {
            let connection = try Connection.open(options, health: health(for: host), waker: waker, stats: stats, logger: logger)
            if held == nil { recordConnected(index, connection) }
            return connection
        } catch where error.code == .stopped {
            stats?.update { $0.connecting = nil }
            return nil
        } catch {
            failed(index, error, uptime: .zero)
            return nil
        }
    }

    /// The held connection to host `index` failed: it is closed and the failure recorded. What it
    /// brought and the consumer has not taken yet goes with it when its source was judged broken
    /// (nothing of a failed source is passed on after the verdict) and, with a held connection
    /// or fetch, always, as the stream's buffer always did; an on-demand fill keeps what passed.
    func connectionFailed(_ index: Int, _ error: TunnelError) {
        let uptime = held.map { Instant.now - $0.connection.since } ?? .zero
        fill = nil
        if settings.policy != .onDemand || error.code == .healthTestFailed {
            reserve.dropUnjudged()
            reserve.dropNewest(fromHeld)
        }
        closeHeld(quickly: true)
        failed(index, error, uptime: uptime)
    }

    /// The held connection's work is done (on demand: the fill is complete): it is closed, then
    /// the fill is recorded, so that the state written for it holds no connection.
    func closeCompleted() {
        plan.closed(at: .now)
        guard let fill, let held else {
            closeHeld()
            return
        }
        self.fill = nil
        let host = settings.hosts[held.index]
        let sessionTime = Instant.now - held.connection.since
        closeHeld()
        let level = reserve.ready
        stats?.update { $0.reserve?.fills += 1; $0.reserve?.level = level; $0.reserve?.lastHost = "\(host)" }
        stats?.emit(.reserveFilled(host))
        logger.info("reserve filled", metadata: [
            "host": "\(host)", "bytes": "\(held.connection.reader.passed)", "reserve": "\(level)", "was": "\(fill.was)",
            "session_ms": "\(sessionTime.nanoseconds / 1_000_000)",
        ])
    }

    /// The host of the held connection ended it while nothing was asked (`serve --idle-timeout`):
    /// closed without blame; the next connection comes when the consumer wants bytes.
    func hostEndedIdle(_ index: Int) {
        let host = settings.hosts[index]
        fill = nil
        closeHeld()
        plan.endedIdle(at: .now)
        let now = WallClock.now()
        stats?.update { $0.idleSince = now }
        stats?.emit(.idle(host))
        logger.info("no connection held until bytes are wanted: the host ended the session, as nothing was asked of it",
                    metadata: ["host": "\(host)"])
    }

    /// Closes the held connection, if any, in order; its unjudged bytes are dropped.
    func closeHeld(quickly: Bool = false) {
        guard let held else { return }
        // The connection's own host: after a reload `held.index` may be an index of the old list.
        lastSession = Session(host: held.connection.options.host, hostKey: held.connection.hostKey,
                              identity: held.connection.authenticatedIdentity, serveVersion: held.connection.reader.serveVersion,
                              passed: held.connection.reader.passed)
        passedEarlier += held.connection.reader.passed
        held.connection.close(quickly: quickly || waker.isWoken)
        self.held = nil
        fromHeld = 0
        reserve.dropUnjudged()
        stats?.update { $0.connected = false; $0.connecting = nil }
    }

    /// The health state of `host`, made on first use.
    func health(for host: HostSpec) -> HostHealth {
        if let health = healths[host] { return health }
        let health = HostHealth(settings.health)
        healths[host] = health
        return health
    }

    /// Records a new connection to host `index` in the stats, and logs a key rotation under way.
    func recordConnected(_ index: Int, _ connection: Connection) {
        let host = settings.hosts[index]
        let hostKey = connection.hostKey
        let now = WallClock.now()
        let clientKey = connection.authenticatedIdentity
        if connection.usesPreviousKey {
            logger.notice("authenticated with the previous key: the host does not accept the new one yet", metadata: [
                "host": "\(host)", "identity": "\(clientKey)", "new_identity": "\(connection.options.identity)"])
        }
        stats?.update {
            $0.host = host; $0.connected = true; $0.connections += 1; $0.connecting = nil
            $0.connectedSince = now; $0.hostKey = hostKey; $0.bytesAtConnect = $0.bytesDelivered
            $0.clientKey = clientKey; $0.idleSince = nil
            if $0.hosts.indices.contains(index) {
                $0.hosts[index].retryAt = nil; $0.hosts[index].failing = false; $0.hosts[index].clientKey = clientKey
            }
        }
        stats?.emit(.connected(host))
    }

    /// Records a failure of host `index` as the plan takes it, and says so.
    func failed(_ index: Int, _ error: TunnelError, uptime: Duration) {
        lastError = error
        let host = settings.hosts[index]
        let now = WallClock.now()
        switch plan.failed(index, error, uptime: uptime, at: .now) {
        case .local(let news):
            // This machine's problem: no host is blamed or failed over.
            if news && settings.policy != .once {
                logger.error("\(error.message)", metadata: ["problem": "local", "retry_in": "\(Int(plan.timing.localRecheck.seconds)) s"])
            }
            stats?.update {
                $0.connecting = nil; $0.lastFailure = error.message; $0.lastFailureAt = now; $0.lastError = error.message
                $0.idleSince = nil
            }
            return
        case .host(let failure):
            var metadata: Logger.Metadata = ["host": "\(host)"]
            if settings.policy == .once { metadata["bytes_so_far"] = "\(passedEarlier)" }
            if let next = failure.failoverTo {
                metadata["failover_to"] = "\(settings.hosts[next])"
            } else {
                metadata["retry_in"] = "\(Double(failure.retryIn.nanoseconds / 1_000_000) / 1000) s"
            }
            switch failure.level {
            case .notice:
                metadata["times"] = "\(failure.times)"
                logger.notice("again: \(error.message)", metadata: metadata)
            case .error: logger.error("\(error.message)", metadata: metadata)
            case .warning: logger.warning("\(error.message)", metadata: metadata)
            case .quiet: break
            }
            stats?.update {
                $0.connecting = nil
                $0.idleSince = nil
                $0.lastFailure = error.message
                $0.lastFailureAt = now
                if $0.hosts.indices.contains(index) {
                    $0.hosts[index].retryAt = now + failure.retryIn.seconds
                    $0.hosts[index].failing = true
                    $0.hosts[index].lastError = error.message
                    $0.hosts[index].lastErrorAt = now
                }
            }
            stats?.emit(.failed(host, error))
        }
    }

    /// Puts a reloaded (and validated) configuration in force. The held connection stays when its
    /// host is still listed and the options to reach it are unchanged (it moves to its new place
    /// in the order); otherwise it is closed and the new list is tried in order.
    func applyReload(_ new: RunConfiguration) {
        let old = settings
        settings.apply(new)
        let hosts = settings.hosts
        var keeping: Int?
        if let held {
            let host = old.hosts[held.index]
            if let index = hosts.firstIndex(of: host), settings.options(for: host) == old.options(for: host) {
                keeping = index
                self.held = (index, held.connection)
                logger.info("reload keeps the connection", metadata: ["host": "\(host)", "position": "\(index + 1) of \(hosts.count)"])
            } else {
                let reason = hosts.contains(host) ? "the options to reach it changed" : "it is no longer in the host list"
                logger.notice("reload closes the connection to \(host): \(reason)", metadata: ["host": "\(host)"])
                fill = nil
                closeHeld()
            }
        } else if settings.policy == .onDemand {
            logger.info("reload applied: the next fill uses the new host list", metadata: ["hosts": "\(hosts.count)"])
        }
        let home = plan.home.flatMap { old.hosts.indices.contains($0) ? hosts.firstIndex(of: old.hosts[$0]) : nil }
        plan.reload(hostCount: hosts.count, keeping: keeping, home: home, backoff: settings.backoff,
                    failbackInterval: settings.failbackInterval, at: .now)
        healths = healths.filter { hosts.contains($0.key) }
        stats?.update { snapshot in
            let keys = Dictionary(snapshot.hosts.map { ($0.host, $0.clientKey) }, uniquingKeysWith: { first, _ in first })
            snapshot.hosts = hosts.map { host in
                var status = TunnelStats.HostStatus(host: host)
                status.clientKey = keys[host] ?? nil
                return status
            }
        }
    }
}

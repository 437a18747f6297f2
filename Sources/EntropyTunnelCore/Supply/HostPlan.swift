/// Which host to use and when, as a value: the supply loop reports what happened (connected,
/// failed, closed, reloaded) and asks for the next action, which it performs. No I/O, no clock
/// of its own (every call takes `now`), so it is tested as a table.
///
/// - Hosts are tried in order of preference; each keeps its own backoff streak and earliest next
///   try (`HostState`). A failure moves on to the next host that may be tried now, or waits for
///   the first one that may.
/// - The host supply comes from (`home`) stays in use while it works: when it is a fallback,
///   the preferred hosts are tried again only every failback interval (`probe` while a
///   connection is held; on demand, the next fill tries them first). On demand a failed host's
///   fills move to the host failed over to until then, and a fill that works does not reset that
///   schedule, so a broken preferred host is not retried at every fill.
/// - During a key rotation (connected with `IDENTITY.old`), the same host is tried with the new
///   key alone every min(60 s, failback interval) (`probeNewKey`, persistent connections; each
///   on-demand session tries the new key first anyway).
/// - A problem of this machine (the private key, known_hosts) blames no host: no host is tried
///   for 10 s, and it is said once (`failed` returns `.local`).
/// - A host that ends a session normally while nothing was asked of it (`serve --idle-timeout`:
///   the consumer took nothing for that long) is not failing: no backoff, no failover, and with
///   `persistent` and `once` no new connection until the consumer wants bytes again (`idle`).
/// - A reload starts every host's retry bookkeeping over (the admin has just changed something)
///   and keeps the connection when the loop says its host is still listed unchanged.
package struct HostPlan: Sendable {
    /// How connections are used: the one difference between `run`'s modes, `fetch` and `check`.
    package enum Policy: Sendable, Equatable {
        /// Hold one connection and stream through it (`run`; the FIFO sinks' default).
        case persistent
        /// Connect when the reserve needs a fill, close once it is filled (`run`; the kernel
        /// sink's default).
        case onDemand
        /// Each host once, in order, until the consumer has what it wants (`fetch`, `check`).
        case once
    }

    /// What the loop does next.
    package enum Action: Sendable, Equatable {
        /// Open a connection to host `i` and supply from it.
        case connect(Int)
        /// Go on reading from the held connection; ask again at `until` at the latest.
        case keep(until: Instant)
        /// Keep the held connection open (paused) and try the preferred host `i`; if it
        /// connects, it takes over.
        case probe(Int)
        /// Keep the held connection open (paused) and try its host with the new key alone.
        case probeNewKey(Int)
        /// Close the held connection: its work is done (a fill, fetch's count) or not wanted.
        case close
        /// Nothing to try before `until` (hosts backing off, a local problem, nothing wanted).
        case wait(until: Instant)
        /// `once`: every host was tried (or this machine cannot connect at all).
        case giveUp
    }

    package struct Timing: Sendable, Equatable {
        /// While on a fallback, how often the preferred hosts are tried again.
        package var failbackInterval: Duration
        /// How soon a problem of this machine is looked at again.
        package var localRecheck: Duration = .seconds(10)

        package init(failbackInterval: Duration) { self.failbackInterval = failbackInterval }

        /// How often a host that accepts only the previous key is tried with the new one.
        package var keyProbeInterval: Duration { min(.seconds(60), failbackInterval) }
    }

    /// The connection held.
    package struct Current: Sendable, Equatable {
        package var index: Int
        package var since: Instant
        /// Authenticated with `IDENTITY.old`: the host does not accept the new key yet.
        package var previousKey: Bool
    }

    /// A problem of this machine, and when hosts are tried again.
    package struct LocalProblem: Sendable, Equatable {
        package var message: String
        package var until: Instant
    }

    /// What to say about a failure of a host, decided here so that it is tested with the rest.
    package struct Failure: Sendable, Equatable {
        package enum Level: Sendable, Equatable {
            /// Retrying cannot fix it (key, host key, config), or the host's RNG or command is broken.
            case error
            case warning
            /// The same failure again (the quick retries after a start): quieter.
            case notice
            /// `once` and no host left: the caller reports it.
            case quiet
        }
        package var level: Level
        /// How many times in a row this host failed with this very message.
        package var times: Int
        /// The host that may be tried now instead, if any.
        package var failoverTo: Int?
        /// When this host may be tried again.
        package var retryIn: Duration
    }

    /// How a failure was taken.
    package enum Verdict: Sendable, Equatable {
        /// A host failed.
        case host(Failure)
        /// This machine's problem: no host blamed. `news`: not said before (log it).
        case local(news: Bool)
    }

    package let policy: Policy
    package private(set) var hostCount: Int
    package private(set) var retries: HostState
    package private(set) var timing: Timing
    package private(set) var current: Current?
    /// The host supply comes from: the connected one, or on demand the last fill's (after it
    /// failed, the host failed over to). nil: the most preferred host that may be tried is next.
    package private(set) var home: Int?
    /// When the hosts preferred to `home` are tried again.
    package private(set) var failbackAt: Instant?
    /// When the held connection's host is tried with the new key alone.
    package private(set) var keyProbeAt: Instant?
    package private(set) var localProblem: LocalProblem?
    /// `once`: the hosts tried so far.
    package private(set) var tried: Set<Int> = []
    /// The host ended the last connection because nothing was asked of it: the next connection
    /// waits until the consumer wants bytes (then `home` is tried first).
    package private(set) var idle = false

    package init(policy: Policy, hostCount: Int, backoff: Backoff.Configuration, timing: Timing,
                 configurationRetry: HostState.ConfigurationRetry = .init(), now: Instant) {
        precondition(hostCount > 0)
        self.policy = policy
        self.hostCount = hostCount
        self.timing = timing
        retries = HostState(count: hostCount, backoff: backoff, startedAt: now, configurationRetry: configurationRetry)
    }

    // MARK: - The next action

    /// What to do at `now`. `wanted`: bytes are wanted now (on demand: a fill is due or under
    /// way; persistent and once: the consumer wants bytes). A persistent or once connection is
    /// held whether or not bytes are wanted (the host's window is the backpressure), and one is
    /// opened without demand too, except after the host ended an idle session.
    package mutating func next(at now: Instant, wanted: Bool) -> Action {
        if let current {
            guard wanted || policy != .onDemand else { return .close }
            guard policy == .persistent else { return .keep(until: .distantFuture) }
            if let keyProbeAt, now >= keyProbeAt { return .probeNewKey(current.index) }
            if let due = failbackAt, now >= due {
                if let better = retries.firstEligible(below: current.index, now: now) { return .probe(better) }
                failbackAt = max(now + timing.failbackInterval, retries.earliestRetry(below: current.index))
            }
            return .keep(until: min(keyProbeAt ?? .distantFuture, failbackAt ?? .distantFuture))
        }
        guard wanted || (policy != .onDemand && !idle) else { return .wait(until: .distantFuture) }
        if let localProblem {
            if policy == .once { return .giveUp }
            if now < localProblem.until { return .wait(until: localProblem.until) }
        }
        if policy == .once {
            guard let untried = (0..<hostCount).first(where: { !tried.contains($0) }) else { return .giveUp }
            return .connect(untried)
        }
        if let home, retries.mayTry(home, at: now) {
            if let due = failbackAt, now >= due {
                if let better = retries.firstEligible(below: home, now: now) { return .connect(better) }
                failbackAt = max(now + timing.failbackInterval, retries.earliestRetry(below: home))
            }
            return .connect(home)
        }
        if let first = retries.firstEligible(below: hostCount, now: now) { return .connect(first) }
        return .wait(until: retries.earliestRetry(below: hostCount))
    }

    /// When host `index` may be tried again.
    package func retryAt(_ index: Int) -> Instant { retries.notBefore(index) }

    // MARK: - Events

    /// A connection to host `index` is up (a connect, a probe or a new-key probe): it is the one
    /// held from now on (the loop closes any other).
    package mutating func connected(_ index: Int, previousKey: Bool, at now: Instant) {
        precondition(index >= 0 && index < hostCount)
        let moved = home != index
        current = Current(index: index, since: now, previousKey: previousKey)
        home = index
        retries.connected(index)
        tried.insert(index)
        localProblem = nil
        idle = false
        if moved || failbackAt == nil {
            failbackAt = index == 0 ? nil : max(now + timing.failbackInterval, retries.earliestRetry(below: index))
        }
        keyProbeAt = previousKey && policy == .persistent ? now + timing.keyProbeInterval : nil
    }

    /// The held connection was closed without a failure: on demand its fill is complete (that
    /// host's backoff streak starts over); `once`: the consumer has its bytes.
    package mutating func closed(at now: Instant) {
        guard let current else { return }
        if policy == .onDemand { retries.succeeded(current.index) }
        self.current = nil
        keyProbeAt = nil
    }

    /// The host ended the held connection normally while nothing was asked of it (`serve
    /// --idle-timeout`): not a failure. Its backoff streak starts over; it stays the home host
    /// (and, with `once`, may be tried again); no connection until bytes are wanted.
    package mutating func endedIdle(at now: Instant) {
        guard let current else { return }
        retries.succeeded(current.index)
        tried.remove(current.index)
        home = current.index
        self.current = nil
        keyProbeAt = nil
        idle = true
    }

    /// Host `index` failed (to connect, or while streaming after `uptime`), or this machine cannot
    /// connect at all (`error.isLocalProblem`: the private key or known_hosts).
    package mutating func failed(_ index: Int, _ error: TunnelError, uptime: Duration, at now: Instant) -> Verdict {
        precondition(index >= 0 && index < hostCount)
        if current?.index == index { current = nil; keyProbeAt = nil }
        if error.isLocalProblem {
            let news = localProblem?.message != error.message
            localProblem = LocalProblem(message: error.message, until: now + timing.localRecheck)
            // A failback probe that met it is not repeated at once: the held connection goes on.
            if current != nil, failbackAt != nil { failbackAt = now + timing.localRecheck }
            return .local(news: news)
        }
        tried.insert(index)
        let delay = retries.failed(index, configurationProblem: error.isConfigurationProblem, uptime: uptime, now: now)
        let times = retries.recordMessage(index, error.message)
        let failoverTo = policy == .once ? (0..<hostCount).first { !tried.contains($0) }
                                         : retries.firstEligible(below: hostCount, now: now)
        if home == index {
            if policy == .onDemand {
                // The next fill may come later, when this host may be tried again: supply moves to
                // the host failed over to and stays there until the failback interval, as a held
                // connection would.
                home = failoverTo
                if let next = failoverTo {
                    failbackAt = next == 0 ? nil : max(now + timing.failbackInterval, retries.earliestRetry(below: next))
                }
            } else {
                // A held connection is replaced at once (this host backs off, so a fallback is
                // taken and failback applies from there); a later reconnect, after a wait, takes
                // the most preferred host that may be tried then.
                home = nil
            }
        }
        let level: Failure.Level
        if policy == .once && failoverTo == nil {
            level = .quiet
        } else if times > 1 {
            level = .notice
        } else if error.isConfigurationProblem || error.code == .healthTestFailed || error.code == .remoteCommandFailed {
            level = .error
        } else {
            level = .warning
        }
        return .host(Failure(level: level, times: times, failoverTo: failoverTo, retryIn: delay))
    }

    /// The new key is still refused by the held connection's host: try again later.
    package mutating func keyProbeFailed(at now: Instant) {
        keyProbeAt = now + timing.keyProbeInterval
    }

    /// A reloaded configuration: `hostCount` hosts, the held connection's host now at `keeping`
    /// (nil: it is to be closed, the loop closes it), the home host (on demand) at `home`. Every
    /// host may be tried at once again.
    package mutating func reload(hostCount: Int, keeping: Int?, home newHome: Int?, backoff: Backoff.Configuration,
                                 failbackInterval: Duration, at now: Instant) {
        precondition(hostCount > 0)
        self.hostCount = hostCount
        retries = HostState(count: hostCount, backoff: backoff, startedAt: now, configurationRetry: retries.configurationRetry)
        timing.failbackInterval = failbackInterval
        tried = []
        localProblem = nil
        if current != nil {
            if let keeping {
                current!.index = keeping
            } else {
                current = nil
                keyProbeAt = nil
            }
        }
        home = current?.index ?? newHome
        failbackAt = home.map { $0 == 0 ? nil : now + failbackInterval } ?? nil
    }
}

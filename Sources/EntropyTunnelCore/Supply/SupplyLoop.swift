import Logging

/// The supply: one loop on one thread, the tunnel's only poll. Each round it asks the consumer
/// what it wants (`Demand`, no side effects), gives it ready bytes from the reserve, asks the
/// host plan what to do (`HostPlan.Action`), and does it: connect, read a step from the held
/// connection, probe a preferred host or the new key, close, or wait. `run` (persistent or on
/// demand), `fetch` and `check` (each host once) are this loop with another `HostPlan.Policy`.
///
/// Read top to bottom, one byte goes: channel → `StreamReader.step` (health windows judged in the
/// reserve) → `Reserve.give` → `Consumer.write` (→ `KernelRandomDevice`, the FIFO, the file).
package final class SupplyLoop {
    /// What the loop needs besides the consumer.
    package struct Settings: Sendable {
        package var hosts: [HostSpec]
        /// Everything about a connection but the host.
        package var connection: ConnectionOptions
        package var policy: HostPlan.Policy
        /// Health tests, or nil for none (fetch --no-health-tests).
        package var health: HealthParameters? = .default
        package var healthFailureLimit = 3
        package var backoff = Backoff.Configuration()
        package var failbackInterval: Duration = .seconds(300)
        /// On demand: the reserve kept in memory (`--reserve`).
        package var reserve = 4096
        /// Largest single read from the channel.
        package var readChunk = 16 << 10
        /// `once`: the loop ends with `.deadlinePassed` at this instant.
        package var deadline: Instant = .distantFuture

        package init(hosts: [HostSpec], connection: ConnectionOptions, policy: HostPlan.Policy) {
            self.hosts = hosts
            self.connection = connection
            self.policy = policy
        }

        /// `run`'s settings: on demand or persistent as configured.
        package init(_ configuration: RunConfiguration) {
            self.init(hosts: configuration.hosts, connection: configuration.connection,
                      policy: configuration.connectionMode == .onDemand ? .onDemand : .persistent)
            health = configuration.health
            healthFailureLimit = configuration.healthFailureLimit
            reserve = configuration.reserve
            apply(configuration)
        }

        /// Takes what a reload may change: the hosts, how to reach them, the pacing.
        mutating func apply(_ configuration: RunConfiguration) {
            hosts = configuration.hosts
            connection = configuration.connection
            backoff = configuration.backoff
            failbackInterval = configuration.failbackInterval
        }

        func options(for host: HostSpec) -> ConnectionOptions {
            var options = connection
            options.host = host
            return options
        }

        /// Bytes the reserve holds: on demand `--reserve`; otherwise one read and one window.
        var reserveCapacity: Int {
            policy == .onDemand ? reserve : readChunk + (health == nil ? 0 : HealthParameters.windowSize)
        }
    }

    /// How the loop ended without failing.
    package enum End: Sendable, Equatable {
        case stopped
        /// The consumer has all it wants (fetch, check).
        case satisfied
        /// `Settings.deadline` passed first.
        case deadlinePassed
    }

    /// What the last connection was (check reports it).
    package struct Session: Sendable {
        package var host: HostSpec
        package var hostKey: String
        package var identity: String
        package var serveVersion: Int?
        package var passed: Int
    }

    /// An on-demand fill under way.
    struct Fill {
        /// Bytes this fill brings: the free room in whole windows, so that `serve` sends exactly
        /// that and no partial window is read.
        var goal: Int
        var was: Int
    }

    var settings: Settings
    let consumer: any Consumer
    let waker: Waker
    let reloads: ConfigurationReloads?
    let stats: TunnelStats?
    /// Runs consumer effects (saving the seed) off this thread.
    let effects: (@Sendable (ConsumerEffect) -> Void)?
    let logger: Logger

    var plan: HostPlan
    let reserve: Reserve
    /// The connection held, and its host's index.
    var held: (index: Int, connection: Connection)?
    var fill: Fill?
    /// Each host's health state, by host: kept across connections and reloads.
    var healths: [HostSpec: HostHealth] = [:]
    /// The last host failure (`once` throws it when every host failed).
    var lastError: TunnelError?
    package internal(set) var lastSession: Session?
    /// Bytes that passed the health tests on connections closed so far.
    var passedEarlier = 0
    /// How many of the ready bytes in the reserve the held connection brought (the newest ones).
    var fromHeld = 0
    /// The consumer's last write would have blocked: wait on its descriptor.
    private var consumerBlocked = false
    private var lastLevel = -1
    private var nextHousekeeping = Instant.now

    package init(settings: Settings, consumer: any Consumer, waker: Waker, reloads: ConfigurationReloads? = nil,
         stats: TunnelStats?, effects: (@Sendable (ConsumerEffect) -> Void)? = nil, logger: Logger) {
        self.settings = settings
        self.consumer = consumer
        self.waker = waker
        self.reloads = reloads
        self.stats = stats
        self.effects = effects
        self.logger = logger
        plan = HostPlan(policy: settings.policy, hostCount: settings.hosts.count, backoff: settings.backoff,
                        timing: .init(failbackInterval: settings.failbackInterval), now: .now)
        reserve = Reserve(capacity: settings.reserveCapacity,
                          window: settings.health == nil ? nil : HealthParameters.windowSize)
    }

    /// Supplies the consumer until stopped, satisfied or past the deadline. Throws when the
    /// consumer fails (a sink error) and, with `once`, the last host failure when every host failed.
    package func run() throws(TunnelError) -> End {
        stats?.update {
            $0.hosts = settings.hosts.map(TunnelStats.HostStatus.init(host:))
            if settings.policy == .onDemand { $0.reserve = TunnelStats.ReserveCounters(capacity: reserve.capacity) }
        }
        // Explicit, ordered teardown of whatever connection is open when the loop ends.
        defer { closeHeld(quickly: true) }
        var rounds = 0
        var look = true
        while true {
            rounds += 1
            // While bytes flow the loop does not poll: look at the stop and reloads now and then.
            if look || rounds & 63 == 0 {
                stats?.beat()
                if waker.isWoken { return .stopped }
                if let reloaded = reloads?.take() { applyReload(reloaded) }
                look = false
            }
            let now = Instant.now
            if now >= settings.deadline { return .deadlinePassed }
            let demand = try deliver(at: now)
            if demand.finished {
                closeCompleted()
                return .satisfied
            }
            switch plan.next(at: now, wanted: wantsConnection(demand)) {
            case .connect(let index):
                try connect(index)
                look = true
            case .probe(let index):
                try probe(index)
                look = true
            case .probeNewKey(let index):
                try probeNewKey(index)
                look = true
            case .close:
                closeCompleted()
            case .keep(let until):
                look = try stream(until: until, demand: demand, now: now)
            case .wait(let until):
                try wait(until: until, demand: demand, now: now)
                look = true
            case .giveUp:
                throw lastError ?? TunnelError(.connectionFailed, "no host could be tried")
            }
        }
    }

    // MARK: - The consumer

    /// Gives the consumer what it takes now from the reserve; returns what it wants then.
    private func deliver(at now: Instant) throws(TunnelError) -> Demand {
        var demand = consumer.demand(at: now)
        if demand.bytes > 0 && reserve.ready > 0 {
            let older = reserve.ready - fromHeld
            var blocked = false
            let consumer = self.consumer
            let given = try reserve.give(upTo: demand.bytes) { (bytes) throws(TunnelError) -> Int in
                switch try consumer.write(bytes) {
                case .processed(let n): return n
                case .wouldBlock: blocked = true; return 0
                }
            }
            consumerBlocked = blocked
            fromHeld -= max(0, given - older)
            if given > 0 {
                stats?.consumed(given)
                demand = consumer.demand(at: now)
            }
        } else {
            consumerBlocked = false
        }
        for effect in consumer.takeEffects() { effects?(effect) }
        if settings.policy == .onDemand, reserve.ready != lastLevel {
            lastLevel = reserve.ready
            let level = lastLevel
            stats?.update { $0.reserve?.level = level }
        }
        return demand
    }

    /// Whether bytes are wanted now: on demand while the reserve is below a quarter or a fill is
    /// under way; persistent and once while the consumer wants at least its refill threshold
    /// (the plan holds their connection, and opens one, without demand too; see `HostPlan.next`).
    private func wantsConnection(_ demand: Demand) -> Bool {
        switch settings.policy {
        case .persistent, .once: return demand.bytes > 0 && demand.bytes >= demand.refillThreshold
        case .onDemand:
            if let fill, let held { return held.connection.reader.passed < fill.goal }
            return reserve.ready < reserve.capacity / 4
        }
    }

    /// How many ready bytes the reserve should hold now: what the consumer takes (persistent,
    /// once), or on demand what the fill still brings on top of what is there.
    private func need(_ demand: Demand, passed: Int) -> Int {
        guard settings.policy == .onDemand else { return demand.bytes }
        guard let fill else { return 0 }
        return reserve.ready + max(0, fill.goal - passed)
    }

    // MARK: - Streaming and waiting

    /// One step of the held connection: read if bytes are wanted, else wait (bounded by `until`,
    /// the data and dead-peer clocks, the consumer's next wake-up, 1 s). Returns whether it
    /// waited (then the stop and reloads are looked at next round).
    private func stream(until: Instant, demand: Demand, now: Instant) throws(TunnelError) -> Bool {
        guard let held else {
            // The plan holds a connection the loop does not: set the plan straight, never spin.
            plan.closed(at: now)
            return true
        }
        let (index, connection) = held
        let threshold = settings.policy == .onDemand ? 1 : demand.refillThreshold
        let step: StreamReader.Step
        var socketDeadline: Instant?
        let passedBefore = connection.reader.passed
        do throws(TunnelError) {
            defer { fromHeld += connection.reader.passed - passedBefore }
            step = try connection.reader.step(connection.channel, into: reserve, need: need(demand, passed: connection.reader.passed),
                                              chunk: settings.readChunk, threshold: threshold, health: connection.health,
                                              failureLimit: settings.healthFailureLimit, now: now)
            if case .wait(let events) = step {
                socketDeadline = try connection.reader.keepAlive(connection.session, now: now, watchingSocket: events != nil)
            }
        } catch where error.code == .stopped {
            return true
        } catch where error.code == .sink {
            throw error
        } catch {
            connectionFailed(index, error)
            return true
        }
        if case .endedIdle = step {
            hostEndedIdle(index)
            return true
        }
        guard case .wait(let events) = step else { return false }
        var deadline = min(until, now + .seconds(1), settings.deadline, demand.wakeAt ?? .distantFuture)
        if let socketDeadline { deadline = min(deadline, socketDeadline) }
        var poller = Poller()
        let wakerIndex = poller.add(waker.fd, .readable)
        if let reloads { poller.add(reloads.fd, .readable) }
        let socketIndex = events.map { poller.add(connection.session.socket, $0) }
        if let fd = consumer.pollDescriptor, demand.bytes == 0 || consumerBlocked { poller.add(fd, consumer.pollEvents) }
        _ = try poller.wait(until: deadline)
        if poller.events(at: wakerIndex).contains(.readable) { return true }
        if let socketIndex, !poller.events(at: socketIndex).isEmpty { connection.reader.heard(at: .now) }
        try afterWait()
        return true
    }

    /// Waits until `until` (or the consumer's next wake-up, or 1 s) with no connection read:
    /// the consumer is still fed from the reserve, a stop or a reload ends the wait.
    private func wait(until: Instant, demand: Demand, now: Instant) throws(TunnelError) {
        let deadline = min(until, now + .seconds(1), settings.deadline, demand.wakeAt ?? .distantFuture)
        var poller = Poller()
        poller.add(waker.fd, .readable)
        if let reloads { poller.add(reloads.fd, .readable) }
        if let fd = consumer.pollDescriptor, demand.bytes == 0 || consumerBlocked { poller.add(fd, consumer.pollEvents) }
        _ = try poller.wait(until: deadline)
        try afterWait()
    }

    /// After every wait: the consumer takes in what woke it; once a second the heartbeat and the
    /// consumer's check.
    private func afterWait() throws(TunnelError) {
        consumer.wake()
        let now = Instant.now
        stats?.beat(at: now)
        if now >= nextHousekeeping {
            nextHousekeeping = now + .seconds(1)
            try consumer.revalidate()
        }
    }
}

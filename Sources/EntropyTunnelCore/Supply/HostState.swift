/// Per-host retry bookkeeping for the host plan (`HostPlan`): each host's backoff streak and earliest
/// next try. A value: it computes delays and never sleeps.
///
/// - A connection failure (unreachable, lost) waits the host's `Backoff` delay.
/// - A configuration problem (host key unknown or changed, key refused) cannot be fixed by
///   retrying, but right after a start the admin is probably fixing it now: during
///   `ConfigurationRetry.eagerPeriod` after the start it is retried every
///   `ConfigurationRetry.eagerInterval` (5 s for the first 5 minutes by default), later only
///   after the backoff cap.
public struct HostState: Sendable {
    /// How soon a configuration problem is retried.
    public struct ConfigurationRetry: Hashable, Sendable {
        /// How long after the start configuration problems are retried quickly.
        public var eagerPeriod: Duration
        /// The delay between those quick retries (never more than the backoff cap).
        public var eagerInterval: Duration

        public init(eagerPeriod: Duration = .seconds(300), eagerInterval: Duration = .seconds(5)) {
            self.eagerPeriod = eagerPeriod
            self.eagerInterval = eagerInterval
        }
    }

    private var backoffs: [Backoff]
    /// Each host's last failure message and how many times in a row it came.
    private var lastMessages: [String?]
    private var repeats: [Int]
    private var notBefore: [Instant]
    private let cap: Duration
    /// When the daemon started: the quick retries of configuration problems count from here.
    public let startedAt: Instant
    public let configurationRetry: ConfigurationRetry

    public init(count: Int, backoff: Backoff.Configuration, startedAt: Instant = .now,
                configurationRetry: ConfigurationRetry = .init()) {
        backoffs = Array(repeating: Backoff(backoff), count: count)
        notBefore = Array(repeating: startedAt, count: count)
        lastMessages = Array(repeating: nil, count: count)
        repeats = Array(repeating: 0, count: count)
        cap = backoff.cap
        self.startedAt = startedAt
        self.configurationRetry = configurationRetry
    }

    /// The most preferred host before `end` that may be tried now.
    public func firstEligible(below end: Int, now: Instant = .now) -> Int? {
        (0..<end).first { notBefore[$0] <= now }
    }

    /// Whether host `index` may be tried at `now`.
    public func mayTry(_ index: Int, at now: Instant) -> Bool { notBefore[index] <= now }

    /// When host `index` may be tried again.
    public func notBefore(_ index: Int) -> Instant { notBefore[index] }

    /// When the first of the hosts before `end` may be tried again.
    public func earliestRetry(below end: Int) -> Instant {
        notBefore[0..<end].min() ?? .now
    }

    /// Records the message of a failure of host `index`; returns how many times in a row that
    /// host failed with this very message (1 the first time). The journal says a problem once
    /// at its level; repeats are quieter (the quick retries after a start would repeat it every
    /// few seconds).
    public mutating func recordMessage(_ index: Int, _ message: String) -> Int {
        repeats[index] = lastMessages[index] == message ? repeats[index] + 1 : 1
        lastMessages[index] = message
        return repeats[index]
    }

    /// Records a successful connection to host `index`: its next failure is news again.
    public mutating func connected(_ index: Int) {
        lastMessages[index] = nil
        repeats[index] = 0
    }

    /// The delay before retrying a configuration problem that happened at `now`.
    public func configurationProblemDelay(at now: Instant = .now) -> Duration {
        now - startedAt < configurationRetry.eagerPeriod ? min(cap, configurationRetry.eagerInterval) : cap
    }

    /// Records a failure of host `index` at `now` after `uptime`; returns the delay before that
    /// host's next try.
    public mutating func failed(_ index: Int, configurationProblem: Bool, uptime: Duration,
                                now: Instant = .now) -> Duration {
        let delay = configurationProblem ? configurationProblemDelay(at: now)
            : backoffs[index].nextDelay(afterRunningFor: uptime)
        notBefore[index] = now + delay
        return delay
    }

    /// Records a session that did its work (on-demand fills): that host's streak starts over.
    public mutating func succeeded(_ index: Int) {
        backoffs[index].reset()
    }
}

import Synchronization

/// The tunnel's state and counters, shared between the supply thread and whoever reports status,
/// plus a stream of the events that change them. Thread-safe.
public final class TunnelStats: Sendable {
    public struct Snapshot: Sendable {
        public var host: HostSpec?
        public var connected = false
        /// The host a connection is being opened to (nil when none is).
        public var connecting: HostSpec?
        /// The sink is open and ready to take bytes (the kernel device opened, the FIFO made).
        public var sinkReady = false
        /// rngd was found (`--sink rngd`); it starts once the FIFO first holds bytes.
        public var rngdFound = false
        public var bytesDelivered: UInt64 = 0
        public var connections = 0
        /// Wall-clock time the current connection was made (seconds since the epoch).
        public var connectedSince: Double?
        /// The current connection's host key, `TYPE SHA256:...` as `ssh-keygen -l` prints it.
        public var hostKey: String?
        /// The private key the current connection authenticated with (the identity, or its
        /// `.old` predecessor while the host does not know the new key yet).
        public var clientKey: String?
        /// `bytesDelivered` when the current connection was made: the difference is this connection's.
        public var bytesAtConnect: UInt64 = 0
        /// Wall-clock time the host ended the held session because nothing was asked of it
        /// (`serve --idle-timeout`: the reader took no bytes); cleared by the next connection or
        /// failure. Not a failure: the loop connects again when the consumer wants bytes.
        public var idleSince: Double?
        /// Each configured host's retry state, in order of preference.
        public var hosts: [HostStatus] = []
        public var rngdPID: Int32?
        /// How many times rngd was started again after it ended.
        public var rngdRestarts = 0
        /// 512-byte windows dropped by the health tests.
        public var windowsDropped: UInt64 = 0
        /// 512-byte windows that passed the health tests.
        public var windowsPassed: UInt64 = 0
        /// The last failure, for status lines (cleared on connect).
        public var lastError: String?
        /// The last failure of any host and its wall-clock time, kept after a reconnect.
        public var lastFailure: String?
        public var lastFailureAt: Double?
        /// The kernel sink's counters (nil with the other sinks).
        public var kernel: KernelCounters?
        /// On-demand mode's reserve (nil with persistent connections).
        public var reserve: ReserveCounters?

        public init() {}
    }

    /// On-demand mode: the in-memory reserve and the sessions that filled it.
    public struct ReserveCounters: Sendable, Equatable {
        public var capacity: Int
        /// Health-tested bytes held now.
        public var level = 0
        /// Fill sessions that got all they asked for.
        public var fills: UInt64 = 0
        /// The host of the last fill that got all it asked for.
        public var lastHost: String?

        public init(capacity: Int) { self.capacity = capacity }
    }

    /// One configured host's retry state (the supply loop's per-host backoff).
    public struct HostStatus: Sendable, Equatable {
        public var host: HostSpec
        /// Wall-clock time before which the host is not tried again (nil: may be tried now).
        public var retryAt: Double?
        public var lastError: String?
        public var lastErrorAt: Double?
        /// Failed since its last successful connection (or never connected and failed).
        public var failing = false
        /// The private key this host accepted at its last successful session (the identity, or
        /// `IDENTITY.old` during a key rotation): `keys rotate --finish` must not remove it.
        public var clientKey: String?

        public init(host: HostSpec) { self.host = host }
    }

    /// What the kernel sink did (issue "feed the kernel"): for STATUS= and the status command.
    public struct KernelCounters: Sendable, Equatable {
        public var mode: KernelRandomDevice.Mode
        /// Wall-clock time (seconds since the epoch) the CRNG was first seen ready by this run.
        public var crngReadyAt: Double?
        /// The CRNG was not ready when the sink started (early boot).
        public var startedBeforeReady = false
        public var bytesMixed: UInt64 = 0
        public var bitsCredited: UInt64 = 0
        public var addEntropyCalls: UInt64 = 0
        /// Failed RNDADDENTROPY (or write()) calls, by errno.
        public var addEntropyFailures: [Int32: UInt64] = [:]
        public var reseeds: UInt64 = 0
        /// Failed RNDRESEEDCRNG calls, by errno.
        public var reseedFailures: [Int32: UInt64] = [:]
        /// Scheduled (or forced) feeds after readiness.
        public var feeds: UInt64 = 0
        /// Wall-clock time of the last feed.
        public var lastFeedAt: Double?
        public var seedsSkipped: UInt64 = 0
        public var seedsSaved: UInt64 = 0

        public init(mode: KernelRandomDevice.Mode) { self.mode = mode }
    }

    public enum Event: Sendable {
        /// The sink is ready (`Snapshot.sinkReady`).
        case sinkReady
        /// rngd was found (`Snapshot.rngdFound`).
        case rngdFound
        /// A connection to the host is being opened.
        case connecting(HostSpec)
        case connected(HostSpec)
        /// The first bytes of this run reached the sink (the FIFO holds bytes).
        case primed
        case failed(HostSpec, TunnelError)
        /// rngd started or ended.
        case rngdChanged
        /// The kernel sink fed the kernel (first feed, or a failure changed the counters).
        case kernelFed
        /// On demand: a fill session ended with the reserve filled; no connection is held now.
        case reserveFilled(HostSpec)
        /// The host ended the held session as nothing was asked of it (`Snapshot.idleSince`); no
        /// connection is held until bytes are wanted.
        case idle(HostSpec)
    }

    private let state = Mutex(Snapshot())
    /// When the tunnel thread last went round one of its loops (`Instant` nanoseconds): the
    /// watchdog pings systemd only while this is recent, so a stuck tunnel trips `WatchdogSec`.
    private let heartbeat = Atomic<Int64>(Instant.now.nanoseconds)
    /// The consumer took its first bytes.
    private let primed = Atomic<Bool>(false)
    /// Events, in order, for the daemon's reporting task.
    public let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation

    /// One element after any event (newest only): for the state file, which must not take the
    /// events from `StatusService`.
    public let changes: AsyncStream<Void>
    private let changesContinuation: AsyncStream<Void>.Continuation

    /// Finished when the first bytes reach the sink (or the tunnel ends): `waitUntilPrimed`.
    private let primedSignal: AsyncStream<Never>
    private let primedContinuation: AsyncStream<Never>.Continuation

    public init() {
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(64))
        (changes, changesContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        (primedSignal, primedContinuation) = AsyncStream.makeStream()
    }

    /// Returns once the first bytes reached the sink, or the tunnel ended; for one waiter.
    /// Cancellation ends the wait early.
    public func waitUntilPrimed() async {
        for await _ in primedSignal {}
    }

    public var snapshot: Snapshot { state.withLock { $0 } }

    public func update(_ body: (inout Snapshot) -> Void) { state.withLock { body(&$0) } }

    func emit(_ event: Event) {
        continuation.yield(event)
        changesContinuation.yield()
    }

    /// Records that the tunnel thread is alive and going round its loop.
    package func beat(at now: Instant = .now) { heartbeat.store(now.nanoseconds, ordering: .relaxed) }

    /// The last heartbeat.
    public var lastBeat: Instant { Instant(nanoseconds: heartbeat.load(ordering: .relaxed)) }

    /// Ends the event stream.
    func finish() {
        continuation.finish()
        changesContinuation.finish()
        primedContinuation.finish()
    }

    /// The consumer took `count` bytes: the first time, the tunnel is primed (the FIFO holds
    /// bytes). `bytesDelivered` counts bytes as they pass the health tests, where the host
    /// delivered them.
    func consumed(_ count: Int) {
        guard count > 0, !primed.exchange(true, ordering: .relaxed) else { return }
        emit(.primed)
        primedContinuation.finish()
    }
}

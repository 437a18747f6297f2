/// When the kernel sink takes bytes, how many, and what it credits (issue: "feed the kernel for
/// real"). A value, so the rules are table-tested apart from the I/O.
///
/// - Before the kernel's CRNG is ready, health-tested bytes are fed as they arrive, in 64-byte
///   `RNDADDENTROPY` calls, each credited `floor(H x bytes)` bits, H being the min-entropy per
///   byte the health tests check (`--health-min-entropy`).
/// - Once it is ready, credit stops (the kernel ignores it anyway) and the sink takes
///   `batchBytes` at start and then every `interval`, each batch followed by `RNDRESEEDCRNG`
///   (6.1 reseeds only lazily). `force()` (SIGUSR1: a VM was restored or cloned) makes a feed due
///   now. Between feeds the sink takes nothing: the supply loop's backpressure closes the SSH window and
///   the host's reader blocks.
public struct KernelFeedPolicy: Sendable, Equatable {
    /// Time between scheduled feeds after readiness.
    public var interval: Duration
    /// Bytes per scheduled feed.
    public var batchBytes: Int
    /// Bits of min-entropy per byte credited before readiness (0 credits nothing).
    public var minEntropy: Double

    /// Bytes per `RNDADDENTROPY` call before readiness.
    public static let earlyCallBytes = 64
    /// What the sink takes per write before readiness.
    public static let earlyRoom = 4096
    public static let intervalRange: ClosedRange<Duration> = .seconds(1) ... .seconds(86_400)
    public static let batchRange: ClosedRange<Int> = 16 ... 4096

    /// When the next scheduled feed is due; nil before the first one (due at once).
    public private(set) var nextDue: Instant?
    /// A feed was asked for out of schedule (SIGUSR1).
    public private(set) var forced = false
    /// Bytes of the current batch already taken.
    public private(set) var collected = 0

    public init(interval: Duration = .seconds(60), batchBytes: Int = 64, minEntropy: Double) {
        self.interval = interval
        self.batchBytes = batchBytes
        self.minEntropy = minEntropy
    }

    /// Whether a scheduled (or forced) feed is due.
    public func isDue(at now: Instant) -> Bool {
        forced || nextDue.map { now >= $0 } ?? true
    }

    /// How many bytes the sink takes now.
    public func room(at now: Instant, crngReady: Bool) -> Int {
        guard crngReady else { return Self.earlyRoom }
        return isDue(at: now) ? batchBytes - collected : 0
    }

    /// The bits to credit for `count` bytes fed now.
    public func creditBits(for count: Int, crngReady: Bool) -> Int {
        guard !crngReady, minEntropy > 0, count > 0 else { return 0 }
        return Int((minEntropy * Double(count)).rounded(.down))
    }

    /// Takes `count` bytes into the current batch (at most `room`); true when the batch is
    /// complete and must be fed now.
    public mutating func take(_ count: Int) -> Bool {
        precondition(count >= 0 && collected + count <= batchBytes, "more than the batch")
        collected += count
        return collected == batchBytes
    }

    /// The batch was fed (and the CRNG reseeded) at `now`: the next one is due an interval later.
    public mutating func fed(at now: Instant) {
        collected = 0
        forced = false
        nextDue = now + interval
    }

    /// A feed now, out of schedule.
    public mutating func force() { forced = true }

    /// When the sink next wants bytes, if it does not want them now.
    public func wakeAt(_ now: Instant, crngReady: Bool) -> Instant? {
        guard crngReady, !isDue(at: now) else { return nil }
        return nextDue
    }
}

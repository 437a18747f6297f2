/// Exponential backoff with full jitter, as a pure value: it computes delays and never sleeps.
///
/// After the n-th failure in a row (n = 0, 1, 2, ...) the delay is drawn uniformly from
/// `[0, min(cap, initial * 2^n))` ("full jitter": retries of many clients spread out instead of
/// arriving in waves). With the defaults the first retry comes within 1 s and later ones within
/// 2, 4, 8, ... s, at most 60 s. A run that lasted at least `healthyPeriod` before failing counts
/// as healthy: the streak starts over and the next retry again comes within `initial`.
///
/// The random source is injected so that tests are deterministic; the delay is
/// `ceiling * u` with `u` built from the top 53 bits of one `next()` call, in [0, 1).
public struct Backoff: Sendable {
    /// The policy's knobs.
    public struct Configuration: Hashable, Sendable {
        /// Ceiling of the first delay.
        public var initial: Duration
        /// Largest ceiling: delays never exceed it.
        public var cap: Duration
        /// A run at least this long before failing resets the streak.
        public var healthyPeriod: Duration

        public init(initial: Duration = .seconds(1), cap: Duration = .seconds(60),
                    healthyPeriod: Duration = .seconds(30)) {
            self.initial = initial
            self.cap = cap
            self.healthyPeriod = healthyPeriod
        }
    }

    public let configuration: Configuration
    /// Failures in a row since the last reset.
    public private(set) var failures = 0

    public init(_ configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// The ceiling the next delay is drawn below: `min(cap, initial * 2^failures)`.
    public var ceiling: Duration {
        let initial = max(0, configuration.initial.nanoseconds)
        let cap = max(0, configuration.cap.nanoseconds)
        // Past 2^40 * initial everything is at the cap anyway; this keeps the shift in range.
        let shift = min(failures, 40)
        let (scaled, overflow) = initial.multipliedReportingOverflow(by: Int64(1) << Int64(shift))
        return .nanoseconds(overflow ? cap : min(cap, scaled))
    }

    /// Records a failure after a run of `uptime` (zero when the attempt never got going) and
    /// returns how long to wait before the next attempt.
    public mutating func nextDelay(
        afterRunningFor uptime: Duration, using generator: inout some RandomNumberGenerator
    ) -> Duration {
        if uptime >= configuration.healthyPeriod { failures = 0 }
        let ceiling = self.ceiling
        failures += 1
        let fraction = Double(generator.next() >> 11) * 0x1p-53
        return .nanoseconds(Int64(Double(ceiling.nanoseconds) * fraction))
    }

    /// `nextDelay(afterRunningFor:using:)` with the system's random number generator.
    public mutating func nextDelay(afterRunningFor uptime: Duration) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return nextDelay(afterRunningFor: uptime, using: &generator)
    }

    /// Starts the streak over: the next delay is again below `initial`.
    public mutating func reset() {
        failures = 0
    }
}

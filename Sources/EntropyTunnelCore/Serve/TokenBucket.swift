/// A token bucket as a value: the rate cap of a `serve` whose client is not known (not under
/// sshd; `ClientBudget` shares one per key otherwise). It holds up to `capacity`
/// tokens (bytes), refills at `rate` bytes per second, starts full, and tells when a request may
/// be answered. No I/O; the clock is passed in.
public struct TokenBucket: Sendable, Equatable {
    /// Bytes per second.
    public let rate: Int
    /// The burst: the most that can be sent at once after a pause.
    public let capacity: Int
    /// Tokens at `updated`, in byte-nanoseconds scaled by 1e9 to stay exact (may be negative
    /// after a request larger than what was in the bucket: the debt is paid by waiting).
    private var tokens: Int64
    private var updated: Instant

    public init(rate: Int, capacity: Int, now: Instant) {
        precondition(rate >= 1 && capacity >= 1)
        self.rate = rate
        self.capacity = capacity
        self.tokens = Int64(capacity) * 1_000_000_000
        self.updated = now
    }

    /// Bytes in the bucket at `now` (rounded down).
    public func available(at now: Instant) -> Int {
        Int(refilled(at: now) / 1_000_000_000)
    }

    /// Takes `count` bytes and returns when they may be sent: `now` when the bucket holds them,
    /// else the instant at which the refill will have covered them.
    public mutating func take(_ count: Int, at now: Instant) -> Instant {
        precondition(count >= 0)
        let current = refilled(at: now)
        updated = max(now, updated)
        tokens = current - Int64(count) * 1_000_000_000
        if tokens >= 0 { return updated }
        // -tokens / rate nanoseconds, rounded up.
        let wait = (-tokens + Int64(rate) - 1) / Int64(rate)
        return updated + .nanoseconds(wait)
    }

    private func refilled(at now: Instant) -> Int64 {
        let elapsed = max(0, now.nanoseconds - updated.nanoseconds)
        let full = Int64(capacity) * 1_000_000_000
        // elapsed * rate cannot overflow for any sane rate once capped at the full bucket's time.
        let cap = (full - min(tokens, full)) / Int64(rate) + 1
        return min(full, tokens + min(elapsed, cap) * Int64(rate))
    }
}

/// Whether a connection is alive and its stream flowing, as a value: the supply loop tells it what
/// it heard and received, and asks for a verdict before each wait. No I/O, no clock of its own.
///
/// - **Dead peer**: nothing at all from the host (not even keepalive replies) for keepalive
///   interval x count while the loop waits on the socket.
/// - **Stalled or trickling stream**: while bytes are outstanding (the consumer wants them and,
///   with `serve`, they were asked for), the stream must deliver at least one whole health window
///   within the data timeout. A byte now and then does not count as flowing: one byte every
///   0.9 s would otherwise hold a host for ever that delivers a window in 7 minutes. Time with
///   nothing outstanding (a full FIFO, the kernel between feeds) does not count.
package struct Liveness: Sendable, Equatable {
    package enum Verdict: Sendable, Equatable {
        /// Nothing to watch now.
        case ok
        /// The host sent nothing, not even keepalive replies, for this long.
        case dead(silence: Duration)
        /// Bytes were outstanding for the data timeout and less than a window arrived.
        case stalled(received: Int)
        /// Alive; ask again at this instant at the latest.
        case wakeAt(Instant)
    }

    package let deadPeerTimeout: Duration
    package let dataTimeout: Duration
    /// The bytes that count as progress (the health window; 1 without the tests).
    package let window: Int
    /// When anything last arrived from the host.
    package private(set) var lastHeard: Instant
    /// When the current wait for a window began (or the last window completed).
    package private(set) var waitingSince: Instant
    /// Bytes received towards the next whole window since then.
    package private(set) var partial = 0

    package init(deadPeerTimeout: Duration, dataTimeout: Duration, window: Int, now: Instant) {
        precondition(window >= 1)
        self.deadPeerTimeout = deadPeerTimeout
        self.dataTimeout = dataTimeout
        self.window = window
        lastHeard = now
        waitingSince = now
    }

    /// Something arrived from the host (a packet, a keepalive reply, protocol bytes).
    package mutating func heard(at now: Instant) {
        lastHeard = max(lastHeard, now)
    }

    /// `count` stream bytes arrived: a whole window since the last one restarts the data clock.
    package mutating func received(_ count: Int, at now: Instant) {
        heard(at: now)
        guard count > 0 else { return }
        partial += count
        if partial >= window {
            partial %= window
            waitingSince = now
        }
    }

    /// Nothing is outstanding at `now`: the data clock does not run.
    package mutating func idle(at now: Instant) {
        waitingSince = max(waitingSince, now)
    }

    /// The verdict at `now`. `watchingSocket`: the loop is about to wait on the socket (while
    /// bytes flow it does not, and hears them). `outstanding`: bytes are wanted and asked for.
    package func verdict(at now: Instant, watchingSocket: Bool, outstanding: Bool) -> Verdict {
        let silentUntil = lastHeard + deadPeerTimeout
        if watchingSocket && now >= silentUntil { return .dead(silence: now - lastHeard) }
        let dataUntil = waitingSince + dataTimeout
        if outstanding && now >= dataUntil { return .stalled(received: partial) }
        switch (watchingSocket, outstanding) {
        case (false, false): return .ok
        case (true, false): return .wakeAt(silentUntil)
        case (false, true): return .wakeAt(dataUntil)
        case (true, true): return .wakeAt(min(silentUntil, dataUntil))
        }
    }
}

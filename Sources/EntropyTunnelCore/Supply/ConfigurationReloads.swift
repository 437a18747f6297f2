#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Hands a re-read configuration (SIGHUP, `systemctl reload`) to the supply loop's thread.
///
/// `offer(_:)` may be called from any task; the loop polls `fd` beside its stop waker and takes
/// the newest offer at its next round with `take()`. Unlike `Waker`, it resets: each offer wakes the
/// loop once, and offers made before the loop looks are merged into the newest.
public final class ConfigurationReloads: Sendable {
    private let pipe: SignalPipe
    private let pending = Mutex<RunConfiguration?>(nil)

    /// Readable while an offer waits.
    public var fd: Int32 { pipe.fd }

    public init() throws(TunnelError) {
        pipe = try SignalPipe()
    }

    /// Makes `configuration` the next one the loop applies and wakes the loop.
    public func offer(_ configuration: RunConfiguration) {
        pending.withLock { $0 = configuration }
        pipe.signal()
    }

    /// Whether an offer waits (without taking it).
    public var isPending: Bool { pipe.isSignalled }

    /// The newest configuration offered since the last call, or nil; resets `fd`.
    public func take() -> RunConfiguration? {
        pipe.drain()
        return pending.withLock { value in
            defer { value = nil }
            return value
        }
    }
}

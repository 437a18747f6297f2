#if canImport(Glibc)
import Glibc
#endif
import CSystemShims
import Synchronization

/// Hands a re-read configuration (SIGHUP, `systemctl reload`) to the connection loop's thread.
///
/// `offer(_:)` may be called from any task; the loop polls `fd` beside its stop waker and takes
/// the newest offer between pumps with `take()`. Unlike `Waker`, it resets: each offer wakes the
/// loop once, and offers made before the loop looks are merged into the newest.
public final class ConfigurationReloads: Sendable {
    /// Readable while an offer waits.
    public let fd: Int32
    private let writeEnd: Int32
    private let pending = Mutex<RunConfiguration?>(nil)

    public init() throws(TunnelError) {
        var ends: [Int32] = [0, 0]
        _ = try syscallValue("pipe2") { csystem_pipe2(&ends, O_CLOEXEC | O_NONBLOCK) }
        fd = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        close(fd)
        close(writeEnd)
    }

    /// Makes `configuration` the next one the loop applies and wakes the loop.
    public func offer(_ configuration: RunConfiguration) {
        pending.withLock { $0 = configuration }
        var one: UInt8 = 1
        _ = write(writeEnd, &one, 1)  // a full pipe already wakes the loop: EAGAIN is fine
    }

    /// Whether an offer waits (without taking it).
    public var isPending: Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0
    }

    /// The newest configuration offered since the last call, or nil; resets `fd`.
    public func take() -> RunConfiguration? {
        var drain = [UInt8](repeating: 0, count: 64)
        while read(fd, &drain, drain.count) > 0 {}
        return pending.withLock { value in
            defer { value = nil }
            return value
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// A stop signal that a blocking poll loop can wait on: a pipe whose read end becomes readable.
///
/// `wake()` may be called from any thread or task, any number of times; it never resets.
public final class Waker: Sendable {
    /// The descriptor to poll for readability.
    public let fd: Int32
    private let writeEnd: Int32

    public init() throws(TunnelError) {
        var ends: [Int32] = [0, 0]
        _ = try syscallValue("pipe") { pipe(&ends) }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, O_NONBLOCK)
        }
        fd = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        close(fd)
        close(writeEnd)
    }

    /// Makes `fd` readable, so that every poll on it returns at once.
    public func wake() {
        var one: UInt8 = 1
        _ = write(writeEnd, &one, 1)
    }

    /// Whether `wake()` has been called.
    public var isWoken: Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0
    }
}

#if canImport(Glibc)
import Glibc
#endif
import CSystemShims

/// A stop signal that a blocking poll loop can wait on: a pipe whose read end becomes readable.
///
/// `wake()` may be called from any thread or task, any number of times; it never resets.
public final class Waker: Sendable {
    /// The descriptor to poll for readability.
    public let fd: Int32
    private let writeEnd: Int32

    public init() throws(TunnelError) {
        var ends: [Int32] = [0, 0]
        // Close-on-exec from the start: another thread may spawn a child at any moment.
        _ = try syscallValue("pipe2") { csystem_pipe2(&ends, O_CLOEXEC | O_NONBLOCK) }
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

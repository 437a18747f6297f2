#if canImport(Glibc)
import Glibc
#endif

/// A non-blocking, close-on-exec pipe whose read end a poll loop waits on: `signal()` makes it
/// readable, `drain()` makes it quiet again. The mechanism under `Waker` and
/// `ConfigurationReloads`.
final class SignalPipe: Sendable {
    /// The read end, to poll for readability.
    let fd: Int32
    private let writeEnd: Int32

    init() throws(TunnelError) {
        let pipe = try Pipe(nonBlocking: true)
        fd = pipe.readEnd
        writeEnd = pipe.writeEnd
    }

    deinit {
        close(fd)
        close(writeEnd)
    }

    /// Makes `fd` readable (a full pipe already is: EAGAIN is fine).
    func signal() {
        var one: UInt8 = 1
        _ = write(writeEnd, &one, 1)
    }

    /// Whether `fd` is readable now.
    var isSignalled: Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0
    }

    /// Reads everything waiting, so `fd` polls quiet until the next `signal()`.
    func drain() {
        var bytes = [UInt8](repeating: 0, count: 64)
        while read(fd, &bytes, bytes.count) > 0 {}
    }
}

/// A stop signal that a blocking poll loop can wait on: a pipe whose read end becomes readable.
///
/// `wake()` may be called from any thread or task, any number of times; it never resets.
public final class Waker: Sendable {
    private let pipe: SignalPipe

    /// The descriptor to poll for readability.
    public var fd: Int32 { pipe.fd }

    public init() throws(TunnelError) {
        pipe = try SignalPipe()
    }

    /// Makes `fd` readable, so that every poll on it returns at once.
    public func wake() { pipe.signal() }

    /// Whether `wake()` has been called.
    public var isWoken: Bool { pipe.isSignalled }
}

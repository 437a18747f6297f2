#if canImport(Glibc)
import Glibc
#endif

/// One `poll()` call over a few descriptors, bounded by a deadline.
public struct Poller {
    public struct Events: OptionSet, Sendable {
        public let rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: Int16(POLLIN))
        public static let writable = Events(rawValue: Int16(POLLOUT))
        /// Error, hang-up or invalid descriptor: never requested, always reported.
        public static let failed = Events(rawValue: Int16(POLLERR | POLLHUP | POLLNVAL))
    }

    private var fds: [pollfd] = []

    public init() {}

    /// Adds a descriptor and returns its index for `events(at:)`.
    @discardableResult
    public mutating func add(_ fd: Int32, _ events: Events) -> Int {
        fds.append(pollfd(fd: fd, events: events.rawValue, revents: 0))
        return fds.count - 1
    }

    /// Waits until a descriptor is ready or the deadline passes; returns false on timeout.
    public mutating func wait(until deadline: Instant) throws(TunnelError) -> Bool {
        let count = nfds_t(fds.count)
        while true {
            let timeout = deadline == .distantFuture ? -1 : deadline.pollTimeout
            let rc = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, count, timeout) }
            if rc >= 0 { return rc > 0 }
            if errno == EINTR { continue }
            throw TunnelError(.system, "poll failed: errno \(errno)")
        }
    }

    public func events(at index: Int) -> Events { Events(rawValue: fds[index].revents) }
}

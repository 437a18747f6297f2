import Synchronization

/// The tunnel's state and counters, shared between the pump thread and whoever reports status,
/// plus a stream of the events that change them. Thread-safe.
public final class TunnelStats: Sendable {
    public struct Snapshot: Sendable {
        public var host: HostSpec?
        public var connected = false
        public var bytesDelivered: UInt64 = 0
        public var connections = 0
        public var rngdPID: Int32?
        /// 512-byte windows dropped by the health tests.
        public var windowsDropped: UInt64 = 0
        /// The last failure, for status lines.
        public var lastError: String?
    }

    public enum Event: Sendable {
        case connected(HostSpec)
        /// The first bytes of this run reached the sink (the FIFO holds bytes).
        case primed
        case failed(HostSpec, TunnelError)
    }

    private let state = Mutex(Snapshot())
    /// Events, in order, for the daemon's reporting task.
    public let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation

    public init() {
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(64))
    }

    public var snapshot: Snapshot { state.withLock { $0 } }

    public func update(_ body: (inout Snapshot) -> Void) { state.withLock { body(&$0) } }

    func emit(_ event: Event) { continuation.yield(event) }

    /// Ends the event stream.
    func finish() { continuation.finish() }

    func delivered(_ count: Int) {
        let first = state.withLock { snapshot -> Bool in
            defer { snapshot.bytesDelivered &+= UInt64(count) }
            return snapshot.bytesDelivered == 0 && count > 0
        }
        if first { emit(.primed) }
    }
}

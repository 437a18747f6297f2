import Synchronization

/// Counters shared between the pump thread and whoever reports status. Thread-safe.
public final class TunnelStats: Sendable {
    public struct Snapshot: Sendable {
        public var host: HostSpec?
        public var connected = false
        public var bytesDelivered: UInt64 = 0
        public var connections = 0
        public var rngdPID: Int32?
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    public func update(_ body: (inout Snapshot) -> Void) { state.withLock { body(&$0) } }

    func delivered(_ count: Int) { state.withLock { $0.bytesDelivered &+= UInt64(count) } }
}

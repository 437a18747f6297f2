/// What a consumer wants, as a value: asked for by the supply loop every round, with no side
/// effects, so that asking twice changes nothing.
public struct Demand: Sendable, Equatable {
    /// Bytes the consumer takes now (0: none now).
    public var bytes: Int
    /// The smallest shortfall worth asking a host for: 1 (whatever is missing) by default; a
    /// FIFO asks once it is half empty, so it is refilled in large requests, not in drips.
    public var refillThreshold: Int
    /// When the consumer next wants bytes, if it wants none now (the kernel's next feed).
    public var wakeAt: Instant?
    /// The consumer will never want more (fetch and check got their count).
    public var finished: Bool

    public init(bytes: Int, refillThreshold: Int = 1, wakeAt: Instant? = nil, finished: Bool = false) {
        self.bytes = max(0, bytes)
        self.refillThreshold = max(1, refillThreshold)
        self.wakeAt = wakeAt
        self.finished = finished
    }
}

/// Work a consumer asks for that must not run on the supply thread (blocking file I/O with
/// fsync): the loop hands it to its effect runner.
public enum ConsumerEffect: Sendable {
    /// Save a new seed for the next boot, hashing in these fresh stream bytes (never ones fed to
    /// the kernel).
    case saveSeed([UInt8])
}

/// Where health-tested bytes go: the kernel, a FIFO, a file. It reports its demand without side
/// effects and takes bytes; the supply loop decides everything else (which host, how much to
/// read, when to wait).
public protocol Consumer: AnyObject {
    /// A descriptor the loop polls while the consumer takes nothing (nil: none).
    var pollDescriptor: Int32? { get }
    /// What to poll `pollDescriptor` for: writable (a FIFO) or readable (the kernel sink's timer).
    var pollEvents: Poller.Events { get }
    /// What it wants at `now`. No side effects.
    func demand(at now: Instant) -> Demand
    /// Takes some of `bytes` (at most `demand.bytes` of them); `.wouldBlock` when it cannot now.
    func write(_ bytes: UnsafeRawBufferPointer) throws(TunnelError) -> IOResult<Int>
    /// Called after each wait of the loop: takes in what woke it (a fired timer, a forced feed)
    /// and notices changes (the CRNG becoming ready).
    func wake()
    /// Called about once a second: a chance to repair the consumer (the FIFO deleted behind
    /// our back).
    func revalidate() throws(TunnelError)
    /// Effects asked for since the last call, for the loop to run off the supply thread.
    func takeEffects() -> [ConsumerEffect]
}

extension Consumer {
    public var pollDescriptor: Int32? { nil }
    public var pollEvents: Poller.Events { .writable }
    public func wake() {}
    public func revalidate() throws(TunnelError) {}
    public func takeEffects() -> [ConsumerEffect] { [] }
}

/// Where the pump puts the host's bytes.
public protocol ByteSink: AnyObject {
    /// The descriptor to poll while the sink is full.
    var descriptor: Int32 { get }
    /// What to poll `descriptor` for: writable (a FIFO) or readable (the kernel sink's timer).
    var pollEvents: Poller.Events { get }
    /// How many bytes can be written right now without blocking (0 when full).
    func writableBytes() throws(TunnelError) -> Int
    /// Writes some of `bytes`; `.wouldBlock` when the sink is full.
    func write(_ bytes: UnsafeRawBufferPointer) throws(TunnelError) -> IOResult<Int>
    /// Called about once a second while the pump waits: a chance to repair the sink (the FIFO
    /// deleted behind our back).
    func revalidate() throws(TunnelError)
    /// With a `serve` host: the smallest shortfall worth a request. 1 (ask for whatever the sink
    /// can take) by default; a FIFO asks once it is half empty, to refill it in large requests.
    var refillThreshold: Int { get }
}

extension ByteSink {
    public var pollEvents: Poller.Events { .writable }
    public func revalidate() throws(TunnelError) {}
    public var refillThreshold: Int { 1 }
}

import Glibc

/// On-demand mode's reserve: a small buffer of health-tested bytes in memory between a short
/// fill session and the kernel sink. The pump writes into it; it passes on to the kernel sink at
/// once whatever that sink takes now (a due feed, or everything before the CRNG is ready), so the
/// first feed never waits for a full reserve. Bytes that leave it are zeroed.
final class ReserveSink: ByteSink {
    let capacity: Int
    private let sink: any ByteSink
    private var storage: [UInt8]
    /// Bytes held.
    private(set) var level = 0

    init(capacity: Int, sink: any ByteSink) {
        precondition(capacity >= 2 * HealthParameters.windowSize)
        self.capacity = capacity
        self.sink = sink
        storage = [UInt8](repeating: 0, count: capacity)
    }

    deinit { zero(0..<capacity) }

    /// Below a quarter: time for a fill.
    var needsFill: Bool { level < capacity / 4 }

    /// What one fill asks for: the free room in whole 512-byte health windows (so a host running
    /// `serve` sends exactly that and the pump reads no partial window).
    var fillRequest: Int {
        max(HealthParameters.windowSize, (capacity - level) / HealthParameters.windowSize * HealthParameters.windowSize)
    }

    // The pump waits on the kernel sink's timer while the reserve is full.
    var descriptor: Int32 { sink.descriptor }
    var pollEvents: Poller.Events { sink.pollEvents }

    func writableBytes() throws(TunnelError) -> Int {
        try feed()
        return capacity - level
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(TunnelError) -> IOResult<Int> {
        let n = min(bytes.count, capacity - level)
        guard n > 0 else { return .wouldBlock }
        storage.withUnsafeMutableBytes { store in
            store.baseAddress!.advanced(by: level).copyMemory(from: bytes.baseAddress!, byteCount: n)
        }
        level += n
        try feed()
        return .processed(n)
    }

    func revalidate() throws(TunnelError) { try sink.revalidate() }

    /// Gives the sink what it takes now from the front of the reserve; returns the bytes given.
    @discardableResult
    func feed() throws(TunnelError) -> Int {
        var given = 0
        // Asked even when empty: that takes in the sink's timer (and SIGUSR1), so a poll on it
        // does not stay readable.
        while try sink.writableBytes() > 0, level > 0 {
            let held = level
            let sink = self.sink
            let result = storage.withUnsafeBytes { store -> Result<IOResult<Int>, TunnelError> in
                do throws(TunnelError) {
                    return .success(try sink.write(UnsafeRawBufferPointer(rebasing: store[0..<held])))
                } catch {
                    return .failure(error)
                }
            }
            guard case .processed(let taken) = try result.get(), taken > 0 else { break }
            storage.withUnsafeMutableBytes { store in
                let base = store.baseAddress!
                memmove(base, base + taken, level - taken)
            }
            zero(level - taken..<level)
            level -= taken
            given += taken
        }
        return given
    }

    private func zero(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        storage.withUnsafeMutableBytes { store in _ = memset(store.baseAddress! + range.lowerBound, 0, range.count) }
    }
}

/// `fetch` and `check`: takes exactly `total` bytes, into a file (`FileSink`) or into nothing,
/// then reports itself finished.
public final class CountingConsumer: Consumer {
    public let total: Int
    private let output: FileSink?
    /// Bytes taken so far.
    public private(set) var taken = 0

    /// `output` nil: the bytes are counted and dropped (check's "into nothing").
    public init(total: Int, output: FileSink?) {
        precondition(total >= 0)
        self.total = total
        self.output = output
    }

    /// Standard output may be a pipe that is full: wait for it to take more.
    public var pollDescriptor: Int32? { output?.descriptor }

    public func demand(at now: Instant) -> Demand {
        Demand(bytes: total - taken, finished: taken >= total)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(TunnelError) -> IOResult<Int> {
        let wanted = UnsafeRawBufferPointer(rebasing: bytes[0..<min(bytes.count, total - taken)])
        guard !wanted.isEmpty else { return .processed(0) }
        guard let output else {
            taken += wanted.count
            return .processed(wanted.count)
        }
        let result = try output.write(wanted)
        if case .processed(let n) = result { taken += n }
        return result
    }
}

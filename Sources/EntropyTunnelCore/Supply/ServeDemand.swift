/// What the client asks a `serve` host for, as a value: request lines for exactly what the sink
/// will take, in whole health-test windows, never more than a byte limit needs. No I/O.
///
/// `have` = bytes requested and not yet arrived + bytes arrived and not yet in the sink. The sink's
/// room (rounded up to a window, capped by the limit) minus `have` is the deficit; it is asked
/// for once it reaches the sink's refill threshold (1 byte for the kernel sink and files, half
/// the capacity for a FIFO), so a FIFO is refilled in large requests, not in 512-byte drips.
package struct ServeDemand: Sendable, Equatable {
    /// The largest request line the client sends (hosts accept at least this much).
    package static let lineLimit = ServeProtocol.deviceReadSize

    /// The most asked for ahead of the sink (a file sink has room without end).
    package static let aheadLimit = 1 << 20

    package private(set) var requested = 0
    package private(set) var received = 0

    package init() {}

    /// Requested bytes not yet arrived.
    package var outstanding: Int { max(0, requested - received) }

    /// Records bytes that arrived on the channel.
    package mutating func arrived(_ count: Int) { received += count }

    /// The request sizes to send now (each at most `lineLimit`), and records them as requested.
    /// - Parameters:
    ///   - sinkRoom: what the sink can take now.
    ///   - buffered: bytes arrived and not yet given to the sink.
    ///   - limitLeft: bytes still to deliver under a byte limit (nil: none).
    ///   - threshold: the smallest deficit worth a request (the sink's refill threshold).
    ///   - unit: the health-test window (requests keep the total whole windows), or 1 without
    ///     the tests.
    package mutating func requests(sinkRoom: Int, buffered: Int, limitLeft: Int?, threshold: Int, unit: Int) -> [Int] {
        precondition(unit >= 1)
        var want = min(max(0, sinkRoom), Self.aheadLimit)
        var minimum = min(max(1, threshold), Self.aheadLimit)
        if let limitLeft, limitLeft < want {
            want = max(0, limitLeft)
            minimum = 1  // the last bytes a limit needs are always worth asking for
        }
        want = (want + unit - 1) / unit * unit
        let deficit = want - buffered - outstanding
        guard deficit > 0, deficit >= minimum else { return [] }
        // `want` is whole windows and what is here or on its way counts towards them, so the sum
        // stays whole windows even after a failed window was dropped.
        let total = deficit
        requested += total
        var sizes = Array(repeating: Self.lineLimit, count: total / Self.lineLimit)
        if total % Self.lineLimit > 0 { sizes.append(total % Self.lineLimit) }
        return sizes
    }
}

/// The client's look at the first bytes of the remote command's stdout, as a value: a stream
/// that starts with `entropy-tunnel-serve VERSION\n` is `serve`; anything else is a plain reader
/// (`dd`, `cat`), whose first bytes are data and must be kept. No I/O.
///
/// The decision is made within the first `ServeProtocol.magicLineLimit` bytes, as soon as a byte
/// leaves the magic line's shape, so the bytes may arrive in any pieces and a plain reader is
/// never held up. A plain reader whose random bytes happen to start like the magic line is
/// still recognised as plain once they stop matching (the full line by chance: 2^-184).
public struct StreamGreeting: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case undecided
        /// `entropy-tunnel serve` speaking this protocol version.
        case serve(version: Int)
        case plain
    }

    public private(set) var kind: Kind = .undecided
    /// While undecided, the bytes seen; once plain, all of them are data; once serve, the bytes
    /// after the magic line (none from a well-behaved host).
    public private(set) var data: [UInt8] = []

    public init() {}

    /// How many more bytes it needs at most to decide (0 once decided).
    public var wants: Int { kind == .undecided ? ServeProtocol.magicLineLimit - data.count : 0 }

    /// Takes the next bytes of the stream (at most `wants` while undecided; later bytes are
    /// appended to `data` unexamined).
    public mutating func take(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            data.append(byte)
            guard kind == .undecided else { continue }
            judge()
            if case .serve = kind { data = [] }
        }
    }

    /// The stream ended while undecided: what came was a plain reader's data.
    public mutating func endOfStream() { if kind == .undecided { kind = .plain } }

    /// The stream reader has taken `data` into the reserve.
    public mutating func clearData() { data = [] }

    private mutating func judge() {
        let prefix = ServeProtocol.magicPrefix
        let count = data.count
        if count <= prefix.count {
            if data[count - 1] != prefix[count - 1] { kind = .plain }
            return
        }
        let byte = data[count - 1]
        let versionDigits = count - 1 - prefix.count
        if byte == UInt8(ascii: "\n") && versionDigits > 0 {
            var version = 0
            for digit in data[prefix.count..<count - 1] { version = version * 10 + Int(digit - UInt8(ascii: "0")) }
            kind = .serve(version: version)
        } else if !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || count >= ServeProtocol.magicLineLimit {
            kind = .plain
        }
    }
}

/// What a connection knows about its stream across pauses: serve or plain, what was asked of a
/// serve host, and request lines not yet sent.
package struct StreamState: Sendable, Equatable {
    package var greeting = StreamGreeting()
    package var demand = ServeDemand()
    package var outbox: [UInt8] = []

    package init() {}
}

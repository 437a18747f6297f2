/// The host's reader of request lines as a value: fed the client's bytes one at a time, it says
/// when a complete, valid request has arrived, or why the input is malformed. No I/O.
///
/// Strict on purpose (the client is our own code; anything else is a bug or an attack): ASCII
/// digits without sign, spaces or leading zero, 1 to `maxRequest`, then `\n`. A line is judged
/// as early as possible, and never grows past `ServeProtocol.requestLineLimit` bytes, so a
/// client that sends digits without a newline for ever costs nothing.
public struct ServeRequestParser: Sendable, Equatable {
    /// The outcome of one byte.
    public enum Step: Sendable, Equatable {
        /// The line is not complete yet.
        case needMore
        /// A complete request for this many bytes.
        case request(Int)
        /// The input is not a request; the message says how (for the host's stderr).
        case malformed(String)
    }

    public let maxRequest: Int
    private var value = 0
    private var digits = 0
    /// Whether a malformed line was seen: every later byte is malformed too.
    private var failed = false

    public init(maxRequest: Int = ServeProtocol.defaultMaxRequest) {
        precondition(maxRequest >= 1 && maxRequest <= ServeProtocol.requestLimit)
        self.maxRequest = maxRequest
    }

    /// Takes one byte of the client's stream.
    public mutating func consume(_ byte: UInt8) -> Step {
        if failed { return .malformed("input after a malformed request") }
        switch byte {
        case UInt8(ascii: "\n"):
            defer { value = 0; digits = 0 }
            if digits == 0 { return fail("empty request line (expected a byte count and a newline)") }
            if value > maxRequest { return fail("request for \(value) bytes is more than --max-request \(maxRequest)") }
            return .request(value)
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            let digit = Int(byte - UInt8(ascii: "0"))
            if digits == 0 && digit == 0 { return fail("request must be 1 to \(maxRequest) without leading zeros") }
            digits += 1
            if digits >= ServeProtocol.requestLineLimit {
                return fail("request line longer than \(ServeProtocol.requestLineLimit - 1) digits (at most \(maxRequest) bytes per request)")
            }
            value = value * 10 + digit
            return .needMore
        default:
            return fail("unexpected byte \(Self.describe(byte)) in a request line (expected digits and a newline)")
        }
    }

    private mutating func fail(_ message: String) -> Step {
        failed = true
        return .malformed(message)
    }

    /// A byte as text that is safe in a log line.
    static func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7f { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "0x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
    }
}

import Logging

/// Splits the remote command's stderr into lines, logs them (bounded), and keeps the last few
/// for error messages: "Permission denied" on /dev/hwrng is the most useful thing a user sees.
struct RemoteStderr {
    static let maxLineLength = 300
    static let maxLoggedLines = 50
    static let keptLines = 4
    /// More stderr than this from one connection is a flood: a reader that works writes a line
    /// or two. Reading a flood costs CPU and keeps the SSH window open, so the stream reader gives up.
    static let floodLimit = 64 << 10

    private var partial: [UInt8] = []
    /// Bytes received on stderr from this connection.
    private(set) var totalBytes = 0
    private var logged = 0
    private(set) var tail: [String] = []
    let logger: Logger
    let host: HostSpec
    /// The level lines are logged at: a warning, except info while a `serve` host owes nothing
    /// (what it says then is its idle notice, `--idle-timeout`; a failure after it carries the
    /// lines in its error message anyway).
    var level: Logger.Level = .warning

    init(logger: Logger, host: HostSpec) {
        self.logger = logger
        self.host = host
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        totalBytes += bytes.count
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                emit()
            } else if partial.count < RemoteStderr.maxLineLength {
                partial.append(byte)
            }
        }
    }

    /// Flushes an unterminated last line.
    mutating func finish() { if !partial.isEmpty { emit() } }

    private mutating func emit() {
        // Printable text only, where it is received: the stream is the remote's, not ours.
        let line = PrintableText.reduce(partial, limit: RemoteStderr.maxLineLength)
        partial.removeAll(keepingCapacity: true)
        guard !line.isEmpty else { return }
        tail.append(line)
        if tail.count > RemoteStderr.keptLines { tail.removeFirst() }
        logged += 1
        if logged <= RemoteStderr.maxLoggedLines {
            logger.log(level: level, "remote stderr: \(line)", metadata: ["host": "\(host)"])
        } else if logged == RemoteStderr.maxLoggedLines + 1 {
            logger.log(level: level, "remote stderr: further lines not logged", metadata: ["host": "\(host)"])
        }
    }

    /// Whether the remote has sent more than `floodLimit` bytes of stderr.
    var isFlooding: Bool { totalBytes > RemoteStderr.floodLimit }

    /// ": <last lines>" for error messages, or "" when the remote said nothing.
    var summary: String { tail.isEmpty ? "" : ": " + tail.joined(separator: " | ") }
}

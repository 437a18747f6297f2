import CLibSSH2
#if canImport(Glibc)
import Glibc
#endif

/// An exec channel on an `SSHSession`: the remote command's stdout, stderr and exit status.
///
/// Holds its session strongly, so the session cannot be freed first. The owner frees the
/// `LIBSSH2_CHANNEL` with `free(within:)` before closing the session; `deinit` does it only as
/// a fallback.
public final class SSHChannel {
    public let session: SSHSession
    let raw: OpaquePointer
    private var isFreed = false

    init(session: SSHSession, raw: OpaquePointer) {
        self.session = session
        self.raw = raw
    }

    deinit { free(within: .milliseconds(200)) }

    /// Frees the channel (`libssh2_channel_free`), trying for at most `within` to send the close
    /// it may need first. If the connection is gone it gives up, and `libssh2_session_free`
    /// releases the channel with the session. Idempotent; a no-op once the session is closed.
    func free(within: Duration) {
        guard !isFreed else { return }
        isFreed = true
        guard !session.isClosed else { return }
        _ = try? session.perform("closing the channel", deadline: .now + within, ignoringStop: true) {
            libssh2_channel_free(raw)
        }
    }

    /// What `read` found.
    public enum ReadResult {
        case bytes(Int)
        case wouldBlock
        /// The remote sent EOF and every byte of this stream has been read.
        case endOfStream
    }

    /// Reads stdout (stream 0) or stderr (stream 1) with `libssh2_channel_read_ex`.
    ///
    /// Every call may re-open the SSH window, so the pump calls this only when it has room
    /// for the bytes: that is what makes the backpressure end to end.
    func read(stream: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(TunnelError) -> ReadResult {
        let base = buffer.baseAddress!.assumingMemoryBound(to: CChar.self)
        let rc = stream == 0
            ? clibssh2_channel_read(raw, base, buffer.count)
            : clibssh2_channel_read_stderr(raw, base, buffer.count)
        if rc > 0 { return .bytes(rc) }
        if rc == Int(LIBSSH2_ERROR_EAGAIN) { return .wouldBlock }
        if rc == 0 { return libssh2_channel_eof(raw) != 0 ? .endOfStream : .wouldBlock }
        throw session.error(for: Int32(truncatingIfNeeded: rc), "reading from the remote command")
    }

    /// Writes to the remote command's stdin with `libssh2_channel_write_ex` (non-blocking):
    /// the number of bytes taken, or `.wouldBlock` (poll the socket for `session.blockedEvents`).
    func write(_ bytes: UnsafeRawBufferPointer) throws(TunnelError) -> IOResult<Int> {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return .processed(0) }
        let rc = libssh2_channel_write_ex(raw, 0, base.assumingMemoryBound(to: CChar.self), bytes.count)
        if rc >= 0 { return .processed(rc) }
        if rc == Int(LIBSSH2_ERROR_EAGAIN) { return .wouldBlock }
        throw session.error(for: Int32(truncatingIfNeeded: rc), "writing a request to the remote command")
    }

    /// Lets libssh2 process whatever the host sent (keepalive replies, EOF, close) **without**
    /// re-opening the window: `libssh2_channel_wait_eof` in non-blocking mode reads the transport
    /// until it would block and does not adjust the window, unlike every read call.
    ///
    /// Returns true once the remote has sent EOF.
    func serviceTransport() throws(TunnelError) -> Bool {
        let rc = libssh2_channel_wait_eof(raw)
        if rc == 0 { return true }
        if rc == LIBSSH2_ERROR_EAGAIN { return false }
        throw session.error(for: rc, "waiting for data")
    }

    /// The longest exit-signal name kept (signal names are a few letters: "TERM", "KILL").
    static let signalNameLimit = 32

    /// How the remote command ended.
    public struct Exit: Sendable, CustomStringConvertible {
        public var status: Int32?
        public var signal: String?
        public var description: String {
            if let signal { return "killed by signal \(signal)" }
            if let status { return "exit status \(status)" }
            return "no exit status"
        }
        public var succeeded: Bool { signal == nil && (status ?? 0) == 0 }
    }

    /// Closes the channel (`libssh2_channel_close`, `libssh2_channel_wait_closed`) and returns
    /// the remote exit status or signal, as far as the host reported them.
    func close(deadline: Instant) -> Exit {
        _ = try? session.perform("closing the channel", deadline: deadline, ignoringStop: true) { libssh2_channel_close(raw) }
        _ = try? session.perform("closing the channel", deadline: deadline, ignoringStop: true) { libssh2_channel_wait_closed(raw) }
        var exit = Exit()
        var signal: UnsafeMutablePointer<CChar>?
        var signalLength = 0
        if libssh2_channel_get_exit_signal(raw, &signal, &signalLength, nil, nil, nil, nil) == 0, let signal {
            // The host's words: reduced to printable text here, where they arrive (a newline in
            // it once reached sd_notify as lines of the host's choosing).
            if signalLength > 0 {
                let bytes = UnsafeRawBufferPointer(start: signal, count: min(signalLength, 4096))
                exit.signal = PrintableText.reduce(bytes, limit: SSHChannel.signalNameLimit)
            }
            Glibc.free(signal)
        }
        if exit.signal == nil { exit.status = libssh2_channel_get_exit_status(raw) }
        return exit
    }
}

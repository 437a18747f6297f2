#if canImport(Glibc)
import Glibc
#endif

/// Waits for the server's SSH identification line before libssh2 reads it.
///
/// libssh2 reads the banner one byte per `recv()` and returns to us only when the socket would
/// block or the banner is complete: a "server" that sends an endless stream without a banner
/// keeps it busy far past any deadline. So the bytes are first *peeked* at (`MSG_PEEK`, nothing
/// consumed): an `SSH-` line must arrive within the first `limit` bytes and before the deadline,
/// as RFC 4253 §4.2 allows lines before it. libssh2 then reads the same bytes as usual.
enum ServerBanner {
    /// Most bytes looked at for the identification line (OpenSSH allows a few lines before it).
    static let limit = 8192

    /// Returns once an `SSH-...\n` line is in the socket's receive queue.
    static func wait(on fd: Int32, endpoint: HostSpec, deadline: Instant, waker: Waker?) throws(TunnelError) {
        var buffer = [UInt8](repeating: 0, count: limit)
        defer { setLowWater(fd, 1) }
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_PEEK | MSG_DONTWAIT)) }
            if n == 0 {
                throw TunnelError(.connectionLost, "\(endpoint) closed the connection before identifying itself as an SSH server")
            }
            if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                throw TunnelError(.connectionLost, "connection to \(endpoint) lost before its SSH banner: \(String(cString: strerror(errno)))")
            }
            let count = max(0, n)
            if containsIdentification(buffer[0..<count]) { return }
            if count >= limit {
                throw TunnelError(.protocolError,
                                  "\(endpoint) is not an SSH server: no SSH identification line in its first \(limit) bytes; " +
                                  "check the host and port")
            }
            // Wake only when more than what is already queued has arrived (SO_RCVLOWAT), so the
            // bytes peeked at do not keep the socket readable and the wait does not spin.
            setLowWater(fd, Int32(count + 1))
            guard Instant.now < deadline else {
                throw TunnelError(.timeout, "\(endpoint) did not answer in time (waiting for its SSH banner)")
            }
            var poller = Poller()
            poller.add(fd, .readable)
            let wakerIndex = waker.map { poller.add($0.fd, .readable) }
            guard try poller.wait(until: deadline) else {
                throw TunnelError(.timeout, "\(endpoint) did not answer in time (waiting for its SSH banner)")
            }
            if let wakerIndex, poller.events(at: wakerIndex).contains(.readable) {
                throw TunnelError(.stopped, "stopped while waiting for the SSH banner")
            }
        }
    }

    /// Whether `bytes` hold a complete line starting with `SSH-` (at the start or after a newline).
    static func containsIdentification(_ bytes: ArraySlice<UInt8>) -> Bool {
        let prefix = Array("SSH-".utf8)
        var lineStart = bytes.startIndex
        while lineStart < bytes.endIndex {
            guard let newline = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) else { return false }
            if bytes[lineStart..<newline].starts(with: prefix) { return true }
            lineStart = newline + 1
        }
        return false
    }

    private static func setLowWater(_ fd: Int32, _ bytes: Int32) {
        var value = bytes
        setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &value, socklen_t(MemoryLayout<Int32>.size))
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Opens TCP connections the way a daemon that must notice dead peers needs them.
enum TCPConnection {
    /// Connects to `host` (every address `getaddrinfo` gives, in order) before `deadline`,
    /// and returns a non-blocking socket with TCP keepalive and a user timeout configured.
    ///
    /// - Parameters:
    ///   - keepaliveIdle: idle time before the first TCP keepalive probe, and between probes.
    ///   - keepaliveCount: unanswered probes before the kernel drops the connection.
    static func connect(
        to host: HostSpec, deadline: Instant, waker: Waker?,
        keepaliveIdle: Duration, keepaliveCount: Int
    ) throws(TunnelError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host.host, String(host.port), &hints, &list)
        if rc != 0 {
            throw TunnelError(.connectionFailed,
                              "cannot resolve host '\(host.host)': \(String(cString: gai_strerror(rc))); " +
                              "check the host name in --host or the config file")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var cursor = list
        while let info = cursor {
            cursor = info.pointee.ai_next
            do throws(TunnelError) {
                return try connectOne(info.pointee, deadline: deadline, waker: waker,
                                      keepaliveIdle: keepaliveIdle, keepaliveCount: keepaliveCount)
            } catch where error.code == .stopped || error.code == .timeout {
                throw error
            } catch {
                lastError = error.message
            }
        }
        throw TunnelError(.connectionFailed, "cannot connect to \(host): \(lastError)")
    }

    private static func connectOne(
        _ info: addrinfo, deadline: Instant, waker: Waker?,
        keepaliveIdle: Duration, keepaliveCount: Int
    ) throws(TunnelError) -> Int32 {
        let fd = try syscallValue("socket") {
            socket(info.ai_family, info.ai_socktype | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), info.ai_protocol)
        }
        var ok = false
        defer { if !ok { close(fd) } }
        configure(fd, keepaliveIdle: keepaliveIdle, keepaliveCount: keepaliveCount)

        if Glibc.connect(fd, info.ai_addr, info.ai_addrlen) != 0 {
            guard errno == EINPROGRESS || errno == EINTR else {
                throw TunnelError(.connectionFailed, String(cString: strerror(errno)))
            }
            var poller = Poller()
            let socketIndex = poller.add(fd, .writable)
            let wakerIndex = waker.map { poller.add($0.fd, .readable) }
            guard try poller.wait(until: deadline) else {
                throw TunnelError(.timeout, "connection timed out")
            }
            if let wakerIndex, poller.events(at: wakerIndex).contains(.readable) {
                throw TunnelError(.stopped, "stopped while connecting")
            }
            _ = poller.events(at: socketIndex)
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            if soError != 0 { throw TunnelError(.connectionFailed, String(cString: strerror(soError))) }
        }
        ok = true
        return fd
    }

    /// TCP_NODELAY, SO_KEEPALIVE with the given timing, and TCP_USER_TIMEOUT, so that unacknowledged
    /// data (our SSH keepalives) on a dead path also ends the connection.
    private static func configure(_ fd: Int32, keepaliveIdle: Duration, keepaliveCount: Int) {
        func set(_ level: Int32, _ name: Int32, _ value: Int32) {
            var v = value
            setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
        }
        let idle = Int32(clamping: max(1, keepaliveIdle.nanoseconds / 1_000_000_000))
        set(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        set(SOL_SOCKET, SO_KEEPALIVE, 1)
        set(Int32(IPPROTO_TCP), TCP_KEEPIDLE, idle)
        set(Int32(IPPROTO_TCP), TCP_KEEPINTVL, idle)
        set(Int32(IPPROTO_TCP), TCP_KEEPCNT, Int32(clamping: keepaliveCount))
        let userTimeoutMs = Int32(clamping: (keepaliveIdle * keepaliveCount).nanoseconds / 1_000_000)
        set(Int32(IPPROTO_TCP), TCP_USER_TIMEOUT, userTimeoutMs)
    }
}

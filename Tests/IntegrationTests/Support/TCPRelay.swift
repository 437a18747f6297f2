import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP relay owned by a test: forwards 127.0.0.1:port to an upstream port until told
/// to black-hole, after which it keeps every established connection open but forwards nothing
/// in either direction (a dead network path: no RST, no FIN). New connections are forwarded.
final class TCPRelay: @unchecked Sendable {
    // Safe: `blackHoled` and `connections` are guarded by `lock`; the thread owns the sockets.
    let port: Int
    private let upstreamPort: Int
    private let listener: Int32
    private let lock = NSLock()
    private var blackHoledConnections: Set<Int32> = []
    private var pairs: [(Int32, Int32)] = []
    private var stopped = false
    private var thread: Thread?

    init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0, listen(fd, 16) == 0 else { throw NSError(domain: "relay", code: Int(errno)) }
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        listener = fd
        port = Int(UInt16(bigEndian: bound.sin_port))
        let thread = Thread { [self] in loop() }
        self.thread = thread
        thread.start()
    }

    /// From now on, established connections forward nothing (they stay open).
    func blackHole() {
        lock.withLock { blackHoledConnections = Set(pairs.map(\.0)) }
    }

    func stop() {
        lock.withLock { stopped = true }
    }

    deinit { stop() }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func loop() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        defer {
            close(listener)
            for (a, b) in pairs { close(a); close(b) }
        }
        while !lock.withLock({ stopped }) {
            let holes = lock.withLock { blackHoledConnections }
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            for (client, upstream) in pairs where !holes.contains(client) {
                fds.append(pollfd(fd: client, events: Int16(POLLIN), revents: 0))
                fds.append(pollfd(fd: upstream, events: Int16(POLLIN), revents: 0))
            }
            // 100 ms: how soon a stop or a black-hole request takes effect.
            guard poll(&fds, nfds_t(fds.count), 100) > 0 else { continue }
            if fds[0].revents & Int16(POLLIN) != 0 {
                let client = accept(listener, nil, nil)
                let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var address = Self.loopback(port: upstreamPort)
                let rc = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                if client >= 0 && rc == 0 {
                    lock.withLock { pairs.append((client, upstream)) }
                } else {
                    close(client); close(upstream)
                }
            }
            for entry in fds.dropFirst() where entry.revents != 0 {
                guard let pair = lock.withLock({ pairs.first { $0.0 == entry.fd || $0.1 == entry.fd } }) else { continue }
                let other = pair.0 == entry.fd ? pair.1 : pair.0
                let n = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if n <= 0 {
                    close(pair.0); close(pair.1)
                    lock.withLock { pairs.removeAll { $0.0 == pair.0 } }
                    continue
                }
                _ = buffer.withUnsafeBytes { write(other, $0.baseAddress, n) }
            }
        }
    }
}

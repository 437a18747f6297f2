import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A hostile "SSH server" on a loopback port: what it does with each connection is one of a
/// few misbehaviours. Every connection ends when the server stops; nothing it does is unbounded.
final class FakeServer: @unchecked Sendable {
    // Safe: `stopped` is read by the server threads and written once by `stop()`; sockets are
    // owned by the thread that accepted them.
    enum Behaviour: String, CaseIterable, Sendable {
        /// Accepts and closes at once.
        case close
        /// Accepts and never sends a byte.
        case silent
        /// Sends an SSH banner, then nothing.
        case bannerOnly
        /// Sends random bytes (no banner), 64 KiB a second, until the client goes.
        case junk
        /// Sends a banner, then random bytes as fast as the client reads, up to 64 MiB.
        case bannerThenFlood
        /// Sends a banner one byte every 100 ms.
        case slowBanner
        /// Sends one endless line with no newline.
        case endlessLine
        /// Sends a banner and then a packet header claiming a 1 GiB packet.
        case hugePacket
        /// Sends a banner, reads the client's banner, then closes.
        case bannerThenClose
    }

    let port: Int
    let behaviour: Behaviour
    private let listenFD: Int32
    private let stopLock = NSLock()
    private var stopped = false

    init(_ behaviour: Behaviour) throws {
        self.behaviour = behaviour
        let listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.listenFD = listenFD
        var one: Int32 = 1
        setsockopt(listenFD, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFD, $0, length) }
        }
        guard bound == 0, listen(listenFD, 16) == 0 else { throw NSError(domain: "FakeServer", code: Int(errno)) }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFD, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    var endpoint: String { "127.0.0.1:\(port)" }

    private var isStopped: Bool { stopLock.withLock { stopped } }

    func stop() {
        stopLock.withLock { stopped = true }
        shutdown(listenFD, Int32(SHUT_RDWR))
    }

    deinit { stop(); close(listenFD) }

    private func acceptLoop() {
        while !isStopped {
            var p = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) >= 0 else { return }
            if p.revents == 0 { continue }
            let fd = accept(listenFD, nil, nil)
            if fd < 0 { if isStopped { return } else { continue } }
            Thread.detachNewThread { [self] in serve(fd); close(fd) }
        }
    }

    private let banner = Array("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".utf8)

    private func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) == $0.count }
    }

    /// Waits up to `seconds` (in small steps, so `stop()` is noticed) or until the peer goes.
    private func idle(_ fd: Int32, seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        var sink = [UInt8](repeating: 0, count: 4096)
        while !isStopped && Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) >= 0 else { return }
            if p.revents != 0 {
                let n = sink.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return }
            }
        }
    }

    private func serve(_ fd: Int32) {
        var random = SystemRandomNumberGenerator()
        switch behaviour {
        case .close:
            return
        case .silent:
            idle(fd, seconds: 60)
        case .bannerOnly:
            _ = send(fd, banner)
            idle(fd, seconds: 60)
        case .junk:
            for _ in 0..<600 where !isStopped {
                let chunk = (0..<6554).map { _ in UInt8.random(in: 0...255, using: &random) }
                if !send(fd, chunk) { return }
                idle(fd, seconds: 0.1)
            }
        case .bannerThenFlood:
            guard send(fd, banner) else { return }
            let chunk = (0..<65536).map { _ in UInt8.random(in: 0...255, using: &random) }
            for _ in 0..<1024 where !isStopped { if !send(fd, chunk) { return } }
        case .slowBanner:
            for byte in banner where !isStopped {
                if !send(fd, [byte]) { return }
                idle(fd, seconds: 0.1)
            }
            idle(fd, seconds: 60)
        case .endlessLine:
            let chunk = [UInt8](repeating: UInt8(ascii: "A"), count: 4096)
            for _ in 0..<4096 where !isStopped { if !send(fd, chunk) { return } }
            idle(fd, seconds: 60)
        case .hugePacket:
            guard send(fd, banner) else { return }
            idle(fd, seconds: 0.2)
            // uint32 packet length 1 GiB, padding length 4, then a little.
            _ = send(fd, [0x40, 0x00, 0x00, 0x00, 4] + [UInt8](repeating: 0x14, count: 64))
            idle(fd, seconds: 60)
        case .bannerThenClose:
            _ = send(fd, banner)
            idle(fd, seconds: 0.3)
        }
    }
}

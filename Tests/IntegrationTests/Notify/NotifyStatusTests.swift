import Foundation
import TestHost
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `run` under a fake systemd: the test binds the `NOTIFY_SOCKET` datagram socket itself and reads
/// what the daemon tells systemd (READY=1, STATUS=).
@Suite(.serialized)
struct NotifyStatusTests {
    /// A bound datagram socket in `directory`, as systemd's notify socket.
    final class NotifySocket {
        let path: String
        let fd: Int32

        init(directory: String) throws {
            path = directory + "/notify.sock"
            unlink(path)
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            try #require(fd >= 0)
            var sa = sockaddr_un()
            sa.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            try #require(bytes.count < MemoryLayout.size(ofValue: sa.sun_path))
            withUnsafeMutableBytes(of: &sa.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
            let rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            try #require(rc == 0, "bind \(path): errno \(errno)")
        }

        deinit { close(fd); unlink(path) }

        /// The next datagram, waiting at most until `deadline`; nil on timeout.
        func receive(before deadline: Date) -> String? {
            var buffer = [UInt8](repeating: 0, count: 8192)
            while true {
                let left = deadline.timeIntervalSinceNow
                if left <= 0 { return nil }
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&pfd, 1, Int32(max(1, left * 1000)))
                if ready < 0 && errno == EINTR { continue }
                if ready <= 0 { return nil }
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n >= 0 { return String(decoding: buffer[0..<n], as: UTF8.self) }
                if errno != EINTR && errno != EAGAIN { return nil }
            }
        }
    }

    /// The `STATUS=` value of a datagram, if it has one.
    static func status(_ datagram: String) -> String? {
        datagram.split(separator: "\n").first { $0.hasPrefix("STATUS=") }.map { String($0.dropFirst(7)) }
    }

    @Test("only host unreachable: READY=1 within 1 s of start, STATUS= names the host and the retry")
    func readyWithoutAHost() throws {
        // The harness's key and known_hosts (a real key), but the host is a closed port.
        let host = try LoopbackHost(forcedCommand: "true")
        defer { host.shutdown() }
        let directory = host.directory
        let notify = try NotifySocket(directory: directory)
        let started = Date()
        let tunnel = try TunnelProcess(["run", "--host", "127.0.0.1:1", "--sink", "fifo", "--fifo", directory + "/f",
                                        "--identity", host.identity, "--known-hosts", host.knownHosts],
                                       logPath: directory + "/run.log", environment: ["NOTIFY_SOCKET": notify.path])
        defer { tunnel.stop() }
        var ready: Double?
        var statuses: [String] = []
        let deadline = Date() + 15
        while let datagram = notify.receive(before: deadline) {
            if datagram.contains("READY=1"), ready == nil { ready = Date().timeIntervalSince(started) }
            if let status = Self.status(datagram) { statuses.append(status) }
            if statuses.contains(where: { $0.contains("unreachable") && $0.contains("retrying") }) { break }
        }
        print("NotifyStatusTests: start → READY=1 with the only host unreachable: \(ready.map { String(format: "%.3f", $0) } ?? "never") s")
        let readyAfter = try #require(ready, "no READY=1: \(statuses) \(tunnel.log)")
        #expect(readyAfter <= 1.0)
        #expect(statuses.contains { $0.hasPrefix("127.0.0.1:1 unreachable: ") && $0.contains("retrying 127.0.0.1:1 in ") },
                "\(statuses)")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
    }

    @Test("STATUS= shows the delivered bytes within 10 s of their delivery")
    func statusShowsDeliveredBytes() throws {
        let host = try LoopbackHost(forcedCommand: "true")
        defer { host.shutdown() }
        // Exactly 40 KiB, then the channel stays open (`cat` waits on its stdin).
        let data = try makeRandomFile(in: host.directory, size: 40960)
        try host.setForcedCommand("cat \(data.path); cat")
        let notify = try NotifySocket(directory: host.directory)
        let fifo = host.directory + "/entropy.fifo"
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) + ["--sink", "fifo", "--fifo", fifo],
                                       logPath: host.directory + "/run.log", environment: ["NOTIFY_SOCKET": notify.path])
        defer { tunnel.stop() }
        let fd = openFIFOForReading(fifo)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(readExactly(fd, 40960, into: nil, within: 30) == 40960, "\(tunnel.log)")
        let delivered = Date()
        var seenAfter: Double?
        var statuses: [String] = []
        let deadline = delivered + 12
        while seenAfter == nil, let datagram = notify.receive(before: deadline) {
            guard let status = Self.status(datagram) else { continue }
            statuses.append(status)
            if status.contains("40.0 KiB delivered") { seenAfter = Date().timeIntervalSince(delivered) }
        }
        print("NotifyStatusTests: bytes read → STATUS= showing them: \(seenAfter.map { String(format: "%.3f", $0) } ?? "never") s")
        let after = try #require(seenAfter, "\(statuses.suffix(5)) \(tunnel.log)")
        #expect(after <= 10)
        #expect(statuses.last?.hasPrefix("connected to 127.0.0.1:\(host.port)") == true, "\(statuses.suffix(3))")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
    }
}

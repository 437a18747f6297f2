import EntropyTunnelCore
import Foundation
import Logging
import Testing

/// sd_notify against a real AF_UNIX datagram socket bound by the test, as systemd binds its own.
@Suite(.serialized)
struct SystemdNotifierTests {
    /// Binds a datagram socket at `address` (`@name` for the abstract namespace); returns its fd.
    func bindReceiver(_ address: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(fd >= 0)
        var path = Array(address.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &sa.sun_path) { raw in for (i, b) in path.enumerated() { raw[i] = b } }
        let length = MemoryLayout<sa_family_t>.size + path.count + (path[0] == 0 ? 0 : 1)
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        try #require(rc == 0, "bind \(address): \(errno)")
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    func receive(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n < 0 ? nil : String(decoding: buffer[0..<n], as: UTF8.self)
    }

    @Test("READY and STATUS arrive as one datagram on a path socket")
    func pathSocket() throws {
        let path = NSTemporaryDirectory() + "notify-\(getpid()).sock"
        unlink(path)
        let receiver = try bindReceiver(path)
        defer { close(receiver); unlink(path) }
        let notifier = try #require(SystemdNotifier(socketPath: path))
        #expect(notifier.send("READY=1\nSTATUS=connected to rng.example:22"))
        #expect(receive(receiver) == "READY=1\nSTATUS=connected to rng.example:22")
        #expect(notifier.send("WATCHDOG=1"))
        #expect(receive(receiver) == "WATCHDOG=1")
    }

    @Test("a leading @ means the abstract namespace")
    func abstractSocket() throws {
        let name = "@entropy-tunnel-test-\(getpid())"
        let receiver = try bindReceiver(name)
        defer { close(receiver) }
        let notifier = try #require(SystemdNotifier(socketPath: name))
        #expect(notifier.send("STOPPING=1"))
        #expect(receive(receiver) == "STOPPING=1")
    }

    @Test("fromEnvironment reads NOTIFY_SOCKET and the watchdog, honours WATCHDOG_PID, and can unset them")
    func environment() throws {
        let path = NSTemporaryDirectory() + "notify-env-\(getpid()).sock"
        unlink(path)
        let receiver = try bindReceiver(path)
        defer { close(receiver); unlink(path) }

        unsetenv("NOTIFY_SOCKET"); unsetenv("WATCHDOG_USEC"); unsetenv("WATCHDOG_PID")
        #expect(SystemdNotifier.fromEnvironment() == nil)

        setenv("NOTIFY_SOCKET", path, 1)
        setenv("WATCHDOG_USEC", "30000000", 1)
        setenv("WATCHDOG_PID", "\(getpid())", 1)
        let notifier = try #require(SystemdNotifier.fromEnvironment())
        #expect(notifier.watchdogInterval == .seconds(30))
        #expect(notifier.watchdogPingInterval == .seconds(15))
        #expect(notifier.send("READY=1"))
        #expect(receive(receiver) == "READY=1")

        setenv("WATCHDOG_PID", "\(getpid() + 1)", 1)
        #expect(SystemdNotifier.fromEnvironment()?.watchdogInterval == nil, "another process's watchdog")

        setenv("WATCHDOG_PID", "\(getpid())", 1)
        #expect(SystemdNotifier.fromEnvironment(unsetEnvironment: true) != nil)
        #expect(getenv("NOTIFY_SOCKET") == nil && getenv("WATCHDOG_USEC") == nil && getenv("WATCHDOG_PID") == nil)
    }

    @Test("a relative or empty socket path gives no notifier; a socket nobody bound reports failure")
    func badPaths() {
        #expect(SystemdNotifier(socketPath: "") == nil)
        #expect(SystemdNotifier(socketPath: "run/notify") == nil)
        let orphan = SystemdNotifier(socketPath: "/nonexistent/notify")
        #expect(orphan?.send("READY=1") == false)
    }
}

/// WATCHDOG=1 goes out only while the tunnel thread's heartbeat is recent.
@Suite(.serialized)
struct WatchdogServiceTests {
    /// In a process of its own (an exit test): the service runs on the cooperative pool, which
    /// the synchronous integration tests running in parallel in this process can hold for
    /// seconds at a time; the daemon has no such neighbours.
    @Test("a stale heartbeat stops the pings; a fresh one brings them back")
    func pingsFollowTheHeartbeat() async throws {
        await #expect(processExitsWith: .success) {
            try await WatchdogServiceTests.pingsFollowTheHeartbeatBody()
        }
    }

    static func pingsFollowTheHeartbeatBody() async throws {
        let path = NSTemporaryDirectory() + "notify-watchdog-\(getpid()).sock"
        unlink(path)
        let receiver = try SystemdNotifierTests().bindReceiver(path)
        defer { close(receiver); unlink(path) }
        /// Waits up to `seconds` for one datagram, on a thread of its own: a blocking recv() on
        /// the cooperative pool could starve the service under test.
        func receive(within seconds: Double) async -> String? {
            try? await BlockingThread.run(name: "test-recv") { () throws(TunnelError) -> String? in
                var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1e6))
                setsockopt(receiver, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                return SystemdNotifierTests().receive(receiver)
            }
        }
        // Pings every 50 ms (half the interval).
        let notifier = try #require(SystemdNotifier(socketPath: path, watchdogInterval: .milliseconds(100)))
        let stats = TunnelStats()
        let service = WatchdogService(notifier: notifier, stats: stats, staleAfter: .seconds(1), logger: Logger(label: "test"))
        let task = Task { await service.run() }
        defer { task.cancel() }
        #expect(await receive(within: 10) == "WATCHDOG=1")
        // The heartbeat is older than staleAfter: the pings stop (drain what was already sent).
        stats.beat(at: .now + .seconds(-5))
        try await Task.sleep(for: .milliseconds(120))
        var drained = 0
        while drained < 5, await receive(within: 0.3) != nil { drained += 1 }
        #expect(drained < 5, "pings went on with a stale heartbeat")
        #expect(await receive(within: 0.3) == nil)
        stats.beat()
        #expect(await receive(within: 10) == "WATCHDOG=1")
    }
}

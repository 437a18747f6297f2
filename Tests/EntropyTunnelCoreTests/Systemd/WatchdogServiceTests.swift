import EntropyTunnelCore
import Foundation
import Logging
import Testing

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
        let receiver = try NotifyReceiver.bound(path)
        defer { close(receiver); unlink(path) }
        /// Waits up to `seconds` for one datagram, on a thread of its own: a blocking recv() on
        /// the cooperative pool could starve the service under test.
        func receive(within seconds: Double) async -> String? {
            try? await BlockingThread.run(name: "test-recv") { () throws(TunnelError) -> String? in
                var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1e6))
                setsockopt(receiver, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                return NotifyReceiver.receive(receiver)
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

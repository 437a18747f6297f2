import EntropyTunnelCore
import Foundation
import Testing

/// sd_notify against a real AF_UNIX datagram socket bound by the test, as systemd binds its own.
@Suite(.serialized)
struct SystemdNotifierTests {
    @Test("READY and STATUS arrive as one datagram on a path socket")
    func pathSocket() throws {
        let path = NSTemporaryDirectory() + "notify-\(getpid()).sock"
        unlink(path)
        let receiver = try NotifyReceiver.bound(path)
        defer { close(receiver); unlink(path) }
        let notifier = try #require(SystemdNotifier(socketPath: path))
        #expect(notifier.send("READY=1\nSTATUS=connected to rng.example:22"))
        #expect(NotifyReceiver.receive(receiver) == "READY=1\nSTATUS=connected to rng.example:22")
        #expect(notifier.send("WATCHDOG=1"))
        #expect(NotifyReceiver.receive(receiver) == "WATCHDOG=1")
    }

    @Test("a leading @ means the abstract namespace")
    func abstractSocket() throws {
        let name = "@entropy-tunnel-test-\(getpid())"
        let receiver = try NotifyReceiver.bound(name)
        defer { close(receiver) }
        let notifier = try #require(SystemdNotifier(socketPath: name))
        #expect(notifier.send("STOPPING=1"))
        #expect(NotifyReceiver.receive(receiver) == "STOPPING=1")
    }

    @Test("fromEnvironment reads NOTIFY_SOCKET and the watchdog, honours WATCHDOG_PID, and can unset them")
    func environment() throws {
        let path = NSTemporaryDirectory() + "notify-env-\(getpid()).sock"
        unlink(path)
        let receiver = try NotifyReceiver.bound(path)
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
        #expect(NotifyReceiver.receive(receiver) == "READY=1")

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

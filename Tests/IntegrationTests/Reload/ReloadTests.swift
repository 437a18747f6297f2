import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP (`systemctl reload`) against the real daemon and two real sshd hosts: the config file is
/// rewritten, the daemon re-reads it, and the connection is kept or moved as the new host list says.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct ReloadTests {
    static let rng = "dd if=/dev/urandom bs=512 status=none"

    func config(hosts: [LoopbackHost], user: String, identity: String, knownHosts: String, fifo: String,
                extra: String = "") -> String {
        """
        # written by ReloadTests
        host = [\(hosts.map { "\"\($0.endpoint)\"" }.joined(separator: ", "))]
        user = "\(user)"
        identity = "\(identity)"
        known_hosts = "\(knownHosts)"
        fifo = "\(fifo)"
        sink = "fifo"
        backoff_cap = 2
        \(extra)
        """
    }

    func connections(_ log: String, _ host: LoopbackHost) -> Int {
        log.components(separatedBy: "connected host=\(host.endpoint)").count - 1
    }

    @Test("reload keeps a healthy connection whose host stays listed, moves off a removed host, survives a broken config")
    func reloadKeepsAndMoves() throws {
        let first = try LoopbackHost(forcedCommand: Self.rng)
        defer { first.shutdown() }
        let second = try LoopbackHost(forcedCommand: Self.rng, directory: first.directory + "/second")
        defer { second.shutdown() }
        try second.setAuthorizedKey(from: first.identity, command: Self.rng)
        let knownHosts = try first.knownHostsPinning([second])
        let fifo = first.directory + "/entropy.fifo"
        let configPath = first.directory + "/config.toml"
        func write(_ hosts: [LoopbackHost], extra: String = "") throws {
            try config(hosts: hosts, user: first.user, identity: first.identity, knownHosts: knownHosts, fifo: fifo, extra: extra)
                .writeReplacing(toFile: configPath)
        }
        try write([first])
        let tunnel = try TunnelProcess(["run", "--config", configPath], logPath: first.directory + "/run.log")
        let reader = try #require(FIFOReader(path: fifo))
        #expect(reader.read(64 << 10, within: 10) == 64 << 10, "\(tunnel.log)")
        let session = try #require(first.sessionPIDs.first)

        // 1. The current host stays (now second in the list): same session, no new connection.
        try write([second, first])
        let hup1 = Date()
        kill(tunnel.pid, SIGHUP)
        #expect(waitUntil(5) { reader.drain(); return tunnel.log.contains("reload keeps the connection") }, "\(tunnel.log)")
        let kept = Date().timeIntervalSince(hup1)
        #expect(reader.read(256 << 10, within: 10) == 256 << 10, "\(tunnel.log)")
        #expect(first.sessionPIDs == [session])
        #expect(second.sessionPIDs.isEmpty)
        #expect(connections(tunnel.log, first) == 1 && connections(tunnel.log, second) == 0, "\(tunnel.log)")
        #expect(tunnel.log.contains("changed=host"))

        // 2. A config that no longer reads: an error naming the line; the old configuration stays.
        try write([second], extra: "fifo_size = \"lots\"")
        kill(tunnel.pid, SIGHUP)
        #expect(waitUntil(5) { reader.drain(); return tunnel.log.contains("reload failed") }, "\(tunnel.log)")
        let failure = tunnel.log.split(separator: "\n").first { $0.contains("reload failed") }.map(String.init) ?? ""
        #expect(failure.contains("config.toml:9"), "\(failure)")
        #expect(reader.read(64 << 10, within: 10) == 64 << 10)
        #expect(first.sessionPIDs == [session] && connections(tunnel.log, second) == 0, "\(tunnel.log)")

        // 3. A setting that needs a restart is named, and the rest applies.
        try write([first, second], extra: "kernel_interval = 30")
        kill(tunnel.pid, SIGHUP)
        #expect(waitUntil(5) { reader.drain(); return tunnel.log.contains("restart_needed=kernel_interval") }, "\(tunnel.log)")
        #expect(first.sessionPIDs == [session])

        // 4. The current host is removed: the tunnel moves to the other one.
        try write([second])
        let hup4 = Date()
        kill(tunnel.pid, SIGHUP)
        #expect(waitUntil(10) { reader.drain(); return connections(tunnel.log, second) == 1 }, "\(tunnel.log)")
        let moved = Date().timeIntervalSince(hup4)
        #expect(tunnel.log.contains("it is no longer in the host list"))
        #expect(waitUntil(5) { first.sessionPIDs.isEmpty })
        #expect(reader.read(64 << 10, within: 10) == 64 << 10)
        print("reloadKeepsAndMoves: kept the connection \(String(format: "%.3f", kept)) s after SIGHUP; " +
              "moved to the remaining host \(String(format: "%.3f", moved)) s after SIGHUP")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
    }

    @Test("kernel sink, persistent: reloads that add a fallback, put it first and remove the held host; the daemon stays and moves")
    func kernelSinkReloads() throws {
        let a = try LoopbackHost(forcedCommand: Self.rng)
        defer { a.shutdown() }
        let b = try LoopbackHost(forcedCommand: Self.rng, directory: a.directory + "/b")
        defer { b.shutdown() }
        try b.setAuthorizedKey(from: a.identity, command: Self.rng)
        let knownHosts = try a.knownHostsPinning([b])
        let configPath = a.directory + "/config.toml"
        func write(_ hosts: [LoopbackHost]) throws {
            try """
                host = [\(hosts.map { "\"\($0.endpoint)\"" }.joined(separator: ", "))]
                user = "\(a.user)"
                identity = "\(a.identity)"
                known_hosts = "\(knownHosts)"
                kernel_interval = 1
                connection = "persistent"
                state_dir = "\(a.directory)/state"
                """.writeReplacing(toFile: configPath)
        }
        try write([a])
        let tunnel = try TunnelProcess(["run", "--config", configPath], logPath: a.directory + "/run.log")
        defer { tunnel.stop() }
        #expect(waitUntil(10) { tunnel.log.contains("first kernel feed") }, "\(tunnel.log)")
        for (n, hosts) in [[a, b], [b, a], [b]].enumerated() {
            try write(hosts)
            kill(tunnel.pid, SIGHUP)
            #expect(waitUntil(5) { tunnel.log.components(separatedBy: "configuration reloaded").count - 1 == n + 1 }, "\(tunnel.log)")
        }
        // Moved to b (the held host, at index 1 of the old list, is gone from the new one).
        #expect(waitUntil(10) { connections(tunnel.log, b) == 1 }, "\(tunnel.log)")
        #expect(tunnel.log.contains("reload keeps the connection host=\(a.endpoint) position=\"2 of 2\""), "\(tunnel.log)")
        #expect(tunnel.process.isRunning && !tunnel.diedBySignal, "\(tunnel.log)")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
    }
}

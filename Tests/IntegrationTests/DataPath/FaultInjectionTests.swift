import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// Real faults against the real daemon: a real sshd (killed, stopped, re-keyed, black-holed), a
/// real rngd (killed, crash-looping), real FIFOs (deleted). Every scenario checks what reached the
/// FIFO, and that `entropy-tunnel run` is still alive and exits 0 on SIGTERM at the end.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct FaultInjectionTests {
    static let rng = "dd if=/dev/urandom bs=512 status=none"

    func startTunnel(_ host: LoopbackHost, sink: String = "fifo", _ extra: [String] = [],
                     hosts: [LoopbackHost]? = nil) throws -> (TunnelProcess, fifo: String) {
        let fifo = host.directory + "/run/entropy.fifo"
        var arguments = ["run", "--user", host.user, "--identity", host.identity, "--known-hosts", host.knownHosts,
                         "--fifo", fifo, "--sink", sink, "--backoff-cap", "4"]
        for h in hosts ?? [host] { arguments += ["--host", h.endpoint] }
        let tunnel = try TunnelProcess(arguments + extra, logPath: host.directory + "/run.log")
        return (tunnel, fifo)
    }

    @Test("kill -9 of the sshd session mid-stream: the tunnel reconnects and bytes keep coming")
    func sessionKilled() throws {
        let host = try LoopbackHost(forcedCommand: Self.rng)
        defer { host.shutdown() }
        let (tunnel, fifo) = try startTunnel(host)
        let reader = try #require(FIFOReader(path: fifo))
        #expect(reader.read(256 << 10, within: 10) == 256 << 10)
        host.killSessions(signal: SIGKILL)
        let killed = Date()
        // Reconnect: within the first backoff delay (< 1 s) plus connection setup.
        #expect(reader.read(256 << 10, within: 10) == 256 << 10, "\(tunnel.log)")
        print("sessionKilled: 256 KiB more within \(Date().timeIntervalSince(killed)) s of the kill")
        #expect(tunnel.log.contains("connection to \(host.endpoint) lost") || tunnel.log.contains("remote command on \(host.endpoint)"))
        #expect(tunnel.log.components(separatedBy: " info: connected ").count - 1 >= 2)
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
    }

    @Test("sshd down for 10 s: retries with backoff, first byte within the backoff delay + 1 s of its return")
    func hostDownAndBack() throws {
        let host = try LoopbackHost(forcedCommand: Self.rng)
        defer { host.shutdown() }
        let (tunnel, fifo) = try startTunnel(host)
        let reader = try #require(FIFOReader(path: fifo))
        #expect(reader.read(64 << 10, within: 10) == 64 << 10)
        host.pause()
        host.killSessions(signal: SIGKILL)
        // While it is down the FIFO drains and nothing new arrives.
        Thread.sleep(forTimeInterval: 10)  // the fault's duration, not a synchronisation
        reader.drain()
        #expect(reader.read(1, within: 0.5) == 0)
        try host.resume()
        let back = Date()
        #expect(reader.read(4096, within: 10) == 4096, "\(tunnel.log)")
        let firstByte = Date()
        // The attempt that succeeded was scheduled by the last failure: its time plus its retry_in.
        let failures = logLines(tunnel.log).filter { $0.time < firstByte && logValue($0.text, "retry_in") != nil }
        let last = try #require(failures.last)
        let delay = Double(logValue(last.text, "retry_in")!.split(separator: " ")[0])!
        let scheduled = max(last.time.addingTimeInterval(delay), back)
        print("hostDownAndBack: \(failures.count) failed attempts while down; last retry_in=\(delay) s; " +
              "first byte \(String(format: "%.3f", firstByte.timeIntervalSince(scheduled))) s after the scheduled retry " +
              "(\(String(format: "%.3f", firstByte.timeIntervalSince(back))) s after the host came back)")
        #expect(firstByte.timeIntervalSince(scheduled) <= 1.0)
        #expect(failures.allSatisfy { Double(logValue($0.text, "retry_in")!.split(separator: " ")[0])! <= 4.0 })
        #expect(tunnel.stop() == 0)
    }

    @Test("a black-holed connection is detected within keepalive interval x count + 1 s, even while stalled")
    func blackHoledConnection() throws {
        let host = try LoopbackHost(forcedCommand: Self.rng)
        defer { host.shutdown() }
        let relay = try TCPRelay(upstreamPort: host.port)
        defer { relay.stop() }
        // Pin the host key for the relay's port too.
        let knownHosts = host.directory + "/known_hosts_relay"
        let key = host.hostPublicKey.split(separator: " ")
        try "[127.0.0.1]:\(relay.port) \(key[0]) \(key[1])\n".writeReplacing(toFile: knownHosts)
        let fifo = host.directory + "/entropy.fifo"
        let tunnel = try TunnelProcess(
            ["run", "--host", "127.0.0.1:\(relay.port)", "--user", host.user, "--identity", host.identity,
             "--known-hosts", knownHosts, "--fifo", fifo, "--sink", "fifo", "--backoff-cap", "4",
             "--keepalive-interval", "1", "--keepalive-count", "3"], logPath: host.directory + "/run.log")
        let reader = try #require(FIFOReader(path: fifo))
        #expect(reader.read(128 << 10, within: 10) == 128 << 10)
        // Stop reading: the FIFO fills and the channel stalls. Then the path goes dead.
        #expect(reader.waitUntilFull(within: 30), "FIFO holds \(reader.queued) bytes\n\(tunnel.log)")
        relay.blackHole()
        let holed = Date()
        #expect(waitUntil(10) { tunnel.log.contains("sent nothing for") }, "\(tunnel.log)")
        let lost = try #require(logLines(tunnel.log).first { $0.text.contains("sent nothing for") })
        let detection = lost.time.timeIntervalSince(holed)
        print("blackHoledConnection: dead peer detected \(String(format: "%.2f", detection)) s after the black hole (budget 1 x 3 + 1 = 4 s)")
        #expect(detection <= 4.0)
        // It reconnects through the relay (new connections are forwarded) and bytes flow again.
        reader.drain()
        #expect(reader.read(64 << 10, within: 15) == 64 << 10, "\(tunnel.log)")
        #expect(tunnel.stop() == 0)
    }

    @Test("a remote that sends only zeros: not one byte reaches the FIFO, the host counts as failed")
    func zerosNeverReachTheFIFO() throws {
        let host = try LoopbackHost(forcedCommand: "cat /dev/zero")
        defer { host.shutdown() }
        let (tunnel, fifo) = try startTunnel(host)
        let reader = try #require(FIFOReader(path: fifo))
        #expect(waitUntil(15) { tunnel.log.contains("failed the SP 800-90B health tests") }, "\(tunnel.log)")
        #expect(reader.read(1, within: 2) == 0)
        #expect(tunnel.log.contains("health test failed, 512 bytes dropped"))
        #expect(tunnel.stop() == 0)
        #expect(reader.total == 0)
    }

    @Test("failover: a zeros host is left for a good one, and only good bytes arrive")
    func failoverFromBadHost() throws {
        let bad = try LoopbackHost(forcedCommand: "cat /dev/zero")
        defer { bad.shutdown() }
        let good = try LoopbackHost(forcedCommand: Self.rng, directory: bad.directory + "/good")
        defer { good.shutdown() }
        // One key and one known_hosts for both hosts.
        let knownHosts = try bad.knownHostsPinning([good])
        try good.setAuthorizedKey(from: bad.identity, command: Self.rng)
        let fifo = bad.directory + "/entropy.fifo"
        let tunnel = try TunnelProcess(
            ["run", "--host", bad.endpoint, "--host", good.endpoint, "--user", bad.user, "--identity", bad.identity,
             "--known-hosts", knownHosts, "--fifo", fifo, "--sink", "fifo", "--backoff-cap", "4"],
            logPath: bad.directory + "/run.log")
        let reader = try #require(FIFOReader(path: fifo))
        #expect(reader.read(256 << 10, within: 15, keep: true) == 256 << 10, "\(tunnel.log)")
        #expect(tunnel.log.contains("failover_to=\(good.endpoint)"))
        // Random bytes have 7 zeros in a row with probability about 2^-56 per position.
        var run = 0, longest = 0
        for byte in reader.received { run = byte == 0 ? run + 1 : 0; longest = max(longest, run) }
        #expect(longest < 7)
        #expect(tunnel.stop() == 0)
    }

    @Test("a remote that sends one byte and hangs: nothing half-checked is passed on, and SIGTERM still stops it at once")
    func oneByteThenHang() throws {
        let host = try LoopbackHost(forcedCommand: "head -c 1 /dev/urandom; cat")
        defer { host.shutdown() }
        let (tunnel, fifo) = try startTunnel(host)
        let reader = try #require(FIFOReader(path: fifo))
        #expect(waitUntil(10) { tunnel.log.contains(" info: connected ") })
        #expect(reader.read(1, within: 3) == 0)
        let stopping = Date()
        #expect(tunnel.stop(within: 3) == 0, "\(tunnel.log)")
        #expect((tunnel.exitSeenAt ?? Date()).timeIntervalSince(stopping) < 3)
    }

    @Test("sshd restarted with a new host key: refused, no data passed, retried after 5 s or the backoff cap if lower (4 s here)")
    func hostKeyChangedWhileRunning() throws {
        let host = try LoopbackHost(forcedCommand: Self.rng)
        defer { host.shutdown() }
        let (tunnel, fifo) = try startTunnel(host)
        let reader = try #require(FIFOReader(path: fifo))
        #expect(reader.read(64 << 10, within: 10) == 64 << 10)
        try host.changeHostKey()
        host.killSessions(signal: SIGKILL)
        #expect(waitUntil(10) { tunnel.log.contains("HOST KEY MISMATCH") }, "\(tunnel.log)")
        reader.drain()  // what was queued before the change
        #expect(reader.read(1, within: 3) == 0)
        let mismatch = try #require(logLines(tunnel.log).first { $0.text.contains("HOST KEY MISMATCH") })
        #expect(logValue(mismatch.text, "retry_in") == "4.0 s")
        #expect(tunnel.log.components(separatedBy: "HOST KEY MISMATCH").count - 1 == 1)
        #expect(tunnel.stop() == 0)
    }

    @Test("the FIFO deleted while running is created again and fed")
    func fifoDeleted() throws {
        let host = try LoopbackHost(forcedCommand: Self.rng)
        defer { host.shutdown() }
        let (tunnel, fifo) = try startTunnel(host)
        var reader = try #require(FIFOReader(path: fifo))
        #expect(reader.read(64 << 10, within: 10) == 64 << 10)
        try FileManager.default.removeItem(atPath: fifo)
        #expect(waitUntil(5) { var st = stat(); return lstat(fifo, &st) == 0 && st.st_mode & S_IFMT == S_IFIFO }, "\(tunnel.log)")
        reader = try #require(FIFOReader(path: fifo))
        #expect(reader.read(128 << 10, within: 10) == 128 << 10)
        #expect(tunnel.log.contains("FIFO was removed or replaced"))
        #expect(tunnel.stop() == 0)
    }

    @Test("failback: after the preferred host returns, the tunnel goes back to it")
    func failback() throws {
        let preferred = try LoopbackHost(forcedCommand: Self.rng)
        defer { preferred.shutdown() }
        let fallback = try LoopbackHost(forcedCommand: Self.rng, directory: preferred.directory + "/fallback")
        defer { fallback.shutdown() }
        try fallback.setAuthorizedKey(from: preferred.identity, command: Self.rng)
        let knownHosts = try preferred.knownHostsPinning([fallback])
        preferred.pause()
        let fifo = preferred.directory + "/entropy.fifo"
        let tunnel = try TunnelProcess(
            ["run", "--host", preferred.endpoint, "--host", fallback.endpoint, "--user", preferred.user,
             "--identity", preferred.identity, "--known-hosts", knownHosts, "--fifo", fifo, "--sink", "fifo",
             "--backoff-cap", "2", "--failback-interval", "1"], logPath: preferred.directory + "/run.log")
        let reader = try #require(FIFOReader(path: fifo))
        #expect(reader.read(64 << 10, within: 10) == 64 << 10)
        #expect(tunnel.log.contains("connected host=\(fallback.endpoint)"))
        // Probes of the preferred host fail while it is down; the fallback connection is kept
        // (paused during each probe), never dropped and re-made. Keep consuming meanwhile.
        #expect(waitUntil(10) { reader.drain(); return tunnel.log.contains("cannot connect to \(preferred.endpoint)") && tunnel.log.components(separatedBy: "cannot connect to \(preferred.endpoint)").count > 2 }, "\(tunnel.log)")
        #expect(tunnel.log.components(separatedBy: "connected host=\(fallback.endpoint)").count - 1 == 1, "\(tunnel.log)")
        #expect(reader.read(64 << 10, within: 10) == 64 << 10)
        try preferred.resume()
        #expect(waitUntil(15) { reader.drain(); return tunnel.log.contains("connected host=\(preferred.endpoint)") }, "\(tunnel.log)")
        #expect(tunnel.log.contains("back on a preferred host"))
        reader.drain()
        #expect(reader.read(64 << 10, within: 10) == 64 << 10)
        #expect(tunnel.stop() == 0)
    }
}

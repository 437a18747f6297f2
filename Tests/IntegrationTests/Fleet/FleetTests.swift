import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// A fleet booting at once: 200 real `run` processes (on-demand, the kernel sink's default)
/// against one harness sshd (one `sshd -i` per connection, so MaxStartups does not apply).
@Suite(.serialized, .timeLimit(.minutes(10)))
struct FleetTests {
    @Test("a fleet of 200 run processes started at once: every one has its first bytes within 30 s, and each ends by its PID")
    func fleetFirstBytes() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let count = 200
        let started = Date()
        var clients: [TunnelProcess] = []
        defer { for client in clients { client.stop(signal: SIGKILL, within: 5) } }
        for i in 0..<count {
            let dir = host.directory + "/c\(i)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            clients.append(try TunnelProcess(["run"] + connectionArguments(host) +
                                             ["--kernel-interval", "10", "--state-dir", dir + "/seed",
                                              "--metrics-file", dir + "/metrics.prom"],
                                             logPath: dir + "/run.log"))
        }
        var fedAt: [Int: Double] = [:]
        // Every 250 ms, not waitUntil's 10 ms: reading 200 logs that often would slow the fleet's start.
        while fedAt.count < count, Date().timeIntervalSince(started) < 30 {
            for (i, client) in clients.enumerated() where fedAt[i] == nil {
                if client.log.contains("first kernel feed") { fedAt[i] = Date().timeIntervalSince(started) }
            }
            if fedAt.count < count { usleep(250_000) }
        }
        let all = fedAt.count == count
        let slowest = fedAt.values.max() ?? .nan
        print("fleet of \(count): \(fedAt.count) had their first kernel feed within 30 s, the last after \(String(format: "%.1f", slowest)) s")
        let example = clients.enumerated().first { fedAt[$0.offset] == nil }.map { String($0.element.log.suffix(600)) } ?? ""
        #expect(all, "\(count - fedAt.count) clients without a first feed after 30 s; e.g. \(example)")
        // Between fills no session is held: once all are fed the host goes idle (4K lasts minutes).
        #expect(waitUntil(5) { host.sessionPIDs.isEmpty }, "\(host.sessionPIDs.count) sessions still open")
        // Each stopped by its own PID, cleanly (stops run in parallel: SIGTERM to all, then wait).
        for client in clients { kill(client.pid, SIGTERM) }
        var clean = 0
        for client in clients where client.waitForExit(within: 10) == 0 { clean += 1 }
        #expect(clean == count, "\(count - clean) clients did not stop cleanly on SIGTERM")
    }
}

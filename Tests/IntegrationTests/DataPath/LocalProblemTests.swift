import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// A key the daemon's user cannot read is a problem of this machine, not a host's: no host is
/// tried, failed or failed over for it.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct LocalProblemTests {
    @Test("a key the daemon's user cannot read: run stops at start with the chown fix (78), no host is tried or failed over",
          .enabled(if: getuid() == 0, "runs the daemon as another user: needs root"))
    func unreadableKeyIsLocal() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let home = try unprivilegedHome(for: host)
        chown(home + "/id", 0, 0)  // root's now, mode 0600: uid 65534 cannot read it
        let result = try Shell.capture("setpriv", setprivNobody + [tunnelBinary, "run", "--host", host.endpoint, "--host", "127.0.0.1:1",
                                                                   "--user", host.user, "--identity", home + "/id",
                                                                   "--known-hosts", home + "/known_hosts", "--sink", "fifo",
                                                                   "--fifo", home + "/fifo", "--state-file", home + "/state.json"])
        #expect(result.status == 78, "\(result.stderr)")
        #expect(result.stderr.contains("not readable by user") && result.stderr.contains("chown"), "\(result.stderr)")
        #expect(!result.stderr.contains("failover") && !result.stderr.contains("connected"), "\(result.stderr)")
    }

    @Test("the key turns unreadable while the daemon runs: a local error once, no host failed, no failover; fixed, it reconnects",
          .enabled(if: getuid() == 0, "runs the daemon as another user: needs root"))
    func keyTurnsUnreadable() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let spare = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { spare.shutdown() }
        let home = try unprivilegedHome(for: host)
        try spare.setAuthorizedKey(from: host.identity, command: "dd if=/dev/urandom bs=512 status=none")
        try (try String(contentsOfFile: home + "/known_hosts", encoding: .utf8) + String(contentsOfFile: spare.knownHosts, encoding: .utf8))
            .write(toFile: home + "/known_hosts", atomically: false, encoding: .utf8)
        let tunnel = try TunnelProcess(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
                                        tunnelBinary, "run", "--host", host.endpoint, "--host", spare.endpoint, "--user", host.user,
                                        "--identity", home + "/id", "--known-hosts", home + "/known_hosts", "--sink", "fifo",
                                        "--fifo", home + "/fifo", "--state-file", home + "/state.json"],
                                       logPath: host.directory + "/run.log", executable: "/usr/bin/setpriv")
        let reader = try #require(FIFOReader(path: home + "/fifo"))
        #expect(reader.read(64 << 10, within: 10) == 64 << 10, "\(tunnel.log)")
        chown(home + "/id", 0, 0)
        host.killSessions(signal: SIGKILL)
        #expect(waitUntil(10) { tunnel.log.contains("problem=local") }, "\(tunnel.log)")
        reader.drain()
        #expect(reader.read(1, within: 1) == 0, "no host may be used with a key it cannot read")
        chown(home + "/id", 65534, 65534)
        #expect(reader.read(4096, within: 15) == 4096, "\(tunnel.log)")
        let log = tunnel.log
        #expect(log.components(separatedBy: "problem=local").count - 1 == 1, "logged once: \(log)")
        // The lost session may name the spare as the next host; it is never tried, nor any host failed for the key.
        #expect(!log.contains("connected host=\(spare.endpoint)"), "\(log)")
        #expect(log.components(separatedBy: " error: ").count - 1 == 1, "the key's error only: \(log)")
        #expect(tunnel.stop() == 0, "\(log)")
    }
}

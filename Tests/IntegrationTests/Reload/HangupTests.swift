import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP re-reads the configuration; a storm of them changes nothing else.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct HangupTests {
    @Test("a storm of 200 SIGHUPs: each re-reads the unchanged configuration, the connection is kept, SIGTERM afterwards still exits 0")
    func hangup() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) + ["--sink", "fifo", "--fifo", host.directory + "/run/f"],
                                       logPath: host.directory + "/run.log")
        let reader = try #require(FIFOReader(path: host.directory + "/run/f"))
        #expect(reader.read(4096, within: 10) == 4096)
        let session = host.sessionPIDs
        for _ in 0..<200 { kill(tunnel.pid, SIGHUP) }
        #expect(waitUntil(10) { reader.drain(); return tunnel.log.contains("configuration reloaded changed=nothing") }, "\(tunnel.log)")
        #expect(tunnel.process.isRunning)
        #expect(host.sessionPIDs == session, "the connection was replaced")
        #expect(tunnel.log.components(separatedBy: " connected host=").count - 1 == 1, "\(tunnel.log)")
        reader.drain()
        #expect(reader.read(4096, within: 10) == 4096, "the tunnel stopped delivering after SIGHUP")
        #expect(tunnel.stop() == 0)
    }
}

import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// `--sink kernel` against the harness sshd, watched with strace: what reaches the kernel, when.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct KernelSinkTests {
    func adds(_ calls: [KernelCall]) -> [(credit: Int, size: Int, result: Int)] {
        calls.compactMap { if case .addEntropy(let c, let s) = $0.kind, s > 0 { return (c, s, $0.result) } else { return nil } }
    }

    func reseeds(_ calls: [KernelCall]) -> [KernelCall] {
        calls.filter { if case .reseed = $0.kind { return true } else { return false } }
    }

    @Test("--kernel-interval 2: one 64-byte RNDADDENTROPY with credit 0 and one RNDRESEEDCRNG per interval, nothing in between")
    func feedsOnTheInterval() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) +
                                       ["--sink", "kernel", "--kernel-interval", "2", "--state-dir", host.directory + "/state"],
                                       logPath: host.directory + "/run.log")
        defer { tunnel.stop() }
        #expect(waitUntil(10) { tunnel.log.contains("kernel sink ready") }, "\(tunnel.log)")
        let tracer = try Tracer(pid: tunnel.pid, calls: "ioctl", logPath: host.directory + "/strace.log")
        let fed = waitUntil(20) { reseeds(KernelCall.parse(tracer.lines)).count >= 4 }
        tracer.stop()
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
        #expect(fed, "fewer than 4 reseeds in 20 s: \(tracer.lines.suffix(10)) \(tunnel.log)")

        let calls = KernelCall.parse(tracer.lines)
        let added = adds(calls)
        let reseeded = reseeds(calls)
        print("kernel sink, interval 2 s: \(added.count) RNDADDENTROPY, \(reseeded.count) RNDRESEEDCRNG; reseed times \(reseeded.map(\.time))")
        #expect(!added.isEmpty)
        for add in added {
            #expect(add.size == 64 && add.credit == 0 && add.result == 0, "\(add)")
        }
        #expect(reseeded.allSatisfy { $0.result == 0 }, "\(reseeded)")
        // One add before each reseed (the last add may have been traced just before the stop).
        #expect(added.count == reseeded.count || added.count == reseeded.count + 1, "\(calls)")
        // Driven by the schedule: successive feeds are an interval apart, never closer.
        for (a, b) in zip(reseeded, reseeded.dropFirst()) {
            #expect(b.time - a.time >= 1.95 && b.time - a.time <= 3.0, "feeds \(a.time) and \(b.time)")
        }
        #expect(tunnel.log.contains("first kernel feed"), "\(tunnel.log)")
        #expect(!tunnel.log.contains("write mode"))
    }

    @Test("SIGUSR1 feeds and reseeds at once, between scheduled feeds")
    func sigusr1FeedsNow() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) +
                                       ["--sink", "kernel", "--kernel-interval", "600", "--state-dir", host.directory + "/state"],
                                       logPath: host.directory + "/run.log")
        defer { tunnel.stop() }
        #expect(waitUntil(10) { tunnel.log.contains("first kernel feed") }, "\(tunnel.log)")
        let tracer = try Tracer(pid: tunnel.pid, calls: "ioctl", logPath: host.directory + "/strace.log")
        let sent = Date()
        kill(tunnel.pid, SIGUSR1)
        let fed = waitUntil(5) { reseeds(KernelCall.parse(tracer.lines)).count >= 1 }
        let took = Date().timeIntervalSince(sent)
        tracer.stop()
        #expect(fed, "no feed after SIGUSR1: \(tunnel.log)")
        print("kernel sink: SIGUSR1 to RNDRESEEDCRNG in \(String(format: "%.3f", took)) s")
        #expect(took < 1.5)
        let calls = KernelCall.parse(tracer.lines)
        #expect(adds(calls).map(\.size) == [64], "\(calls)")
        #expect(reseeds(calls).count == 1, "\(calls)")
        #expect(tunnel.log.contains("feed requested (SIGUSR1)"), "\(tunnel.log)")
        #expect(tunnel.stop() == 0, "SIGUSR1 must not end the daemon; SIGTERM exits 0: \(tunnel.log)")
    }

    @Test("as an unprivileged user (setpriv) the kernel sink falls back to write(): mixed, no credit, no reseed")
    func unprivilegedFallsBackToWrite() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let home = try unprivilegedHome(for: host)
        let tunnel = try TunnelProcess(
            setprivNobody + [tunnelBinary, "run",
             "--host", host.endpoint, "--user", host.user, "--identity", home + "/id", "--known-hosts", home + "/known_hosts",
             "--sink", "kernel", "--kernel-interval", "600", "--state-dir", home + "/state"],
            logPath: host.directory + "/run.log", executable: "/usr/bin/setpriv")
        defer { tunnel.stop() }
        #expect(waitUntil(10) { tunnel.log.contains("first kernel feed") }, "\(tunnel.log)")
        #expect(tunnel.log.contains("write mode"), "\(tunnel.log)")
        #expect(tunnel.log.contains("method=write"), "\(tunnel.log)")
        let tracer = try Tracer(pid: tunnel.pid, calls: "ioctl,write", logPath: host.directory + "/strace.log")
        kill(tunnel.pid, SIGUSR1)
        let fed = waitUntil(5) {
            KernelCall.parse(tracer.lines).contains { if case .write = $0.kind { return true } else { return false } }
        }
        tracer.stop()
        #expect(fed, "no write to /dev/urandom after SIGUSR1: \(tracer.lines.suffix(10))")
        let calls = KernelCall.parse(tracer.lines)
        #expect(calls.allSatisfy { if case .write(let n) = $0.kind { return n == 64 } else { return false } }, "\(calls)")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
    }
}

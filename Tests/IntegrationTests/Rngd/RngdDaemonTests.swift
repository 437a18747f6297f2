import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// `run` with the default sink: a real rngd (Debian rng-tools5) on the FIFO, supervised.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct RngdDaemonTests {
    static let rng = "dd if=/dev/urandom bs=512 status=none"

    func start(_ host: LoopbackHost, _ extra: [String] = []) throws -> (TunnelProcess, fifo: String) {
        let fifo = host.directory + "/run/entropy.fifo"
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) + ["--sink", "rngd", "--fifo", fifo] + extra,
                                       logPath: host.directory + "/run.log")
        return (tunnel, fifo)
    }

    /// Waits for a supervised rngd (a child of the tunnel reading the FIFO: not the short-lived
    /// `rngd --version` probe) other than `previous`; returns its PID and when it was seen.
    func nextRngd(of tunnel: TunnelProcess, other previous: Int32? = nil, within seconds: Double = 10) -> (Int32, Date)? {
        var found: Int32?
        waitUntil(seconds) {
            found = supervisedRngd(of: tunnel).first { $0 != previous }
            return found != nil
        }
        return found.map { ($0, Date()) }
    }

    func supervisedRngd(of tunnel: TunnelProcess) -> [Int32] {
        childPIDs(of: tunnel.pid, named: "rngd").filter { pid in
            let cmdline = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
            return cmdline.split(separator: "\0").contains("-r")
        }
    }

    @Test("rngd starts once the FIFO holds bytes, and kill -9 five times: restarted each time, the first within 1 s")
    func rngdKilledFiveTimes() throws {
        let host = try LoopbackHost(forcedCommand: Self.rng)
        defer { host.shutdown() }
        let (tunnel, fifo) = try start(host)
        var (pid, _) = try #require(nextRngd(of: tunnel), "\(tunnel.log)")
        // rngd was started after the first bytes were in the FIFO. The child shows in /proc a
        // moment before the tunnel logs that it started it.
        #expect(waitUntil(10) { tunnel.log.contains("rngd started") }, "\(tunnel.log)")
        let lines = logLines(tunnel.log)
        let connected = try #require(lines.first { $0.text.contains(" connected ") })
        let rngdStarted = try #require(lines.first { $0.text.contains("rngd started") })
        #expect(rngdStarted.time >= connected.time)
        var delays: [Double] = []
        for _ in 1...5 {
            kill(pid, SIGKILL)
            let died = Date()
            let next = try #require(nextRngd(of: tunnel, other: pid, within: 35), "\(tunnel.log)")
            delays.append(next.1.timeIntervalSince(died))
            pid = next.0
        }
        print("rngdKilledFiveTimes: restart delays \(delays.map { String(format: "%.3f", $0) }.joined(separator: ", ")) s")
        #expect(delays[0] <= 1.0)
        // The FIFO stayed open for writing throughout: it is still full for the new rngd.
        let reader = try #require(FIFOReader(path: fifo))
        #expect(waitUntil(5) { reader.queued >= 32 << 10 }, "queued \(reader.queued)")
        #expect(waitUntil(10) { tunnel.log.components(separatedBy: "rngd started").count - 1 == 6 }, "\(tunnel.log)")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
    }

    @Test("an rngd that exits at once (crash loop) for 30 s costs the tunnel at most 5% of one core")
    func crashLoopIsCheap() throws {
        let host = try LoopbackHost(forcedCommand: Self.rng)
        defer { host.shutdown() }
        // A stand-in that answers like rng-tools5's rngd (so it is recognised) and then dies.
        let standIn = host.directory + "/crashing-rngd"
        try """
            #!/bin/sh
            case "$1" in --version|--help) exec /usr/sbin/rngd "$1" ;; esac
            echo "crashing on purpose" >&2
            exit 3
            """.writeReplacing(toFile: standIn)
        chmod(standIn, 0o755)
        let (tunnel, fifo) = try start(host, ["--rngd", standIn])
        #expect(waitUntil(10) { tunnel.log.contains("rngd started") }, "\(tunnel.log)")
        let cpuBefore = cpuSeconds(of: tunnel.pid)
        Thread.sleep(forTimeInterval: 30)  // the crash loop's duration, not a synchronisation
        let cpu = cpuSeconds(of: tunnel.pid) - cpuBefore
        let starts = tunnel.log.components(separatedBy: "rngd started").count - 1
        print("crashLoopIsCheap: \(starts) rngd starts, tunnel CPU \(cpu) s in 30 s (\(String(format: "%.2f", cpu / 30 * 100)) % of one core)")
        #expect(cpu <= 1.5)
        #expect(starts >= 3)
        #expect(tunnel.log.contains("crashing on purpose"))
        let reader = try #require(FIFOReader(path: fifo))
        #expect(reader.queued >= 32 << 10)
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
    }

    @Test("SIGTERM: exit 0 within 3 s, rngd stopped, no child left behind")
    func gracefulShutdown() throws {
        let host = try LoopbackHost(forcedCommand: Self.rng)
        defer { host.shutdown() }
        let (tunnel, _) = try start(host)
        let (rngd, _) = try #require(nextRngd(of: tunnel), "\(tunnel.log)")
        let pid = tunnel.pid
        let stopping = Date()
        #expect(tunnel.stop(within: 3) == 0, "\(tunnel.log)")
        print("gracefulShutdown: exited in \(String(format: "%.3f", (tunnel.exitSeenAt ?? Date()).timeIntervalSince(stopping))) s")
        #expect((tunnel.exitSeenAt ?? Date()).timeIntervalSince(stopping) < 3)
        #expect(!isAlive(rngd))
        #expect(childPIDs(of: pid, named: "rngd").isEmpty)  // neither supervised nor probe
        #expect(tunnel.log.contains("rngd stopped"))
    }

    @Test("rngd never outlives the tunnel, even when the tunnel is killed with SIGKILL")
    func rngdDiesWithTunnel() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) + ["--sink", "rngd", "--fifo", host.directory + "/run/f"],
                                       logPath: host.directory + "/run.log")
        var rngd: Int32 = 0
        #expect(waitUntil(10) {
            rngd = childPIDs(of: tunnel.pid, named: "rngd").first ?? 0
            return rngd > 0
        }, "\(tunnel.log)")
        kill(tunnel.pid, SIGKILL)
        _ = tunnel.waitForExit(within: 5)
        #expect(waitUntil(2) { !isAlive(rngd) }, "rngd \(rngd) outlived the tunnel")
    }
}

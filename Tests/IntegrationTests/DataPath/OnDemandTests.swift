import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// `--connection on-demand` (the kernel sink's default) against the harness sshd: short fill
/// sessions, none held in between, the kernel fed from the reserve (watched with strace).
@Suite(.serialized, .timeLimit(.minutes(10)))
struct OnDemandTests {
    func reseeds(_ tracer: Tracer) -> Int {
        KernelCall.parse(tracer.lines).filter { if case .reseed = $0.kind { return true } else { return false } }.count
    }

    func count(_ text: String, in log: String) -> Int { log.components(separatedBy: text).count - 1 }

    @Test("on-demand holds no session between fills, and the kernel sink still feeds on its schedule")
    func noSessionBetweenFills() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) +
                                       ["--kernel-interval", "1", "--reserve", "4K", "--state-dir", host.directory + "/state"],
                                       logPath: host.directory + "/run.log")
        defer { tunnel.stop() }
        #expect(waitUntil(15) { tunnel.log.contains("reserve filled") }, "\(tunnel.log)")
        #expect(tunnel.log.contains("connection=on-demand"), "on-demand is the kernel sink's default: \(tunnel.log)")
        // The session ends right after the fill: sshd's process for it is gone.
        #expect(waitUntil(5) { host.sessionPIDs.isEmpty }, "session still open: \(host.sessionPIDs)")
        let tracer = try Tracer(pid: tunnel.pid, calls: "ioctl", logPath: host.directory + "/strace.log")
        var sessionsSeen: Set<Int32> = []
        let end = Date().addingTimeInterval(5)
        while Date() < end {
            sessionsSeen.formUnion(host.sessionPIDs)
            usleep(50_000)
        }
        let fed = reseeds(tracer)
        tracer.stop()
        #expect(sessionsSeen.isEmpty, "sessions between fills: \(sessionsSeen)")
        // 4K at 64 + 32 bytes a second lasts about 30 s: no second session in this time.
        #expect(count("connected host=", in: tunnel.log) == 1, "\(tunnel.log)")
        #expect(fed >= 4, "\(fed) feeds in 5 s at --kernel-interval 1: \(tunnel.log)")
        // status tells on-demand apart from a lost connection.
        let status = try runTunnel(["status", "--state-file", tunnel.logPath + ".state.json"])
        #expect(status.status == 0 && status.stdout.contains("Host: none held between fills (on demand); last fill from \(host.endpoint)")
                && status.stdout.contains("Reserve: ") && status.stdout.contains("1 fills") && status.stdout.contains("1 sessions"),
                "\(status.stdout)\(status.stderr)")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tunnel.logPath + ".state.json"))) as? [String: Any]
        let reserve = state?["reserve"] as? [String: Any]
        #expect(reserve?["capacity"] as? Int == 4096, "\(String(describing: state))")
        #expect(reserve?["fills"] as? Int == 1, "\(String(describing: reserve))")
        let level = reserve?["level"] as? Int ?? -1
        #expect(level > 1024 && level < 4096, "reserve level \(level)")
    }

    @Test("the reserve is refilled when below a quarter, each time in a new short session")
    func refillsBelowAQuarter() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        // 1K lasts about 8 feeds of 64 + the seed's 32 bytes: a refill within about 10 s.
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) +
                                       ["--kernel-interval", "1", "--reserve", "1K", "--state-dir", host.directory + "/state"],
                                       logPath: host.directory + "/run.log")
        defer { tunnel.stop() }
        #expect(waitUntil(25) { count("reserve filled", in: tunnel.log) >= 2 }, "\(tunnel.log)")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
        let log = tunnel.log
        #expect(count("connected host=", in: log) == count("reserve filled", in: log), "one session per fill: \(log)")
        #expect(log.contains("was=") && !log.contains("was=1024"), "\(log)")
    }

    @Test("a host that sends less than asked fails the fill: failover to the next host, the kernel keeps being fed")
    func failingFillFailsOver() throws {
        // Sends 100 bytes and ends: less than the one health window the smallest fill asks for.
        let short = try LoopbackHost(forcedCommand: "head -c 100 /dev/urandom")
        defer { short.shutdown() }
        let rng = "dd if=/dev/urandom bs=512 status=none"
        let good = try LoopbackHost(forcedCommand: rng, directory: short.directory + "/good")
        defer { good.shutdown() }
        // One key and one known_hosts for both hosts.
        let knownHosts = try short.knownHostsPinning([good])
        try good.setAuthorizedKey(from: short.identity, command: rng)
        let tunnel = try TunnelProcess(["run", "--host", short.endpoint, "--host", good.endpoint, "--user", short.user,
                                        "--identity", short.identity, "--known-hosts", knownHosts,
                                        "--kernel-interval", "1", "--reserve", "1K", "--state-dir", short.directory + "/state"],
                                       logPath: short.directory + "/run.log")
        defer { tunnel.stop() }
        #expect(waitUntil(20) { tunnel.log.contains("reserve filled bytes=") && tunnel.log.contains("host=\(good.endpoint)") },
                "\(tunnel.log)")
        let log = tunnel.log
        #expect(log.contains("failover_to=\(good.endpoint)"), "\(log)")
        #expect(log.contains("ended"), "\(log)")
        let tracer = try Tracer(pid: tunnel.pid, calls: "ioctl", logPath: short.directory + "/strace.log")
        #expect(waitUntil(5) { reseeds(tracer) >= 2 }, "\(tunnel.log)")
        tracer.stop()
        // status: degraded, the reserve filled from the fallback host.
        var status: Shell.Result?
        let degraded = waitUntil(5) {
            status = try? runTunnel(["status", "--state-file", tunnel.logPath + ".state.json"])
            return status?.status == 1 && status?.stdout.contains("fallback host \(good.endpoint)") == true
        }
        #expect(degraded, "\(status?.stdout ?? "")\(status?.stderr ?? "")")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
    }

    @Test("while fills keep failing the kernel is fed from what is left, and the host is retried with backoff, not in a loop")
    func failingFillsBackOff() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) +
                                       ["--kernel-interval", "1", "--reserve", "4K", "--backoff-cap", "2",
                                        "--state-dir", host.directory + "/state"],
                                       logPath: host.directory + "/run.log")
        defer { tunnel.stop() }
        #expect(waitUntil(15) { tunnel.log.contains("reserve filled") }, "\(tunnel.log)")
        // From now on every session fails at once.
        try host.setForcedCommand("echo no RNG here >&2; exit 1")
        // Drain the reserve to below a quarter quickly: SIGUSR1 feeds at once.
        let tracer = try Tracer(pid: tunnel.pid, calls: "ioctl", logPath: host.directory + "/strace.log")
        for _ in 0..<40 {
            kill(tunnel.pid, SIGUSR1)
            usleep(30_000)
        }
        #expect(waitUntil(10) { tunnel.log.contains("no RNG here") }, "\(tunnel.log)")
        let before = reseeds(tracer)
        let failuresBefore = count("retry_in=", in: tunnel.log)
        usleep(4_000_000)
        let after = reseeds(tracer)
        tracer.stop()
        let failures = count("retry_in=", in: tunnel.log) - failuresBefore
        #expect(after - before >= 3, "the kernel must still be fed from the reserve: \(before) -> \(after)")
        // --backoff-cap 2: at most a few tries in 4 s, not a tight loop.
        #expect(failures <= 8, "\(failures) failed fills in 4 s: \(tunnel.log)")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
    }

    @Test("persistent with the kernel sink holds its one session; on-demand with a FIFO sink is refused")
    func persistentAndRefusal() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) +
                                       ["--connection", "persistent", "--kernel-interval", "1", "--state-dir", host.directory + "/state"],
                                       logPath: host.directory + "/run.log")
        defer { tunnel.stop() }
        #expect(waitUntil(15) { tunnel.log.contains("first kernel feed") }, "\(tunnel.log)")
        usleep(1_500_000)
        #expect(host.sessionPIDs.count == 1, "\(host.sessionPIDs)")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
        #expect(!tunnel.log.contains("reserve filled"))

        let refused = try runTunnel(["run"] + connectionArguments(host) +
                                    ["--sink", "fifo", "--connection", "on-demand", "--fifo", host.directory + "/f"])
        #expect(refused.status != 0)
        #expect((refused.stdout + refused.stderr).contains("on-demand works only with the kernel sink"), "\((refused.stdout + refused.stderr))")
    }

    @Test("on-demand over serve: the host gives out the reserve and no more (over-drain at most --reserve + one window)")
    func overDrainOverServe() throws {
        let dir = try ServeTests.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        let device = try ServeTests.CountingDevice(directory: dir)
        let host = try LoopbackHost(forcedCommand: "\(tunnelBinary) serve --device \(device.path)")
        defer { host.shutdown() }
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) +
                                       ["--kernel-interval", "1", "--state-dir", host.directory + "/state", "--log-level", "debug"],
                                       logPath: host.directory + "/run.log")
        defer { tunnel.stop() }
        let feeds = { tunnel.log.split(separator: "\n").filter { $0.contains("kernel feed") }.count }
        #expect(waitUntil(20) { feeds() >= 8 }, "\(tunnel.log)")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
        let given = feeds() * 64
        let taken = device.taken
        print("on-demand over serve: host device gave \(taken) bytes, the kernel got \(given) (over-drain \(taken - given))")
        #expect(taken >= given)
        #expect(taken - given <= 4096 + 512, "over-drain \(taken - given) bytes")
        #expect(host.sessionPIDs.isEmpty)
    }

    @Test("on-demand with a plain reader (dd): each fill opens a window of its own size, so the host loses its pipe and little more")
    func overDrainOverPlainReader() throws {
        let dir = try ServeTests.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        let device = try ServeTests.CountingDevice(directory: dir, prefill: 1 << 20)
        let host = try LoopbackHost(forcedCommand: "dd if=\(device.path) bs=512 status=none")
        defer { host.shutdown() }
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) +
                                       ["--kernel-interval", "1", "--state-dir", host.directory + "/state", "--log-level", "debug"],
                                       logPath: host.directory + "/run.log")
        defer { tunnel.stop() }
        #expect(waitUntil(20) { tunnel.log.contains("reserve filled") }, "\(tunnel.log)")
        #expect(tunnel.log.contains("window=4.0 KiB") || tunnel.log.contains("window=4K"), "the fill's window: \(tunnel.log)")
        #expect(waitUntil(5) { host.sessionPIDs.isEmpty }, "session still open: \(host.sessionPIDs)")
        #expect(tunnel.stop() == 0, "\(tunnel.log)")
        // dd blocks on its pipe to sshd once the 4 KiB window is full: what it took is the fill,
        // the pipe (64 KiB), what sshd holds for the closed window, and dd's block in hand.
        let taken = device.taken
        print("on-demand over dd: one fill took \(taken) bytes from the host's device (with the 64K window it was 128,000-131,584)")
        #expect(taken >= 4096 && taken <= 4096 + (64 << 10) + 4 * 4096 + 512, "host device gave \(taken) bytes")
    }
}

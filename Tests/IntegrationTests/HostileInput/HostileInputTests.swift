import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// The release binary against hostile hosts: servers that misbehave before or instead of SSH (a
/// FakeServer), and real sshd hosts whose stream misbehaves (a stderr flood, a stall, a short
/// stream, a drip, failing windows). Every case asserts the exit status (never a death by signal),
/// the message, and that nothing was lost or left behind.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct HostileInputTests {
    /// Whether `pid` has a handler for `signal` (/proc/PID/status SigCgt).
    func catchesSignal(_ pid: Int32, _ signal: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
              let mask = UInt64(line.dropFirst("SigCgt:".count).trimmingCharacters(in: .whitespaces), radix: 16) else { return false }
        return mask & (1 << UInt64(signal - 1)) != 0
    }

    // MARK: - Hostile hosts: fetch

    @Test("a hostile server makes fetch fail cleanly and quickly", arguments: FakeServer.Behaviour.allCases)
    func fetchFromHostileServer(_ behaviour: FakeServer.Behaviour) throws {
        let server = try FakeServer(behaviour)
        defer { server.stop() }
        let directory = try makeScratchDirectory()
        let started = Date()
        let result = try runTunnel(["fetch"] + throwawayClientArguments(server.endpoint) +
                                   ["--connect-timeout", "2", "--bytes", "1K", "--output", directory + "/out"])
        let elapsed = Date().timeIntervalSince(started)
        #expect(result.signal == nil, "died by signal \(String(describing: result.signal)): \(result.stderr)")
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains(server.endpoint), "\(result.stderr)")
        #expect(elapsed < 4.5, "\(behaviour): took \(elapsed) s")
        #expect(directoryEntries(directory).isEmpty, "left \(directoryEntries(directory))")
    }

    // MARK: - Hostile hosts: run

    @Test("run against a hostile server keeps retrying without spinning, and stops at once", arguments: [
        FakeServer.Behaviour.silent, .junk, .bannerThenFlood, .close,
    ])
    func runAgainstHostileServer(_ behaviour: FakeServer.Behaviour) throws {
        let server = try FakeServer(behaviour)
        defer { server.stop() }
        let directory = try makeScratchDirectory()
        let tunnel = try TunnelProcess(["run"] + throwawayClientArguments(server.endpoint) +
                                       ["--sink", "fifo", "--fifo", directory + "/run/f", "--connect-timeout", "1",
                                        "--backoff-cap", "1"], logPath: directory + "/log")
        Thread.sleep(forTimeInterval: 4)  // the fault's duration, not a synchronisation
        #expect(tunnel.process.isRunning, "\(tunnel.log)")
        let cpu = cpuSeconds(of: tunnel.pid)
        #expect(cpu < 0.4, "\(behaviour): \(cpu) s CPU in 4 s")
        #expect(tunnel.log.contains(server.endpoint), "\(tunnel.log)")
        let stopping = Date()
        #expect(tunnel.stop(within: 3) == 0, "\(tunnel.log)")
        #expect(!tunnel.diedBySignal)
        let took = (tunnel.exitSeenAt ?? Date()).timeIntervalSince(stopping)
        #expect(took < 1, "stop took \(took) s")
    }

    @Test("SIGTERM or SIGINT at any moment: run exits 0 within 1 s", arguments: [
        ("connecting", SIGTERM), ("connecting", SIGINT), ("backing off", SIGTERM), ("pumping", SIGTERM), ("pumping", SIGINT),
        ("starting", SIGTERM),
    ])
    func signalAtAnyMoment(moment: String, signal: Int32) throws {
        let directory = try makeScratchDirectory()
        var host: LoopbackHost?
        var server: FakeServer?
        defer { host?.shutdown(); server?.stop() }
        var arguments = ["run", "--sink", "fifo", "--fifo", directory + "/run/f", "--backoff-cap", "30"]
        switch moment {
        case "connecting":
            server = try FakeServer(.silent)
            arguments += throwawayClientArguments(server!.endpoint) + ["--connect-timeout", "30"]
        case "backing off", "starting":
            server = try FakeServer(.close)
            arguments += throwawayClientArguments(server!.endpoint)
        default:
            host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
            arguments += connectionArguments(host!)
        }
        let tunnel = try TunnelProcess(arguments, logPath: directory + "/log")
        switch moment {
        case "starting":
            // As soon as the process can handle the signal at all (its handler is installed at
            // the top of main; before that, the kernel's default applies to any program).
            #expect(waitUntil(5) { catchesSignal(tunnel.pid, signal) })
        case "pumping":
            let reader = try #require(FIFOReader(path: directory + "/run/f"))
            #expect(reader.read(4096, within: 10) == 4096)
        case "backing off":
            #expect(waitUntil(10) { tunnel.log.contains("retry_in=") }, "\(tunnel.log)")
        default:
            #expect(waitUntil(10) { server.map { _ in tunnel.log.contains("fifo ready") } ?? false })
            Thread.sleep(forTimeInterval: 0.5)  // let it reach the key exchange wait
        }
        let stopping = Date()
        let status = tunnel.stop(signal: signal, within: 3)
        let took = (tunnel.exitSeenAt ?? Date()).timeIntervalSince(stopping)
        #expect(status == 0, "\(moment) \(signal): \(tunnel.log)")
        #expect(!tunnel.diedBySignal)
        #expect(took < 1, "\(moment) \(signal): took \(took) s")
    }

    // MARK: - Hostile hosts behind a real sshd

    @Test("a stderr flood with stdout idle: fetch gives up naming the flood; run costs at most 5 % of a core")
    func stderrFlood() throws {
        let host = try LoopbackHost(forcedCommand: "sh -c 'while :; do echo flooding stderr >&2; done'")
        defer { host.shutdown() }
        let result = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "1K", "--output", host.directory + "/out"])
        #expect(result.signal == nil && result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("flooded its stderr") && result.stderr.contains("flooding stderr"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: host.directory + "/out"))

        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) +
                                       ["--sink", "fifo", "--fifo", host.directory + "/run/f", "--backoff-cap", "4"],
                                       logPath: host.directory + "/run.log")
        #expect(waitUntil(5) { tunnel.log.contains("flooded its stderr") }, "\(tunnel.log)")
        let before = cpuSeconds(of: tunnel.pid)
        Thread.sleep(forTimeInterval: 10)  // the measurement's duration
        let cpu = cpuSeconds(of: tunnel.pid) - before
        print("stderrFlood: run used \(cpu) s CPU over 10 s (\(cpu * 10) % of one core)")
        #expect(cpu <= 0.5)
        #expect(tunnel.stop() == 0)
    }

    @Test("a stalled host (keepalives answered, no data) is given up within --data-timeout + 2 s")
    func stalledHost() throws {
        let host = try LoopbackHost(forcedCommand: "sh -c 'echo reader stuck >&2; exec sleep 3600'")
        defer { host.shutdown() }
        let started = Date()
        let result = try runTunnel(["fetch"] + connectionArguments(host) +
                                   ["--bytes", "1K", "--data-timeout", "2", "--keepalive-interval", "1", "--output", host.directory + "/out"])
        let elapsed = Date().timeIntervalSince(started)
        print("stalledHost: fetch gave up after \(elapsed) s with --data-timeout 2")
        #expect(result.signal == nil && result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("delivered no data for 2 s") && result.stderr.contains("reader stuck"), "\(result.stderr)")
        #expect(elapsed <= 4)

        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) +
                                       ["--sink", "fifo", "--fifo", host.directory + "/run/f", "--data-timeout", "2",
                                        "--keepalive-interval", "1", "--backoff-cap", "30"],
                                       logPath: host.directory + "/run.log")
        #expect(waitUntil(10) { tunnel.log.contains("delivered no data") }, "\(tunnel.log)")
        let lines = logLines(tunnel.log)
        let connected = try #require(lines.first { $0.text.contains("info: connected") })
        let gaveUp = try #require(lines.first { $0.text.contains("delivered no data") })
        let after = gaveUp.time.timeIntervalSince(connected.time)
        print("stalledHost: run gave up \(after) s after connecting, --data-timeout 2")
        #expect(after <= 4)
        #expect(tunnel.stop() == 0)
    }

    @Test("a host that sends less than one health window: fetch says how many bytes arrived")
    func shortStream() throws {
        let host = try LoopbackHost(forcedCommand: "head -c 100 /dev/urandom")
        defer { host.shutdown() }
        let result = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "1K", "--output", host.directory + "/out"])
        #expect(result.signal == nil && result.status == 1)
        #expect(result.stderr.contains("the last 100 bytes it sent were less than one 512-byte health-test window"), "\(result.stderr)")
    }

    @Test("a slow drip and tiny packets: bytes arrive, no spinning")
    func slowDripAndTinyPackets() throws {
        let host = try LoopbackHost(forcedCommand: "sh -c 'while head -c 64 /dev/urandom && sleep 0.05; do :; done'")
        defer { host.shutdown() }
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) + ["--sink", "fifo", "--fifo", host.directory + "/run/f"],
                                       logPath: host.directory + "/run.log")
        let reader = try #require(FIFOReader(path: host.directory + "/run/f"))
        #expect(reader.read(2048, within: 10) == 2048, "\(tunnel.log)")
        let before = cpuSeconds(of: tunnel.pid)
        #expect(reader.read(2048, within: 10) == 2048)
        let cpu = cpuSeconds(of: tunnel.pid) - before
        #expect(cpu < 0.3, "\(cpu) s CPU for a 1.3 KB/s drip")
        #expect(tunnel.stop() == 0)

        try host.setForcedCommand("dd if=/dev/urandom bs=1 count=8192 status=none")
        let result = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "4K", "--output", host.directory + "/tiny"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(((try? FileManager.default.attributesOfItem(atPath: host.directory + "/tiny"))?[.size] as? Int) == 4096)
    }

    @Test("failing windows that are not in a row still fail the host (2 of the last 64)")
    func failureRate() throws {
        let host = try LoopbackHost(forcedCommand: "sh -c 'while head -c 10240 /dev/urandom && head -c 1024 /dev/zero; do :; done'")
        defer { host.shutdown() }
        let result = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "1M", "--output", host.directory + "/out"])
        #expect(result.signal == nil && result.status == 1)
        #expect(result.stderr.contains("of the last 64 windows"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: host.directory + "/out"))
    }
}

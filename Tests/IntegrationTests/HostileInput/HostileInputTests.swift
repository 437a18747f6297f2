import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// The release binary against hostile hosts, hostile local users and careless admins. Every case
/// asserts the exit status (never a death by signal), the message, and that nothing was lost or
/// left behind.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct HostileInputTests {
    /// A throwaway client key and known_hosts for hosts that never get as far as checking them.
    static let scratch: (directory: String, identity: String, knownHosts: String) = {
        let directory = try! Scratch.directory("et-hostile")
        _ = try? Shell.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", directory + "/id")
        createFile(atPath: directory + "/known_hosts")
        return (directory, directory + "/id", directory + "/known_hosts")
    }()

    func clientArguments(_ endpoint: String) -> [String] {
        ["--host", endpoint, "--user", "nobody", "--identity", Self.scratch.identity, "--known-hosts", Self.scratch.knownHosts]
    }

    func newDirectory() -> String {
        try! Scratch.directory("et-case")
    }

    /// Whether `pid` has a handler for `signal` (/proc/PID/status SigCgt).
    func catchesSignal(_ pid: Int32, _ signal: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
              let mask = UInt64(line.dropFirst("SigCgt:".count).trimmingCharacters(in: .whitespaces), radix: 16) else { return false }
        return mask & (1 << UInt64(signal - 1)) != 0
    }

    func entries(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    // MARK: - Hostile hosts: fetch

    @Test("a hostile server makes fetch fail cleanly and quickly", arguments: FakeServer.Behaviour.allCases)
    func fetchFromHostileServer(_ behaviour: FakeServer.Behaviour) throws {
        let server = try FakeServer(behaviour)
        defer { server.stop() }
        let directory = newDirectory()
        let started = Date()
        let result = try runTunnel(["fetch"] + clientArguments(server.endpoint) +
                                   ["--connect-timeout", "2", "--bytes", "1K", "--output", directory + "/out"])
        let elapsed = Date().timeIntervalSince(started)
        #expect(result.signal == nil, "died by signal \(String(describing: result.signal)): \(result.stderr)")
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains(server.endpoint), "\(result.stderr)")
        #expect(elapsed < 4.5, "\(behaviour): took \(elapsed) s")
        #expect(entries(directory).isEmpty, "left \(entries(directory))")
    }

    // MARK: - Hostile hosts: run

    @Test("run against a hostile server keeps retrying without spinning, and stops at once", arguments: [
        FakeServer.Behaviour.silent, .junk, .bannerThenFlood, .close,
    ])
    func runAgainstHostileServer(_ behaviour: FakeServer.Behaviour) throws {
        let server = try FakeServer(behaviour)
        defer { server.stop() }
        let directory = newDirectory()
        let tunnel = try TunnelProcess(["run"] + clientArguments(server.endpoint) +
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
        let directory = newDirectory()
        var host: LoopbackHost?
        var server: FakeServer?
        defer { host?.shutdown(); server?.stop() }
        var arguments = ["run", "--sink", "fifo", "--fifo", directory + "/run/f", "--backoff-cap", "30"]
        switch moment {
        case "connecting":
            server = try FakeServer(.silent)
            arguments += clientArguments(server!.endpoint) + ["--connect-timeout", "30"]
        case "backing off", "starting":
            server = try FakeServer(.close)
            arguments += clientArguments(server!.endpoint)
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

    @Test("a failing remote command: its stderr and exit status in the message")
    func failingCommand() throws {
        let host = try LoopbackHost(forcedCommand: "sh -c 'echo dd: /dev/hwrng: Permission denied >&2; exit 3'")
        defer { host.shutdown() }
        let result = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "1K"])
        #expect(result.signal == nil && result.status == 1)
        #expect(result.stderr.contains("Permission denied") && result.stderr.contains("exit status 3"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
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

    // MARK: - fetch writes exactly --bytes or changes nothing

    @Test("fetch: an existing file keeps its content when the host fails; no temporary file is left")
    func fetchKeepsExistingFile() throws {
        let server = try FakeServer(.bannerThenClose)
        defer { server.stop() }
        let directory = newDirectory()
        try "precious".write(toFile: directory + "/seed", atomically: false, encoding: .utf8)
        let result = try runTunnel(["fetch"] + clientArguments(server.endpoint) + ["--bytes", "64", "--output", directory + "/seed"])
        #expect(result.signal == nil && result.status == 1)
        #expect(try String(contentsOfFile: directory + "/seed", encoding: .utf8) == "precious")
        #expect(entries(directory) == ["seed"])
    }

    @Test("fetch: a new file is 0600 with exactly --bytes; a replaced file keeps its mode")
    func fetchWritesAtomically() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let directory = newDirectory()
        var result = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "1000", "--output", directory + "/new"])
        #expect(result.status == 0, "\(result.stderr)")
        var st = stat()
        #expect(stat(directory + "/new", &st) == 0 && st.st_size == 1000 && st.st_mode & 0o777 == 0o600)
        try "old".write(toFile: directory + "/old", atomically: false, encoding: .utf8)
        chmod(directory + "/old", 0o644)
        result = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "333", "--output", directory + "/old"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(stat(directory + "/old", &st) == 0 && st.st_size == 333 && st.st_mode & 0o777 == 0o644)
        #expect(entries(directory) == ["new", "old"])
        result = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "10", "--output", "/dev/null"])
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test("fetch across failover: the count goes on, never more than --bytes in all", arguments: ["file", "stdout"])
    func fetchCountsAcrossFailover(output: String) throws {
        // The first host sends 3 windows and ends; the second completes the count.
        let first = try LoopbackHost(forcedCommand: "head -c 1536 /dev/urandom")
        defer { first.shutdown() }
        let second = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none",
                                      directory: first.directory + "/second")
        defer { second.shutdown() }
        // One known_hosts for both.
        let both = first.directory + "/both_known_hosts"
        let pins = try String(contentsOfFile: first.knownHosts, encoding: .utf8) + String(contentsOfFile: second.knownHosts, encoding: .utf8)
        try pins.write(toFile: both, atomically: false, encoding: .utf8)
        try second.setAuthorizedKey(from: first.identity, command: "dd if=/dev/urandom bs=512 status=none")
        var arguments = ["fetch", "--host", first.endpoint, "--host", second.endpoint, "--user", first.user,
                         "--identity", first.identity, "--known-hosts", both, "--bytes", "4000"]
        if output == "file" { arguments += ["--output", first.directory + "/out"] }
        let result = try runTunnel(arguments)
        #expect(result.status == 0, "\(result.stderr)")
        let size = output == "file"
            ? ((try? FileManager.default.attributesOfItem(atPath: first.directory + "/out"))?[.size] as? Int) ?? -1
            : result.stdout.utf8.count
        if output == "file" { #expect(size == 4000) } else { #expect(Data(result.stdout.utf8).count <= 4000 * 3) }
        #expect(result.stderr.contains("bytes_so_far=1536"), "\(result.stderr)")
    }

    // MARK: - Absurd values

    @Test("absurd values on the command line: exit 78 for run (64 for fetch), the option named, no trap", arguments: [
        (["--keepalive-count", "99999999999999999999"], "keepalive-count"),
        (["--keepalive-count", "1000000"], "--keepalive-count"),
        (["--connect-timeout", "nan"], "--connect-timeout"),
        (["--connect-timeout", "inf"], "--connect-timeout"),
        (["--connect-timeout", "1e308"], "--connect-timeout"),
        (["--data-timeout", "0"], "--data-timeout"),
        (["--window", "0"], "--window"),
        (["--window", "99999999999999999999G"], "window"),
        (["--fifo-size", "2G"], "--fifo-size"),
        (["--port", "70000"], "--port"),
        (["--health-alpha", "0"], "--health-alpha"),
        (["--health-min-entropy", "nan"], "--health-min-entropy"),
        (["--backoff-cap", "inf"], "--backoff-cap"),
        (["--failback-interval", "1e300"], "--failback-interval"),
        (["--host", ""], "host"),
        (["--host", "a b"], "invalid host"),
        (["--host", "evil\nhost"], "invalid host"),
        (["--fifo-group", "../etc"], "--fifo-group"),
    ] as [([String], String)])
    func absurdFlags(arguments: [String], named: String) throws {
        _ = try? FileManager.default.removeItem(atPath: "/tmp/et-never")
        let result = try runTunnel(["run", "--host", "127.0.0.1:1", "--sink", "fifo", "--fifo", "/tmp/et-never/f"] + arguments)
        #expect(result.signal == nil)
        #expect(result.status == 78, "\(arguments): \(result.status) \(result.stderr)")
        #expect(result.stderr.contains(named), "\(arguments): \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/et-never"))
    }

    @Test("absurd --bytes for fetch: a usage error naming it", arguments: ["0", "-1", "99999999999999999999", "NaN", "2T"])
    func absurdBytes(value: String) throws {
        let result = try runTunnel(["fetch", "--host", "127.0.0.1:1", "--bytes", value])
        #expect(result.signal == nil && result.status == 64, "\(value): \(result.status) \(result.stderr)")
        #expect(result.stderr.contains("bytes"), "\(result.stderr)")
    }

    @Test("absurd values in the config file: exit 78 naming file:line:key", arguments: [
        ("keepalive_count = 9223372036854775807", "keepalive_count"),
        ("connect_timeout = nan", "connect_timeout"),
        ("data_timeout = inf", "data_timeout"),
        ("window = \"99999999999999999999G\"", "window"),
        ("port = 0", "port"),
        ("fifo_group = \"../x\"", "fifo_group"),
        ("health_alpha = -inf", "health_alpha"),
        ("no_such_key = 1", "no_such_key"),
        ("host = [\"a\", 3]", "host"),
        ("fifo = \"relative/f\"", "fifo"),
    ])
    func absurdConfig(line: String, key: String) throws {
        let directory = newDirectory()
        let path = directory + "/config.toml"
        try "host = \"127.0.0.1:1\"\nsink = \"fifo\"\n\(line)\n".write(toFile: path, atomically: false, encoding: .utf8)
        let result = try runTunnel(["run", "--config", path])
        #expect(result.signal == nil && result.status == 78, "\(line): \(result.status) \(result.stderr)")
        #expect(result.stderr.contains("\(path):3:") && result.stderr.contains(key), "\(line): \(result.stderr)")
    }

    // MARK: - Hostile local users and careless admins: the FIFO

    /// Runs `run` with the FIFO at `fifo`, expecting exit 78 with `message`; returns the log.
    func expectFIFORefused(_ fifo: String, _ message: String, extra: [String] = []) throws {
        let result = try runTunnel(["run", "--host", "127.0.0.1:1", "--sink", "fifo", "--fifo", fifo] + extra +
                                   ["--identity", Self.scratch.identity, "--known-hosts", Self.scratch.knownHosts])
        #expect(result.signal == nil && result.status == 78, "\(fifo): \(result.status) \(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test("a FIFO directory others can write to is refused")
    func worldWritableDirectory() throws {
        let directory = newDirectory()
        chmod(directory, 0o777)
        try expectFIFORefused(directory + "/f", "is unsafe: \(directory) belongs to uid 0 with mode 777")
        #expect(entries(directory).isEmpty)
    }

    @Test("a FIFO directory owned by another user is refused")
    func foreignDirectory() throws {
        let directory = newDirectory()
        chown(directory, 65534, 65534)
        try expectFIFORefused(directory + "/f", "belongs to uid 65534")
    }

    @Test("a FIFO planted by another user (setpriv) is refused and left alone")
    func plantedFIFO() throws {
        let directory = newDirectory()
        chmod(directory, 0o777)
        _ = try Shell.run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "mkfifo", "-m", "0666", directory + "/f"])
        chmod(directory, 0o755)
        try expectFIFORefused(directory + "/f", "FIFO \(directory)/f belongs to uid 65534")
        var st = stat()
        #expect(lstat(directory + "/f", &st) == 0 && st.st_uid == 65534 && st.st_mode & 0o777 == 0o666)
    }

    @Test("our own FIFO writable by others is refused")
    func writableFIFO() throws {
        let directory = newDirectory()
        mkfifo(directory + "/f", 0o600)
        chmod(directory + "/f", 0o666)
        try expectFIFORefused(directory + "/f", "another user could read or inject bytes")
    }

    @Test("a FIFO path that is a regular file, a symlink or a directory is refused untouched",
          arguments: ["a regular file", "a symbolic link", "a directory"])
    func wrongType(kind: String) throws {
        let directory = newDirectory()
        let path = directory + "/f"
        switch kind {
        case "a regular file": try "data".write(toFile: path, atomically: false, encoding: .utf8)
        case "a symbolic link": symlink("/etc/passwd", path)
        default: mkdir(path, 0o700)
        }
        try expectFIFORefused(path, "is \(kind)")
        var st = stat()
        #expect(lstat(path, &st) == 0)
        if kind == "a regular file" { #expect(try String(contentsOfFile: path, encoding: .utf8) == "data") }
    }

    @Test("--fifo-size above pipe-max-size, a relative --fifo, an unknown --fifo-group: exit 78")
    func fifoSettings() throws {
        let directory = newDirectory()
        try expectFIFORefused(directory + "/f", "pipe-max-size", extra: ["--fifo-size", "512M"])
        try expectFIFORefused("relative/f", "absolute path")
        try expectFIFORefused(directory + "/g", "no such group", extra: ["--fifo-group", "et-no-such-group"])
    }

    @Test("--fifo-group lets a group read the FIFO: mode 0640, that group")
    func fifoGroup() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        let fifo = host.directory + "/run/f"
        let tunnel = try TunnelProcess(["run"] + connectionArguments(host) + ["--sink", "fifo", "--fifo", fifo, "--fifo-group", "nogroup"],
                                       logPath: host.directory + "/run.log")
        #expect(waitUntil(10) { tunnel.log.contains("fifo ready") }, "\(tunnel.log)")
        var st = stat()
        #expect(stat(fifo, &st) == 0 && st.st_mode & 0o777 == 0o640 && st.st_gid == getgrnam("nogroup").pointee.gr_gid)
        #expect(tunnel.stop() == 0)
    }

    // MARK: - rngd and the private key

    @Test("a missing rngd or unusable key: exit 78 before connecting", arguments: ["rngd", "key missing", "key mode"])
    func unusableSetup(problem: String) throws {
        let directory = newDirectory()
        var arguments = ["run", "--host", "127.0.0.1:1", "--fifo", directory + "/run/f", "--known-hosts", Self.scratch.knownHosts]
        switch problem {
        case "rngd":
            arguments += ["--sink", "rngd", "--rngd", "/nonexistent/rngd", "--identity", Self.scratch.identity]
        case "key missing":
            arguments += ["--sink", "fifo", "--identity", directory + "/no-such-key"]
        default:
            _ = try Shell.run("cp", Self.scratch.identity, directory + "/open-key")
            chmod(directory + "/open-key", 0o644)
            arguments += ["--sink", "fifo", "--identity", directory + "/open-key"]
        }
        let result = try runTunnel(arguments)
        #expect(result.signal == nil && result.status == 78, "\(problem): \(result.status) \(result.stderr)")
        let expected = ["rngd": "/nonexistent/rngd", "key missing": "does not exist", "key mode": "chmod 600"][problem]!
        #expect(result.stderr.contains(expected), "\(result.stderr)")
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

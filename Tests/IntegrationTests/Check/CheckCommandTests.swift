import Foundation
import Testing
import TestHost
import entropy_tunnel
import EntropyTunnelCore
#if canImport(Glibc)
import Glibc
#endif

/// `entropy-tunnel check` through the real binary against a real sshd: each broken set-up is
/// found, with exit status 1, the failing check's `✗` line and its `fix:` line; a good set-up
/// passes every check with no `✗` and no fix (no false alarm).
@Suite(.timeLimit(.minutes(10)))
struct CheckCommandTests {
    static let streaming = "dd if=/dev/urandom bs=512 status=none"

    /// `check` with the host's connection, short timeouts, an empty config file (so that no
    /// /etc/entropy-tunnel/config.toml on the machine interferes) and a unit path that does not exist.
    static func checkArguments(_ host: LoopbackHost, identity: String? = nil, knownHosts: String? = nil) throws -> [String] {
        let config = host.directory + "/check.toml"
        if !FileManager.default.fileExists(atPath: config) {
            createFile(atPath: config, contents: Array("# empty: every setting from the flags\n".utf8))
        }
        return ["check", "--config", config] + connectionArguments(host, identity: identity, knownHosts: knownHosts) +
            ["--connect-timeout", "5", "--data-timeout", "5", "--unit-path", host.directory + "/entropy-tunnel.service"]
    }

    /// Expects exit 1, a `✗` line that starts with `check` and contains `detail`, followed by a
    /// fix line containing `fix`; prints one summary line for the case.
    static func expectFinding(_ result: Shell.Result, _ caseName: String, check: String, detail: String = "", fix: String,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let index = lines.firstIndex { $0.hasPrefix("✗ " + check) }
        #expect(result.status == 1, "exit status \(result.status)\n\(result.stdout)\(result.stderr)", sourceLocation: sourceLocation)
        guard let index else {
            Issue.record("no ✗ line for '\(check)':\n\(result.stdout)\(result.stderr)", sourceLocation: sourceLocation)
            return
        }
        #expect(lines[index].contains(detail), "\(lines[index])", sourceLocation: sourceLocation)
        let fixLine = index + 1 < lines.count ? lines[index + 1] : ""
        #expect(fixLine.hasPrefix("    fix: ") && fixLine.contains(fix), "fix line: \(fixLine)\n\(result.stdout)", sourceLocation: sourceLocation)
        print("check case \(caseName): exit \(result.status); \(lines[index]) | \(fixLine.trimmingCharacters(in: .whitespaces))")
    }

    @Test("a good set-up: every check passes, exit 0, no ✗ and no fix line")
    func goodSetUpPasses() throws {
        let host = try LoopbackHost(forcedCommand: Self.streaming)
        defer { host.shutdown() }
        let result = try runTunnel(try Self.checkArguments(host))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(!result.stdout.contains("✗") && !result.stdout.contains("fix:"), "\(result.stdout)")
        for check in ["config", "private key", "host \(host.endpoint): key pinned", "host \(host.endpoint): TCP connect",
                      "host \(host.endpoint): host key matches the pin", "host \(host.endpoint): authentication as",
                      "host \(host.endpoint): remote command sends 4096 bytes that pass the health tests",
                      "kernel CRNG", "sink kernel: CAP_SYS_ADMIN"] {
            #expect(result.stdout.contains("✓ " + check), "no ✓ \(check):\n\(result.stdout)")
        }
        #expect(result.stdout.contains("all checks passed"))
        #expect(result.stdout.contains("from a plain reader"), "\(result.stdout)")
        print("check case good set-up: exit \(result.status); \(result.stdout.filter { $0 == "✓" }.count) checks passed, 0 false alarms")
    }

    @Test("a host whose forced command is `entropy-tunnel serve`: check says so")
    func serveHost() throws {
        let host = try LoopbackHost(forcedCommand: "\(tunnelBinary) serve --device /dev/urandom --rate 1M/s")
        defer { host.shutdown() }
        let result = try runTunnel(try Self.checkArguments(host))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let line = result.stdout.split(separator: "\n").first { $0.contains("remote command sends") } ?? ""
        #expect(line.hasPrefix("✓") && line.contains("4096 bytes") && line.contains("from `entropy-tunnel serve` (protocol 1)"), "\(result.stdout)")
    }

    /// A set-up broken in one way, and what `check` must say about it.
    struct BrokenSetUp: Sendable, CustomTestStringConvertible {
        /// The scenario (each was a test of its own, with this title).
        let title: String
        /// The case's name in the summary line.
        let name: String
        var forcedCommand = CheckCommandTests.streaming
        /// Breaks the set-up of `host`; returns the key to check with (nil: the host's) and more arguments.
        var breakSetUp: @Sendable (LoopbackHost) throws -> (identity: String?, extra: [String]) = { _ in (nil, []) }
        /// The finding expected for `host` and the key used.
        let finding: @Sendable (LoopbackHost, _ identity: String) throws -> Finding
        var testDescription: String { title }
    }

    /// The ✗ line's check name and detail, the fix line below it, and lines that must be there too
    /// (checks that still pass, the command that fixes it).
    struct Finding {
        var check: String
        var detail = ""
        var fix: String
        var alsoShown: [String] = []
    }

    /// A copy of the host's key at `name`, mode 0600.
    static func keyCopy(_ host: LoopbackHost, _ name: String) throws -> String {
        let key = host.directory + "/" + name
        try FileManager.default.copyItem(atPath: host.identity, toPath: key)
        chmod(key, 0o600)
        return key
    }

    static let brokenSetUps: [BrokenSetUp] = [
        BrokenSetUp(title: "wrong pin: known_hosts pins another key of the host", name: "wrong pin",
                    breakSetUp: { host in
                        try host.changeHostKey()  // the pin still names the old key
                        return (nil, [])
                    },
                    finding: { host, _ in
                        Finding(check: "host \(host.endpoint): host key matches the pin", detail: "HOST KEY MISMATCH",
                                fix: "entropy-tunnel keys trust \(host.endpoint)")
                    }),
        BrokenSetUp(title: "no pin: known_hosts holds no key for the host", name: "no pin",
                    breakSetUp: { host in
                        try "".writeReplacing(toFile: host.knownHosts)
                        return (nil, [])
                    },
                    finding: { host, _ in
                        Finding(check: "host \(host.endpoint): key pinned", detail: "no key for [127.0.0.1]:\(host.port)",
                                fix: "entropy-tunnel keys trust \(host.endpoint) --known-hosts \(host.knownHosts)")
                    }),
        BrokenSetUp(title: "unreadable key: mode 0644", name: "key mode 0644",
                    breakSetUp: { host in
                        let key = try CheckCommandTests.keyCopy(host, "open_key")
                        try FileManager.default.copyItem(atPath: host.identity + ".pub", toPath: key + ".pub")
                        chmod(key, 0o644)
                        return (key, [])
                    },
                    finding: { _, key in Finding(check: "private key \(key)", detail: "mode 0644", fix: "chmod 600 \(key)") }),
        BrokenSetUp(title: "unreadable key: owned by another user", name: "key of another user",
                    breakSetUp: { host in
                        let key = try CheckCommandTests.keyCopy(host, "other_key")
                        chown(key, 65534, 65534)
                        return (key, [])
                    },
                    finding: { _, key in
                        // As root, the owner to be is the service's user when install created it, else root.
                        let owner = getpwnam("entropy-tunnel") == nil ? "root" : "entropy-tunnel"
                        return Finding(check: "private key \(key)", detail: "owned by nobody (uid 65534)", fix: "chown \(owner) \(key)")
                    }),
        BrokenSetUp(title: "unauthorized key: a fresh key the host does not know; the fix is the keys authorize line with the public key",
                    name: "unauthorized key",
                    breakSetUp: { host in
                        let key = host.directory + "/fresh_key"
                        try Shell.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fresh", "-f", key)
                        return (key, [])
                    },
                    finding: { host, key in
                        let publicKey = try String(contentsOfFile: key + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                        return Finding(check: "host \(host.endpoint): authentication as '\(host.user)'", detail: "refused key",
                                       fix: "entropy-tunnel keys authorize --user \(host.user)",
                                       alsoShown: ["--key '\(publicKey)'", "✓ host \(host.endpoint): host key matches the pin"])
                    }),
        BrokenSetUp(title: "command failing: the forced command exits 1 with an error on stderr, which the check shows",
                    name: "command failing", forcedCommand: "sh -c 'echo no such device >&2; exit 1'",
                    finding: { host, _ in
                        Finding(check: "host \(host.endpoint): remote command sends", detail: "no such device",
                                fix: "run the RNG command by hand on 127.0.0.1 as \(host.user)")
                    }),
        BrokenSetUp(title: "zeros host: the stream fails the health tests", name: "zeros host", forcedCommand: "head -c 1000000 /dev/zero",
                    finding: { host, _ in
                        Finding(check: "host \(host.endpoint): remote command sends", detail: "health", fix: "check the host's RNG device")
                    }),
        BrokenSetUp(title: "missing rngd: --sink rngd --rngd /nonexistent/rngd", name: "missing rngd",
                    breakSetUp: { _ in (nil, ["--sink", "rngd", "--rngd", "/nonexistent/rngd"]) },
                    finding: { host, _ in
                        // The host is fine: its checks still pass.
                        Finding(check: "sink rngd", detail: "/nonexistent/rngd is not an executable file", fix: "apt-get install rng-tools5",
                                alsoShown: ["✓ host \(host.endpoint): remote command sends"])
                    }),
    ]

    @Test("a broken set-up is found: exit 1, the failing check's ✗ line with what is wrong, and its fix line",
          arguments: brokenSetUps)
    func brokenSetUp(_ setUp: BrokenSetUp) throws {
        let host = try LoopbackHost(forcedCommand: setUp.forcedCommand)
        defer { host.shutdown() }
        let (identity, extra) = try setUp.breakSetUp(host)
        let result = try runTunnel(try Self.checkArguments(host, identity: identity) + extra)
        let finding = try setUp.finding(host, identity ?? host.identity)
        Self.expectFinding(result, setUp.name, check: finding.check, detail: finding.detail, fix: finding.fix)
        for text in finding.alsoShown {
            #expect(result.stdout.contains(text), "\(setUp.name): no \(text) in\n\(result.stdout)")
        }
    }

    @Test("rngd 5 on a kernel since 5.18: a warning (!) that recommends --sink kernel, and still exit 0")
    func rngd5StallWarning() throws {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let version = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        let rngdVersion = (try? Shell.capture("/usr/sbin/rngd", ["--version"]))?.stdout ?? ""
        guard version.count == 2, (version[0], version[1]) >= (5, 18), rngdVersion.hasPrefix("rngd 5") else {
            print("check case rngd 5 warning: not applicable here (kernel \(release), \(rngdVersion.prefix(10)))")
            return
        }
        let host = try LoopbackHost(forcedCommand: Self.streaming)
        defer { host.shutdown() }
        let result = try runTunnel(try Self.checkArguments(host) + ["--sink", "rngd", "--rngd", "/usr/sbin/rngd"])
        #expect(result.status == 0, "a warning is not a failure: \(result.stdout)")
        #expect(result.stdout.contains("✓ sink rngd: /usr/sbin/rngd (rng-tools5)"), "\(result.stdout)")
        #expect(result.stdout.contains("! sink rngd on kernel \(release): rngd 5 feeds the kernel once after boot"), "\(result.stdout)")
        #expect(result.stdout.contains("    fix: use `--sink kernel`") && !result.stdout.contains("✗"), "\(result.stdout)")
        print("check case rngd 5 warning: exit \(result.status), ! line with fix --sink kernel")
    }

    @Test("no CAP_SYS_ADMIN: check as uid 65534 (setpriv) with its own key, --sink kernel")
    func noCapSysAdmin() throws {
        let host = try LoopbackHost(forcedCommand: Self.streaming)
        defer { host.shutdown() }
        let home = try unprivilegedHome(for: host)
        let arguments = try Self.checkArguments(host, identity: home + "/id", knownHosts: home + "/known_hosts") + ["--sink", "kernel"]
        let result = try Shell.capture("/usr/bin/setpriv", setprivNobody + [tunnelBinary] + arguments)
        Self.expectFinding(result, "no CAP_SYS_ADMIN", check: "sink kernel: CAP_SYS_ADMIN", detail: "missing as nobody (uid 65534)",
                           fix: "run as root or with AmbientCapabilities=CAP_SYS_ADMIN (the installed unit has it)")
        #expect(result.stdout.contains("✓ private key \(home)/id"), "the key is fine for its owner: \(result.stdout)")
        #expect(result.stdout.contains("✓ host \(host.endpoint): remote command sends"), "\(result.stdout)")
    }

    @Test("unit not installed, with --expect-unit")
    func unitNotInstalled() throws {
        let host = try LoopbackHost(forcedCommand: Self.streaming)
        defer { host.shutdown() }
        let result = try runTunnel(try Self.checkArguments(host) + ["--expect-unit"])
        Self.expectFinding(result, "unit not installed", check: "service entropy-tunnel.service", detail: "not installed",
                           fix: "entropy-tunnel install --host HOST")
        // Without --expect-unit the same set-up is only noted, not a failure.
        let noted = try runTunnel(try Self.checkArguments(host))
        #expect(noted.status == 0 && noted.stdout.contains("- service entropy-tunnel.service: not installed"), "\(noted.stdout)")
    }

    @Test("config error: exit 78 and the file:line: key message; every other check is skipped")
    func configurationError() throws {
        let host = try LoopbackHost(forcedCommand: Self.streaming)
        defer { host.shutdown() }
        let arguments = try Self.checkArguments(host)
        try "window = \"bogus\"\n".writeReplacing(toFile: host.directory + "/check.toml")
        let result = try runTunnel(arguments)
        #expect(result.status == 78, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("✗ config: \(host.directory)/check.toml:1:"), "\(result.stdout)")
        #expect(result.stdout.contains("    fix: "), "\(result.stdout)")
        #expect(!result.stdout.contains("✓"), "\(result.stdout)")
        let usage = try runTunnel(["check", "--window", "3"])
        #expect(usage.status == 78, "an unusable command line exits 78: \(usage.stderr)")
        print("check case config error: exit \(result.status)")
    }
}

/// `install` ends with the checks, except with --root (a staging root for another machine).
@Suite(.timeLimit(.minutes(10)))
struct InstallChecksTests {
    @Test("install --root skips the live checks and says so; its output and status are otherwise unchanged")
    func stagingRootSkipsChecks() throws {
        let host = try LoopbackHost(forcedCommand: CheckCommandTests.streaming)
        defer { host.shutdown() }
        let root = try makeScratchDirectory()
        let result = try runTunnel(["install", "--host", host.endpoint, "--host-key", host.hostPublicKey, "--root", root])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("checks skipped: --root stages the files for another machine"), "\(result.stdout)")
        #expect(!result.stdout.contains("✓") && !result.stdout.contains("✗"), "\(result.stdout)")
    }

    @Test("check --help: abstract, the marks, the exit statuses, the time bound")
    func help() {
        let help = EntropyTunnelCommand.helpMessage(for: CheckCommand.self)
        for text in ["Check the set-up `run` would use", "fix:", "Exits 0 when nothing failed", "78", "--connect-timeout",
                     "--expect-unit", "--unit-path", "--sink", "--host"] {
            #expect(help.contains(text), "check --help lacks \(text)")
        }
    }
}

/// The checks in-process, as `install` runs them: its own fix for an unauthorized key (the line
/// install printed already), and the unit's states that need no systemd.
@Suite(.timeLimit(.minutes(10)))
struct DoctorInProcessTests {
    static func configuration(_ host: LoopbackHost, identity: String) throws -> RunConfiguration {
        var configuration = RunConfiguration(hosts: [try HostSpec(parsing: host.endpoint)])
        configuration.connection.user = host.user
        configuration.connection.identity = identity
        configuration.connection.knownHosts = host.knownHosts
        configuration.connection.connectTimeout = .seconds(5)
        configuration.connection.dataTimeout = .seconds(5)
        return configuration
    }

    @Test("install's checks: an unauthorized key fails with install's own fix, not a second keys authorize line")
    func installAuthorizeFix() async throws {
        let host = try LoopbackHost(forcedCommand: CheckCommandTests.streaming)
        defer { host.shutdown() }
        let key = host.directory + "/fresh_key"
        try Shell.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
        var doctor = Doctor(configuration: .success(try Self.configuration(host, identity: key)), source: "test")
        doctor.authorizeFix = "run the `keys authorize` line above"
        doctor.checkUnit = false
        let results = await doctor.run()
        let failed = results.filter { $0.status == .fail }
        #expect(failed.count == 1 && failed.first?.name.contains("authentication") == true, "\(results.map(\.text))")
        #expect(failed.first?.fix == "run the `keys authorize` line above")
        #expect(!results.contains { $0.name.hasPrefix("service") }, "checkUnit false: no unit line")
        #expect(CheckResult.exitStatus(of: results) == 1)
    }

    @Test("as root, a key owned by the service's user (as install leaves it) is no false alarm; another user's key is")
    func keyOfServiceUser() async throws {
        let directory = try makeScratchDirectory()
        let key = directory + "/id"
        try Shell.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
        chown(key, 65534, 65534)
        var doctor = Doctor(configuration: .failure(TunnelError(.configuration, "unused")), source: "test")
        doctor.serviceUser = "nobody"  // uid 65534 stands in for entropy-tunnel, which this machine may lack
        let (asService, _) = await doctor.checkKey(key)
        #expect(asService.status == .pass && asService.detail.contains("owned by nobody (uid 65534)"), "\(asService.text)")
        doctor.serviceUser = "no-such-user-et"
        let (foreign, _) = await doctor.checkKey(key)
        #expect(foreign.status == .fail && foreign.fix?.hasPrefix("chown root ") == true, "\(foreign.text)")
    }

    @Test("the unit: installed without a running systemd is skipped (no false alarm); not installed is skipped unless expected")
    func unitStates() async throws {
        let directory = try makeScratchDirectory()
        let unit = directory + "/entropy-tunnel.service"
        var doctor = Doctor(configuration: .failure(TunnelError(.configuration, "unused")), source: "test")
        doctor.unitPath = unit
        doctor.systemdDirectory = directory + "/no-systemd"
        #expect(await doctor.checkUnitState().status == .skipped)
        doctor.expectUnit = true
        #expect(await doctor.checkUnitState().status == .fail)
        try "[Unit]\n".writeReplacing(toFile: unit)
        let installed = await doctor.checkUnitState()
        #expect(installed.status == .skipped && installed.detail.contains("systemd does not run here"), "\(installed.text)")
    }
}

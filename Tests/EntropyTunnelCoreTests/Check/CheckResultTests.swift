import EntropyTunnelCore
import Logging
import Testing

/// `entropy-tunnel check`'s results as values: the printed form, the exit status, the fix taken
/// from an error message, the stage an SSH error belongs to, and the kernel version rngd 5 stalls on.
struct CheckResultTests {
    @Test("a result prints as MARK NAME: DETAIL, then an indented fix line only when there is a fix")
    func printedForm() {
        #expect(CheckResult("kernel CRNG", .pass, "ready").text == "✓ kernel CRNG: ready")
        #expect(CheckResult("sink kernel", .fail, "missing", fix: "run as root").text == "✗ sink kernel: missing\n    fix: run as root")
        #expect(CheckResult("sink rngd", .warning, "stalls", fix: "use --sink kernel").text.hasPrefix("! sink rngd: stalls\n    fix: "))
        #expect(CheckResult("service", .skipped, "").text == "- service")
    }

    @Test("exit status: 0 with warnings and skips, 1 with a failure, 78 when the configuration failed")
    func exitStatus() {
        let pass = CheckResult(Doctor.configurationCheck, .pass, "")
        #expect(CheckResult.exitStatus(of: [pass, CheckResult("a", .warning, ""), CheckResult("b", .skipped, "")]) == 0)
        #expect(CheckResult.exitStatus(of: [pass, CheckResult("a", .fail, "")]) == 1)
        #expect(CheckResult.exitStatus(of: [CheckResult(Doctor.configurationCheck, .fail, ""), CheckResult("b", .skipped, "")]) == 78)
    }

    @Test("the fix of an error message is its last command in backticks", arguments: [
        ("run `chmod 600 /k`", "chmod 600 /k"),
        ("remove it (`ssh-keygen -R h`) and run `entropy-tunnel keys trust h`", "entropy-tunnel keys trust h"),
        ("`a` then `b`", "b"),
        ("no command here", nil),
        ("one ` backtick", nil),
    ] as [(String, String?)])
    func quotedCommand(message: String, command: String?) {
        #expect(CheckResult.quotedCommand(in: message) == command)
    }

    @Test("SSH errors map to the stage that failed")
    func stages() {
        #expect(Doctor.stage(of: TunnelError(.hostKeyMismatch, "")) == .hostKey)
        #expect(Doctor.stage(of: TunnelError(.hostKeyUnknown, "")) == .hostKey)
        #expect(Doctor.stage(of: TunnelError(.timeout, "")) == .hostKey)
        #expect(Doctor.stage(of: TunnelError(.authenticationFailed, "")) == .authentication)
        #expect(Doctor.stage(of: TunnelError(.remoteCommandFailed, "")) == .stream)
        #expect(Doctor.stage(of: TunnelError(.healthTestFailed, "")) == .stream)
        #expect(Doctor.stage(of: TunnelError(.stalled, "")) == .stream)
    }

    @Test("kernel versions: rngd 5 stalls from 5.18 on", arguments: [
        ("6.1.0-18-amd64", true), ("5.18.0", true), ("5.17.15-generic", false), ("4.19.0-26-amd64", false), ("6.12", true),
    ])
    func kernelVersions(release: String, stalls: Bool) throws {
        let version = try #require(Doctor.kernelVersion(release))
        #expect((version >= (5, 18)) == stalls)
    }

    @Test("a configuration error: the first check fails with its message, every other is skipped")
    func configurationFailure() async {
        let error = TunnelError(.configuration, "/etc/x.toml:3: 'window' must be a size")
        let results = await Doctor(configuration: .failure(error), source: "/etc/x.toml", logger: Logger(label: "test")).run()
        #expect(results.first?.status == .fail && results.first?.detail == error.message)
        #expect(results.first?.fix != nil)
        #expect(results.dropFirst().allSatisfy { $0.status == .skipped })
        #expect(CheckResult.exitStatus(of: results) == 78)
    }
}

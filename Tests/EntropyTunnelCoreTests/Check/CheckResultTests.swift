import EntropyTunnelCore
import Testing

/// `entropy-tunnel check`'s results as values: the printed form, the exit status, and the fix taken
/// from an error message.
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
}

import ArgumentParser
import EntropyTunnelCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `entropy-tunnel check`: a doctor for the set-up `run` would use.
package struct CheckCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the set-up `run` would use, step by step, and say how to fix what is wrong.",
        discussion: """
            Takes every option of `run` and the same config file (flags over file over defaults), \
            and checks, in order: the configuration; the private key (present, owned by this user, \
            mode 0600, Ed25519 or ECDSA, no passphrase); for each host, its pin in known_hosts, a \
            TCP connection, the host key against the pin, authentication with the key, and 4 KiB of \
            the remote command's output through the health tests (nothing is fed anywhere); the \
            kernel's CRNG and what the sink needs (CAP_SYS_ADMIN for the kernel sink, rngd and its \
            version for the rngd sink); the systemd unit, when installed.

            Each check prints one line: ✓ passed, ✗ failed (followed by a `fix:` line saying what \
            to do), ! a warning, - not checked (an earlier check failed, or nothing to check). \
            Exits 0 when nothing failed (warnings allowed), 1 when a check failed, 78 when the \
            command line or the configuration is unusable.

            Run it as the user the service runs as (root, or the unit's user with its \
            capabilities). Its deadline: each host ends within --connect-timeout twice plus \
            --data-timeout (the TCP connect, then the SSH set-up, each within --connect-timeout; \
            the 4 KiB within --data-timeout from then, however slowly the host delivers: a stuck \
            or trickling reader is cut off there), and rngd's version probe (rngd sink) within \
            10 s. With the defaults that is 80 s per unreachable or silent host; \
            `--connect-timeout 2 --data-timeout 5` bounds it at 9 s per host.
            """
    )

    @OptionGroup package var connection: ConnectionArguments

    @OptionGroup package var daemon: DaemonArguments

    @Option(help: ArgumentHelp("The systemd unit to look at.", valueName: "path"))
    package var unitPath: String = ServiceUnit.defaultPath

    @Flag(help: "Count a unit that is not installed as a failure (otherwise it is only noted).")
    package var expectUnit = false

    package func run() async throws {
        var logger = bootstrapLogging(connection.logLevel ?? .critical)
        let flags = daemon.applied(to: connection.values)
        var source = "the command line"
        let configuration = Result { () throws(TunnelError) -> RunConfiguration in
            let values: ConfigFile.Values
            do {
                (values, source) = try connection.resolvedValues(overlaying: flags)
            } catch let error as TunnelError {
                throw error
            } catch {
                throw TunnelError(.configuration, "\(error)")
            }
            return try RunConfiguration(values, source: source)
        }
        // Library logs (remote stderr, connection details) only when asked for: the checks say it all.
        logger.logLevel = connection.logLevel ?? .critical
        var doctor = Doctor(configuration: configuration, source: source, logger: logger)
        doctor.unitPath = unitPath
        doctor.expectUnit = expectUnit
        let results = await doctor.run { print(Self.terminalText($0)) }
        let status = CheckResult.exitStatus(of: results)
        let failed = results.filter { $0.status == .fail }.count
        let warnings = results.filter { $0.status == .warning }.count
        print(failed == 0 ? "all checks passed\(warnings > 0 ? " (\(warnings) warning\(warnings == 1 ? "" : "s"))" : "")"
                          : "\(failed) check\(failed == 1 ? "" : "s") failed")
        if status != 0 { throw ExitCode(status) }
    }

    /// The check's lines for a terminal: a host's error text, its stderr above all, is in the
    /// detail; each field is escaped (no escape sequences, no bidi, no line of its own).
    static func terminalText(_ result: CheckResult) -> String {
        var escaped = result
        escaped.name = PrintableText.escape(result.name, for: .terminal)
        escaped.detail = PrintableText.escape(result.detail, for: .terminal)
        escaped.fix = result.fix.map { PrintableText.escape($0, for: .terminal) }
        return escaped.text
    }
}

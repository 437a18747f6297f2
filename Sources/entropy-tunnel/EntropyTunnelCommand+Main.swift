import ArgumentParser
import CSystemShims
import EntropyTunnelCore
#if canImport(Glibc)
import Glibc
#endif

extension EntropyTunnelCommand {
    /// The entry point: refuses a command line that holds private key material before
    /// swift-argument-parser sees it, then runs as usual (`AsyncParsableCommand.main(_:)`).
    ///
    /// The parser quotes an argument it cannot read ("Invalid option: -----BEGIN OPENSSH PRIVATE
    /// KEY-----..."), and `--key "$(cat id_ed25519)"` is exactly such an argument: no option of
    /// entropy-tunnel takes a private key, so such a command line is refused without echoing it.
    /// A command line `run` cannot use exits 78 instead of the parser's 64.
    static func main() async {
        // A SIGTERM during start-up (before the service group handles signals) must stop the
        // daemon cleanly, not kill it: until then it only sets a flag that `run` looks at.
        csystem_trap_stop_signals()
        if CommandLine.arguments.dropFirst().contains(where: PublicKey.looksPrivate) {
            printError("entropy-tunnel: that looks like a PRIVATE key; pass the .pub " +
                       "(the one line of the key's .pub file, `ssh-ed25519 AAAA... COMMENT`); the argument is not shown")
            Glibc.exit(78)
        }
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // `run` is what systemd starts: a command line it cannot use is a configuration
            // problem (78, which the unit's RestartPreventExitStatus=78 stops on), never a
            // restart loop on the usage error's 64. `check` promises the same status.
            if arguments.first == "run" || arguments.first == "check", exitCode(for: error) == .validationFailure {
                printError(fullMessage(for: error))
                Glibc.exit(78)
            }
            exit(withError: error)
        }
    }
}

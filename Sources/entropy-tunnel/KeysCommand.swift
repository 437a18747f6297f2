import ArgumentParser
import EntropyTunnelCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `entropy-tunnel keys generate|trust|authorize|rotate|list|untrust|deauthorize`: the SSH keys on both sides.
package struct KeysCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Set up the SSH keys: this machine's key, the host's pinned key, the host's authorized key.",
        discussion: """
            On the client:       entropy-tunnel keys generate; entropy-tunnel keys trust rng.example --fingerprint SHA256:...
            On the entropy host: entropy-tunnel keys authorize --key "ssh-ed25519 AAAA... entropy-tunnel@client"
            Later: keys rotate (a new client key without a gap), keys list, keys untrust HOST; on the host,
            keys authorize --remove KEY and keys deauthorize.
            `entropy-tunnel install` does the client side in one go.
            """,
        subcommands: [Generate.self, Trust.self, Authorize.self, Rotate.self, List.self, Untrust.self, Deauthorize.self]
    )

    package struct Generate: AsyncParsableCommand {
        package init() {}

        package static let configuration = CommandConfiguration(
            abstract: "Create this machine's Ed25519 key (unless it exists) and print the host-side authorized_keys line.",
            discussion: """
                An existing pair is kept only when it is usable: an OpenSSH Ed25519 or ECDSA key without passphrase, \
                mode 0600, whose .pub belongs to it; otherwise the command says what is wrong and changes nothing.
                """)

        @Option(help: ArgumentHelp("Private key file; the public key goes to FILE.pub.", valueName: "file"))
        package var identity: String = "/etc/entropy-tunnel/id_ed25519"

        @Option(help: ArgumentHelp("A plain reader the host forces for this key instead of `entropy-tunnel serve`, for a host that cannot run entropy-tunnel, like \"dd if=/dev/hwrng bs=512 status=none\". (default: /usr/bin/entropy-tunnel serve --device /dev/hwrng)", valueName: "command"))
        package var remoteCommand: String?

        @Option(help: ArgumentHelp("sshd from= pattern list: the addresses this key may connect from, e.g. 192.0.2.7", valueName: "pattern"))
        package var from: String?

        @Option(help: ArgumentHelp("Take the key's path, the host user and the remote command from this config file (what entropy-tunnel-key.service passes at a first boot).", valueName: "file"))
        package var config: String?

        @Option(help: ArgumentHelp("Give a new pair to this user and its group (the service user, which must read the key).", valueName: "user"))
        package var owner: String?

        package func run() async throws {
            do {
                let values = try config.map { (path) throws(TunnelError) -> ConfigFile.Values in try ConfigFile.load(path: path) }
                let identity = values?[Settings.identity]?.text ?? self.identity
                let remoteCommand = self.remoteCommand ?? values?[Settings.remoteCommand]?.text
                let (key, created) = try await KeyGenerator.ensureKey(identity: identity)
                if created, let owner { try KeyGenerator.giveNewPair(identity: identity, to: owner) }
                let line = AuthorizedKeyLine(key: key, command: remoteCommand ?? HostAuthorizer.serveCommand(), from: from)
                try line.validate()
                print("\(identity): \(created ? "created" : "exists, kept") (\(key.keygenListing(name: key.comment)))")
                print("")
                print("authorized_keys line for the entropy host:")
                print(line.text)
                print("")
                print("On the entropy host, as root, run:")
                print("  " + HostAuthorizer.commandLine(key: key, user: values?[Settings.user]?.text ?? "entropy", remoteCommand: remoteCommand, from: from))
            } catch {
                fail(error)
            }
        }
    }

    package struct Trust: AsyncParsableCommand {
        package init() {}

        package static let configuration = CommandConfiguration(
            abstract: "Fetch the entropy host's key, show its fingerprint, and pin it in known_hosts.",
            discussion: """
                With --fingerprint (from `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host), the key is \
                pinned only if it matches. Without it, you are asked on the terminal; without a terminal, nothing is \
                pinned unless --yes is given.
                """)

        @Argument(help: ArgumentHelp("The entropy host: HOST, HOST:PORT or [IPv6]:PORT.", valueName: "host"))
        package var host: String

        @Option(help: ArgumentHelp("The known_hosts file to write.", valueName: "file"))
        package var knownHosts: String = "/etc/entropy-tunnel/known_hosts"

        @Option(help: ArgumentHelp("Pin only a key with this fingerprint (SHA256:...).", valueName: "fingerprint"))
        package var fingerprint: String?

        @Flag(help: "Pin the key without asking (only when you have checked the host otherwise).")
        package var yes = false

        @Option(help: ArgumentHelp("Seconds allowed to connect.", valueName: "seconds"))
        package var connectTimeout: Double = 10

        package func run() async throws {
            let logger = bootstrapLogging(.warning)
            do {
                let spec = try HostSpec(parsing: host)
                let outcome = try await HostKeyTrust.trust(
                    host: spec, knownHosts: knownHosts, fingerprint: fingerprint,
                    timeout: .milliseconds(Int64(connectTimeout * 1000)), logger: logger,
                    show: { key in print(key.keygenListing(name: spec.knownHostsName)) },
                    confirm: { key in confirmOnTerminal("Pin this \(key.keygenTypeLabel) key of \(spec) in \(knownHosts)?", yes: yes) })
                print("\(knownHosts): \(outcome.change == .unchanged ? "already pinned, unchanged" : outcome.change.rawValue) " +
                      "(\(spec.knownHostsName) \(outcome.key.type.rawValue) \(outcome.key.fingerprint))")
            } catch {
                fail(error)
            }
        }
    }

    package struct Authorize: AsyncParsableCommand {
        package init() {}

        package static let configuration = CommandConfiguration(
            abstract: "On the entropy host, as root: let a client key read the RNG, and nothing else.",
            discussion: """
                Creates the user if missing (shell /bin/sh, password field '*'), gives the user read access to the \
                RNG device (udev rule plus group and mode now), runs the forced command as the user for 16 bytes to \
                prove it works, then writes the restricted authorized_keys line (restrict,command="...": no shell, \
                no forwarding; `entropy-tunnel serve` gets --client with the key's fingerprint, its budget on this \
                host; the comment ends with entropy-tunnel:keys-authorize; the same key is never added twice), and \
                prints the sshd_config block to add (with MaxSessions, ClientAliveInterval and ExposeAuthInfo). \
                ~/.ssh and authorized_keys are written as root without following any link the user could plant: \
                a symbolic link there, or a file or directory that is neither the user's nor root's, is refused. \
                An existing user keeps its shell and password field unless --force. If the proof fails, what the \
                command changed is undone.
                """)

        // .unconditional: a mistaken private key ("-----BEGIN ...") must reach PublicKey's check,
        // which refuses it without echoing it, instead of the parser's "invalid option" message.
        @Option(parsing: .unconditional, help: ArgumentHelp("The client's public key line, as `keys generate` prints it.", valueName: "public key"))
        package var key: String?

        // .unconditional for the same reason as --key.
        @Option(parsing: .unconditional, help: ArgumentHelp(
            "Instead of adding a key, remove this one (a public key line) from the user's authorized_keys: " +
            "the old key after `keys rotate`. Nothing else changes.", valueName: "public key"))
        package var remove: String?

        @Option(help: "The user the client logs in as.")
        package var user: String = "entropy"

        @Option(help: ArgumentHelp("A plain reader to force for this key instead of `entropy-tunnel serve` (this binary's absolute path, reading --device), like \"dd if=/dev/hwrng bs=512 status=none\".", valueName: "command"))
        package var remoteCommand: String?

        @Option(help: ArgumentHelp("sshd from= pattern list: the addresses the client may connect from.", valueName: "pattern"))
        package var from: String?

        @Option(help: ArgumentHelp("The RNG device the user may read. Devices every process shares (/dev/random, /dev/urandom, /dev/null, /dev/zero, terminals, ... and any other name for them) are refused.", valueName: "path"))
        package var device: String = "/dev/hwrng"

        @Option(help: ArgumentHelp("The udev rule file to write.", valueName: "file", visibility: .hidden))
        package var udevRule: String = "/etc/udev/rules.d/60-entropy-tunnel.rules"

        @Flag(help: "Give an existing user (one this command did not create) the shell /bin/sh and unlock it, if sshd needs that.")
        package var force = false

        @Flag(help: "Also install the sshd Match block as /etc/ssh/sshd_config.d/entropy-tunnel-USER.conf, check it with `sshd -t` and reload sshd (a failing check removes it and shows sshd's message).")
        package var sshdDropIn = false

        @Option(help: ArgumentHelp("The main sshd configuration; the drop-in goes to its sshd_config.d/.", valueName: "file", visibility: .hidden))
        package var sshdConfig: String = SSHDDropIn.defaultConfigFile

        @Flag(help: ArgumentHelp("Tests only: accept a mknod copy of /dev/urandom as the device.", visibility: .hidden))
        package var testDeviceStandIn = false

        package func validate() throws {
            guard (key == nil) != (remove == nil) else {
                throw ValidationError("give either --key (add a client key) or --remove (take one away)")
            }
        }

        package func run() async throws {
            do {
                if let remove {
                    print(try HostAuthorizer.removeKey(try PublicKey(parsing: remove), user: user))
                    return
                }
                let command = remoteCommand ?? HostAuthorizer.serveCommand(binary: runningExecutable() ?? HostAuthorizer.packagedBinary, device: device)
                var authorizer = HostAuthorizer(line: AuthorizedKeyLine(key: try PublicKey(parsing: key ?? ""), command: command, from: from))
                authorizer.user = user
                authorizer.device = device
                authorizer.udevRule = udevRule
                authorizer.force = force
                authorizer.sshdDropIn = sshdDropIn
                authorizer.sshdConfig = sshdConfig
                authorizer.allowSharedDeviceStandIn = testDeviceStandIn
                let report = try await authorizer.run()
                report.steps.forEach { print($0) }
                print("")
                print(authorizer.sshdMatchBlock)
            } catch {
                fail(error)
            }
        }
    }
}

/// Asks `question` on the terminal; without one, answers `yes` and says why when that is no.
func confirmOnTerminal(_ question: String, yes: Bool, forHost host: String? = nil) -> Bool {
    if yes { return true }
    guard isatty(0) == 1 else {
        printError("No terminal to ask whether to trust the key\(host.map { " of \($0)" } ?? ""): pass --fingerprint SHA256:... " +
                   "(compare with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host\(host == nil ? "" : "; one --fingerprint per --host, in order")) or --yes.")
        return false
    }
    print("\(question) [y/N] ", terminator: "")
    fflush(nil)
    let answer = (readLine() ?? "").filter { $0 != " " && $0 != "\t" }.lowercased()
    return answer == "y" || answer == "yes"
}

/// Writes one line to standard error (unbuffered, so it is ordered with the log).
func printError(_ line: String) {
    fflush(nil)
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// Prints the error's message for people and exits: 78 (EX_CONFIG) for a problem the
/// administrator must fix in the setup (a refused file, an unusable key, a bad option), as `run`
/// does; 1 for anything else (a failed system command, an unreachable host).
func fail(_ error: any Error) -> Never {
    printError("entropy-tunnel: \(describe(error))")
    exit((error as? TunnelError)?.isConfigurationProblem == true ? 78 : 1)
}

import ArgumentParser
import EntropyTunnelCore

/// The keys' later life: rotate, list, untrust (client side) and deauthorize (host side).
extension KeysCommand {
    package struct Rotate: AsyncParsableCommand {
        package init() {}

        package static let configuration = CommandConfiguration(
            abstract: "Replace this machine's key without a gap: the old key stays usable as FILE.old until the host accepts the new one.",
            discussion: """
                Moves the key to FILE.old (and FILE.old.pub), creates a new Ed25519 key at FILE owned by the same user \
                (the service user after install), and prints the two commands for the entropy host: add the new key, \
                then remove the old one. The running service keeps authenticating with FILE.old while the host refuses \
                FILE, tries FILE again every minute (or every failback interval when shorter), and switches to it as \
                soon as the host accepts it, opening the new connection before closing the old one. \
                `entropy-tunnel keys list` shows which key the service uses; then `keys rotate --finish` removes FILE.old.
                """)

        @Option(help: ArgumentHelp("Private key file; the public key is FILE.pub.", valueName: "file"))
        package var identity: String = "/etc/entropy-tunnel/id_ed25519"

        @Option(help: "The user the client logs in as on the host (for the printed commands).")
        package var user: String = "entropy"

        @Option(help: ArgumentHelp("The command the host forces for the new key.", valueName: "command"))
        package var remoteCommand: String = ConnectionOptions.defaultRemoteCommand

        @Option(help: ArgumentHelp("sshd from= pattern list for the new key.", valueName: "pattern"))
        package var from: String?

        @Flag(help: "End the rotation: remove FILE.old and FILE.old.pub (refused while the service still uses FILE.old).")
        package var finish = false

        @Option(help: ArgumentHelp("The state file of the running service, which says which key it uses.", valueName: "path"))
        package var stateFile: String = DaemonState.defaultPath

        @Option(help: ArgumentHelp("install's manifest, updated when it lists the key.", valueName: "path", visibility: .hidden))
        package var installManifest: String = InstallManifest.defaultPath

        package func run() async throws {
            do {
                let previous = KeyRotation.previousIdentity(of: identity)
                if finish {
                    let removed = try KeyRotation.finish(identity: identity, inUse: serviceKeys(stateFile: stateFile))
                    print(removed.isEmpty ? "\(previous): not there, nothing to finish" : removed.map { "\($0): removed" }.joined(separator: "\n"))
                    return
                }
                let rotation = try await KeyRotation.rotate(identity: identity, manifestPath: installManifest)
                print("\(previous): the previous key (\(rotation.old.keygenListing(name: rotation.old.comment))), used until the host accepts the new one")
                print("\(identity): new key (\(rotation.new.keygenListing(name: rotation.new.comment)))")
                print("")
                print("1. On the entropy host, as root, add the new key:")
                print("  " + HostAuthorizer.commandLine(key: rotation.new, user: user, remoteCommand: remoteCommand, from: from))
                print("2. When `entropy-tunnel keys list` here shows the service using \(identity), remove the old key there:")
                var words = ["entropy-tunnel", "keys", "authorize"]
                if user != "entropy" { words += ["--user", user] }
                print("  " + ShellQuote.command(words + ["--remove", rotation.old.line]))
                print("3. Then here: " + ShellQuote.command(["entropy-tunnel", "keys", "rotate", "--finish"] +
                                                           (identity == "/etc/entropy-tunnel/id_ed25519" ? [] : ["--identity", identity])))
            } catch {
                fail(error)
            }
        }
    }

    package struct List: AsyncParsableCommand {
        package init() {}

        package static let configuration = CommandConfiguration(
            abstract: "Show this machine's key(s) with their fingerprints, which one the service uses, and the pinned hosts.")

        @Option(help: ArgumentHelp("Private key file; the public key is FILE.pub.", valueName: "file"))
        package var identity: String = "/etc/entropy-tunnel/id_ed25519"

        @Option(help: ArgumentHelp("The known_hosts file with the pinned host keys.", valueName: "file"))
        package var knownHosts: String = "/etc/entropy-tunnel/known_hosts"

        @Option(help: ArgumentHelp("The state file of the running service, which says which key it uses.", valueName: "path"))
        package var stateFile: String = DaemonState.defaultPath

        package func run() async throws {
            let inUse = serviceKeys(stateFile: stateFile)
            for (label, path) in [("client key", identity), ("previous key (rotation under way)", KeyRotation.previousIdentity(of: identity))] {
                guard FileSystem.exists(path) || FileSystem.exists(path + ".pub") else {
                    if path == identity { print("\(label) \(path): missing (create it with `entropy-tunnel keys generate`)") }
                    continue
                }
                let key = (try? FileSystem.read(path + ".pub", limit: 64 << 10)).flatMap { try? PublicKey(parsing: $0) }
                let detail = key.map { "\($0.type.rawValue) \($0.fingerprint) \($0.comment)" } ?? "no readable \(path).pub"
                print("\(label) \(path): \(detail)\(inUse.contains(path) ? " (the service uses it)" : "")")
            }
            if inUse.isEmpty { print("the service's key: unknown (no session recorded in \(stateFile))") }
            let text: String
            do {
                guard let existing = try FileSystem.readIfExists(knownHosts) else {
                    print("pinned hosts: none (\(knownHosts) does not exist; pin one with `entropy-tunnel keys trust HOST`)")
                    return
                }
                text = existing
            } catch {
                print("pinned hosts: cannot read \(knownHosts): \(error.message) (run as root)")
                return
            }
            // As the daemon reads the file: hashed, tab-separated and wildcard lines included.
            let (pins, warnings) = KnownHostsFile.listing(text, path: knownHosts)
            print("pinned hosts in \(knownHosts): \(pins.isEmpty ? "none" : "")")
            for pin in pins {
                let line = "  line \(pin.line): \(pin.revoked ? "@revoked " : "")\(pin.hosts) \(pin.key.type.rawValue) \(pin.key.fingerprint)"
                print(PrintableText.escape(line, for: .terminal))
            }
            for warning in warnings { print(PrintableText.escape("  " + warning, for: .terminal)) }
        }
    }

    package struct Untrust: AsyncParsableCommand {
        package init() {}

        package static let configuration = CommandConfiguration(
            abstract: "Remove a host's pinned key(s) from known_hosts (the service then refuses that host until `keys trust`).",
            discussion: """
                Every line that pins a key for the host as `entropy-tunnel run` matches it (hashed names, any case, \
                wildcards, tab-separated fields, [host]:port) is reported with its line number and removed: a hashed \
                line whole, a pattern list without the host's own name. A line that would still match after that \
                (a wildcard or negated pattern that also covers other hosts) is kept and named, and the command \
                exits 1: edit that line by hand.
                """)

        @Argument(help: ArgumentHelp("The entropy host: HOST, HOST:PORT or [IPv6]:PORT, as pinned.", valueName: "host"))
        package var host: String

        @Option(help: ArgumentHelp("The known_hosts file to edit.", valueName: "file"))
        package var knownHosts: String = "/etc/entropy-tunnel/known_hosts"

        package func run() async throws {
            var stillTrusted = false
            do {
                let spec = try HostSpec(parsing: host)
                guard let existing = try FileSystem.readIfExists(knownHosts) else {
                    print("\(knownHosts): does not exist, nothing pinned")
                    return
                }
                // The daemon's own matcher decides which lines pin the host.
                let result = KnownHostsFile.untrusting(existing, host: spec)
                guard !result.matches.isEmpty else {
                    print("\(knownHosts): unchanged (no line pins \(spec.knownHostsName), as entropy-tunnel run matches it)")
                    return
                }
                if !result.removed.isEmpty {
                    try FileSystem.writeIfChanged(knownHosts, result.text, mode: FileSystem.mode(knownHosts) ?? 0o644)
                }
                for match in result.matches {
                    let what = "\(knownHosts):\(match.line): \(match.hosts) \(match.type.rawValue) \(match.fingerprint)"
                    print(PrintableText.escape(match.kept.map { "NOT removed \(what): \($0)" } ?? "removed \(what)", for: .terminal))
                }
                let removed = result.removed.count
                print("\(knownHosts): removed \(removed) pin\(removed == 1 ? "" : "s") of \(spec.knownHostsName)")
                if !result.kept.isEmpty {
                    printError("entropy-tunnel: \(spec.knownHostsName) is still trusted through \(result.kept.count) line" +
                               "\(result.kept.count == 1 ? "" : "s") of \(knownHosts) that also cover other hosts (see above)")
                    stillTrusted = true
                }
            } catch {
                fail(error)
            }
            if stillTrusted { throw ExitCode(1) }
        }
    }

    package struct Deauthorize: AsyncParsableCommand {
        package init() {}

        package static let configuration = CommandConfiguration(
            abstract: "On the entropy host, as root: undo `keys authorize` (key lines, udev rule, device access, sshd drop-in).",
            discussion: """
                Removes the key lines keys authorize wrote from the user's authorized_keys (those ending with the \
                comment word entropy-tunnel:keys-authorize, and lines forcing `entropy-tunnel serve`; with --key, every \
                line of that key instead); the administrator's other keys, restrict,command= ones included, stay and \
                are counted in the output. Then the udev rule keys authorize wrote, the user's group access to the \
                device (back to group root, mode 0600), and the sshd drop-in of --sshd-drop-in (then reloads sshd). \
                authorized_keys is read and written without following any link the user planted. The user itself \
                stays: the output says how to remove it.
                """)

        @Option(help: "The user the client logs in as.")
        package var user: String = "entropy"

        @Option(parsing: .unconditional, help: ArgumentHelp("Remove only this key's line (a public key line).", valueName: "public key"))
        package var key: String?

        @Option(help: ArgumentHelp("The RNG device keys authorize gave the user.", valueName: "path"))
        package var device: String = "/dev/hwrng"

        @Option(help: ArgumentHelp("The udev rule file keys authorize wrote.", valueName: "file", visibility: .hidden))
        package var udevRule: String = "/etc/udev/rules.d/60-entropy-tunnel.rules"

        @Option(help: ArgumentHelp("The main sshd configuration; the drop-in is in its sshd_config.d/.", valueName: "file", visibility: .hidden))
        package var sshdConfig: String = SSHDDropIn.defaultConfigFile

        @Flag(help: ArgumentHelp("Tests only: accept a mknod copy of /dev/urandom as the device.", visibility: .hidden))
        package var testDeviceStandIn = false

        package func run() async throws {
            do {
                let publicKey = try key.map { (text: String) throws(TunnelError) in try PublicKey(parsing: text) }
                let lineKey = try publicKey ?? PublicKey(parsing: placeholderKey)
                var authorizer = HostAuthorizer(line: AuthorizedKeyLine(key: lineKey))
                authorizer.user = user
                authorizer.device = device
                authorizer.udevRule = udevRule
                authorizer.sshdConfig = sshdConfig
                authorizer.allowSharedDeviceStandIn = testDeviceStandIn
                try await authorizer.deauthorize(key: publicKey).forEach { print($0) }
            } catch {
                fail(error)
            }
        }
    }
}

/// A syntactically valid key for a `HostAuthorizer` whose line is not used (deauthorize).
private let placeholderKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA unused"

/// The private keys the running service uses, from its state file: the current connection's,
/// and the one each host accepted at its last session (on demand no connection is held between
/// fills). Empty when unknown.
func serviceKeys(stateFile: String) -> Set<String> {
    guard let text = try? FileSystem.readIfExists(stateFile), let state = try? DaemonState.decode(text),
          state.running else { return [] }
    var keys = Set<String>()
    if let current = state.current?.clientKey { keys.insert(current) }
    for host in state.hosts {
        if let key = host.clientKey { keys.insert(key) }
    }
    return keys
}

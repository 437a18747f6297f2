import ArgumentParser
import EntropyTunnelCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `entropy-tunnel install`: config, key, host-key pin and the systemd service, idempotently.
package struct InstallCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Set up this machine as a client: config, key, host-key pin, systemd service.",
        discussion: """
            Writes /etc/entropy-tunnel/config.toml (or --config PATH), creates the service user entropy-tunnel \
            from /etc/sysusers.d/entropy-tunnel.conf (the package's /usr/lib/sysusers.d copy when there), creates the key \
            /etc/entropy-tunnel/id_ed25519 if missing (owned by that user), pins the hosts' keys in \
            /etc/entropy-tunnel/known_hosts (repeat --host for fallbacks, in order of preference: each is pinned) and \
            writes /etc/systemd/system/entropy-tunnel.service and entropy-tunnel-seed.service (which runs \
            `seed load` early at boot and `seed save` at shutdown); then, when systemd runs, enables and starts both. Files whose content is already right are not rewritten: running it twice changes nothing. \
            A new config is the commented example (`entropy-tunnel config example`) with the options given \
            filled in. An existing config is merged into key by key: each option given replaces its key's line \
            (or is added under the key's commented example), every other key and comment stays, and the \
            changed keys are printed as `key: old -> new`. A config that cannot be merged so that it reads back \
            as asked (a value broken over lines, a `port` that changes the host) is an error and stays as it \
            was; so is a config for other hosts (sharing none with --host). --force replaces it with a new \
            one and keeps the old file as FILE.bak; a unit edited by hand (or not written by install, see \
            /etc/entropy-tunnel/install-manifest) is replaced only with --force too. Everything is checked \
            before the first file is written. When systemd runs and something changed, the service is \
            restarted, or only reloaded (`systemctl reload`, which keeps a healthy connection whose host is \
            still listed) when all that changed is host-key pins (read at every connection) and config keys a \
            running daemon applies: the hosts and the connection settings. It ends by printing what to run on the entropy host.

            Host keys without a terminal: give one --fingerprint (or --host-key) per --host, in the same order: the \
            first for the first --host, the second for the second, and so on. Every host is confirmed (its key fetched \
            and compared, or shown and confirmed) before anything is written: a host that cannot be confirmed (a \
            wrong fingerprint, no terminal and no --yes) leaves no file behind, and install exits 78. A host with \
            neither that is already pinned keeps its pin.

            Images: --root DIR stages everything below DIR (a mounted or unpacked image): the service user goes into \
            DIR/etc/passwd (systemd-sysusers --root), the key is given to it, and the units are enabled in DIR \
            (systemctl --root; not with --no-start), so machines booted from the image start the tunnel. By default the \
            key is made now, in the image: one `keys authorize` on the host then serves every machine made from it, \
            which also means they all share one key. --per-instance-key makes no key now: each machine makes its own \
            at its first boot (entropy-tunnel-key.service) and logs the line to authorize it on the host (`journalctl \
            -u entropy-tunnel-key`; `entropy-tunnel check` shows it too until a host accepts the key). Choose it when \
            machines must be told apart or revoked one by one; the default stays the shared key because it needs \
            no step per machine. Empty DIR/etc/machine-id too, so each machine gets its own id.

            What install does with each option: --host (repeatable), --port, --user and the other run options \
            are merged into the config file as keys (only those given; the rest keep their values); --identity and \
            --known-hosts say where the key is created and the host keys pinned (and are written to the \
            config); --fingerprint or --host-key, one per --host in order, decide which key of each host is pinned \
            (--yes pins the ones the hosts show); --binary is the ExecStart= of both units; --no-start writes everything but neither \
            enables nor starts the units; --force replaces the config and units instead of merging (keeping FILE.bak); \
            --root stages an image below another directory (see above); with --sink rngd, --disable-distro-rngd \
            disables the distribution's own rngd service, which would run as a second rngd beside the \
            supervised one.
            """
    )

    @OptionGroup package var connection: ConnectionArguments

    @OptionGroup package var daemon: DaemonArguments

    @Option(help: ArgumentHelp("Pin a host's key only if it has this fingerprint (from `ssh-keygen -lf` on the host). Repeat it, one per --host in the same order.", valueName: "SHA256:..."))
    package var fingerprint: [String] = []

    // .unconditional: a mistaken private key ("-----BEGIN ...") must reach PublicKey's check, which
    // refuses it without echoing it, instead of the parser's "invalid option" message.
    @Option(parsing: .unconditionalSingleValue, help: ArgumentHelp("Pin this host key (`TYPE BASE64`, from the host's /etc/ssh/ssh_host_ed25519_key.pub) without connecting. Repeat it, one per --host in the same order.", valueName: "key"))
    package var hostKey: [String] = []

    @Flag(help: "Pin the key a host shows without asking, for each host that has neither --fingerprint nor --host-key (trust on first use).")
    package var yes = false

    @Option(help: ArgumentHelp("Stage an image below this directory instead of installing into /: the user goes into DIR/etc/passwd, the units are enabled there (not started), no check runs.", valueName: "dir"))
    package var root: String?

    @Flag(help: "Make no client key now: each machine makes its own at its first boot (entropy-tunnel-key.service) and logs the line to authorize it. Default: a key made now, which every machine made from a --root image shares (one authorization serves them all).")
    package var perInstanceKey = false

    @Option(help: ArgumentHelp("The entropy-tunnel binary the service runs: /usr/bin/entropy-tunnel when install runs from there (the .deb), else /usr/local/bin/entropy-tunnel.", valueName: "path"))
    package var binary: String = ServiceUnit.defaultBinary(running: runningExecutable())

    @Flag(help: "Write the files but neither enable nor start the units: the service stays disabled (and does not start at boot) until `systemctl enable --now entropy-tunnel entropy-tunnel-seed`.")
    package var noStart = false

    @Flag(help: "With --sink rngd: disable (systemctl disable --now) the distribution's own rngd.service / rng-tools*.service, which install otherwise only warns about.")
    package var disableDistroRngd = false

    @Flag(help: "Replace the config with a new one instead of merging into it (also one for other hosts), and a unit edited by hand or not written by install; the old file is kept as FILE.bak.")
    package var force = false

    package func validate() throws {
        guard !connection.host.isEmpty else {
            throw ValidationError("install needs --host: the entropy host (repeat --host for fallbacks, in order of preference)")
        }
        for (count, option) in [(fingerprint.count, "--fingerprint"), (hostKey.count, "--host-key")] where count > connection.host.count {
            throw ValidationError("\(count) \(option) for \(connection.host.count) --host: give at most one \(option) per --host, " +
                                  "in the same order (the first for the first --host, and so on)")
        }
        do throws(TunnelError) {
            _ = try Installer.normalizedRoot(root)
            try Installer.checkUnitPath(binary, "--binary")
            if let config = connection.config { try Installer.checkUnitPath(config, "--config") }
            if let identity = connection.identity { try Installer.checkPath(identity, "--identity") }
            if let knownHosts = connection.knownHosts { try Installer.checkPath(knownHosts, "--known-hosts") }
        } catch {
            throw ValidationError(error.message)
        }
    }

    package func run() async throws {
        let logger = bootstrapLogging(connection.logLevel ?? .warning)
        do {
            let host = connection.host[0]
            _ = try RunConfiguration(values, source: "the command line")  // the same checks `run` makes
            var installer = Installer(host: host)
            installer.fallbackHosts = Array(connection.host.dropFirst())
            installer.settings = settings
            installer.root = try Installer.normalizedRoot(root)
            installer.configPath = connection.config ?? ConfigFile.defaultPath
            installer.binary = binary
            installer.fingerprints = fingerprint
            installer.hostKeys = hostKey
            installer.perInstanceKey = perInstanceKey
            installer.force = force
            installer.noStart = noStart
            installer.disableDistroRngd = disableDistroRngd
            let yes = self.yes
            let report = try await installer.install(
                logger: logger,
                show: { key, spec in print("host key: \(key.keygenListing(name: spec.knownHostsName))") },
                confirm: { key, spec in confirmOnTerminal("Pin this \(key.keygenTypeLabel) key of \(spec)?", yes: yes, forHost: spec.description) })
            report.steps.forEach { print($0) }
            if !report.configChanges.isEmpty {
                print("config changes:")
                report.configChanges.forEach { print("  \($0)") }
            }
            print(report.changed ? "" : "no change\n")
            print(report.hostSteps)
            await runChecks(configPath: installer.configPath, logger: logger)
        } catch {
            fail(error)
        }
    }

    /// Ends install with `entropy-tunnel check` on what was installed. Never fatal: before the
    /// host authorizes the key, authentication fails, and the fix points at the line above.
    func runChecks(configPath: String, logger: Logger) async {
        guard root == nil else {
            print("\nchecks skipped: --root stages the files for another machine; run `entropy-tunnel check` there")
            return
        }
        print("\nChecking the set-up (entropy-tunnel check):")
        let source = configPath
        let configuration = Result { () throws(TunnelError) -> RunConfiguration in
            try RunConfiguration(try ConfigFile.load(path: source), source: source)
        }
        var quiet = logger
        quiet.logLevel = connection.logLevel ?? .critical
        var doctor = Doctor(configuration: configuration, source: source, logger: quiet)
        doctor.checkUnit = !noStart
        doctor.authorizeFix = "the entropy host does not know this key yet: run the `keys authorize` line above there, " +
            "then `entropy-tunnel check`"
        _ = await doctor.run { print($0.text) }
    }

    /// Every option given, run's and the connection's, as they will be written to the config file.
    package var values: ConfigFile.Values { daemon.applied(to: connection.values) }

    /// The options given, as config keys (only those given: defaults stay implicit).
    package var settings: [(key: String, value: Installer.ConfigValue)] { values.settings }
}

/// `entropy-tunnel uninstall`: stop and remove the service; `--purge` also removes config and keys
/// (only what install's manifest lists and only while unchanged).
package struct UninstallCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "uninstall",
        abstract: "Stop, disable and remove the systemd services (config, keys and seed stay unless --purge)."
    )

    @Flag(help: "Also remove the config file, the key pair, the host-key pins and the directories install created (as its manifest lists them, and only while unchanged), the service user entropy-tunnel when install created it, and the seed's state directory /var/lib/entropy-tunnel (kept if it holds anything else).")
    package var purge = false

    @Option(help: ArgumentHelp("Remove files below this directory instead of / (as install --root wrote them).", valueName: "dir"))
    package var root: String?

    package func validate() throws {
        do throws(TunnelError) {
            _ = try Installer.normalizedRoot(root)
        } catch {
            throw ValidationError(error.message)
        }
    }

    package func run() async throws {
        do {
            var installer = Installer(host: "unused")
            installer.root = try Installer.normalizedRoot(root)
            let report = try await installer.uninstall(purge: purge)
            report.steps.forEach { print($0) }
            if !report.changed { print("no change: nothing was installed") }
        } catch {
            fail(error)
        }
    }
}

/// The real path of the running executable (realpath of /proc/self/exe); nil if unknown.
func runningExecutable() -> String? {
    guard let resolved = realpath("/proc/self/exe", nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `entropy-tunnel install` and `uninstall` on the client: config, key, host-key pin and the
/// systemd unit, each written only when its content changes, so a second run changes nothing.
///
/// With `root`, every file goes below that directory (for packaging and tests) and systemd is
/// left alone; the files' contents still name the real paths.
public struct Installer: Sendable {
    /// A value in the generated config file.
    public enum ConfigValue: Sendable, Equatable {
        case string(String)
        case int(Int)
        case double(Double)
        case strings([String])

        /// The value as TOML.
        var toml: String {
            switch self {
            case .string(let s): return Self.quote(s)
            case .int(let n): return "\(n)"
            case .double(let d): return "\(d)"
            case .strings(let list): return "[" + list.map(Self.quote).joined(separator: ", ") + "]"
            }
        }

        static func quote(_ s: String) -> String {
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                default:
                    if scalar.value < 0x20 || scalar.value == 0x7f {
                        let hex = String(scalar.value, radix: 16, uppercase: true)
                        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
            return out + "\""
        }
    }

    /// The entropy host as given (`HOST`, `HOST:PORT`).
    public var host: String
    /// Further config keys and values (run options given to `install`), in this order.
    public var settings: [(key: String, value: ConfigValue)] = []
    /// Prefix for every path written; "" for the real system.
    public var root = ""
    public var configPath = ConfigFile.defaultPath
    public var unitPath = ServiceUnit.defaultPath
    public var binary = ServiceUnit.defaultBinary
    /// The host's key fingerprint to pin (fetched over the network and compared).
    public var fingerprint: String?
    /// The host's key as `TYPE BASE64`, pinned without connecting (offline installs, tests).
    public var hostKey: String?
    /// Replace an existing config file.
    public var force = false
    /// Do not touch systemd even when it runs.
    public var noStart = false
    /// Whether the systemd running check looks at /run/systemd/system (tests turn it off).
    public var systemdDirectory = "/run/systemd/system"

    public init(host: String) { self.host = host }

    /// What `install` did.
    public struct Report: Sendable {
        public var steps: [String] = []
        /// True when at least one file was created or changed, or systemd was told something.
        public var changed = false
        public var clientKey: PublicKey?
        /// The instructions for the entropy host, to print last.
        public var hostSteps = ""
    }

    /// The config file this installer writes.
    public var configText: String {
        var lines = [
            "# entropy-tunnel configuration, written by `entropy-tunnel install`.",
            "# Every key, its default and its meaning: install/config.toml.example in the sources.",
            "host = \(ConfigValue.string(host).toml)",
        ]
        for (key, value) in settings where key != "host" { lines.append("\(key) = \(value.toml)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The path of a system file inside `root`.
    func rooted(_ path: String) -> String { root.isEmpty ? path : root + path }

    /// A config value given to `install` (for identity and known_hosts).
    func setting(_ key: String) -> String? {
        settings.first { $0.key == key }.flatMap { if case .string(let s) = $0.value { return s } else { return nil } }
    }

    /// Writes everything, then (when systemd runs and neither `root` nor `noStart`) reloads,
    /// enables and starts the service. `show` and `confirm` are for the host key when neither
    /// `fingerprint` nor `hostKey` decides it.
    public func install(
        logger: Logger, show: (PublicKey) -> Void, confirm: (PublicKey) async -> Bool
    ) async throws(TunnelError) -> Report {
        if root.isEmpty && getuid() != 0 {
            throw TunnelError(.invalidArgument, "install writes to /etc and creates a system user: run it as root (sudo), or use --root DIR to write below DIR")
        }
        var report = Report()
        let port: Int? = settings.first { $0.key == "port" }.flatMap { if case .int(let n) = $0.value { return n } else { return nil } }
        let hostSpec = try HostSpec(parsing: host, defaultPort: port ?? 22)
        if binary.contains(where: { $0 == " " || $0 == "\t" }) || !binary.hasPrefix("/") {
            throw TunnelError(.invalidArgument, "--binary '\(binary)' must be an absolute path without spaces")
        }

        // A --host-key that contradicts --fingerprint stops everything before any file is written.
        let givenHostKey = try hostKey.map { (text) throws(TunnelError) -> PublicKey in try PublicKey(parsing: text) }
        if let givenHostKey, let fingerprint, HostKeyTrust.normalizeFingerprint(fingerprint) != givenHostKey.fingerprint {
            throw TunnelError(.hostKeyMismatch,
                              "--host-key has fingerprint \(givenHostKey.fingerprint), not \(HostKeyTrust.normalizeFingerprint(fingerprint)) " +
                              "as --fingerprint says; nothing was written. Check both on the host with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`")
        }

        // 1. The config file: kept when present unless --force.
        var identity = setting("identity") ?? ConnectionOptions(host: hostSpec).identity
        var knownHosts = setting("known_hosts") ?? ConnectionOptions(host: hostSpec).knownHosts
        let configFile = rooted(configPath)
        try FileSystem.makeDirectories(FileSystem.parent(of: configFile), mode: 0o755)
        if let existing = try FileSystem.readIfExists(configFile), !force {
            if existing == configText {
                record(&report, configFile, .unchanged)
            } else {
                let values = try ConfigFile.parse(existing, path: configFile)
                identity = values.identity ?? identity
                knownHosts = values.knownHosts ?? knownHosts
                report.steps.append("\(configFile): kept (it differs from the options given; --force replaces it)")
            }
        } else {
            _ = try ConfigFile.parse(configText, path: configFile)  // never write a file `run` would refuse
            record(&report, configFile, try FileSystem.writeIfChanged(configFile, configText, mode: 0o644))
        }

        // 2. The client key.
        let (key, created) = try await KeyGenerator.ensureKey(identity: rooted(identity))
        report.clientKey = key
        if created { report.changed = true }
        report.steps.append("\(rooted(identity)): \(created ? "created" : "unchanged") (\(key.type.rawValue) \(key.fingerprint) \(key.comment))")

        // The service runs as an unprivileged user, which must be able to read the key.
        if root.isEmpty {
            try await ensureServiceUser(&report)
            for path in [identity, identity + ".pub"] {
                try Self.chownIfNeeded(path, to: ServiceUnit.user, &report)
            }
        }

        // 3. The host key pin.
        let knownHostsFile = rooted(knownHosts)
        if let pinned = givenHostKey {
            record(&report, knownHostsFile, try HostKeyTrust.pin(pinned, for: hostSpec, knownHosts: knownHostsFile),
                   detail: "\(hostSpec.knownHostsName) \(pinned.type.rawValue) \(pinned.fingerprint)")
        } else if fingerprint == nil, let existing = try FileSystem.readIfExists(knownHostsFile),
                  KnownHostsFile.hasEntry(existing, for: hostSpec) {
            record(&report, knownHostsFile, .unchanged, detail: "\(hostSpec.knownHostsName) already pinned")
        } else {
            let outcome = try await HostKeyTrust.trust(host: hostSpec, knownHosts: knownHostsFile, fingerprint: fingerprint,
                                                       logger: logger, show: show, confirm: confirm)
            record(&report, knownHostsFile, outcome.change,
                   detail: "\(hostSpec.knownHostsName) \(outcome.key.type.rawValue) \(outcome.key.fingerprint)")
        }

        // 4. The unit.
        let unitFile = rooted(unitPath)
        let unitChange = try FileSystem.writeIfChanged(unitFile, ServiceUnit(binary: binary, configPath: configPath).text, mode: 0o644)
        record(&report, unitFile, unitChange)

        // 5. systemd, for real installs only.
        if root.isEmpty && !noStart && FileSystem.isDirectory(systemdDirectory) {
            if unitChange != .unchanged {
                try await ExternalCommand.check("systemctl", ["daemon-reload"])
                report.steps.append("systemctl daemon-reload")
            }
            let enabled = try await ExternalCommand.run("systemctl", ["is-enabled", ServiceUnit.name]).stdout.trimmingSpaces
            let active = try await ExternalCommand.run("systemctl", ["is-active", ServiceUnit.name]).stdout.trimmingSpaces
            if enabled != "enabled" || active != "active" {
                try await ExternalCommand.check("systemctl", ["enable", "--now", "--no-block", ServiceUnit.name])
                report.steps.append("systemctl enable --now \(ServiceUnit.name)")
                report.changed = true
            } else if report.changed {
                try await ExternalCommand.check("systemctl", ["try-restart", "--no-block", ServiceUnit.name])
                report.steps.append("systemctl try-restart \(ServiceUnit.name) (its files changed)")
            }
        } else if root.isEmpty && !noStart {
            report.steps.append("systemd is not running here: start `\(binary) run --config \(configPath)` yourself")
        }

        report.hostSteps = Self.hostSteps(key: key, user: setting("user") ?? "entropy",
                                          remoteCommand: setting("remote_command") ?? ConnectionOptions.defaultRemoteCommand)
        return report
    }

    /// Removes the unit (stopping and disabling it first); with `purge` also the config, the key
    /// and the pins.
    public func uninstall(purge: Bool) async throws(TunnelError) -> Report {
        if root.isEmpty && getuid() != 0 {
            throw TunnelError(.invalidArgument, "uninstall changes /etc and systemd: run it as root (sudo)")
        }
        var report = Report()
        let unitFile = rooted(unitPath)
        if root.isEmpty && FileSystem.isDirectory(systemdDirectory) && FileSystem.exists(unitFile) {
            let result = try await ExternalCommand.run("systemctl", ["disable", "--now", ServiceUnit.name])
            report.steps.append(result.succeeded ? "systemctl disable --now \(ServiceUnit.name)"
                                                 : "systemctl disable --now \(ServiceUnit.name) failed: \(result.stderr.trimmingSpaces)")
        }
        var removed = [unitFile]
        if purge {
            var identity = ConnectionOptions(host: HostSpec(host: "x", port: 22)).identity
            var knownHosts = ConnectionOptions(host: HostSpec(host: "x", port: 22)).knownHosts
            if let values = try? ConfigFile.load(path: rooted(configPath)) {
                identity = values.identity ?? identity
                knownHosts = values.knownHosts ?? knownHosts
            }
            removed += [rooted(configPath), rooted(identity), rooted(identity) + ".pub", rooted(knownHosts)]
        }
        for path in removed {
            if try FileSystem.remove(path) {
                report.steps.append("\(path): removed")
                report.changed = true
            }
        }
        if purge {
            _ = rmdir(rooted(FileSystem.parent(of: configPath)))
            if root.isEmpty, getpwnam(ServiceUnit.user) != nil,
               (try? await ExternalCommand.run("userdel", [ServiceUnit.user]))?.succeeded == true {
                report.steps.append("removed system user \(ServiceUnit.user)")
                report.changed = true
            }
        }
        if root.isEmpty && FileSystem.isDirectory(systemdDirectory) && report.changed {
            _ = try? await ExternalCommand.run("systemctl", ["daemon-reload"])
        }
        if !purge { report.steps.append("kept the config, key and host-key pin (--purge removes them)") }
        return report
    }

    /// Creates the service's system user unless it exists (no home, no login shell).
    func ensureServiceUser(_ report: inout Report) async throws(TunnelError) {
        guard getpwnam(ServiceUnit.user) == nil else { return }
        try await ExternalCommand.check("useradd", ["--system", "--user-group", "--no-create-home",
                                                    "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                                                    "--comment", "entropy-tunnel service", ServiceUnit.user])
        report.steps.append("created system user \(ServiceUnit.user) (the service runs as it)")
        report.changed = true
    }

    /// Gives `path` to `user` (and its group) unless it already belongs to them.
    static func chownIfNeeded(_ path: String, to user: String, _ report: inout Report) throws(TunnelError) {
        guard let pw = getpwnam(user) else { return }
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        if st.st_uid == pw.pointee.pw_uid && st.st_gid == pw.pointee.pw_gid { return }
        guard chown(path, pw.pointee.pw_uid, pw.pointee.pw_gid) == 0 else {
            let err = errno
            throw TunnelError(.system, "cannot give \(path) to user \(user): \(String(cString: strerror(err)))")
        }
        report.steps.append("\(path): owner changed to \(user)")
        report.changed = true
    }

    private func record(_ report: inout Report, _ path: String, _ change: FileSystem.Change, detail: String? = nil) {
        if change != .unchanged { report.changed = true }
        report.steps.append("\(path): \(change.rawValue)" + (detail.map { " (\($0))" } ?? ""))
    }

    /// The steps on the entropy host for `key`.
    public static func hostSteps(key: PublicKey, user: String, remoteCommand: String) -> String {
        let line = AuthorizedKeyLine(key: key, command: remoteCommand)
        let userOption = user == "entropy" ? "" : " --user \(user)"
        let commandOption = remoteCommand == ConnectionOptions.defaultRemoteCommand ? "" : " --remote-command '\(remoteCommand)'"
        return """
            On the entropy host, as root (with entropy-tunnel installed there):
              entropy-tunnel keys authorize\(userOption)\(commandOption) --key "\(key.line)"
            or, by hand, add this line to ~\(user)/.ssh/authorized_keys there:
              \(line.text)
            Then check here: systemctl status entropy-tunnel; journalctl -u entropy-tunnel -f
            """
    }
}

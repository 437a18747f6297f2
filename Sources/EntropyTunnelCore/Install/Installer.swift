import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `entropy-tunnel install` and `uninstall` on the client: config, key, host-key pin and the
/// systemd unit, each written only when its content changes, so a second run changes nothing.
///
/// With `root`, every file goes below that directory: an image being staged (`Installer+Image`:
/// the service user in its passwd, the units enabled with `systemctl --root`, nothing started);
/// the files' contents still name the real paths.
///
/// What it writes is recorded in an `InstallManifest`: a config or unit that still holds what
/// install wrote is updated freely; one edited by hand, or never written by install, is replaced
/// only with `force`, which first keeps it as `PATH.bak`.
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

        static func quote(_ s: String) -> String { SettingValue.quoted(s) }
    }

    /// The entropy host as given (`HOST`, `HOST:PORT`).
    public var host: String
    /// Fallback hosts, in order of preference after `host` (`install --host A --host B`).
    /// The i-th of `fingerprints` and of `hostKeys` is for the i-th host (`host` first); a host
    /// with neither that is not pinned yet is scanned and confirmed.
    public var fallbackHosts: [String] = []
    /// Further config keys and values (run options given to `install`), in this order.
    public var settings: [(key: String, value: ConfigValue)] = []
    /// Prefix for every path written; "" for the real system. Otherwise absolute, without `..`
    /// and without a trailing slash (`normalizedRoot` makes one from an option).
    public var root = ""
    /// Where the config goes; the unit's ExecStart names it.
    public var configPath = ConfigFile.defaultPath
    public var unitPath = ServiceUnit.defaultPath
    /// The boot-time seed unit (`seed load` before sysinit.target, `seed save` at shutdown).
    public var seedUnitPath = SeedServiceUnit.defaultPath
    /// The first-boot key unit (`perInstanceKey` only).
    public var keyUnitPath = KeyServiceUnit.defaultPath
    /// The sysusers.d file declaring the service user (written unless the package's is there).
    public var sysusersPath = ServiceUser.installPath
    /// The tunnel unit's drop-in for what the config asks of it (`ServiceDropIn`).
    public var dropInPath = ServiceDropIn.defaultPath
    /// The record of what install wrote.
    public var manifestPath = InstallManifest.defaultPath
    /// Where earlier versions kept the record (read when `manifestPath` is absent, then moved).
    public var legacyManifestPath = InstallManifest.legacyPath
    /// The state directory of the seed (the units' `StateDirectory=`); `uninstall --purge` removes it.
    public var stateDirectory = SeedStore.defaultDirectory
    public var binary = ServiceUnit.defaultBinary
    /// The hosts' key fingerprints to pin (fetched over the network and compared), one per host
    /// in order (`host`, then `fallbackHosts`); fewer than hosts leaves the rest to `hostKeys`,
    /// an existing pin or confirmation.
    public var fingerprints: [String] = []
    /// The hosts' keys as `TYPE BASE64`, pinned without connecting (offline installs, images),
    /// one per host in order, like `fingerprints`.
    public var hostKeys: [String] = []
    /// The first host's fingerprint (`fingerprints[0]`).
    public var fingerprint: String? {
        get { fingerprints.first }
        set { fingerprints = newValue.map { [$0] } ?? [] }
    }
    /// The first host's key (`hostKeys[0]`).
    public var hostKey: String? {
        get { hostKeys.first }
        set { hostKeys = newValue.map { [$0] } ?? [] }
    }
    /// Make no client key now: write and enable `entropy-tunnel-key.service`, which makes one at
    /// the machine's first boot (so machines made from a staged image never share a key).
    public var perInstanceKey = false
    /// Replace a config or unit that install did not write as it is (edited by hand, or not
    /// install's), keeping it as `PATH.bak`; replace a config that names another host.
    public var force = false
    /// Do not touch systemd even when it runs.
    public var noStart = false
    /// With `--sink rngd`: disable the distribution's own rngd units (otherwise only a warning).
    public var disableDistroRngd = false
    /// Whether the systemd running check looks at /run/systemd/system (tests turn it off).
    public var systemdDirectory = "/run/systemd/system"

    public init(host: String) { self.host = host }

    /// What `install` did.
    public struct Report: Sendable {
        public var steps: [String] = []
        /// True when at least one file was created or changed, or systemd was told something.
        public var changed = false
        /// True when something besides the config and the pins changed (key, units, user): a restart.
        var changedBeyondConfig = false
        /// True when a host key was pinned.
        var pinsChanged = false
        /// The config's changed keys, `key: old -> new`.
        public var configChanges: [String] = []
        public var clientKey: PublicKey?
        /// The instructions for the entropy host, to print last.
        public var hostSteps = ""
    }

    /// The `host` value this installer writes.
    var hostValue: ConfigValue { fallbackHosts.isEmpty ? .string(host) : .strings([host] + fallbackHosts) }

    /// A new config file: the commented example with the options given filled in.
    public var configText: String {
        var text = ConfigText("# Written by `entropy-tunnel install`, which changes only the keys it is given: edit the rest freely.\n"
                              + ConfigExample.text, path: configPath)
        // The example has no active lines, so nothing can span lines and `merge` cannot fail.
        _ = try? merge(into: &text)
        return text.text
    }

    /// Sets the host and every option given in `text`, key by key; the other lines stay.
    func merge(into text: inout ConfigText) throws(TunnelError) {
        try text.set("host", hostValue.toml)
        for (key, value) in settings where key != "host" { try text.set(key, value.toml) }
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
    ///
    /// Every check comes first (`plan()`): a refusal leaves no file and no directory behind.
    /// What it writes goes into the manifest, also when a later step fails.
    public func install(
        logger: Logger, show: (PublicKey, HostSpec) -> Void, confirm: (PublicKey, HostSpec) async -> Bool
    ) async throws(TunnelError) -> Report {
        if root.isEmpty && getuid() != 0 {
            throw TunnelError(.invalidArgument, "install writes to /etc and creates a system user: run it as root (sudo), or use --root DIR to write below DIR")
        }
        let plan = try await plan(logger: logger, show: show, confirm: confirm)
        var manifest = plan.manifest
        var report = Report()
        let unitChange: FileSystem.Change
        do throws(TunnelError) {
            unitChange = try await write(plan, &manifest, &report)
        } catch {
            // Keep the record of what was written before the failure, so that a rerun can update it.
            _ = try? saveManifest(manifest, &report)
            throw error
        }
        try saveManifest(manifest, &report)
        try removeLegacyManifest(plan.manifestFoundAt, &report)
        report.configChanges = plan.configChanges

        // systemd: a staged image's units are enabled below its root; a real install's are started.
        if !root.isEmpty && !noStart {
            try await enableInRoot(&report)
        } else if root.isEmpty && !noStart && FileSystem.isDirectory(systemdDirectory) {
            if unitChange != .unchanged {
                try await ExternalCommand.check("systemctl", ["daemon-reload"])
                report.steps.append("systemctl daemon-reload")
            }
            // The key unit first: it makes the key the tunnel logs in with.
            if perInstanceKey {
                let keyEnabled = try await ExternalCommand.run("systemctl", ["is-enabled", KeyServiceUnit.name]).stdout.trimmingSpaces
                if keyEnabled != "enabled" {
                    try await ExternalCommand.check("systemctl", ["enable", "--now", KeyServiceUnit.name])
                    report.steps.append("systemctl enable --now \(KeyServiceUnit.name)")
                    report.changed = true
                }
                if report.clientKey == nil, let key = try? PublicKey(parsing: try FileSystem.read(rooted(plan.identity) + ".pub")) {
                    report.clientKey = key
                }
            }
            // The seed unit first: it runs `seed load` now and at every boot before the tunnel.
            let seedEnabled = try await ExternalCommand.run("systemctl", ["is-enabled", SeedServiceUnit.name]).stdout.trimmingSpaces
            let seedActive = try await ExternalCommand.run("systemctl", ["is-active", SeedServiceUnit.name]).stdout.trimmingSpaces
            if seedEnabled != "enabled" || seedActive != "active" {
                try await ExternalCommand.check("systemctl", ["enable", "--now", SeedServiceUnit.name])
                report.steps.append("systemctl enable --now \(SeedServiceUnit.name)")
                report.changed = true
            }
            let enabled = try await ExternalCommand.run("systemctl", ["is-enabled", ServiceUnit.name]).stdout.trimmingSpaces
            let active = try await ExternalCommand.run("systemctl", ["is-active", ServiceUnit.name]).stdout.trimmingSpaces
            if enabled != "enabled" || active != "active" {
                try await ExternalCommand.check("systemctl", ["enable", "--now", "--no-block", ServiceUnit.name])
                report.steps.append("systemctl enable --now \(ServiceUnit.name)")
                report.changed = true
            } else if report.changed && !report.changedBeyondConfig && (plan.configUnchanged || plan.configReloadable) {
                // Only settings a running daemon applies changed (hosts, connection settings, pins):
                // no restart, so a healthy connection whose host is still listed is kept.
                try await ExternalCommand.check("systemctl", ["reload", ServiceUnit.name])
                report.steps.append("systemctl reload \(ServiceUnit.name) (only hosts, connection settings or pins changed: no restart needed)")
            } else if report.changed {
                try await ExternalCommand.check("systemctl", ["try-restart", "--no-block", ServiceUnit.name])
                report.steps.append("systemctl try-restart \(ServiceUnit.name) (its files changed)")
            }
        } else if root.isEmpty && !noStart {
            report.steps.append("systemd is not running here: start `\(ShellQuote.command([binary, "run", "--config", configPath]))` yourself")
        }

        try await handleDistroRngd(&report)

        if let key = report.clientKey {
            report.hostSteps = Self.hostSteps(key: key, user: setting("user") ?? "entropy", remoteCommand: setting("remote_command"))
        } else {
            report.hostSteps = Self.perInstanceSteps(identity: plan.identity, staged: !root.isEmpty)
        }
        return report
    }

    /// The writes, in order; each file written is recorded in `manifest`. Returns what happened
    /// to the units (`.unchanged` only when neither changed: systemd reloads only when one did).
    private func write(
        _ plan: Plan, _ manifest: inout InstallManifest, _ report: inout Report
    ) async throws(TunnelError) -> FileSystem.Change {
        var paths = [configPath, plan.identity, plan.knownHosts, unitPath, seedUnitPath, manifestPath]
        if perInstanceKey { paths.append(keyUnitPath) }
        if plan.sysusersText != nil { paths.append(sysusersPath) }
        if plan.dropInText != nil { paths.append(dropInPath) }
        for path in paths {
            try makeParentDirectories(of: path, &manifest)
        }

        // 1. The config file.
        try writeOwnFile(configPath, plan.configText, backup: plan.backups[configPath], &manifest, &report)
        // What changes after this point needs a restart; a changed config alone may only need a reload.
        let configChanged = report.changed
        report.changed = false
        defer {
            report.changedBeyondConfig = report.changed
            report.changed = report.changed || configChanged || report.pinsChanged
        }

        // 2. The service user, from its sysusers.d file: the units run as it, and it owns the key.
        if let text = plan.sysusersText {
            try writeOwnFile(sysusersPath, text, backup: plan.backups[sysusersPath], &manifest, &report)
        }
        let owner = try await ensureServiceUser(&manifest, &report)

        // 3. The client key (an existing one was checked by plan()); with perInstanceKey none is
        // made here: the key unit makes it at the machine's (first) boot.
        let identityFile = rooted(plan.identity)
        if perInstanceKey {
            if let key = try? PublicKey(parsing: try FileSystem.read(identityFile + ".pub")), FileSystem.exists(identityFile) {
                report.clientKey = key
                report.steps.append("\(identityFile): exists, kept (\(key.type.rawValue) \(key.fingerprint) \(key.comment))")
            } else {
                report.steps.append("\(identityFile): not made now (--per-instance-key): \(KeyServiceUnit.name) makes it at the machine's first boot")
            }
        } else {
            let publicExisted = FileSystem.exists(identityFile + ".pub")
            let (key, created) = try await KeyGenerator.ensureKey(identity: identityFile)
            report.clientKey = key
            if created {
                report.changed = true
                manifest.recordWrite(plan.identity, content: try FileSystem.readBytes(identityFile), existedBefore: false)
            }
            if !publicExisted {
                manifest.recordWrite(plan.identity + ".pub", content: try FileSystem.readBytes(identityFile + ".pub"), existedBefore: false)
            }
            report.steps.append("\(identityFile): \(created ? "created" : "unchanged") (\(key.type.rawValue) \(key.fingerprint) \(key.comment))")
        }
        // The service runs as the unprivileged user, which must be able to read the key.
        if let owner {
            for path in [identityFile, identityFile + ".pub"] where FileSystem.exists(path) {
                try Self.chownIfNeeded(path, to: owner, &report)
            }
        }

        // 4. The host key pins, decided by plan(): merged into the file, whose other lines stay.
        // The daemon reads the pins at every connection: a new pin needs no restart.
        let changedBeforePins = report.changed
        let knownHostsFile = rooted(plan.knownHosts)
        let pinned = try writePins(plan.pins, to: knownHostsFile)
        if pinned.change != .unchanged {
            manifest.recordWrite(plan.knownHosts, content: try FileSystem.readBytes(knownHostsFile), existedBefore: pinned.existed)
        }
        for (pin, change) in pinned.changes {
            record(&report, knownHostsFile, change, detail: pin.detail)
        }

        report.pinsChanged = report.changed && !changedBeforePins
        report.changed = changedBeforePins

        // 5. The units.
        let unit = try writeOwnFile(unitPath, plan.unitText, backup: plan.backups[unitPath], &manifest, &report)
        let seedUnit = try writeOwnFile(seedUnitPath, plan.seedUnitText, backup: plan.backups[seedUnitPath], &manifest, &report)
        var keyUnit = FileSystem.Change.unchanged
        if perInstanceKey {
            keyUnit = try writeOwnFile(keyUnitPath, plan.keyUnitText, backup: plan.backups[keyUnitPath], &manifest, &report)
        }
        var dropIn = FileSystem.Change.unchanged
        if let text = plan.dropInText {
            dropIn = try writeOwnFile(dropInPath, text, backup: plan.backups[dropInPath], &manifest, &report)
        } else if let entry = manifest.files[dropInPath], let existing = try? FileSystem.readBytes(rooted(dropInPath)),
                  manifest.holdsWhatInstallWrote(dropInPath, content: existing, entry: entry), try FileSystem.remove(rooted(dropInPath)) {
            // The config no longer asks for it.
            manifest.files[dropInPath] = nil
            report.steps.append("\(rooted(dropInPath)): removed (the config asks nothing of the unit any more)")
            report.changed = true
            dropIn = .updated
        }
        return [unit, seedUnit, keyUnit, dropIn].first { $0 != .unchanged } ?? .unchanged
    }

    /// Writes a file install owns (config, unit): first, with --force, the copy of a file that
    /// was not install's to `PATH.bak`; then the content, recorded in the manifest.
    @discardableResult
    private func writeOwnFile(
        _ path: String, _ content: String, backup: [UInt8]?, _ manifest: inout InstallManifest, _ report: inout Report
    ) throws(TunnelError) -> FileSystem.Change {
        let file = rooted(path)
        if let backup {
            try FileSystem.writeIfChanged(file + ".bak", bytes: backup, mode: FileSystem.mode(file) ?? 0o600)
            report.steps.append("\(file).bak: the replaced file, kept (--force)")
        }
        let existed = FileSystem.exists(file)
        let change = try FileSystem.writeIfChanged(file, content, mode: 0o644)
        manifest.recordWrite(path, content: Array(content.utf8), existedBefore: existed)
        record(&report, file, change)
        return change
    }

    /// `mkdir -p` for the parent of the system path `path` below `root`; the directories it
    /// creates are recorded (without the root) for `uninstall --purge`.
    private func makeParentDirectories(of path: String, _ manifest: inout InstallManifest) throws(TunnelError) {
        if !root.isEmpty { try FileSystem.makeDirectories(root, mode: 0o755) }
        for created in try FileSystem.makeDirectories(rooted(FileSystem.parent(of: path)), mode: 0o755) {
            manifest.directories.insert(String(created.dropFirst(root.count)))
        }
    }

    /// Removes the manifest an earlier version kept in the state directory, once its record is
    /// in `manifestPath`.
    func removeLegacyManifest(_ foundAt: String?, _ report: inout Report) throws(TunnelError) {
        guard let foundAt, foundAt == rooted(legacyManifestPath), foundAt != rooted(manifestPath) else { return }
        if try FileSystem.remove(foundAt) {
            report.steps.append("\(foundAt): moved to \(rooted(manifestPath)) (the state directory belongs to the service user)")
            report.changed = true
        }
    }

    /// Writes the manifest when it changed.
    private func saveManifest(_ manifest: InstallManifest, _ report: inout Report) throws(TunnelError) {
        record(&report, rooted(manifestPath), try FileSystem.writeIfChanged(rooted(manifestPath), manifest.text, mode: 0o644))
    }

    func record(_ report: inout Report, _ path: String, _ change: FileSystem.Change, detail: String? = nil) {
        if change != .unchanged { report.changed = true }
        report.steps.append("\(path): \(change.rawValue)" + (detail.map { " (\($0))" } ?? ""))
    }

    /// The steps on the entropy host for `key`: `entropy-tunnel serve` as the forced command, or
    /// `remoteCommand` (a plain reader, for a host that cannot run entropy-tunnel) when given.
    public static func hostSteps(key: PublicKey, user: String, remoteCommand: String?) -> String {
        let line = AuthorizedKeyLine(key: key, command: remoteCommand ?? HostAuthorizer.serveCommand())
        return """
            On the entropy host, as root (with entropy-tunnel installed there):
              \(HostAuthorizer.commandLine(key: key, user: user, remoteCommand: remoteCommand, from: nil))
            or, by hand, add this line to ~\(user)/.ssh/authorized_keys there:
              \(line.text)
            Then check here: systemctl status entropy-tunnel; journalctl -u entropy-tunnel -f
            """
    }
}

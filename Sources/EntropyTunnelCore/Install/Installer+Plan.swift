import Logging

/// The checks `install` makes before it writes anything: paths, options, the config it would
/// write, the files it would replace, an existing key.
extension Installer {
    /// What `install` will write, decided and checked before the first write.
    struct Plan {
        var hostSpec: HostSpec
        /// The fallback hosts, in order.
        var fallbackSpecs: [HostSpec] = []
        /// Every host's pin, decided (fetched, compared, confirmed) before anything is written.
        var pins: [PlannedPin] = []
        /// The key and known_hosts paths on the system (not below `root`).
        var identity: String
        var knownHosts: String
        var configText: String
        var unitText: String
        var seedUnitText: String
        var keyUnitText: String
        /// The sysusers.d file to write; nil when the package's copy is there.
        var sysusersText: String?
        /// The tunnel unit's drop-in (`ServiceDropIn`); nil when the config asks nothing of it.
        var dropInText: String?
        var manifest: InstallManifest
        /// Where the manifest was read from (the legacy path is moved); nil for none.
        var manifestFoundAt: String?
        /// With `force`: the present content of each file (system path) that is replaced although
        /// it is not what install wrote; it goes to `PATH.bak` first.
        var backups: [String: [UInt8]] = [:]
        /// The config keys whose value changes against the existing config (`key: old -> new`).
        var configChanges: [String] = []
        /// Whether every change of the config can be applied by `systemctl reload` (see
        /// `ConfigurationReload`); false when there is no readable existing config.
        var configReloadable = false
        /// Whether the config file already holds exactly `configText`.
        var configUnchanged = false
    }

    /// Checks everything `install` can check without writing, in the order an administrator
    /// would fix it, and last decides every host's pin (connecting to the hosts, asking
    /// `confirm` where neither a fingerprint nor a key decides); throws the first problem.
    /// Nothing is written.
    func plan(
        logger: Logger, show: (PublicKey, HostSpec) -> Void, confirm: (PublicKey, HostSpec) async -> Bool
    ) async throws(TunnelError) -> Plan {
        if !root.isEmpty { try Self.checkPath(root, "--root", file: false) }
        let port: Int? = settings.first { $0.key == "port" }.flatMap { if case .int(let n) = $0.value { return n } else { return nil } }
        let hostSpec = try HostSpec(parsing: host, defaultPort: port ?? 22)
        var fallbackSpecs: [HostSpec] = []
        for text in fallbackHosts { fallbackSpecs.append(try HostSpec(parsing: text, defaultPort: port ?? 22)) }
        if let twice = ([hostSpec] + fallbackSpecs).duplicate {
            throw TunnelError(.invalidArgument, "--host \(twice) is given twice; give each host once, in order of preference")
        }
        try Self.checkUnitPath(binary, "--binary")
        try Self.checkUnitPath(configPath, "--config")
        try Self.checkPath(unitPath, "the unit path")
        try Self.checkPath(seedUnitPath, "the seed unit path")
        try Self.checkPath(keyUnitPath, "the key unit path")
        try Self.checkPath(sysusersPath, "the sysusers.d path")
        try Self.checkPath(dropInPath, "the drop-in path")
        try Self.checkPath(manifestPath, "the manifest path")
        let identity = setting("identity") ?? ConnectionOptions(host: hostSpec).identity
        let knownHosts = setting("known_hosts") ?? ConnectionOptions(host: hostSpec).knownHosts
        try Self.checkPath(identity, "--identity")
        try Self.checkPath(knownHosts, "--known-hosts")
        if perInstanceKey { try Self.checkUnitPath(identity, "--identity (the key unit's ConditionPathExists=)") }
        // More --fingerprint or --host-key than hosts stops everything before any connection.
        _ = try Self.trustPerHost(hosts: 1 + fallbackSpecs.count, fingerprints: fingerprints, hostKeys: hostKeys)
        if perInstanceKey && !root.isEmpty && FileSystem.exists(rooted(identity)) {
            throw TunnelError(.configuration,
                              "--per-instance-key: the image already holds a client key \(rooted(identity)), which every machine made " +
                              "from it would share; remove it (`rm \(ShellQuote.quote(rooted(identity))) \(ShellQuote.quote(rooted(identity) + ".pub"))`) " +
                              "so that each machine makes its own at its first boot; nothing was written")
        }

        let loaded = try InstallManifest.load(rooted(manifestPath), legacy: rooted(legacyManifestPath))
        // An existing config is merged into key by key (its other keys and comments stay); a new
        // one, or one replaced with --force, starts from the commented example.
        var configText = self.configText
        let existing = try FileSystem.readIfExists(rooted(configPath))
        if let existing, !force {
            var text = ConfigText(existing, path: rooted(configPath))
            try merge(into: &text)
            configText = text.text
        }
        var plan = Plan(hostSpec: hostSpec, identity: identity, knownHosts: knownHosts,
                        configText: configText, unitText: ServiceUnit(binary: binary, configPath: configPath).text,
                        seedUnitText: SeedServiceUnit(binary: binary).text,
                        keyUnitText: KeyServiceUnit(binary: binary, configPath: configPath, identity: identity).text,
                        sysusersText: FileSystem.exists(rooted(ServiceUser.packagedPath)) ? nil : ServiceUser.sysusersText,
                        manifest: loaded.manifest, manifestFoundAt: loaded.foundAt)
        plan.fallbackSpecs = fallbackSpecs
        if let replaced = try checkSameHost([hostSpec] + fallbackSpecs, plan.configText) {
            plan.backups[configPath] = replaced
        } else if force, let existing, existing != plan.configText {
            plan.backups[configPath] = Array(existing.utf8)
        }
        try checkConfigReadsBack([hostSpec] + fallbackSpecs, plan.configText, merged: existing != nil && !force)
        (plan.configChanges, plan.configReloadable) = configChanges(to: plan.configText)
        plan.configUnchanged = existing == plan.configText
        plan.backups[unitPath] = try checkReplaceable(unitPath, "systemd unit", with: plan.unitText, plan.manifest)
        plan.backups[seedUnitPath] = try checkReplaceable(seedUnitPath, "systemd unit", with: plan.seedUnitText, plan.manifest)
        if perInstanceKey {
            plan.backups[keyUnitPath] = try checkReplaceable(keyUnitPath, "systemd unit", with: plan.keyUnitText, plan.manifest)
        }
        let written = try? ConfigFile.parse(plan.configText, path: configPath)
        func text(_ setting: Setting) -> String? {
            if case .string(let value) = written?[setting] { value } else { nil }
        }
        let dropIn = ServiceDropIn(fifoGroup: text(Settings.fifoGroup), metricsFile: text(Settings.metricsFile))
        try dropIn.check()
        plan.dropInText = dropIn.text
        if let text = plan.dropInText {
            plan.backups[dropInPath] = try checkReplaceable(dropInPath, "systemd drop-in", with: text, plan.manifest)
        }
        if let text = plan.sysusersText {
            plan.backups[sysusersPath] = try checkReplaceable(sysusersPath, "sysusers.d file", with: text, plan.manifest)
        }
        // An unusable key pair stops install now, not after the config is written; so does a key
        // that must be made without ssh-keygen to make it.
        _ = try await KeyGenerator.checkExistingPair(identity: rooted(identity), repairPublic: false)
        if !perInstanceKey && !FileSystem.exists(rooted(identity)) && ExternalCommand.locate("ssh-keygen") == nil {
            throw TunnelError(.configuration, "ssh-keygen is not installed, and install makes the client key with it: " +
                              "`apt-get install openssh-client` (the .deb depends on it), then run install again; nothing was written")
        }
        // Last, as it connects: every host's key, confirmed before the first file is written.
        plan.pins = try await planPins([hostSpec] + fallbackSpecs, existingKnownHosts: try FileSystem.readIfExists(rooted(knownHosts)),
                                       logger: logger, show: show, confirm: confirm)
        return plan
    }

    /// The config install would write must parse with `ConfigFile` (as `run` will read it) and
    /// give back the options it was given (a new file: exactly those). A merged file that does not
    /// is an error: install never keeps a config that differs from what was asked.
    func checkConfigReadsBack(_ hostSpecs: [HostSpec], _ configText: String, merged: Bool) throws(TunnelError) {
        let file = rooted(configPath)
        let values: ConfigFile.Values
        do throws(TunnelError) {
            values = try ConfigFile.parse(configText, path: merged ? file : configPath)
        } catch {
            if merged {
                throw TunnelError(.configuration, "\(file) with the options given merged in would not read: \(error.message); " +
                                  "nothing was written. Fix that line (or run install with --force to replace the file, kept as \(file).bak)")
            }
            throw TunnelError(.configuration, "the options given make a config that `run` would refuse: \(error.message); nothing was written")
        }
        let expected = Dictionary(settings.filter { $0.key != "host" }.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        let readBack = Dictionary(values.settings.filter { $0.key != "host" && (!merged || expected[$0.key] != nil) }
                                    .map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        let hosts = values.hostSpecs ?? []
        guard hosts == hostSpecs else {
            throw TunnelError(.configuration, "the config would name host \(hosts.map(\.description).joined(separator: ", ")), " +
                              "not \(hostSpecs.map(\.description).joined(separator: ", ")) as asked; nothing was written")
        }
        for key in Set(expected.keys).union(readBack.keys).sorted() where expected[key] != readBack[key] {
            throw TunnelError(.configuration,
                              "option '\(key)' would be written as \(expected[key]?.toml ?? "nothing") but reads back as " +
                              "\(readBack[key]?.toml ?? "nothing"); nothing was written. Give it in the form `run --help` shows")
        }
    }

    /// The keys whose value differs between the existing config and `newText`, as
    /// `key: old -> new` (unset keys show as `(default)`), and whether a reload applies them all.
    func configChanges(to newText: String) -> (changes: [String], reloadable: Bool) {
        let file = rooted(configPath)
        guard let existing = try? FileSystem.readIfExists(file), existing != newText,
              let old = try? ConfigFile.parse(existing, path: file),
              let new = try? ConfigFile.parse(newText, path: file) else { return ([], false) }
        func table(_ values: ConfigFile.Values) -> [String: String] {
            var table = Dictionary(values.settings.map { ($0.key, $0.value.toml) }, uniquingKeysWith: { $1 })
            if let hosts = values.hosts { table["host"] = hosts.count == 1 ? ConfigValue.string(hosts[0]).toml : ConfigValue.strings(hosts).toml }
            return table
        }
        let before = table(old), after = table(new)
        let order = Settings.all.map(\.key)
        let keys = Set(before.keys).union(after.keys).sorted { (order.firstIndex(of: $0) ?? .max, $0) < (order.firstIndex(of: $1) ?? .max, $1) }
        let changes = keys.filter { before[$0] != after[$0] }.map { "\($0): \(before[$0] ?? "(default)") -> \(after[$0] ?? "(default)")" }
        guard let running = try? RunConfiguration(old, source: file), let reread = try? RunConfiguration(new, source: file) else {
            return (changes, false)
        }
        return (changes, ConfigurationReload(running: running, reread: reread).needsRestart.isEmpty)
    }

    /// Refuses an existing config that shares no host with the ones asked for, unless `force`
    /// (a host list that keeps one of the configured hosts is a change of fallbacks, not a
    /// repointing); with `force` returns its content, to be kept as `PATH.bak` (also when
    /// install wrote it).
    func checkSameHost(_ hostSpecs: [HostSpec], _ newText: String) throws(TunnelError) -> [UInt8]? {
        let hostSpec = hostSpecs[0]
        let file = rooted(configPath)
        guard let existing = try FileSystem.readIfExists(file), existing != newText,
              let values = try? ConfigFile.parse(existing, path: file),
              let hosts = values.hostSpecs, !hosts.isEmpty, !hosts.contains(where: hostSpecs.contains) else { return nil }
        if force { return try FileSystem.readBytes(file) }
        throw TunnelError(.configuration,
                          "\(file) is set up for host \(hosts.map(\.description).joined(separator: ", ")), not \(hostSpec) as asked; " +
                          "install does not repoint it: run install again with --force to replace it " +
                          "(the current file is kept as \(file).bak), or give --host \(ShellQuote.quote(hosts[0].description))")
    }

    /// Whether install may overwrite the file at system path `path` with `new`: yes when it is
    /// missing, already `new`, or still exactly what install wrote last; otherwise only with
    /// `force`, and then its present content is returned, to be kept as `PATH.bak`.
    func checkReplaceable(
        _ path: String, _ what: String, with new: String, _ manifest: InstallManifest
    ) throws(TunnelError) -> [UInt8]? {
        let file = rooted(path)
        guard FileSystem.exists(file) else { return nil }
        let existing = try FileSystem.readBytes(file)
        if existing == Array(new.utf8) || manifest.holdsWhatInstallWrote(path, content: existing) { return nil }
        if force { return existing }
        let why = manifest.files[path] == nil
            ? "install did not write it (\(rooted(manifestPath)) has no record of it)"
            : "it was edited after install wrote it"
        throw TunnelError(.configuration,
                          "the \(what) \(file) exists and \(why); install does not overwrite it. Edit it yourself, " +
                          "or run install again with --force to replace it (the current file is kept as \(file).bak)")
    }

    // MARK: - Paths

    /// `--root` as given to a command: nil for none; absolute, without `..`, trailing slashes
    /// dropped. "" and "/" are refused: the first is a mistake, the second the real system.
    public static func normalizedRoot(_ text: String?) throws(TunnelError) -> String {
        guard let text else { return "" }
        if text.isEmpty {
            throw TunnelError(.invalidArgument, "--root is empty: give the directory to write below (e.g. --root /tmp/pkgroot), " +
                              "or leave --root out to install into /")
        }
        var root = text
        while root.hasSuffix("/") { root.removeLast() }
        if root.isEmpty {
            throw TunnelError(.invalidArgument, "--root / is the real system: leave --root out to install into / (as root)")
        }
        try checkPath(root, "--root", file: false)
        return root
    }

    /// Checks a path install writes to: absolute, no `..` component, no control character, and
    /// for a file, no trailing slash. Relative paths would depend on the working directory and
    /// `..` could lead outside the intended directory (or out of --root).
    public static func checkPath(_ path: String, _ what: String, file: Bool = true) throws(TunnelError) {
        let shown = ShellQuote.quote(path)
        guard path.hasPrefix("/") else {
            throw TunnelError(.invalidArgument, "\(what) \(shown) is a relative path; give it from / (an absolute path)")
        }
        if path.split(separator: "/").contains("..") {
            throw TunnelError(.invalidArgument, "\(what) \(shown) has a '..' component; give the path from / without '..'")
        }
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            throw TunnelError(.invalidArgument, "\(what) \(shown) contains a control character (a newline?); give a plain path")
        }
        if file && path.hasSuffix("/") {
            throw TunnelError(.invalidArgument, "\(what) \(shown) ends with '/'; give the path of a file")
        }
    }

    /// A path the unit's `ExecStart=` names: `checkPath`, and only characters that neither the
    /// shell nor systemd treat specially (no spaces, quotes, `$` or `%`).
    public static func checkUnitPath(_ path: String, _ what: String) throws(TunnelError) {
        try checkPath(path, what)
        if path.unicodeScalars.contains(where: { !ShellQuote.isSafe($0) || $0 == "%" }) {
            throw TunnelError(.invalidArgument,
                              "\(what) \(ShellQuote.quote(path)) goes into the unit's ExecStart=: use only letters, digits and _ @ + = : , . / -")
        }
    }
}

extension Array where Element: Hashable {
    /// The first element that occurs a second time, if any.
    var duplicate: Element? {
        var seen = Set<Element>()
        return first { !seen.insert($0).inserted }
    }
}

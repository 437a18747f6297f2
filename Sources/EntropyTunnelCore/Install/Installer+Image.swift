#if canImport(Glibc)
import Glibc
#endif

/// What makes a staged image (`install --root DIR`) work when it boots, and the service user on
/// a real install: the user from its sysusers.d file, the key given to it, the units enabled
/// below the root, and `--per-instance-key`'s first-boot key.
extension Installer {
    /// The service user's uid and gid on the target: this machine, or the image below `root`.
    struct Owner: Sendable, Equatable {
        var uid: uid_t
        var gid: gid_t
        var name: String
    }

    /// Makes sure the service user exists on the target and returns its ids, nil when it cannot
    /// exist yet (a staged image on a machine without systemd-sysusers: `plan()` allows that only
    /// with `--per-instance-key`, whose key is made at boot, after systemd-sysusers.service).
    ///
    /// It is created from the sysusers.d file with `systemd-sysusers` (`--root DIR` for an image,
    /// whose own /etc/passwd gets it); on a real install without systemd-sysusers, with `useradd`.
    func ensureServiceUser(_ manifest: inout InstallManifest, _ report: inout Report) async throws(TunnelError) -> Owner? {
        let name = ServiceUser.name
        if !root.isEmpty && getuid() != 0 {
            report.steps.append("not root: no user \(name) made in the image and the key not given to it; " +
                                "run install --root as root for an image that starts")
            return nil
        }
        if root.isEmpty {
            if getpwnam(name) == nil {
                if ExternalCommand.locate("systemd-sysusers") != nil {
                    try await ExternalCommand.check("systemd-sysusers", [ServiceUser.fileName])
                } else {
                    try await ExternalCommand.check("useradd", ["--system", "--user-group", "--no-create-home",
                                                                "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                                                                "--comment", "entropy-tunnel service", name])
                }
                guard getpwnam(name) != nil else {
                    throw TunnelError(.system, "systemd-sysusers ran, but there is still no user \(name): check \(sysusersPath) " +
                                      "and /usr/lib/sysusers.d/\(ServiceUser.fileName)")
                }
                report.steps.append("created system user \(name) (the services run as it)")
                report.changed = true
                manifest.user = name
            }
            guard let pw = getpwnam(name) else { return nil }
            return Owner(uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid, name: name)
        }
        let passwd = rooted("/etc/passwd")
        if ServiceUser.ids(inPasswd: passwd) == nil {
            guard ExternalCommand.locate("systemd-sysusers") != nil else {
                report.steps.append("no user \(name) in \(passwd) yet: systemd-sysusers.service creates it at the image's first boot")
                return nil
            }
            try await ExternalCommand.check("systemd-sysusers", ["--root", root, ServiceUser.fileName])
            report.steps.append("created system user \(name) in \(passwd) (systemd-sysusers --root)")
            report.changed = true
        }
        guard let ids = ServiceUser.ids(inPasswd: passwd) else {
            throw TunnelError(.system, "systemd-sysusers --root \(root) ran, but \(passwd) has no user \(name): check \(rooted(sysusersPath))")
        }
        return Owner(uid: ids.uid, gid: ids.gid, name: name)
    }

    /// Gives `path` to `owner` (and its group) unless it already belongs to them: on the file's
    /// descriptor, reached without following a link (`SafeFile.changeOwner`).
    static func chownIfNeeded(_ path: String, to owner: Owner, _ report: inout Report) throws(TunnelError) {
        guard FileSystem.exists(path) else { return }
        guard try SafeFile.changeOwner(path, to: SafeFile.Owner(uid: owner.uid, gid: owner.gid)) else { return }
        report.steps.append("\(path): owner changed to \(owner.name)")
        report.changed = true
    }

    /// The units `install` enables: the seed unit, the tunnel, and with `perInstanceKey` the key unit.
    var unitNames: [String] {
        [SeedServiceUnit.name, ServiceUnit.name] + (perInstanceKey ? [KeyServiceUnit.name] : [])
    }

    /// Enables the units in the image below `root` (`systemctl --root DIR enable`: the
    /// `WantedBy=` links, nothing started), so that they start when a machine boots from it.
    func enableInRoot(_ report: inout Report) async throws(TunnelError) {
        guard ExternalCommand.locate("systemctl") != nil else {
            report.steps.append("systemctl is not installed here: enable the units in the image yourself " +
                                "(`systemctl --root \(ShellQuote.quote(root)) enable \(unitNames.joined(separator: " "))`)")
            return
        }
        var toEnable: [String] = []
        for unit in unitNames {
            let state = try await ExternalCommand.run("systemctl", ["--root", root, "is-enabled", unit]).stdout.trimmingSpaces
            if state != "enabled" { toEnable.append(unit) }
        }
        guard !toEnable.isEmpty else { return }
        try await ExternalCommand.check("systemctl", ["--root", root, "enable"] + toEnable)
        report.steps.append("systemctl --root \(ShellQuote.quote(root)) enable \(toEnable.joined(separator: " ")) (they start when the image boots)")
        report.changed = true
    }

    /// Disables whatever of the units is enabled below `root` (before uninstall removes them).
    func disableInRoot(_ report: inout Report) async {
        guard ExternalCommand.locate("systemctl") != nil else { return }
        let units = [ServiceUnit.name, SeedServiceUnit.name, KeyServiceUnit.name]
        var enabled: [String] = []
        for unit in units {
            let state = (try? await ExternalCommand.run("systemctl", ["--root", root, "is-enabled", unit]))?.stdout.trimmingSpaces
            if state == "enabled" { enabled.append(unit) }
        }
        guard !enabled.isEmpty else { return }
        if (try? await ExternalCommand.run("systemctl", ["--root", root, "disable"] + enabled))?.succeeded == true {
            report.steps.append("systemctl --root \(ShellQuote.quote(root)) disable \(enabled.joined(separator: " "))")
            report.changed = true
        }
    }

    /// The host-side steps when no key exists yet (`--per-instance-key`): where each machine's
    /// line to authorize will be.
    static func perInstanceSteps(identity: String, staged: Bool) -> String {
        let when = staged ? "Each machine made from this image makes its own key at its first boot" : "This machine makes its key at its next boot"
        return """
            \(when) (\(KeyServiceUnit.name), \(identity)) and logs the line to run on the entropy host:
              journalctl -u \(KeyServiceUnit.name)      (on that machine; `entropy-tunnel check` shows it too until a host accepts the key)
            Then check there: entropy-tunnel status; journalctl -u entropy-tunnel -f
            """
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// `entropy-tunnel uninstall`: undoes what the manifest says install did, and nothing else.
extension Installer {
    /// Stops and disables the service and removes the unit; with `purge` also every other file,
    /// directory and the system user that install created.
    ///
    /// Only what the manifest lists as created by install is removed, and a file only while it
    /// still holds what install wrote: anything else (a file edited since, one that existed
    /// before install, other files in /etc/entropy-tunnel) is kept, and the report says so.
    public func uninstall(purge: Bool) async throws(TunnelError) -> Report {
        if root.isEmpty && getuid() != 0 {
            throw TunnelError(.invalidArgument, "uninstall changes /etc and systemd: run it as root (sudo)")
        }
        if !root.isEmpty { try Self.checkPath(root, "--root", file: false) }
        let manifestFile = rooted(manifestPath)
        var (manifest, found) = try InstallManifest.load(manifestFile)
        var report = Report()
        let unitFile = rooted(unitPath)
        if root.isEmpty && FileSystem.isDirectory(systemdDirectory) && FileSystem.exists(unitFile) {
            let result = try await ExternalCommand.run("systemctl", ["disable", "--now", ServiceUnit.name])
            report.steps.append(result.succeeded ? "systemctl disable --now \(ServiceUnit.name)"
                                                 : "systemctl disable --now \(ServiceUnit.name) failed: \(result.stderr.trimmingSpaces)")
        }
        if !found && (purge || FileSystem.exists(unitFile)) {
            report.steps.append("no install manifest at \(manifestFile): nothing here is known to be install's, so nothing is removed")
        }

        if found && manifest.files[unitPath] == nil && FileSystem.exists(unitFile) {
            report.steps.append("\(unitFile): kept (install has no record of writing it)")
        }
        let files = purge ? manifest.files.keys.sorted() : [unitPath].filter { manifest.files[$0] != nil }
        for path in files {
            try removeIfInstallOwns(path, &manifest, &report)
        }
        if purge && found {
            // The record ends here: what is left is the administrator's.
            if try FileSystem.remove(manifestFile) {
                report.steps.append("\(manifestFile): removed")
                report.changed = true
            }
            for directory in manifest.directories.sorted(by: { $0.count > $1.count }) {
                switch try FileSystem.removeDirectoryIfEmpty(rooted(directory)) {
                case .removed:
                    report.steps.append("\(rooted(directory)): removed")
                    report.changed = true
                case .notEmpty:
                    report.steps.append("\(rooted(directory)): kept (it holds files install did not create)")
                case .missing:
                    break
                }
            }
            if root.isEmpty, let user = manifest.user, getpwnam(user) != nil,
               (try? await ExternalCommand.run("userdel", [user]))?.succeeded == true {
                report.steps.append("removed system user \(user)")
                report.changed = true
            }
        } else if found {
            try FileSystem.writeIfChanged(manifestFile, manifest.text, mode: 0o644)
        }
        if root.isEmpty && FileSystem.isDirectory(systemdDirectory) && report.changed {
            _ = try? await ExternalCommand.run("systemctl", ["daemon-reload"])
        }
        if !purge { report.steps.append("kept the config, key and host-key pin (--purge removes them)") }
        return report
    }

    /// Removes the file at system path `path` when install created it and it still holds what
    /// install wrote; otherwise keeps it and says why. Its entry leaves the manifest either way.
    private func removeIfInstallOwns(_ path: String, _ manifest: inout InstallManifest, _ report: inout Report) throws(TunnelError) {
        let file = rooted(path)
        guard let entry = manifest.files.removeValue(forKey: path), FileSystem.exists(file) else { return }
        guard entry.created else {
            report.steps.append("\(file): kept (it existed before install, which only changed it)")
            return
        }
        guard manifest.holdsWhatInstallWrote(path, content: try FileSystem.readBytes(file), entry: entry) else {
            report.steps.append("\(file): kept (edited after install wrote it; remove it yourself if it is not needed: " +
                                "`rm \(ShellQuote.quote(file))`)")
            return
        }
        if try FileSystem.remove(file) {
            report.steps.append("\(file): removed")
            report.changed = true
        }
    }
}

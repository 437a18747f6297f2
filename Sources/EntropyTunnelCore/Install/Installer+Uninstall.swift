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
        let loaded = try InstallManifest.load(rooted(manifestPath), legacy: rooted(legacyManifestPath))
        var manifest = loaded.manifest
        let found = loaded.foundAt != nil
        let manifestFile = loaded.foundAt ?? rooted(manifestPath)
        var report = Report()
        let units = [(unitPath, ServiceUnit.name), (seedUnitPath, SeedServiceUnit.name), (keyUnitPath, KeyServiceUnit.name)]
        // A staged image's units are disabled below its root (their WantedBy= links).
        if !root.isEmpty && units.contains(where: { FileSystem.exists(rooted($0.0)) }) {
            await disableInRoot(&report)
        }
        // The tunnel first, then the seed unit, whose stop saves a last seed.
        for (path, name) in units where root.isEmpty && FileSystem.isDirectory(systemdDirectory) && FileSystem.exists(rooted(path)) {
            let result = try await ExternalCommand.run("systemctl", ["disable", "--now", name])
            report.steps.append(result.succeeded ? "systemctl disable --now \(name)"
                                                 : "systemctl disable --now \(name) failed: \(result.stderr.trimmingSpaces)")
            // The runtime directory (state file, FIFO) outlives a stop (RuntimeDirectoryPreserve=yes):
            // not once the service is gone.
            if name == ServiceUnit.name, result.succeeded,
               (try? await ExternalCommand.run("systemctl", ["clean", "--what=runtime", name]))?.succeeded == true {
                report.steps.append("systemctl clean --what=runtime \(name)")
            }
        }
        if !found && (purge || units.contains { FileSystem.exists(rooted($0.0)) }) {
            report.steps.append("no install manifest at \(manifestFile): nothing here is known to be install's, so nothing is removed")
        }

        for (path, _) in units where found && manifest.files[path] == nil && FileSystem.exists(rooted(path)) {
            report.steps.append("\(rooted(path)): kept (install has no record of writing it)")
        }
        let files = purge ? manifest.files.keys.sorted() : (units.map(\.0) + [dropInPath]).filter { manifest.files[$0] != nil }
        // install's key pairs (a private key with its .pub), whose previous pair an unfinished `keys rotate` keeps.
        let keys = files.filter { manifest.files[$0 + ".pub"] != nil }
        for path in files {
            try removeIfInstallOwns(path, &manifest, &report)
        }
        if purge && found {
            for key in keys where !FileSystem.exists(rooted(key)) {
                let previous = KeyRotation.previousIdentity(of: key)
                for path in [previous, previous + ".pub"] where try FileSystem.remove(rooted(path)) {
                    report.steps.append("\(rooted(path)): removed (the previous key of an unfinished `keys rotate`)")
                    report.changed = true
                }
            }
            try removeStateDirectory(&report)
            // The record ends here: what is left is the administrator's.
            for file in Set([manifestFile, rooted(manifestPath)]).sorted() where try FileSystem.remove(file) {
                report.steps.append("\(file): removed")
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
            try FileSystem.writeIfChanged(rooted(manifestPath), manifest.text, mode: 0o644)
            try removeLegacyManifest(loaded.foundAt, &report)
        }
        if root.isEmpty && FileSystem.isDirectory(systemdDirectory) && report.changed {
            _ = try? await ExternalCommand.run("systemctl", ["daemon-reload"])
        }
        if !purge { report.steps.append("kept the config, key, host-key pin and the seed (--purge removes them)") }
        return report
    }

    /// Removes the seed's state directory: the seed files, the lock and the directory, nothing
    /// else. A directory holding anything unknown is kept (with the seed files removed), and the
    /// report names what is left.
    private func removeStateDirectory(_ report: inout Report) throws(TunnelError) {
        let directory = rooted(stateDirectory)
        guard FileSystem.isDirectory(directory) else { return }
        for name in SeedStore.ownNames where try FileSystem.remove(directory + "/" + name) {
            report.steps.append("\(directory)/\(name): removed")
            report.changed = true
        }
        // The legacy manifest, if still there, is install's own: removed with the record.
        if rooted(legacyManifestPath).hasPrefix(directory + "/") { _ = try FileSystem.remove(rooted(legacyManifestPath)) }
        switch try FileSystem.removeDirectoryIfEmpty(directory) {
        case .removed:
            report.steps.append("\(directory): removed")
            report.changed = true
        case .notEmpty:
            report.steps.append("\(directory): kept (it holds files that are not entropy-tunnel's seed; look, then `rm -r \(directory)`)")
        case .missing:
            break
        }
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

#if canImport(Glibc)
import Glibc
#endif

/// The host side of taking a key back: `keys authorize --remove KEY` and `keys deauthorize`.
extension HostAuthorizer {
    /// Removes every line holding `key` from the user's `~/.ssh/authorized_keys`; one line of
    /// report. Other lines (the admin's own keys, comments) stay as they are.
    public static func removeKey(_ key: PublicKey, user: String) throws(TunnelError) -> String {
        guard let account = account(user) else {
            throw TunnelError(.configuration, "user \(user) does not exist on this host; pass --user with the account the client logs in as")
        }
        let path = account.home + "/.ssh/authorized_keys"
        guard let existing = try FileSystem.readIfExists(path) else { return "\(path): does not exist, nothing to remove" }
        let (kept, removed) = AuthorizedKeyLine.removing(base64: key.base64, from: existing)
        guard removed > 0 else { return "\(path): unchanged (\(key.fingerprint) was not in it)" }
        try FileSystem.writeIfChanged(path, kept, mode: FileSystem.mode(path) ?? 0o600)
        chown(path, account.uid, account.gid)
        return "\(path): removed \(removed) line\(removed == 1 ? "" : "s") with \(key.type.rawValue) \(key.fingerprint) \(key.comment)"
    }

    /// Undoes `keys authorize`: the user's entropy-tunnel key lines (only `key`'s when given),
    /// the udev rule it wrote, the device's group and mode (back to root and 0600, the kernel's
    /// default for /dev/hwrng), and the sshd drop-in. The account itself stays (its files may
    /// matter to the admin): the report says how to remove it.
    public func deauthorize(key: PublicKey?) async throws(TunnelError) -> [String] {
        guard getuid() == 0 else {
            throw TunnelError(.invalidArgument, "`keys deauthorize` changes a user, a device and sshd on the entropy host: run it as root there")
        }
        var steps: [String] = []
        if let account = Self.account(user) {
            let path = account.home + "/.ssh/authorized_keys"
            if let existing = try FileSystem.readIfExists(path) {
                let (kept, removed) = key.map { AuthorizedKeyLine.removing(base64: $0.base64, from: existing) }
                    ?? AuthorizedKeyLine.removingEntropyTunnelLines(from: existing)
                if removed > 0 {
                    try FileSystem.writeIfChanged(path, kept, mode: FileSystem.mode(path) ?? 0o600)
                    chown(path, account.uid, account.gid)
                    steps.append("\(path): removed \(removed) key line\(removed == 1 ? "" : "s")")
                } else {
                    steps.append("\(path): no entropy-tunnel key line")
                }
            }
            if let refusal = SharedDevice.refusal(device), !allowSharedDeviceStandIn {
                steps.append("\(device): left alone (\(refusal))")
            } else {
                var st = stat()
                if stat(device, &st) == 0, (st.st_mode & S_IFMT) == S_IFCHR, st.st_gid == account.gid {
                    guard chown(device, uid_t.max, 0) == 0, chmod(device, 0o600) == 0 else {
                        let err = errno
                        throw TunnelError(.system, "cannot give \(device) back to group root, mode 0600: \(String(cString: strerror(err)))")
                    }
                    steps.append("\(device): group root, mode 0600 again")
                } else {
                    steps.append("\(device): not readable by group \(account.groupName), unchanged")
                }
            }
            steps.append("user \(user) kept; remove it with `userdel --remove \(ShellQuote.quote(user))` if nothing else uses it")
        } else {
            steps.append("user \(user) does not exist: no key lines to remove")
        }
        if let rule = try FileSystem.readIfExists(udevRule) {
            if rule.contains("Written by `entropy-tunnel keys authorize`") {
                try FileSystem.remove(udevRule)
                steps.append("\(udevRule): removed")
                if ExternalCommand.locate("udevadm") != nil { _ = try? await ExternalCommand.run("udevadm", ["control", "--reload-rules"]) }
            } else {
                steps.append("\(udevRule): not written by keys authorize, kept")
            }
        }
        if let removed = try await SSHDDropIn(configFile: sshdConfig, user: user).remove() { steps.append(removed) }
        return steps
    }
}

extension AuthorizedKeyLine {
    /// `existing` without the lines holding the key `base64`, and how many went.
    public static func removing(base64: String, from existing: String) -> (String, Int) {
        filter(existing) { containsKey($0, base64: base64) }
    }

    /// `existing` without the lines `keys authorize` writes (`restrict,...command="..." KEY`).
    public static func removingEntropyTunnelLines(from existing: String) -> (String, Int) {
        filter(existing) { line in
            let trimmed = line.trimmingSpaces
            return trimmed.hasPrefix("restrict,") && trimmed.contains("command=\"")
        }
    }

    private static func filter(_ existing: String, removing: (String) -> Bool) -> (String, Int) {
        var lines = existing.lines
        if lines.last == "" { lines.removeLast() }
        let kept = lines.filter { !removing($0) }
        let text = kept.isEmpty ? "" : kept.joined(separator: "\n") + "\n"
        return (text, lines.count - kept.count)
    }
}

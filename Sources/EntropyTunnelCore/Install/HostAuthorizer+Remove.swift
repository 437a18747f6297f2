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
        let policy = SafeFile.Policy.home(of: account.owner)
        guard let bytes = try SafeFile.read(path, owners: [account.uid], policy: policy, limit: 1 << 20) else {
            return "\(path): does not exist, nothing to remove"
        }
        let (kept, removed) = AuthorizedKeyLine.removing(base64: key.base64, from: String(decoding: bytes, as: UTF8.self))
        guard removed > 0 else { return "\(path): unchanged (\(key.fingerprint) was not in it)" }
        try SafeFile.writeIfChanged(path, Array(kept.utf8), mode: 0o600, owner: account.owner, policy: policy)
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
            let policy = SafeFile.Policy.home(of: account.owner)
            if let bytes = try SafeFile.read(path, owners: [account.uid], policy: policy, limit: 1 << 20) {
                let existing = String(decoding: bytes, as: UTF8.self)
                let (kept, removed) = key.map { AuthorizedKeyLine.removing(base64: $0.base64, from: existing) }
                    ?? AuthorizedKeyLine.removingEntropyTunnelLines(from: existing)
                if removed > 0 {
                    try SafeFile.writeIfChanged(path, Array(kept.utf8), mode: 0o600, owner: account.owner, policy: policy)
                    steps.append("\(path): removed \(removed) key line\(removed == 1 ? "" : "s")")
                } else {
                    steps.append("\(path): no entropy-tunnel key line")
                }
                let others = kept.lines.filter { AuthorizedKeysEntry($0)?.command != nil }.count
                if key == nil && others > 0 {
                    steps.append("\(path): kept \(others) other command= line\(others == 1 ? "" : "s") that keys authorize did not write " +
                                 "(remove one with `keys authorize --remove KEY` or by hand)")
                }
            }
            if let refusal = SharedDevice.refusal(device), !allowSharedDeviceStandIn {
                steps.append("\(device): left alone (\(refusal))")
            } else {
                var st = stat()
                try Self.checkDevicePath(device)
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

    /// `existing` without the lines `keys authorize` wrote: those carrying `marker` as the last
    /// word of their comment, and (written before the marker existed) those whose forced command
    /// is `entropy-tunnel serve`. The administrator's other keys, `restrict,command=` ones
    /// included, stay.
    public static func removingEntropyTunnelLines(from existing: String) -> (String, Int) {
        filter(existing, removing: isWrittenByKeysAuthorize)
    }

    /// Whether `line` is one `keys authorize` wrote (see `removingEntropyTunnelLines`).
    public static func isWrittenByKeysAuthorize(_ line: String) -> Bool {
        guard let parsed = AuthorizedKeysEntry(line) else { return false }
        if parsed.comment.split(whereSeparator: { $0 == " " || $0 == "\t" }).last.map(String.init) == marker { return true }
        return parsed.command.map(isServeCommand) ?? false
    }

    private static func filter(_ existing: String, removing: (String) -> Bool) -> (String, Int) {
        var lines = existing.lines
        if lines.last == "" { lines.removeLast() }
        let kept = lines.filter { !removing($0) }
        let text = kept.isEmpty ? "" : kept.joined(separator: "\n") + "\n"
        return (text, lines.count - kept.count)
    }
}

/// One line of an authorized_keys file, split as sshd splits it (sshd(8), "AUTHORIZED_KEYS FILE
/// FORMAT"): options (quoted values may hold spaces and `\"`), key type, base64, comment.
struct AuthorizedKeysEntry {
    var options: String
    var keyType: String
    var base64: String
    var comment: String
    /// The `command="..."` option's value, unescaped.
    var command: String?

    /// Nil for a blank line, a comment or a line without a key.
    init?(_ line: String) {
        let text = line.trimmingSpaces
        guard !text.isEmpty, !text.hasPrefix("#") else { return nil }
        var fields = Substring(text)
        var options = ""
        if !Self.looksLikeKeyType(fields.prefix { $0 != " " && $0 != "\t" }) {
            // The options run to the first blank outside double quotes.
            var quoted = false
            var escaped = false
            var end = fields.endIndex
            for index in fields.indices {
                let c = fields[index]
                if escaped { escaped = false; continue }
                if c == "\\" && quoted { escaped = true; continue }
                if c == "\"" { quoted.toggle(); continue }
                if !quoted && (c == " " || c == "\t") { end = index; break }
            }
            options = String(fields[..<end])
            fields = fields[end...].drop { $0 == " " || $0 == "\t" }
        }
        let words = fields.split(maxSplits: 2, whereSeparator: { $0 == " " || $0 == "\t" })
        guard words.count >= 2 else { return nil }
        self.options = options
        keyType = String(words[0])
        base64 = String(words[1])
        comment = words.count > 2 ? String(words[2]) : ""
        command = Self.optionValue("command", in: options)
    }

    private static func looksLikeKeyType(_ word: Substring) -> Bool {
        word.hasPrefix("ssh-") || word.hasPrefix("ecdsa-") || word.hasPrefix("sk-")
    }

    /// The value of `name="..."` in an options string, with `\"` unescaped.
    static func optionValue(_ name: String, in options: String) -> String? {
        var rest = Substring(options)
        while !rest.isEmpty {
            // One option: up to a comma outside quotes.
            var quoted = false
            var escaped = false
            var end = rest.endIndex
            for index in rest.indices {
                let c = rest[index]
                if escaped { escaped = false; continue }
                if c == "\\" && quoted { escaped = true; continue }
                if c == "\"" { quoted.toggle(); continue }
                if !quoted && c == "," { end = index; break }
            }
            let option = rest[..<end]
            if option.lowercased().hasPrefix(name + "=\""), option.hasSuffix("\"") {
                let value = option.dropFirst(name.count + 2).dropLast()
                return String(value).replacing("\\\"", with: "\"")
            }
            rest = end == rest.endIndex ? "" : rest[rest.index(after: end)...]
        }
        return nil
    }
}

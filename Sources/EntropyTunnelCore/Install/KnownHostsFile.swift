/// Editing an OpenSSH known_hosts file: one plain `NAME TYPE BASE64` entry per host and key type.
///
/// `NAME` is `host` for port 22 and `[host]:port` otherwise, as OpenSSH itself writes it, so the
/// file works for `ssh -o UserKnownHostsFile=FILE` as well as for entropy-tunnel.
public enum KnownHostsFile {
    /// The entry for `key` of `host`.
    public static func entry(host: HostSpec, key: PublicKey) -> String {
        "\(host.knownHostsName) \(key.type.rawValue) \(key.base64)"
    }

    /// `existing` with exactly one entry for `host` and `key.type`: older plain entries for the
    /// same name and type are removed (also from lines that name several hosts), the new entry
    /// takes the place of the first one or is appended. Other lines are kept as they are.
    public static func merged(_ existing: String, host: HostSpec, key: PublicKey) -> String {
        let name = host.knownHostsName
        let newEntry = entry(host: host, key: key)
        var lines = existing.lines
        if lines.last == "" { lines.removeLast() }
        var result: [String] = []
        var placed = false
        for line in lines {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard fields.count >= 3, !fields[0].hasPrefix("#"), !fields[0].hasPrefix("@"),
                  fields[1] == key.type.rawValue else {
                result.append(line)
                continue
            }
            var names = fields[0].split(separator: ",").map(String.init)
            guard names.contains(name) else {
                result.append(line)
                continue
            }
            if !placed { result.append(newEntry); placed = true }
            names.removeAll { $0 == name }
            if !names.isEmpty {
                result.append(([names.joined(separator: ",")] + fields.dropFirst()).joined(separator: " "))
            }
        }
        if !placed { result.append(newEntry) }
        return result.joined(separator: "\n") + "\n"
    }

    /// Whether `existing` has a plain entry of any type for `host`.
    public static func hasEntry(_ existing: String, for host: HostSpec) -> Bool {
        existing.lines.contains { line in
            let fields = line.split(separator: " ")
            return fields.count >= 3 && fields[0].split(separator: ",").contains { $0 == host.knownHostsName }
        }
    }

    /// `existing` without the plain entries for `host` (its name is also taken out of lines that
    /// name several hosts), and how many entries went. Other lines are kept as they are.
    public static func removing(_ existing: String, host: HostSpec) -> (String, Int) {
        let name = host.knownHostsName
        var lines = existing.lines
        if lines.last == "" { lines.removeLast() }
        var result: [String] = []
        var removed = 0
        for line in lines {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard fields.count >= 3, !fields[0].hasPrefix("#"), !fields[0].hasPrefix("@") else {
                result.append(line)
                continue
            }
            var names = fields[0].split(separator: ",").map(String.init)
            guard names.contains(name) else {
                result.append(line)
                continue
            }
            removed += 1
            names.removeAll { $0 == name }
            if !names.isEmpty { result.append(([names.joined(separator: ",")] + fields.dropFirst()).joined(separator: " ")) }
        }
        return (result.isEmpty ? "" : result.joined(separator: "\n") + "\n", removed)
    }

    /// The pinned entries of a known_hosts file: names (or `(hashed)`), and the key.
    public static func entries(_ existing: String) -> [(names: String, key: PublicKey)] {
        existing.lines.compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard fields.count >= 3, !fields[0].hasPrefix("#"), !fields[0].hasPrefix("@"),
                  let key = try? PublicKey(parsing: fields[1] + " " + fields[2]) else { return nil }
            return (fields[0].hasPrefix("|1|") ? "(hashed name)" : fields[0], key)
        }
    }
}

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
        let newEntry = entry(host: host, key: key)
        var (lines, matched) = taking(host.knownHostsName, of: key.type.rawValue, out: existing, placing: newEntry)
        if matched == 0 { lines.append(newEntry) }
        return lines.joined(separator: "\n") + "\n"
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
        let (lines, removed) = taking(host.knownHostsName, of: nil, out: existing, placing: nil)
        return (lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n", removed)
    }

    /// The lines of `existing` with `name` taken out of every plain entry (of key type `type`,
    /// or of any type when nil), and such an entry dropped once no name is left; `replacement`
    /// goes where the first of them was. Also how many entries named it.
    private static func taking(_ name: String, of type: String?, out existing: String,
                               placing replacement: String?) -> (lines: [String], matched: Int) {
        var lines = existing.lines
        if lines.last == "" { lines.removeLast() }
        var result: [String] = []
        var matched = 0
        for line in lines {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            var names = fields.count >= 3 ? fields[0].split(separator: ",").map(String.init) : []
            guard fields.count >= 3, !fields[0].hasPrefix("#"), !fields[0].hasPrefix("@"),
                  type == nil || fields[1] == type, names.contains(name) else {
                result.append(line)
                continue
            }
            if matched == 0, let replacement { result.append(replacement) }
            matched += 1
            names.removeAll { $0 == name }
            if !names.isEmpty {
                result.append(([names.joined(separator: ",")] + fields.dropFirst()).joined(separator: " "))
            }
        }
        return (result, matched)
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

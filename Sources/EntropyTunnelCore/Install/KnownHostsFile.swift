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

/// `keys untrust` and `keys list` with the daemon's own matcher (`KnownHosts`): hashed names,
/// any case, wildcards, negation, tabs and `[host]:port` count exactly as they count when `run`
/// checks a host key, so "not pinned" is never said of a pin the daemon still accepts.
extension KnownHostsFile {
    /// One line that applies to a host.
    public struct Match: Sendable, Equatable {
        /// 1-based line number.
        public var line: Int
        /// The line's host field as written.
        public var hosts: String
        public var type: HostKeyType
        public var fingerprint: String
        /// Why the line cannot be taken out for this host alone (nil: it can).
        public var kept: String?
    }

    /// What `untrusting` found and did.
    public struct Untrust: Sendable {
        /// The file without the removable pins.
        public var text: String
        /// Every line that pins a key for the host (revoked lines are not pins).
        public var matches: [Match]
        public var removed: [Match] { matches.filter { $0.kept == nil } }
        public var kept: [Match] { matches.filter { $0.kept != nil } }
    }

    /// Takes `host` out of every line of `existing` that pins a key for it, as the daemon matches:
    /// a hashed line goes whole; in a pattern list the patterns that are exactly its name go (the
    /// line goes when none is left). A line that would still match (a wildcard such as
    /// `*.example`, or `*,!other`) is kept and reported, since removing it would untrust other
    /// hosts too.
    public static func untrusting(_ existing: String, host: HostSpec) -> Untrust {
        var lines = existing.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let name = KnownHosts.lookupName(host)
        var matches: [Match] = []
        var drop: Set<Int> = []
        for entry in KnownHosts(text: existing, path: "").entries where !entry.revoked && entry.applies(toName: name) {
            let index = entry.line - 1
            guard lines.indices.contains(index), let field = hostField(lines[index]) else { continue }
            var match = Match(line: entry.line, hosts: String(lines[index][field]), type: entry.type,
                              fingerprint: PublicKey(type: entry.type, blob: entry.key).fingerprint, kept: nil)
            if case .patterns = entry.hosts {
                let patterns = lines[index][field].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                let remaining = patterns.filter { $0.hasPrefix("!") || Array($0.utf8.map(lowercase)) != name }
                var rest = entry
                rest.hosts = .patterns(remaining.map {
                    KnownHosts.Entry.Pattern(negated: $0.hasPrefix("!"), text: Array(($0.hasPrefix("!") ? $0.dropFirst() : $0[...]).utf8.map(lowercase)))
                })
                if rest.applies(toName: name) {
                    let covering = remaining.filter { !$0.hasPrefix("!") && KnownHosts.wildcardMatch(name, Array($0.utf8.map(lowercase))) }
                    match.kept = "its pattern \(covering.joined(separator: ",")) also covers other hosts; edit the line by hand " +
                        "(or remove it if no host it covers should be trusted)"
                } else if remaining.contains(where: { !$0.hasPrefix("!") }) {
                    lines[index].replaceSubrange(field, with: remaining.joined(separator: ","))
                } else {
                    drop.insert(index)
                }
            } else {
                drop.insert(index)
            }
            matches.append(match)
        }
        lines = lines.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
        if lines.last == "" { lines.removeLast() }
        return Untrust(text: lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n", matches: matches)
    }

    /// Every pin of `existing` as the daemon reads it: line number, host field, key, and whether
    /// it is revoked; and the lines it skips, with why.
    public static func listing(_ existing: String, path: String) -> (pins: [(line: Int, hosts: String, revoked: Bool, key: PublicKey)], warnings: [String]) {
        let lines = existing.split(separator: "\n", omittingEmptySubsequences: false)
        let parsed = KnownHosts(text: existing, path: path)
        let pins = parsed.entries.map { entry in
            let line = lines.indices.contains(entry.line - 1) ? String(lines[entry.line - 1]) : ""
            let hosts: String
            if case .hashed = entry.hosts { hosts = "(hashed name)" } else { hosts = hostField(line).map { String(line[$0]) } ?? "?" }
            return (entry.line, hosts, entry.revoked, PublicKey(type: entry.type, blob: entry.key))
        }
        return (pins, parsed.warnings)
    }

    /// The range of the host field of a known_hosts line (after an optional `@marker`), split on
    /// blanks (spaces or tabs) as OpenSSH and `KnownHosts` split it.
    static func hostField(_ line: String) -> Range<String.Index>? {
        func isBlank(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" }
        var start = line.startIndex
        var fields: [Range<String.Index>] = []
        while start < line.endIndex, fields.count < 2 {
            guard let first = line[start...].firstIndex(where: { !isBlank($0) }) else { break }
            let end = line[first...].firstIndex(where: isBlank) ?? line.endIndex
            fields.append(first..<end)
            start = end
        }
        guard let first = fields.first else { return nil }
        return line[first].hasPrefix("@") ? fields.dropFirst().first : first
    }

    private static func lowercase(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }
}

/// The pinned host keys: an OpenSSH known_hosts file, read and matched in Swift the way
/// OpenSSH's ssh(1) reads it (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"). No libssh2 involved, so
/// nothing here depends on the lifetime of an SSH session.
///
/// Each line is `[MARKER] PATTERNS KEYTYPE BASE64KEY [COMMENT]`:
/// - `PATTERNS` is a comma-separated list of host names with `*` and `?` wildcards and `!`
///   negation, matched case-insensitively against `host` (port 22) or `[host]:port`, or one
///   hashed name `|1|base64(salt)|base64(HMAC-SHA1(salt, name))` as `ssh-keygen -H` writes it.
/// - `@revoked` marks a key that is never accepted. Unlike OpenSSH, which applies a revocation
///   only to the hosts its line names, entropy-tunnel refuses a revoked key for **every** host,
///   whatever the line's host patterns: a key someone revoked must not get in through another
///   name.
/// - `@cert-authority` lines are skipped with a warning: entropy-tunnel does not use host
///   certificates.
///
/// Blank lines and `#` comments are ignored; CRLF line endings work. A malformed line (bad
/// base64, unknown marker, missing fields, an unknown key type, key data of another type than
/// the line says) is skipped with a warning `FILE:LINE: what; line skipped`, never the whole
/// file. Lines with key types that OpenSSH knows but entropy-tunnel cannot use (`ssh-dss`,
/// `sk-*` security keys, certificates) are skipped silently: they are normal in a shared
/// known_hosts file and cannot pin a host for us.
public struct KnownHosts: Sendable {
    /// The largest known_hosts file read (1 MiB: some 10,000 lines); a bigger one is a
    /// configuration error.
    public static let maximumSize = 1 << 20

    /// One usable line of the file.
    public struct Entry: Sendable, Equatable {
        /// The host field: patterns, or one hashed name.
        public enum Hosts: Sendable, Equatable {
            /// Comma-separated patterns, lowercased; `negated` for a leading `!`.
            case patterns([Pattern])
            /// `|1|salt|hash`: hash = HMAC-SHA1(key: salt, message: name as written).
            case hashed(salt: [UInt8], hash: [UInt8])
        }

        /// One element of a pattern list.
        public struct Pattern: Sendable, Equatable {
            public var negated: Bool
            /// The pattern's bytes, ASCII letters lowercased.
            public var text: [UInt8]
        }

        /// 1-based line number in the file.
        public var line: Int
        /// Whether the line is marked `@revoked`.
        public var revoked: Bool
        public var hosts: Hosts
        public var type: HostKeyType
        /// The decoded key blob (string type, then the type's public parameters).
        public var key: [UInt8]

        /// Whether this line names `host`, as OpenSSH's `match_maybe_hashed()`: a hashed name
        /// must be equal, a pattern list must match with no negated pattern matching.
        public func applies(to host: HostSpec) -> Bool {
            applies(toName: KnownHosts.lookupName(host))
        }

        /// `applies(to:)` for a name already spelled and lowercased by `lookupName`.
        func applies(toName name: [UInt8]) -> Bool {
            switch hosts {
            case .hashed(let salt, let hash):
                return SHA1.hmac(key: salt, message: name) == hash
            case .patterns(let patterns):
                var positive = false
                for pattern in patterns where KnownHosts.wildcardMatch(name, pattern.text) {
                    if pattern.negated { return false }
                    positive = true
                }
                return positive
            }
        }
    }

    /// The result of `check`.
    public enum Check: Sendable, Equatable {
        /// A line for this host pins exactly this key.
        case match
        /// No line for this host pins a key of this type.
        case notFound
        /// The host is pinned with another key of this type; `pinnedKey` is the first such blob.
        case mismatch(pinnedKey: [UInt8]?)
        /// The key is marked `@revoked` (for any host): never accept it.
        case revoked
    }

    public let path: String
    /// Whether the file existed; a missing file pins nothing.
    public let fileExists: Bool
    /// The usable lines, in file order.
    public let entries: [Entry]
    /// One message per skipped line: `FILE:LINE: what is wrong; line skipped`.
    public let warnings: [String]

    /// Reads the file at `path` (at most `maximumSize` bytes). A missing file pins nothing;
    /// an unreadable or oversized one is a configuration error.
    public init(path: String) throws(TunnelError) {
        self.path = path
        let bytes: [UInt8]
        do throws(TunnelError) {
            bytes = try FileSystem.readBytes(path, limit: Self.maximumSize + 1)
        } catch where error.errno == .noSuchFileOrDirectory {
            fileExists = false
            entries = []
            warnings = []
            return
        } catch {
            throw TunnelError(.configuration,
                              "cannot read known_hosts file \(path): \(error.errno.map { "\($0)" } ?? error.message); " +
                              "make it a file readable by the user entropy-tunnel runs as (e.g. chmod 644 \(path)), " +
                              "or point --known-hosts / known_hosts in the configuration at another file",
                              errno: error.errno)
        }
        if bytes.count > Self.maximumSize {
            throw TunnelError(.configuration,
                              "known_hosts file \(path) is larger than \(Self.maximumSize >> 20) MiB; it should hold " +
                              "one line per pinned host key: remove stale lines (`ssh-keygen -R HOST -f \(path)`) " +
                              "or point --known-hosts at a file with only the entropy hosts")
        }
        fileExists = true
        (entries, warnings) = Self.parse(bytes, path: path)
    }

    /// The entries of `text` without touching the file system (tests, the fuzzer).
    public init(text: String, path: String) {
        self.path = path
        fileExists = true
        (entries, warnings) = Self.parse(Array(text.utf8), path: path)
    }

    /// Checks `key` (a raw key blob) of `type` for `host`, as OpenSSH's
    /// `check_key_in_hostkeys()`: revoked beats everything, then an equal key matches, then a
    /// pinned key of the same type makes a mismatch.
    public func check(host: HostSpec, key: [UInt8], type: HostKeyType) -> Check {
        if entries.contains(where: { $0.revoked && $0.key == key }) { return .revoked }
        let name = Self.lookupName(host)
        var pinned: [UInt8]?
        for entry in entries where !entry.revoked && entry.type == type && entry.applies(toName: name) {
            if entry.key == key { return .match }
            if pinned == nil { pinned = entry.key }
        }
        return pinned.map { .mismatch(pinnedKey: $0) } ?? .notFound
    }

    /// The key types pinned for `host` (not counting revoked keys), in OpenSSH's preference
    /// order (`HostKeyType.allCases`).
    public func pinnedTypes(for host: HostSpec) -> [HostKeyType] {
        let name = Self.lookupName(host)
        let revokedKeys = Set(entries.filter(\.revoked).map(\.key))
        let types = Set(entries.lazy
            .filter { !$0.revoked && !revokedKeys.contains($0.key) && $0.applies(toName: name) }
            .map(\.type))
        return HostKeyType.allCases.filter(types.contains)
    }

    /// The name OpenSSH looks up: `host` or `[host]:port`, lowercased as ssh(1) lowercases it.
    static func lookupName(_ host: HostSpec) -> [UInt8] {
        host.knownHostsName.utf8.map(asciiLowercase)
    }

    // MARK: - Parsing

    /// Parses known_hosts text. Never traps and never fails: bad lines become warnings.
    public static func parse(_ text: String, path: String) -> (entries: [Entry], warnings: [String]) {
        parse(Array(text.utf8), path: path)
    }

    /// Parses known_hosts bytes (UTF-8 or not: the format is ASCII outside comments).
    public static func parse(_ bytes: [UInt8], path: String) -> (entries: [Entry], warnings: [String]) {
        var entries: [Entry] = []
        var warnings: [String] = []
        var number = 0
        // Lines are split on bytes, not Characters: in a Swift String "\r\n" is one Character.
        for var line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            switch parseLine(line, number: number) {
            case .entry(let entry): entries.append(entry)
            case .ignored: break
            case .skipped(let why): warnings.append("\(path):\(number): \(why); line skipped")
            }
        }
        return (entries, warnings)
    }

    private enum LineResult {
        case entry(Entry)
        case ignored
        case skipped(String)
    }

    /// Key types OpenSSH accepts in known_hosts that entropy-tunnel cannot use: skipped silently.
    static let foreignKeyTypes: Set<String> = [
        "ssh-dss", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "ssh-xmss@openssh.com",
    ]

    private static func parseLine(_ line: ArraySlice<UInt8>, number: Int) -> LineResult {
        var fields = line.split(whereSeparator: isBlank)[...]
        guard let first = fields.first, first.first != UInt8(ascii: "#") else { return .ignored }
        var revoked = false
        if first.first == UInt8(ascii: "@") {
            switch String(decoding: first, as: UTF8.self) {
            case "@revoked": revoked = true
            case "@cert-authority":
                return .skipped("@cert-authority lines are not supported (entropy-tunnel does not use host certificates)")
            default:
                return .skipped("unknown marker '\(printable(first))' (expected @revoked or @cert-authority)")
            }
            fields = fields.dropFirst()
        }
        guard fields.count >= 3 else {
            return .skipped("expected '\(revoked ? "@revoked " : "")HOSTS KEYTYPE BASE64KEY [COMMENT]', found \(fields.count) field\(fields.count == 1 ? "" : "s")")
        }
        let hostField = fields[fields.startIndex]
        let typeName = String(decoding: fields[fields.startIndex + 1], as: UTF8.self)
        let keyField = fields[fields.startIndex + 2]

        let hosts: Entry.Hosts
        switch parseHosts(hostField) {
        case .success(let parsed): hosts = parsed
        case .failure(let why): return .skipped(why.message)
        }
        guard let type = HostKeyType(name: typeName) else {
            if foreignKeyTypes.contains(typeName) || typeName.hasSuffix("-cert-v01@openssh.com") { return .ignored }
            return .skipped("unknown key type '\(printable(typeName.utf8))' (supported: \(HostKeyType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let key = Base64.decode(String(decoding: keyField, as: UTF8.self)), !key.isEmpty else {
            return .skipped("the key is not valid base64")
        }
        guard let embedded = blobTypeName(key) else {
            return .skipped("the key data is not an SSH public key blob")
        }
        guard embedded.elementsEqual(type.rawValue.utf8) else {
            return .skipped("the key data is of type '\(printable(embedded))', but the line says \(type.rawValue)")
        }
        return .entry(Entry(line: number, revoked: revoked, hosts: hosts, type: type, key: key))
    }

    private struct Malformed: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// OpenSSH's limit for one pattern (`match_pattern_list()`'s 1024-byte buffer); a longer
    /// one makes OpenSSH ignore the whole line, so it is skipped here too.
    static let maximumPatternLength = 1022

    private static func parseHosts(_ field: ArraySlice<UInt8>) -> Result<Entry.Hosts, Malformed> {
        if field.first == UInt8(ascii: "|") {
            // |1|salt|hash, as OpenSSH's extract_salt() / host_hash(): both 20 bytes.
            let parts = field.split(separator: UInt8(ascii: "|"), omittingEmptySubsequences: false)
            guard parts.count == 4, parts[1].elementsEqual([UInt8(ascii: "1")]) else {
                return .failure(Malformed("hashed host name is not '|1|SALT|HASH'"))
            }
            guard let salt = Base64.decode(String(decoding: parts[2], as: UTF8.self)),
                  let hash = Base64.decode(String(decoding: parts[3], as: UTF8.self)),
                  salt.count == SHA1.digestSize, hash.count == SHA1.digestSize else {
                return .failure(Malformed("hashed host name has a salt or hash that is not 20 bytes of base64"))
            }
            return .success(.hashed(salt: salt, hash: hash))
        }
        var patterns: [Entry.Pattern] = []
        for raw in field.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            let negated = raw.first == UInt8(ascii: "!")
            let text = (negated ? raw.dropFirst() : raw).map(asciiLowercase)
            guard text.count <= maximumPatternLength else {
                return .failure(Malformed("a host pattern is longer than \(maximumPatternLength) bytes"))
            }
            patterns.append(Entry.Pattern(negated: negated, text: text))
        }
        return .success(.patterns(patterns))
    }

    /// The type name at the start of a key blob (`uint32 length, bytes`), or nil when the
    /// blob is too short for what its length says.
    static func blobTypeName(_ blob: [UInt8]) -> ArraySlice<UInt8>? {
        guard blob.count >= 4 else { return nil }
        let length = blob[0..<4].reduce(0) { $0 << 8 | Int($1) }
        guard length > 0, length <= blob.count - 4 else { return nil }
        return blob[4..<(4 + length)]
    }

    // MARK: - Matching

    /// `*` (any run of bytes) and `?` (any one byte), as OpenSSH's `match_pattern()`; both
    /// sides are already lowercased. Iterative with one backtrack point, so it is linear per
    /// star rather than exponential like the recursive original.
    static func wildcardMatch(_ string: [UInt8], _ pattern: [UInt8]) -> Bool {
        var s = 0, p = 0
        var star: (pattern: Int, string: Int)?
        while s < string.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = (p, s)
                p += 1
            } else if p < pattern.count, pattern[p] == UInt8(ascii: "?") || pattern[p] == string[s] {
                s += 1
                p += 1
            } else if let last = star {
                // Let the last star swallow one more byte and retry from there.
                star = (last.pattern, last.string + 1)
                p = last.pattern + 1
                s = last.string + 1
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }

    private static func asciiLowercase(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// At most 40 bytes of a field for a message, control characters replaced.
    private static func printable(_ bytes: some Sequence<UInt8>) -> String {
        let shown = bytes.prefix(40).map { $0 < 0x20 || $0 == 0x7f ? UInt8(ascii: "?") : $0 }
        return String(decoding: shown, as: UTF8.self)
    }
}

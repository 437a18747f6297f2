/// The host-side `authorized_keys` line for an entropy-tunnel client key:
/// `restrict,[from="PATTERN",]command="CMD" TYPE BASE64 COMMENT entropy-tunnel:keys-authorize`.
///
/// `restrict` turns off pty, forwarding and ~/.ssh/rc; the forced command makes the key good for
/// nothing but reading the RNG, whatever the client asks to run. When the command is
/// `entropy-tunnel serve`, the line adds `--client SHA256:...` (the key's fingerprint), so that
/// every session of this key shares one budget on the host. The last word of the comment,
/// `marker`, tells `keys deauthorize` that `keys authorize` wrote the line.
public struct AuthorizedKeyLine: Sendable, Equatable {
    public var key: PublicKey
    public var command: String
    /// An sshd `from=` pattern list limiting where the key may be used from (`10.0.0.5`, `*.lan`).
    public var from: String?

    public init(key: PublicKey, command: String = ConnectionOptions.defaultRemoteCommand, from: String? = nil) {
        self.key = key
        self.command = command
        self.from = from
    }

    /// Checks the parts that would corrupt the line: quotes and newlines cannot be written safely.
    public func validate() throws(TunnelError) {
        if command.trimmingSpaces.isEmpty {
            throw TunnelError(.invalidArgument, "--remote-command must not be empty")
        }
        if command.contains(where: { $0 == "\n" || $0 == "\r" }) {
            throw TunnelError(.invalidArgument, "--remote-command must be one line")
        }
        if let from, from.isEmpty || from.contains(where: { $0 == "\"" || $0 == " " || $0 == "\n" }) {
            throw TunnelError(.invalidArgument,
                              "--from '\(from)' must be a comma-separated sshd pattern list without spaces or quotes, e.g. 192.0.2.10,*.example.lan")
        }
    }

    /// The comment word that marks the lines `keys authorize` writes (sshd ignores comments).
    public static let marker = "entropy-tunnel:keys-authorize"

    /// The command the line forces: `command`, with `--client FINGERPRINT` added when it runs
    /// `entropy-tunnel serve` (the key's own budget on the host).
    public var forcedCommand: String {
        Self.isServeCommand(command) ? command + " --client " + key.fingerprint : command
    }

    /// The line, without a trailing newline.
    public var text: String {
        // sshd's option parser unescapes only \" inside quoted values.
        let quoted = forcedCommand.replacing("\"", with: "\\\"")
        let fromOption = from.map { "from=\"\($0)\"," } ?? ""
        return "restrict,\(fromOption)command=\"\(quoted)\" \(key.line) \(Self.marker)"
    }

    /// Whether `command` runs `entropy-tunnel serve` (any path to the binary, then `serve`).
    public static func isServeCommand(_ command: String) -> Bool {
        let words = command.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard words.count >= 2, words[1] == "serve" else { return false }
        let program = words[0].split(separator: "/").last.map(String.init) ?? ""
        return program == "entropy-tunnel" || program == "'entropy-tunnel'"
    }

    /// `existing` (an authorized_keys file) with this line in it: a line with the same key is
    /// replaced in place, further lines with that key are dropped, otherwise the line is appended.
    public func merged(into existing: String) -> String {
        var lines = existing.lines
        if lines.last == "" { lines.removeLast() }
        var placed = false
        var result: [String] = []
        for line in lines {
            if Self.containsKey(line, base64: key.base64) {
                if !placed { result.append(text); placed = true }
            } else {
                result.append(line)
            }
        }
        if !placed { result.append(text) }
        return result.joined(separator: "\n") + "\n"
    }

    /// Whether an authorized_keys line holds the key with this base64 blob (as a whole field).
    static func containsKey(_ line: String, base64: String) -> Bool {
        let trimmed = line.trimmingSpaces
        guard !trimmed.hasPrefix("#") else { return false }
        return trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).contains { $0 == base64 }
    }
}

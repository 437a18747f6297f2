import EntropyTunnelCore

/// The fuzz targets: one per parser that reads outside input (files an administrator writes or
/// copies, command-line values). A target fails (traps) when a parser traps, or when an
/// invariant stated here does not hold.
enum FuzzTarget: String, CaseIterable {
    /// config.toml: the project's own TOML-subset parser (`TOMLDocument`) and `ConfigFile.parse`,
    /// then `RunConfiguration` (host specs, sizes, seconds, health parameters, validation).
    /// Invariants: an error names the file and a line; what parses writes back (as `install`
    /// writes it) to text that parses to the same values.
    case config
    /// `--host` / `host = ...`: `HostSpec(parsing:)`.
    case hostspec
    /// `--window`, `--fifo-size`, `window = "64K"`: `ByteSize(parsing:)`.
    case bytesize
    /// The four durations of the config file (`connect_timeout = INPUT`, ...), through the
    /// config reader's seconds conversion.
    case duration
    /// `--health-min-entropy`, `--health-alpha` (line 1, line 2; Double as the CLI parses them,
    /// and `HealthParameters.parseAlpha`), then `HealthParameters(minEntropy:alpha:)`.
    case health
    /// known_hosts text: `KnownHosts.parse`, `check`, `pinnedTypes`; `KnownHostsFile` edits.
    case knownhosts
    /// An existing authorized_keys file merged with a key; `--remote-command` and `--from`
    /// from the input's first two lines.
    case authorizedkeys
    /// A `.pub` line / `--key`: `PublicKey(parsing:)` and what is printed from it.
    case publickey
    /// The serve protocol from both ends: a client's request lines as `entropy-tunnel serve`
    /// reads them (`ServeRequestParser`), and a host's first bytes as the client reads them
    /// (`StreamGreeting`: serve or plain, and no byte of a plain reader lost).
    case serve

    /// The C callback for libFuzzer; closures without captures, as `@convention(c)` requires.
    var callback: FuzzCallback {
        switch self {
        case .config: return { Inputs.config(text($0, $1)); return 0 }
        case .hostspec: return { Inputs.hostSpec(text($0, $1)); return 0 }
        case .bytesize: return { Inputs.byteSize(text($0, $1)); return 0 }
        case .duration: return { Inputs.duration(text($0, $1)); return 0 }
        case .health: return { Inputs.health(text($0, $1)); return 0 }
        case .knownhosts: return { Inputs.knownHosts(bytes($0, $1)); return 0 }
        case .authorizedkeys: return { Inputs.authorizedKeys(text($0, $1)); return 0 }
        case .publickey: return { Inputs.publicKey(text($0, $1)); return 0 }
        case .serve: return { Inputs.serve(bytes($0, $1)); return 0 }
        }
    }
}

func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// The input as the programs see it: files and arguments are decoded as UTF-8.
func text(_ data: UnsafePointer<UInt8>?, _ size: Int) -> String {
    String(decoding: bytes(data, size), as: UTF8.self)
}

/// Traps, with the message in the crash report, when an invariant does not hold.
func invariant(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("invariant violated: \(message())") }
}

enum Inputs {
    static let path = "/fuzz/input"
    /// A real Ed25519 public key (ssh-keygen), for the targets that need a key to merge.
    static let key = try! PublicKey(parsing: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBqtjrxOnRUuw7TnYeEO2cd4DJ+aCh4V6In7fqR7zaJb fuzz")

    static func config(_ text: String) {
        let values: ConfigFile.Values
        do {
            values = try ConfigFile.parse(text, path: path)
        } catch {
            // "PATH:LINE: what is wrong", the line within the text.
            let rest = error.message.dropFirst(path.count + 1)
            let line = Int(rest.prefix { $0.isNumber }) ?? 0
            invariant(error.message.hasPrefix(path + ":") && line >= 1 && line <= text.utf8.count + 1 &&
                      rest.dropFirst(String(line).count).hasPrefix(": "), "error without PATH:LINE: \(error.message)")
            return
        }
        if let document = try? TOMLDocument(parsing: text, path: path) {
            invariant(document.entries.allSatisfy { $0.line >= 1 && $0.column >= 1 }, "an entry without a line or column")
        } else {
            invariant(false, "ConfigFile read text that TOMLDocument refuses")
        }
        _ = values.hostSpecs
        _ = values.overlaid(with: ConfigFile.Values())
        _ = try? RunConfiguration(values, source: path)
        // What install would write reads back to the same values.
        var written = values.settings.map { "\($0.key) = \(toml($0.value))" }
        if let hosts = values.hosts, hosts.count == 1 { written.append("host = \(toml(.string(hosts[0])))") }
        let reread = try? ConfigFile.parse(written.joined(separator: "\n") + "\n", path: path)
        invariant(reread == values, "written back as \(written), reads as \(String(describing: reread))")
    }

    /// A value as `install` writes it.
    static func toml(_ value: Installer.ConfigValue) -> String {
        switch value {
        case .string(let s): return SettingValue.quoted(s)
        case .int(let n): return "\(n)"
        case .double(let d): return "\(d)"
        case .strings(let list): return "[" + list.map(SettingValue.quoted).joined(separator: ", ") + "]"
        }
    }

    static func hostSpec(_ text: String) {
        for port in [22, 2222] {
            guard let spec = try? HostSpec(parsing: text, defaultPort: port) else { continue }
            _ = spec.knownHostsName
            _ = spec.description
        }
    }

    static func byteSize(_ text: String) {
        guard let size = ByteSize(parsing: text) else { return }
        invariant(size.bytes >= 0, "negative size \(size.bytes)")
        let again = ByteSize(parsing: size.description)
        invariant(again == size, "\(size.bytes) prints as '\(size.description)', which parses as \(again.map { "\($0.bytes)" } ?? "nothing")")
    }

    static func duration(_ text: String) {
        for key in ["connect_timeout", "keepalive_interval", "backoff_cap", "failback_interval"] {
            guard let values = try? ConfigFile.parse("host = \"rng.example\"\n\(key) = \(text)\n", path: path) else { continue }
            _ = try? RunConfiguration(values, source: path)
        }
    }

    static func health(_ text: String) {
        let lines = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let minEntropy = Double(lines[0]) ?? HealthParameters.default.minEntropy
        let alphaText = lines.count > 1 ? lines[1] : lines[0]
        for alpha in [HealthParameters.parseAlpha(alphaText), Double(alphaText)].compactMap({ $0 }) {
            if let parameters = try? HealthParameters(minEntropy: minEntropy, alpha: alpha) {
                invariant(parameters.rctCutoff >= 2 && parameters.aptCutoff >= 1,
                          "cutoffs \(parameters.rctCutoff), \(parameters.aptCutoff) for H=\(minEntropy) alpha=\(alpha)")
            }
        }
    }

    static func knownHosts(_ input: [UInt8]) {
        let (entries, warnings) = KnownHosts.parse(input, path: path)
        for warning in warnings {
            invariant(warning.hasPrefix(path + ":") && warning.hasSuffix("; line skipped"), "warning '\(warning)'")
        }
        invariant(zip(entries, entries.dropFirst()).allSatisfy { $0.line < $1.line }, "entries out of order")
        let text = String(decoding: input, as: UTF8.self)
        let file = KnownHosts(text: text, path: path)
        var hosts = [HostSpec(host: "rng.example", port: 22), HostSpec(host: "::1", port: 2222)]
        // A host named by the input itself, so that matching gets exercised beyond two names.
        if let first = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," }).first(where: { !$0.hasPrefix("@") }),
           let spec = try? HostSpec(parsing: String(first.prefix(200))) {
            hosts.append(spec)
        }
        for host in hosts {
            _ = file.pinnedTypes(for: host)
            for entry in file.entries.prefix(16) {
                let verdict = file.check(host: host, key: entry.key, type: entry.type)
                let revoked = file.entries.contains { $0.revoked && $0.key == entry.key }
                if revoked {
                    invariant(verdict == .revoked, "revoked key of line \(entry.line) gives \(verdict)")
                } else if entry.applies(to: host) {
                    invariant(verdict == .match, "line \(entry.line) pins its key for \(host), yet check gives \(verdict)")
                    invariant(file.pinnedTypes(for: host).contains(entry.type), "line \(entry.line)'s type not pinned for \(host)")
                }
            }
            _ = KnownHostsFile.hasEntry(text, for: host)
            _ = KnownHostsFile.merged(text, host: host, key: key)
        }
    }

    static func authorizedKeys(_ text: String) {
        _ = AuthorizedKeyLine(key: key).merged(into: text)
        let lines = text.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        let line = AuthorizedKeyLine(key: key, command: lines[0], from: lines.count > 1 ? lines[1] : nil)
        if (try? line.validate()) != nil {
            _ = line.text
            _ = line.merged(into: text)
        }
    }

    static func serve(_ input: [UInt8]) {
        // The host's side: every request it accepts is within 1...maxRequest; after a malformed
        // line, everything is malformed.
        for maxRequest in [1, ServeProtocol.defaultMaxRequest, ServeProtocol.requestLimit] {
            var parser = ServeRequestParser(maxRequest: maxRequest)
            var failed = false
            for byte in input {
                switch parser.consume(byte) {
                case .needMore:
                    invariant(!failed, "needMore after a malformed line")
                case .request(let count):
                    invariant(!failed, "a request after a malformed line")
                    invariant(count >= 1 && count <= maxRequest, "request for \(count) with --max-request \(maxRequest)")
                case .malformed(let message):
                    invariant(!message.isEmpty && !message.contains("\n"), "message '\(message)'")
                    failed = true
                }
            }
        }
        // The client's side, the bytes in pieces of 1 to 16 (the input's first byte decides):
        // decided once, and then for good; plain keeps every byte; serve only after its line.
        let piece = Int(input.first ?? 0) % 16 + 1
        var greeting = StreamGreeting()
        var offset = 0
        var decidedAt: StreamGreeting.Kind?
        while offset < input.count {
            let count = greeting.wants > 0 ? min(greeting.wants, piece, input.count - offset) : min(piece, input.count - offset)
            greeting.take(input[offset..<offset + count])
            offset += count
            if let decidedAt { invariant(greeting.kind == decidedAt, "decided \(decidedAt), then \(greeting.kind)") }
            if greeting.kind != .undecided { decidedAt = greeting.kind }
        }
        greeting.endOfStream()
        switch greeting.kind {
        case .undecided:
            invariant(false, "undecided after the end of the stream")
        case .plain:
            invariant(greeting.data == input, "a plain reader's bytes changed: \(greeting.data.count) of \(input.count) kept")
        case .serve(let version):
            let prefix = ServeProtocol.magicPrefix
            guard input.starts(with: prefix), let newline = input.firstIndex(of: UInt8(ascii: "\n")), newline > prefix.count else {
                return invariant(false, "serve \(version) from an input without a magic line")
            }
            let digits = input[prefix.count..<newline]
            invariant(digits.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
                      && Int(String(decoding: digits, as: UTF8.self)) == version, "serve \(version) from '\(digits)'")
            invariant(greeting.data == Array(input[(newline + 1)...]), "serve: the bytes after the magic line differ")
        }
    }

    static func publicKey(_ text: String) {
        guard let key = try? PublicKey(parsing: text) else { return }
        _ = key.bits
        _ = key.fingerprint
        _ = key.keygenListing(name: "fuzz")
        _ = AuthorizedKeyLine(key: key).text
    }
}

import Logging

/// `keys trust`: fetch a host's key, show it, and pin it in a known_hosts file only when it
/// matches the fingerprint given or the administrator confirms it.
public enum HostKeyTrust {
    /// What was pinned and what happened to the file.
    public struct Outcome: Sendable {
        public var key: PublicKey
        public var change: FileSystem.Change
    }

    /// `SHA256:...` normalised: the prefix added when missing, base64 padding dropped.
    public static func normalizeFingerprint(_ text: String) -> String {
        var s = text.trimmingSpaces
        if s.lowercased().hasPrefix("sha256:") { s = String(s.dropFirst(7)) }
        while s.hasSuffix("=") { s.removeLast() }
        return "SHA256:" + s
    }

    /// Writes `key` for `host` into the known_hosts file at `path` (mode 0644), replacing an older
    /// entry for the same host and key type; an identical file is left untouched.
    @discardableResult
    public static func pin(_ key: PublicKey, for host: HostSpec, knownHosts path: String) throws(TunnelError) -> FileSystem.Change {
        let existing = try FileSystem.readIfExists(path) ?? ""
        return try FileSystem.writeIfChanged(path, KnownHostsFile.merged(existing, host: host, key: key), mode: 0o644)
    }

    /// Connects to `host` and pins its key in `knownHosts` (`resolve`, then `pin`).
    public static func trust(
        host: HostSpec, knownHosts: String, fingerprint: String?, timeout: Duration = .seconds(10),
        logger: Logger, show: (PublicKey) -> Void, confirm: (PublicKey) async -> Bool
    ) async throws(TunnelError) -> Outcome {
        let key = try await resolve(host: host, fingerprint: fingerprint, timeout: timeout, logger: logger, show: show, confirm: confirm)
        return Outcome(key: key, change: try pin(key, for: host, knownHosts: knownHosts))
    }

    /// Connects to `host` and decides which of its keys to pin; writes nothing.
    ///
    /// With `fingerprint`, every key type the host offers is fetched and the one with that
    /// fingerprint is returned; none matching is an error. Without it, the preferred key (Ed25519
    /// when there is one) is shown to `confirm`, and returned only if it says yes.
    public static func resolve(
        host: HostSpec, fingerprint: String?, timeout: Duration = .seconds(10),
        logger: Logger, show: (PublicKey) -> Void, confirm: (PublicKey) async -> Bool
    ) async throws(TunnelError) -> PublicKey {
        if let fingerprint {
            let wanted = normalizeFingerprint(fingerprint)
            let keys = try await HostKeyScanner.scanAll(host, timeout: timeout, logger: logger)
            keys.forEach(show)
            guard let match = keys.first(where: { $0.fingerprint == wanted }) else {
                let offered = keys.map { "\($0.type.rawValue) \($0.fingerprint)" }.joined(separator: ", ")
                throw TunnelError(.hostKeyMismatch,
                                  "no host key of \(host) has fingerprint \(wanted) (it offers: \(offered.isEmpty ? "none" : offered)); " +
                                  "nothing was pinned. Check the fingerprint on the host with " +
                                  "`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`; if they differ, someone may be intercepting the connection")
            }
            return match
        }
        let key = try await HostKeyScanner.scanPreferred(host, timeout: timeout, logger: logger)
        show(key)
        guard await confirm(key) else {
            throw TunnelError(.hostKeyUnknown,
                              "host key of \(host) (\(key.type.rawValue) \(key.fingerprint)) was not trusted; nothing was pinned. " +
                              "Compare it with `ssh-keygen -lf \(ShellQuote.quote("/etc/ssh/ssh_host_\(key.type.fileStem)_key.pub"))` on the host and run " +
                              "`entropy-tunnel keys trust \(ShellQuote.quote(host.description)) --fingerprint SHA256:...`")
        }
        return key
    }
}

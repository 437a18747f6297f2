#if canImport(Glibc)
import Glibc
#endif

/// The client's SSH key: an Ed25519 key in OpenSSH format, mode 0600, made by `ssh-keygen`.
public enum KeyGenerator {
    /// `entropy-tunnel@HOSTNAME`: the comment that tells an administrator whose key it is.
    public static var defaultComment: String {
        var buffer = [CChar](repeating: 0, count: 256)
        let name = gethostname(&buffer, buffer.count) == 0
            ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            : "localhost"
        return "entropy-tunnel@\(name)"
    }

    /// Creates the key at `identity` unless a private key is already there, and returns its public
    /// half and whether it was created. An existing key is never overwritten; it is used only
    /// after `checkExistingPair` finds it sound.
    ///
    /// `ssh-keygen` writes by name, following links, so it writes into a private directory this
    /// process made (mkdtemp, 0700); the pair then goes to `identity` through `SafeFile` (random
    /// temporary, mode and `owner` set on the descriptor, rename), never through a link.
    public static func ensureKey(
        identity: String, comment: String = KeyGenerator.defaultComment, owner: SafeFile.Owner? = nil
    ) async throws(TunnelError) -> (key: PublicKey, created: Bool) {
        if let key = try await checkExistingPair(identity: identity) { return (key, false) }
        try FileSystem.makeDirectories(FileSystem.parent(of: identity), mode: 0o755)
        // A lone .pub without its private key would make ssh-keygen ask whether to overwrite.
        if FileSystem.exists(identity + ".pub") {
            throw TunnelError(.privateKey,
                              "\(identity).pub exists but its private key \(identity) does not; remove it " +
                              "(`rm \(ShellQuote.quote(identity + ".pub"))`) to create a new pair, or pass another path")
        }
        let (privateKey, publicKey) = try await SafeFile.withPrivateDirectory { (directory) async throws(TunnelError) in
            let made = directory + "/key"
            try await ExternalCommand.check("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", made])
            return (try FileSystem.readBytes(made, limit: 64 << 10), try FileSystem.readBytes(made + ".pub", limit: 64 << 10))
        }
        let key = try PublicKey(parsing: String(decoding: publicKey, as: UTF8.self))
        // The private half first: a .pub alone would make the next run refuse the pair.
        try SafeFile.write(identity, privateKey, mode: 0o600, owner: owner)
        try SafeFile.write(identity + ".pub", publicKey, mode: 0o644, owner: owner)
        return (key, true)
    }

    /// Gives a pair just made (`identity` and `.pub`) to `user` and its primary group, without
    /// following links: the service user must read its key (`keys generate --owner`, which the
    /// first-boot key unit runs as root).
    public static func giveNewPair(identity: String, to user: String) throws(TunnelError) {
        guard let pw = getpwnam(user) else {
            throw TunnelError(.configuration, "--owner \(user): no such user; create it (systemd-sysusers) or leave --owner out")
        }
        let owner = SafeFile.Owner(uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid)
        for path in [identity, identity + ".pub"] {
            try SafeFile.changeOwner(path, to: owner)
        }
    }

    /// The public key of the pair at `identity`, nil when there is no private key there; throws
    /// when the pair is not one entropy-tunnel can use: not an OpenSSH private key, RSA or DSA,
    /// protected by a passphrase, readable by others, unreadable by `ssh-keygen`, or with a
    /// `.pub` that belongs to another key. With `repairPublic`, a missing `.pub` is recreated
    /// from the private key; without, nothing is written.
    ///
    /// No message quotes the files' contents: they may hold private key material.
    public static func checkExistingPair(identity: String, repairPublic: Bool = true) async throws(TunnelError) -> PublicKey? {
        guard FileSystem.exists(identity) else { return nil }
        // A link someone else planted at the key's path is refused before anything reads through it.
        _ = try SafeFile.isTrustedLink(identity)
        let quoted = ShellQuote.quote(identity)
        let fix = "remove \(identity) and \(identity).pub to create a new Ed25519 pair (`rm \(quoted) \(quoted).pub`), " +
            "or pass another path"
        if let mode = FileSystem.mode(identity), mode & 0o077 != 0 {
            throw TunnelError(.privateKey,
                              "private key \(identity) is readable by other users (mode \(String(mode, radix: 8))); run `chmod 600 \(quoted)`")
        }
        let contents: String
        do throws(TunnelError) {
            contents = try FileSystem.read(identity, limit: 64 << 10)
        } catch {
            throw TunnelError(.privateKey, "cannot read the existing key \(identity): \(error.errno.map { "\($0)" } ?? error.message)",
                              errno: error.errno)
        }
        let container = PrivateKeyContainer(contents)
        guard let type = container?.keyType ?? PrivateKeyFile.keyType(ofFileContents: contents) else {
            throw TunnelError(.privateKey, "\(identity) exists but is not an OpenSSH private key; \(fix)")
        }
        // "ecdsa": a PEM EC key, which names no curve in its header.
        guard type == "ecdsa" || HostKeyType(name: type).map({ $0 != .rsa }) == true else {
            let name = type.hasPrefix("ssh-rsa") ? "an RSA" : type.hasPrefix("ssh-dss") ? "a DSA" : "a \(type)"
            throw TunnelError(.privateKey,
                              "\(identity) is \(name) key; entropy-tunnel uses Ed25519 or ECDSA keys (libssh2 signs RSA only " +
                              "with SHA-1, which current OpenSSH refuses): \(fix)")
        }
        let cipher = container?.cipher ?? (contents.contains("ENCRYPTED") ? "PEM encryption" : "none")
        if cipher != "none" {
            throw TunnelError(.privateKey,
                              "\(identity) is protected by a passphrase (cipher \(cipher)); the service cannot type one: " +
                              "remove the passphrase with `ssh-keygen -p -N '' -f \(quoted)`, or \(fix)")
        }
        // ssh-keygen derives the public key from the private one: the proof that it parses.
        let derived = try await ExternalCommand.run("ssh-keygen", ["-y", "-P", "", "-f", identity])
        guard derived.succeeded, let key = try? PublicKey(parsing: derived.stdout) else {
            throw TunnelError(.privateKey,
                              "ssh-keygen cannot read the existing key \(identity) (exit \(derived.status)); is it damaged? \(fix)")
        }
        let publicPath = identity + ".pub"
        guard let publicText = try? FileSystem.read(publicPath, limit: 64 << 10) else {
            guard repairPublic else { return key }
            try FileSystem.writeIfChanged(publicPath, derived.stdout.trimmingSpaces + "\n", mode: 0o644)
            return try PublicKey(parsing: try FileSystem.read(publicPath))
        }
        let stored: PublicKey
        do throws(TunnelError) {
            stored = try PublicKey(parsing: publicText)
        } catch {
            throw TunnelError(.privateKey, "\(publicPath) is not a public key (\(error.message)); \(fix)")
        }
        guard stored.type == key.type, stored.base64 == key.base64 else {
            throw TunnelError(.privateKey,
                              "\(publicPath) belongs to another key (\(stored.fingerprint)) than \(identity) (\(key.fingerprint)); " +
                              "recreate it with `ssh-keygen -y -f \(quoted) > \(quoted).pub`, or \(fix)")
        }
        return stored
    }
}

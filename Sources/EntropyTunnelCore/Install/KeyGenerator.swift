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
    /// half and whether it was created. An existing key is never overwritten.
    public static func ensureKey(
        identity: String, comment: String = KeyGenerator.defaultComment
    ) async throws(TunnelError) -> (key: PublicKey, created: Bool) {
        if FileSystem.exists(identity) {
            if let mode = FileSystem.mode(identity), mode & 0o077 != 0 {
                throw TunnelError(.privateKey,
                                  "private key \(identity) is readable by other users (mode \(String(mode, radix: 8))); run `chmod 600 \(identity)`")
            }
            let publicText: String
            if let text = try? FileSystem.read(identity + ".pub") {
                publicText = text
            } else {
                let derived = try await ExternalCommand.run("ssh-keygen", ["-y", "-f", identity])
                guard derived.succeeded else {
                    throw TunnelError(.privateKey,
                                      "cannot read the existing key \(identity): \(derived.stderr.trimmingSpaces); " +
                                      "is it protected by a passphrase? entropy-tunnel needs a key without one")
                }
                publicText = derived.stdout
                try FileSystem.writeIfChanged(identity + ".pub", publicText.trimmingSpaces + "\n", mode: 0o644)
            }
            return (try PublicKey(parsing: publicText), false)
        }
        try FileSystem.makeDirectories(FileSystem.parent(of: identity), mode: 0o755)
        try await ExternalCommand.check("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", identity])
        chmod(identity, 0o600)
        return (try PublicKey(parsing: try FileSystem.read(identity + ".pub")), true)
    }
}

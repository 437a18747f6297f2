#if canImport(Glibc)
import Glibc
#endif

/// Checks a user's private key file before libssh2 sees it, so that the user gets the same
/// refusals OpenSSH gives, with the fix in the message.
public enum PrivateKeyFile {
    /// The key algorithm named inside an OpenSSH-format or PEM private key file.
    public static func keyType(ofFileContents text: String) -> String? {
        if text.contains("-----BEGIN RSA PRIVATE KEY-----") { return "ssh-rsa" }
        if text.contains("-----BEGIN DSA PRIVATE KEY-----") { return "ssh-dss" }
        if text.contains("-----BEGIN EC PRIVATE KEY-----") { return "ecdsa" }
        return PrivateKeyContainer(text)?.keyType
    }

    /// Throws a `.privateKey` error when `path` is missing, unreadable, too open or of a key
    /// type that cannot authenticate against a current OpenSSH server.
    public static func check(_ path: String) throws(TunnelError) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw TunnelError(.privateKey,
                              "private key \(path) does not exist; create one with " +
                              "`\(ShellQuote.command(["entropy-tunnel", "keys", "generate", "--identity", path]))` or point --identity at yours")
        }
        let mode = st.st_mode & 0o777
        if mode & 0o077 != 0 && st.st_uid == getuid() {
            throw TunnelError(.privateKey,
                              "private key \(path) is accessible by group or others (mode 0\(String(mode, radix: 8))); " +
                              "OpenSSH ignores such keys and so does entropy-tunnel: run `\(ShellQuote.command(["chmod", "600", path]))`")
        }
        let contents: String
        do throws(TunnelError) {
            contents = try FileSystem.read(path, limit: 64 << 10)
        } catch {
            if error.errno?.rawValue == EACCES {
                // A local problem with a local fix: not the host's fault, and no failover cures it.
                let me = getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(getuid())"
                let owner = getpwuid(st.st_uid).map { String(cString: $0.pointee.pw_name) } ?? "uid \(st.st_uid)"
                throw TunnelError(.privateKey,
                                  "private key \(path) is not readable by user \(me), which runs entropy-tunnel (owner \(owner), " +
                                  "mode 0\(String(mode, radix: 8))): a problem of this machine, not of the host; run " +
                                  "`\(ShellQuote.command(["chown", me + ":", path]))` and `\(ShellQuote.command(["chmod", "600", path]))`",
                                  errno: error.errno)
            }
            throw TunnelError(.privateKey, "cannot read private key \(path): \(error.errno.map { "\($0)" } ?? error.message)",
                              errno: error.errno)
        }
        switch keyType(ofFileContents: contents) {
        case "ssh-rsa":
            throw TunnelError(.privateKey,
                              "private key \(path) is an RSA key: libssh2 1.10 (Debian 12) signs only with ssh-rsa (SHA-1), " +
                              "which OpenSSH 8.8 and later refuse; create an Ed25519 key with " +
                              "`\(ShellQuote.command(["entropy-tunnel", "keys", "generate", "--identity", path]))` (move this one away first)")
        case "ssh-dss":
            throw TunnelError(.privateKey,
                              "private key \(path) is a DSA key, which OpenSSH no longer accepts; " +
                              "create an Ed25519 key with `entropy-tunnel keys generate`")
        case nil:
            throw TunnelError(.privateKey,
                              "\(path) is not an OpenSSH private key (Ed25519 or ECDSA expected); " +
                              "create one with `\(ShellQuote.command(["entropy-tunnel", "keys", "generate", "--identity", path]))`")
        default:
            return
        }
    }
}

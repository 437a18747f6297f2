#if canImport(Glibc)
import Glibc
#endif

/// Who a `serve` session serves: the client key, so that every session and every reconnect of
/// one key shares one budget on the host (`ClientBudget`), whatever connection it comes over.
///
/// In order of trust:
/// 1. `--client SHA256:...`: the fingerprint `keys authorize` writes into the key's own
///    authorized_keys line. sshd runs that line's command only for that key, so the option
///    names the key that logged in; the client cannot change it.
/// 2. The key in sshd's `$SSH_USER_AUTH` file (`ExposeAuthInfo yes`, which the Match block sets):
///    sshd's own record of the key that authenticated. It is what identifies the key when a
///    `ForceCommand` (the Match block's) replaces the line's command and with it `--client`.
/// 3. The address in `$SSH_CLIENT`: all keys connecting from one address share a budget. Coarse,
///    but still per client machine, and still shared across reconnects.
///
/// Without any of them `serve` was not started by sshd (a test, `keys authorize`'s proof): a
/// budget of its own for the one connection, as before.
public struct ServeClient: Sendable, Equatable {
    /// Where the identity came from.
    public enum Source: String, Sendable {
        case option = "--client"
        case userAuth = "SSH_USER_AUTH"
        case address = "SSH_CLIENT"
    }

    /// `SHA256:...` for a key, the address for `SSH_CLIENT`.
    public var id: String
    public var source: Source

    public init(id: String, source: Source) {
        self.id = id
        self.source = source
    }

    /// The identity from what `serve` was given; nil when nothing identifies the client.
    ///
    /// - Parameters:
    ///   - option: `--client`.
    ///   - userAuth: the contents of the `$SSH_USER_AUTH` file (`publickey TYPE BASE64` lines).
    ///   - sshClient: `$SSH_CLIENT` (`ADDRESS PORT LOCALPORT`).
    public static func resolve(option: String?, userAuth: String?, sshClient: String?) -> ServeClient? {
        if let option, !option.isEmpty { return ServeClient(id: option, source: .option) }
        if let userAuth {
            for line in userAuth.split(separator: "\n") where line.hasPrefix("publickey ") {
                if let key = try? PublicKey(parsing: String(line.dropFirst("publickey ".count))) {
                    return ServeClient(id: key.fingerprint, source: .userAuth)
                }
            }
        }
        if let address = sshClient?.split(separator: " ").first, !address.isEmpty {
            return ServeClient(id: String(address), source: .address)
        }
        return nil
    }

    /// `resolve` from the process's environment (`SSH_USER_AUTH` names a file sshd wrote; it is
    /// read without following a link, at most 64 KiB).
    public static func fromEnvironment(option: String?) -> ServeClient? {
        let userAuth = getenv("SSH_USER_AUTH").flatMap { path -> String? in
            let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
            var bytes = [UInt8](repeating: 0, count: 64 << 10)
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            return n > 0 ? String(decoding: bytes[0..<n], as: UTF8.self) : nil
        }
        let sshClient = getenv("SSH_CLIENT").map { String(cString: $0) }
        return resolve(option: option, userAuth: userAuth, sshClient: sshClient)
    }

    /// The file-name stem of this client's budget files: 32 hex digits of SHA-256 of the id
    /// (an id is not a safe file name: `/` in base64, anything in an address).
    public var fileStem: String {
        let digits = Array("0123456789abcdef".utf8)
        let hash = SHA256.hash(Array((source == .address ? "address " : "key ").utf8) + Array(id.utf8)).prefix(16)
        return String(decoding: hash.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }

    /// For the log: `SHA256:... (--client)`.
    public var description: String { "\(id) (\(source.rawValue))" }
}

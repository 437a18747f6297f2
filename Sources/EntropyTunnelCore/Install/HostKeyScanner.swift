import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Fetches an entropy host's key the way the tunnel will later see it: a real key exchange with
/// libssh2 (`SSHSession.handshake`), stopped before authentication.
///
/// libssh2 prefers ECDSA host keys while administrators usually compare the Ed25519 one, so a
/// scan can ask for one key type. libssh2 only narrows the offered types to pinned ones, so the
/// preference is expressed with a throw-away known_hosts file that "pins" a placeholder key of
/// that type.
public enum HostKeyScanner {
    /// The order in which `scanAll` asks for key types (OpenSSH's own preference).
    public static let preference: [HostKeyType] = [.ed25519, .ecdsa256, .ecdsa384, .ecdsa521, .rsa]

    /// The host key `host` sends when asked for `type` (nil: libssh2's default choice).
    /// Throws `.hostKeyMismatch` when the host has no key of that type.
    public static func scan(
        _ host: HostSpec, type: HostKeyType?, timeout: Duration = .seconds(10), logger: Logger
    ) async throws(TunnelError) -> PublicKey {
        try await BlockingThread.run(name: "et-keyscan") { () throws(TunnelError) -> PublicKey in
            var options = ConnectionOptions(host: host)
            options.connectTimeout = timeout
            var placeholder: String?
            if let type {
                placeholder = try writePlaceholder(for: host, type: type)
                options.knownHosts = placeholder!
            } else {
                options.knownHosts = "/nonexistent/entropy-tunnel-keyscan"
            }
            defer { if let placeholder { SafeFile.removePrivateDirectory(FileSystem.parent(of: placeholder)) } }
            var found: PublicKey?
            let session = try SSHSession.handshake(options, waker: nil, logger: logger) { (session, _) throws(TunnelError) in
                let (blob, keyType) = try session.hostKey()
                found = PublicKey(type: keyType, blob: blob)
            }
            session.disconnect("host key scan done")
            session.close()
            guard let found else { throw TunnelError(.protocolError, "\(host) sent no host key") }
            return found
        }
    }

    /// Every host key `host` offers, in `preference` order (one connection per type).
    public static func scanAll(
        _ host: HostSpec, timeout: Duration = .seconds(10), logger: Logger
    ) async throws(TunnelError) -> [PublicKey] {
        var keys: [PublicKey] = []
        for type in preference {
            do throws(TunnelError) {
                keys.append(try await scan(host, type: type, timeout: timeout, logger: logger))
            } catch where error.code == .hostKeyMismatch || error.code == .configuration {
                continue  // the host has no key of this type (or libssh2 cannot use it)
            }
        }
        return keys
    }

    /// The preferred key: Ed25519 when the host has one, else libssh2's choice.
    public static func scanPreferred(
        _ host: HostSpec, timeout: Duration = .seconds(10), logger: Logger
    ) async throws(TunnelError) -> PublicKey {
        do throws(TunnelError) {
            return try await scan(host, type: .ed25519, timeout: timeout, logger: logger)
        } catch where error.code == .hostKeyMismatch {
            return try await scan(host, type: nil, timeout: timeout, logger: logger)
        }
    }

    /// A temporary known_hosts file pinning a placeholder key of `type` for `host`, in a private
    /// directory of its own (removed with `SafeFile.removePrivateDirectory` of its parent).
    private static func writePlaceholder(for host: HostSpec, type: HostKeyType) throws(TunnelError) -> String {
        let directory = try SafeFile.makePrivateDirectory()
        let path = directory + "/known_hosts"
        let line = KnownHostsFile.entry(host: host, key: PublicKey(type: type, blob: placeholderBlob(type)))
        do throws(TunnelError) {
            try SafeFile.write(path, Array((line + "\n").utf8), mode: 0o600, policy: .runtime)
        } catch {
            SafeFile.removePrivateDirectory(directory)
            throw error
        }
        return path
    }

    /// A syntactically valid key blob of `type` that matches no real key.
    private static func placeholderBlob(_ type: HostKeyType) -> [UInt8] {
        func string(_ bytes: [UInt8]) -> [UInt8] {
            let n = UInt32(bytes.count)
            return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + bytes
        }
        let name = Array(type.rawValue.utf8)
        switch type {
        case .ed25519: return string(name) + string([UInt8](repeating: 0, count: 32))
        case .ecdsa256: return string(name) + string(Array("nistp256".utf8)) + string([4] + [UInt8](repeating: 0, count: 64))
        case .ecdsa384: return string(name) + string(Array("nistp384".utf8)) + string([4] + [UInt8](repeating: 0, count: 96))
        case .ecdsa521: return string(name) + string(Array("nistp521".utf8)) + string([4] + [UInt8](repeating: 0, count: 132))
        case .rsa: return string(name) + string([1, 0, 1]) + string([UInt8](repeating: 0, count: 257))
        }
    }
}

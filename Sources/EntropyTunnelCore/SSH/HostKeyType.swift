import CLibSSH2

/// The host key types entropy-tunnel can pin, with their libssh2 and OpenSSH names.
public enum HostKeyType: String, CaseIterable, Sendable {
    case ed25519 = "ssh-ed25519"
    case ecdsa256 = "ecdsa-sha2-nistp256"
    case ecdsa384 = "ecdsa-sha2-nistp384"
    case ecdsa521 = "ecdsa-sha2-nistp521"
    case rsa = "ssh-rsa"

    /// From `libssh2_session_hostkey()`'s type.
    init?(libssh2Type: Int32) {
        switch libssh2Type {
        case LIBSSH2_HOSTKEY_TYPE_ED25519: self = .ed25519
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: self = .ecdsa256
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: self = .ecdsa384
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: self = .ecdsa521
        case LIBSSH2_HOSTKEY_TYPE_RSA: self = .rsa
        default: return nil
        }
    }

    /// From the key-type string at the start of a key blob or a known_hosts line.
    public init?(name: String) { self.init(rawValue: name) }

    /// The `LIBSSH2_KNOWNHOST_KEY_*` bits for `libssh2_knownhost_checkp()`.
    var knownHostBits: Int32 {
        switch self {
        case .ed25519: return LIBSSH2_KNOWNHOST_KEY_ED25519
        case .ecdsa256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256
        case .ecdsa384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384
        case .ecdsa521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521
        case .rsa: return LIBSSH2_KNOWNHOST_KEY_SSHRSA
        }
    }

    /// The host-key algorithm names to prefer in key exchange for this key type.
    var hostKeyAlgorithms: [String] {
        self == .rsa ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [rawValue]
    }
}

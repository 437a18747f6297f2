import CLibSSH2
#if canImport(Glibc)
import Glibc
#endif

/// The pinned host keys: an OpenSSH-format known_hosts file read by libssh2
/// (`libssh2_knownhost_readfile`), plain and hashed entries, `host` and `[host]:port`.
final class KnownHosts {
    let path: String
    private let raw: OpaquePointer
    /// Whether the file existed; a missing file pins nothing.
    let fileExists: Bool

    /// Reads `path` for use with `session` (libssh2 ties the collection to a session).
    init(path: String, session: OpaquePointer) throws(TunnelError) {
        self.path = path
        guard let raw = libssh2_knownhost_init(session) else {
            throw TunnelError(.system, "libssh2_knownhost_init failed")
        }
        self.raw = raw
        var st = stat()
        fileExists = stat(path, &st) == 0
        guard fileExists else { return }
        if access(path, R_OK) != 0 {
            throw TunnelError(.configuration,
                              "cannot read known_hosts file \(path): \(String(cString: strerror(errno)))")
        }
        let rc = libssh2_knownhost_readfile(raw, path, LIBSSH2_KNOWNHOST_FILE_OPENSSH)
        if rc < 0 {
            throw TunnelError(.configuration,
                              "cannot parse known_hosts file \(path) (libssh2 error \(rc)); " +
                              "each line must be 'HOST KEYTYPE BASE64KEY' as OpenSSH writes it")
        }
    }

    deinit { libssh2_knownhost_free(raw) }

    enum Check {
        case match
        case notFound
        /// The host is pinned, with a different key; `pinnedKey` is the pinned entry's blob.
        case mismatch(pinnedKey: [UInt8]?)
    }

    /// Checks `key` (a raw key blob) of `type` for `host`, by `libssh2_knownhost_checkp()`.
    func check(host: HostSpec, key: [UInt8], type: HostKeyType) -> Check {
        var entry: UnsafeMutablePointer<libssh2_knownhost>?
        let typemask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | type.knownHostBits
        let rc = key.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                libssh2_knownhost_checkp(raw, host.host, Int32(host.port), $0.baseAddress, $0.count, typemask, &entry)
            }
        }
        switch rc {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH: return .match
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
            let pinned = entry.flatMap { $0.pointee.key }.flatMap { Base64.decode(String(cString: $0)) }
            return .mismatch(pinnedKey: pinned)
        default: return .notFound
        }
    }

    /// The key types pinned for `host`, in OpenSSH's preference order.
    ///
    /// libssh2 has no call that lists a host's entries (hashed names need the lookup), so each
    /// type is probed with `checkp()` and a key that cannot match: "mismatch" means that a key
    /// of that type is pinned for the host.
    func pinnedTypes(for host: HostSpec) -> [HostKeyType] {
        let probe = [UInt8](repeating: 0, count: 32)
        return HostKeyType.allCases.filter { type in
            if case .mismatch = check(host: host, key: probe, type: type) { return true }
            return false
        }
    }
}

import CLibSSH2
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// libssh2's global state, set up once for the process (`libssh2_init`).
private let libssh2InitResult: Int32 = libssh2_init(0)

/// One authenticated SSH connection to an entropy host, driven non-blocking by `poll()`.
///
/// Owns the TCP socket and the `LIBSSH2_SESSION`. Teardown is explicit and ordered: the owner
/// frees the channel (`SSHChannel.free`), then calls `close()`, which frees the session and
/// then closes the socket; `deinit` only does the same as a fallback. Everything that uses the
/// session's handle (a channel) holds the session strongly, so it cannot be freed first. Not
/// thread-safe: one connection lives on one thread (the tunnel's pump thread) from connect to close.
public final class SSHSession {
    public let endpoint: HostSpec
    let socket: Int32
    /// The session handle; valid until `close()`.
    let raw: OpaquePointer
    /// Set by `close()`: the handle and the socket are gone.
    private(set) var isClosed = false
    let waker: Waker?
    let logger: Logger
    /// The host key's fingerprint as `ssh-keygen -l` prints it, and its type.
    public private(set) var hostKeyFingerprint = ""
    public private(set) var hostKeyType: HostKeyType?
    /// The private key the host accepted: the identity, or its `.old` predecessor during a key
    /// rotation (see `connect`).
    public private(set) var authenticatedIdentity = ""

    private init(endpoint: HostSpec, socket: Int32, raw: OpaquePointer, waker: Waker?, logger: Logger) {
        self.endpoint = endpoint
        self.socket = socket
        self.raw = raw
        self.waker = waker
        self.logger = logger
    }

    deinit { close() }

    /// Frees the session (`libssh2_session_free`), then closes the socket. Idempotent. Channels
    /// should have been freed first (`SSHChannel.free`); say goodbye first with `disconnect`.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        // A channel whose quick free would have blocked (a stream dropped mid-way) makes
        // libssh2_session_free return EAGAIN before it frees anything: the whole session leaked.
        // With the socket shut down no call can block, so the free completes.
        shutdown(socket, Int32(SHUT_RDWR))
        var attempts = 0
        while libssh2_session_free(raw) == LIBSSH2_ERROR_EAGAIN && attempts < 8 { attempts += 1 }
        Glibc.close(socket)
    }

    /// Connects, checks the host key against the pinned ones **before** authenticating, and
    /// authenticates with the user's key. Everything must finish before the connect timeout.
    public static func connect(
        _ options: ConnectionOptions, waker: Waker?, logger: Logger
    ) throws(TunnelError) -> SSHSession {
        try PrivateKeyFile.check(options.identity)
        let session = try handshake(options, waker: waker, logger: logger) { (session, knownHosts) throws(TunnelError) in
            try session.verifyHostKey(against: knownHosts)
        }
        do throws(TunnelError) {
            let deadline = Instant.now + options.connectTimeout
            do throws(TunnelError) {
                try session.authenticate(user: options.user, identity: options.identity, deadline: deadline)
            } catch where error.code == .authenticationFailed && options.allowPreviousIdentity {
                // During a key rotation (`keys rotate`) the host may know only the previous key
                // yet: a second attempt in the same session, as OpenSSH tries several keys.
                let previous = KeyRotation.previousIdentity(of: options.identity)
                guard FileSystem.exists(previous), (try? PrivateKeyFile.check(previous)) != nil else { throw error }
                do throws(TunnelError) {
                    try session.authenticate(user: options.user, identity: previous, deadline: deadline)
                } catch where error.code == .authenticationFailed {
                    throw TunnelError(.authenticationFailed, error.message + " (the new key \(options.identity) was refused too)")
                }
            }
        } catch {
            session.disconnect("authentication failed", within: .zero)
            session.close()
            throw error
        }
        return session
    }

    /// Connects and completes key exchange, then hands the session and the pinned keys to
    /// `check`, which decides whether to go on (it throws to refuse).
    ///
    /// The host-key algorithms offered follow the key types pinned for the host, as OpenSSH
    /// does; with nothing pinned, libssh2's default order applies.
    static func handshake(
        _ options: ConnectionOptions, waker: Waker?, logger: Logger,
        check: (SSHSession, KnownHosts) throws(TunnelError) -> Void
    ) throws(TunnelError) -> SSHSession {
        guard libssh2InitResult == 0 else { throw TunnelError(.system, "libssh2_init failed") }
        let deadline = Instant.now + options.connectTimeout
        let fd = try TCPConnection.connect(
            to: options.host, deadline: deadline, waker: waker,
            keepaliveIdle: options.keepaliveInterval, keepaliveCount: options.keepaliveCount)
        guard let raw = clibssh2_session_init() else {
            Glibc.close(fd)
            throw TunnelError(.system, "libssh2_session_init failed (out of memory?)")
        }
        let session = SSHSession(endpoint: options.host, socket: fd, raw: raw, waker: waker, logger: logger)
        do throws(TunnelError) {
            try session.negotiate(options, deadline: deadline, check: check)
        } catch {
            session.close()
            throw error
        }
        return session
    }

    /// Key exchange, the caller's host-key check, keepalive set-up: the part of `handshake` after
    /// the session exists.
    private func negotiate(
        _ options: ConnectionOptions, deadline: Instant,
        check: (SSHSession, KnownHosts) throws(TunnelError) -> Void
    ) throws(TunnelError) {
        let session = self
        let fd = socket
        libssh2_session_set_blocking(raw, 0)
        let knownHosts = try KnownHosts(path: options.knownHosts)
        for w in knownHosts.warnings { logger.warning("\(w)") }
        let pinned = knownHosts.pinnedTypes(for: options.host)
        if !pinned.isEmpty {
            // Only methods this libssh2 has: libssh2 1.10 removes an unknown one from the list with
            // an overlapping memcpy (undefined behaviour, reported by AddressSanitizer).
            let supported = supportedHostKeyMethods
            let wanted = pinned.flatMap(\.hostKeyAlgorithms)
            let preference = wanted.filter { supported.contains($0) }.joined(separator: ",")
            if preference.isEmpty || libssh2_session_method_pref(raw, LIBSSH2_METHOD_HOSTKEY, preference) != 0 {
                throw TunnelError(.configuration,
                                  "libssh2 supports none of the host key types pinned for \(options.host) " +
                                  "in \(options.knownHosts) (\(wanted.joined(separator: ",")))")
            }
        }
        try ServerBanner.wait(on: fd, endpoint: endpoint, deadline: deadline, waker: waker)
        let rc = try session.perform("key exchange", deadline: deadline) {
            libssh2_session_handshake(raw, fd)
        }
        if rc == LIBSSH2_ERROR_KEX_FAILURE && !pinned.isEmpty {
            throw TunnelError(.hostKeyMismatch,
                              "\(options.host) offers none of the host key types pinned for it in " +
                              "\(options.knownHosts) (\(pinned.map(\.rawValue).joined(separator: ", "))); " +
                              "if the host was reinstalled, check its new key and run " +
                              "`\(ShellQuote.command(["entropy-tunnel", "keys", "trust", options.host.description]))`")
        }
        try session.check(rc, "key exchange")
        try check(session, knownHosts)
        // want_reply=1: every keepalive draws an answer, so a live host is heard from at least
        // once per interval even while the channel is stalled by backpressure.
        libssh2_keepalive_config(raw, 1, UInt32(clamping: options.keepaliveInterval.nanoseconds / 1_000_000_000))
    }

    /// The host-key methods this libssh2 implements (`libssh2_session_supported_algs`).
    var supportedHostKeyMethods: Set<String> {
        var list: UnsafeMutablePointer<UnsafePointer<CChar>?>?
        let count = libssh2_session_supported_algs(raw, LIBSSH2_METHOD_HOSTKEY, &list)
        guard count > 0, let list else { return [] }
        defer { libssh2_free(raw, UnsafeMutableRawPointer(mutating: list)) }
        return Set((0..<Int(count)).compactMap { list[$0].map { String(cString: $0) } })
    }

    /// The host key sent in key exchange: its blob and type.
    public func hostKey() throws(TunnelError) -> (blob: [UInt8], type: HostKeyType) {
        var length = 0
        var type: Int32 = 0
        guard let pointer = libssh2_session_hostkey(raw, &length, &type), length > 0 else {
            throw TunnelError(.protocolError, "\(endpoint) sent no host key")
        }
        let blob = [UInt8](UnsafeRawBufferPointer(start: pointer, count: length))
        guard let keyType = HostKeyType(libssh2Type: type) else {
            throw TunnelError(.protocolError, "\(endpoint) sent a host key of an unsupported type (\(type))")
        }
        return (blob, keyType)
    }

    /// Refuses unless the host key is pinned in `knownHosts`; never falls through.
    func verifyHostKey(against knownHosts: KnownHosts) throws(TunnelError) {
        let (blob, type) = try hostKey()
        let fingerprint = sha256Fingerprint(ofKeyBlob: blob)
        hostKeyFingerprint = fingerprint
        hostKeyType = type
        switch knownHosts.check(host: endpoint, key: blob, type: type) {
        case .match:
            logger.debug("host key verified", metadata: ["host": "\(endpoint)", "key": "\(type.rawValue) \(fingerprint)"])
        case .notFound:
            let missing = knownHosts.fileExists ? "is not pinned in \(knownHosts.path)" : "cannot be checked: \(knownHosts.path) does not exist"
            throw TunnelError(.hostKeyUnknown,
                              "host key of \(endpoint) (\(type.rawValue) \(fingerprint)) \(missing); " +
                              "compare it with `ssh-keygen -lf /etc/ssh/ssh_host_\(type.fileStem)_key.pub` on the host, then pin it with " +
                              "`\(ShellQuote.command(["entropy-tunnel", "keys", "trust", endpoint.description, "--known-hosts", knownHosts.path, "--fingerprint", fingerprint]))`")
        case .revoked:
            throw TunnelError(.hostKeyMismatch,
                              "host key of \(endpoint) (\(type.rawValue) \(fingerprint)) is marked @revoked in \(knownHosts.path); " +
                              "refusing to connect. A revoked key was retired or compromised: give the host a new host key, check it and " +
                              "pin it with `\(ShellQuote.command(["entropy-tunnel", "keys", "trust", endpoint.description, "--known-hosts", knownHosts.path]))`; " +
                              "if the key was revoked by mistake, remove its @revoked line from \(knownHosts.path)")
        case .mismatch(let pinnedKey):
            let expected = pinnedKey.map { sha256Fingerprint(ofKeyBlob: $0) } ?? "(unreadable entry)"
            throw TunnelError(.hostKeyMismatch,
                              "HOST KEY MISMATCH for \(endpoint): \(knownHosts.path) pins \(type.rawValue) \(expected), " +
                              "but the host sent \(fingerprint). Someone may be intercepting the connection, or the host " +
                              "was reinstalled. Refusing to connect. If the change is expected, remove the old entry " +
                              "(`\(ShellQuote.command(["ssh-keygen", "-R", endpoint.knownHostsName, "-f", knownHosts.path]))`) and run " +
                              "`\(ShellQuote.command(["entropy-tunnel", "keys", "trust", endpoint.description]))`")
        }
    }

    /// Public-key authentication with an OpenSSH-format private key
    /// (`libssh2_userauth_publickey_fromfile_ex`, the public half derived from it).
    func authenticate(user: String, identity: String, deadline: Instant) throws(TunnelError) {
        let rc = try perform("authentication", deadline: deadline) {
            libssh2_userauth_publickey_fromfile_ex(raw, user, UInt32(user.utf8.count), nil, identity, nil)
        }
        switch rc {
        case 0:
            authenticatedIdentity = identity
            logger.debug("authenticated", metadata: ["host": "\(endpoint)", "user": "\(user)", "identity": "\(identity)"])
        case LIBSSH2_ERROR_AUTHENTICATION_FAILED, LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
            // The key itself when its .pub reads as one: the line to run on the host (which
            // `status` shows as the last error until a host accepts the key).
            let key = (try? FileSystem.read(identity + ".pub", limit: 16 << 10)).flatMap { try? PublicKey(parsing: $0) }
            let keyArgument = key.map { "--key \(ShellQuote.quote($0.line))" } ?? "--key \"$(cat \(ShellQuote.quote(identity + ".pub")))\""
            throw TunnelError(.authenticationFailed,
                              "\(endpoint) refused key \(identity) for user '\(user)'; on the host, add the public key " +
                              "to ~\(user)/.ssh/authorized_keys, for example with " +
                              "`\(ShellQuote.command(["entropy-tunnel", "keys", "authorize", "--user", user])) \(keyArgument)`")
        case LIBSSH2_ERROR_FILE:
            throw TunnelError(.privateKey,
                              "cannot use private key \(identity): \(lastError); is it protected by a passphrase? " +
                              "entropy-tunnel needs a key without one, readable only by its user")
        default:
            try check(rc, "authentication")
        }
    }

    /// Opens a session channel with the given receive window and runs `command` in it.
    public func openExecChannel(command: String, window: ByteSize, deadline: Instant) throws(TunnelError) -> SSHChannel {
        var channelPointer: OpaquePointer?
        while true {
            channelPointer = clibssh2_channel_open_session(raw, UInt32(window.bytes), 32768)
            if channelPointer != nil { break }
            let rc = libssh2_session_last_errno(raw)
            if rc != LIBSSH2_ERROR_EAGAIN { try check(rc, "opening a channel") }
            try waitForSocket(until: deadline, "opening a channel")
        }
        let channel = SSHChannel(session: self, raw: channelPointer!)
        do throws(TunnelError) {
            let rc = try perform("starting the remote command", deadline: deadline) {
                clibssh2_channel_exec(channel.raw, command)
            }
            if rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED {
                throw TunnelError(.remoteCommandFailed, "\(endpoint) refused to run the remote command '\(command)'")
            }
            try check(rc, "starting the remote command")
        } catch {
            channel.free(within: .zero)
            throw error
        }
        return channel
    }

    /// Says goodbye to the host (`libssh2_session_disconnect_ex`), best effort, for at most
    /// `within` (zero: one non-blocking attempt, for a stop that must be quick).
    public func disconnect(_ reason: String, within: Duration = .milliseconds(500)) {
        guard !isClosed else { return }
        _ = try? perform("disconnecting", deadline: .now + within, ignoringStop: true) {
            clibssh2_session_disconnect(raw, reason)
        }
    }

    // MARK: - Driving libssh2 without blocking

    /// Calls `call` until it stops returning `LIBSSH2_ERROR_EAGAIN`, polling the socket in the
    /// directions libssh2 is blocked on between calls. Returns the final return code.
    @discardableResult
    func perform(
        _ what: String, deadline: Instant, ignoringStop: Bool = false, _ call: () -> Int32
    ) throws(TunnelError) -> Int32 {
        while true {
            let rc = call()
            if rc != LIBSSH2_ERROR_EAGAIN { return rc }
            try waitForSocket(until: deadline, what, ignoringStop: ignoringStop)
        }
    }

    /// Polls the socket for what libssh2 waits for (`libssh2_session_block_directions`).
    func waitForSocket(until deadline: Instant, _ what: String, ignoringStop: Bool = false) throws(TunnelError) {
        // Checked before polling: a host that keeps sending would otherwise keep the socket
        // readable, and poll() would never time out.
        guard Instant.now < deadline else {
            throw TunnelError(.timeout, "\(endpoint) did not answer in time (\(what))")
        }
        var poller = Poller()
        poller.add(socket, blockedEvents)
        let wakerIndex = ignoringStop ? nil : waker.map { poller.add($0.fd, .readable) }
        guard try poller.wait(until: deadline) else {
            throw TunnelError(.timeout, "\(endpoint) did not answer in time (\(what))")
        }
        if let wakerIndex, poller.events(at: wakerIndex).contains(.readable) {
            throw TunnelError(.stopped, "stopped during \(what)")
        }
    }

    /// The poll events libssh2 is waiting for; readable when it says nothing.
    var blockedEvents: Poller.Events {
        let directions = libssh2_session_block_directions(raw)
        var events: Poller.Events = []
        if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events.insert(.readable) }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events.insert(.writable) }
        return events.isEmpty ? .readable : events
    }

    /// libssh2's description of its last error.
    var lastError: String {
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        libssh2_session_last_error(raw, &message, &length, 0)
        return message.map { String(cString: $0) } ?? "unknown error"
    }

    /// What a lost connection means, in words an administrator reads in the journal (libssh2's
    /// own text, e.g. "transport read", only when it adds something).
    static func plainReason(_ rc: Int32, detail: String) -> String {
        switch rc {
        case LIBSSH2_ERROR_SOCKET_DISCONNECT: return "the host closed the connection"
        case LIBSSH2_ERROR_SOCKET_RECV: return "the connection broke (reset, or closed by the host or the network)"
        case LIBSSH2_ERROR_SOCKET_SEND: return "could not send to the host (the connection broke)"
        case LIBSSH2_ERROR_SOCKET_TIMEOUT: return "the host stopped answering (timed out)"
        case LIBSSH2_ERROR_BANNER_RECV, LIBSSH2_ERROR_BANNER_SEND:
            return "the host closed the connection before the SSH greeting (is it an SSH server? sshd's MaxStartups?)"
        case LIBSSH2_ERROR_CHANNEL_CLOSED, LIBSSH2_ERROR_CHANNEL_EOF_SENT:
            return "the host closed the channel of the RNG command"
        default: return detail
        }
    }

    /// Throws a descriptive error for a negative libssh2 return code.
    func check(_ rc: Int32, _ what: String) throws(TunnelError) {
        guard rc < 0 else { return }
        throw error(for: rc, what)
    }

    func error(for rc: Int32, _ what: String) -> TunnelError {
        switch rc {
        case LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_SEND,
             LIBSSH2_ERROR_SOCKET_TIMEOUT, LIBSSH2_ERROR_BANNER_RECV, LIBSSH2_ERROR_BANNER_SEND,
             LIBSSH2_ERROR_CHANNEL_CLOSED, LIBSSH2_ERROR_CHANNEL_EOF_SENT:
            return TunnelError(.connectionLost, "connection to \(endpoint) lost while \(what): \(Self.plainReason(rc, detail: lastError))")
        default:
            return TunnelError(.protocolError, "SSH error with \(endpoint) during \(what): \(lastError) (libssh2 error \(rc))")
        }
    }
}

extension HostKeyType {
    /// The middle of the host's key file name: /etc/ssh/ssh_host_<stem>_key.pub.
    var fileStem: String {
        switch self {
        case .ed25519: return "ed25519"
        case .ecdsa256, .ecdsa384, .ecdsa521: return "ecdsa"
        case .rsa: return "rsa"
        }
    }
}

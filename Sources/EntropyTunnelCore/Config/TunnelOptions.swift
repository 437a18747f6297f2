/// Everything one connection to an entropy host needs, with the documented defaults.
public struct ConnectionOptions: Sendable, Hashable {
    public var host: HostSpec
    public var user: String = "entropy"
    public var identity: String = "/etc/entropy-tunnel/id_ed25519"
    public var knownHosts: String = "/etc/entropy-tunnel/known_hosts"
    /// The command run on the host; a host whose key forces a command ignores it.
    public var remoteCommand: String = ConnectionOptions.defaultRemoteCommand
    /// The SSH channel receive window: the main bound on what the host produces ahead of use.
    public var window: ByteSize = .kib(64)
    /// Time allowed for TCP connect plus SSH handshake, authentication and channel setup.
    public var connectTimeout: Duration = .seconds(10)
    /// A keepalive goes out after this long without traffic from the host.
    public var keepaliveInterval: Duration = .seconds(15)
    /// The host is declared dead after this many keepalive intervals without traffic.
    public var keepaliveCount: Int = 3
    /// A host that answers keepalives but sends no data for this long (while we have room for
    /// it) has failed.
    public var dataTimeout: Duration = .seconds(60)
    /// When the host refuses `identity`, try `identity.old` (the key `keys rotate` replaced) in
    /// the same session. Off only for the daemon's probe of the new key.
    public var allowPreviousIdentity = true

    public static let defaultRemoteCommand = "dd if=/dev/hwrng bs=512 status=none"
    /// The smallest `--window`.
    public static let minimumWindow = 4096

    public init(host: HostSpec) { self.host = host }

    /// How long a silent host is tolerated: keepalive interval × count.
    public var deadPeerTimeout: Duration { keepaliveInterval * keepaliveCount }

    /// Checks values that are well-formed but cannot work, with a message naming the option.
    public func validate() throws(TunnelError) {
        if user.isEmpty { throw TunnelError(.invalidArgument, "--user must not be empty") }
        if remoteCommand.trimmingSpaces.isEmpty {
            throw TunnelError(.invalidArgument, "--remote-command must not be empty")
        }
        if window.bytes < Self.minimumWindow || window.bytes > 64 << 20 {
            throw TunnelError(.invalidArgument,
                              "--window \(window) is out of range: use 4K to 64M (default 64K)")
        }
        if keepaliveInterval < .seconds(1) {
            throw TunnelError(.invalidArgument, "--keepalive-interval must be at least 1 second")
        }
        if !(1...1000).contains(keepaliveCount) {
            throw TunnelError(.invalidArgument, "--keepalive-count \(keepaliveCount) is out of range: use 1 to 1000")
        }
        for (name, value) in [("--keepalive-interval", keepaliveInterval), ("--connect-timeout", connectTimeout),
                              ("--data-timeout", dataTimeout)] where value > .seconds(86_400) {
            throw TunnelError(.invalidArgument, "\(name) \(value.seconds) is out of range: at most 86400 seconds (a day)")
        }
        if dataTimeout < .seconds(1) {
            throw TunnelError(.invalidArgument, "--data-timeout must be at least 1 second")
        }
        if connectTimeout < .milliseconds(100) {
            throw TunnelError(.invalidArgument, "--connect-timeout must be at least 0.1 seconds")
        }
    }
}

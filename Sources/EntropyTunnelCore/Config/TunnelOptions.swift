/// Everything one connection to an entropy host needs.
///
/// The fields that hold a setting's value get the table's defaults (`Settings`) from
/// `init(host:)`; their initial values below are only placeholders for Swift.
public struct ConnectionOptions: Sendable, Hashable {
    public var host: HostSpec
    public var user = ""
    public var identity = ""
    public var knownHosts = ""
    /// The command run on the host; a host whose key forces a command ignores it.
    public var remoteCommand = ""
    /// The SSH channel receive window: the main bound on what the host produces ahead of use.
    public var window = ByteSize(bytes: 0)
    /// Time allowed for TCP connect plus SSH handshake, authentication and channel setup.
    public var connectTimeout: Duration = .zero
    /// A keepalive goes out after this long without traffic from the host.
    public var keepaliveInterval: Duration = .zero
    /// The host is declared dead after this many keepalive intervals without traffic.
    public var keepaliveCount = 0
    /// A host that answers keepalives but sends no data for this long (while we have room for
    /// it) has failed.
    public var dataTimeout: Duration = .zero
    /// When the host refuses `identity`, try `identity.old` (the key `keys rotate` replaced) in
    /// the same session. Off only for the daemon's probe of the new key.
    public var allowPreviousIdentity = true

    /// The reader a host without `entropy-tunnel serve` runs (`remote_command`'s default).
    public static let defaultRemoteCommand = "dd if=/dev/hwrng bs=512 status=none"
    /// The smallest `--window`.
    public static let minimumWindow = 4096

    /// The table's defaults, for a connection to `host`.
    public init(host: HostSpec) {
        self = RunConfiguration(hosts: [host]).connection
    }

    /// Placeholders only: `RunConfiguration(hosts:)` applies the table's defaults.
    init(placeholderFor host: HostSpec) { self.host = host }

    /// The most one attempt on one host may take when it goes wrong: the connect timeout for the
    /// SSH set-up, then the data timeout for the stream (the per-host bound `check` and `fetch`
    /// state in their help).
    public var attemptBound: Duration { connectTimeout + dataTimeout }

    /// How long a silent host is tolerated: keepalive interval × count.
    public var deadPeerTimeout: Duration { keepaliveInterval * keepaliveCount }

    /// Checks every value against the table's kinds and ranges, with a message naming the option.
    public func validate() throws(TunnelError) {
        var configuration = RunConfiguration(hosts: [host])
        configuration.connection = self
        try configuration.validate()
    }
}

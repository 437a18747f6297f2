import Logging

/// The health-test state of one host: its `HealthTester` (the RCT run, the failure streak, the
/// verdicts of the last 64 windows). Kept by the supply loop per host, across connections,
/// pauses, on-demand fills, probes and reloads, so that "2 failures in the last 64 windows"
/// means windows of that host, not of one session. Lives on the supply thread.
final class HostHealth {
    var tester: HealthTester?

    init(_ parameters: HealthParameters?) {
        tester = parameters.map { HealthTester(parameters: $0) }
    }
}

/// One connection to one entropy host: the SSH session and exec channel, the stream read from
/// it (`StreamReader`: serve or plain, what was asked, the data clock), and the host's health
/// state, all owned together so that pausing the stream (a probe of another host, a reload)
/// forgets nothing. Everything here blocks (in `poll()` only) on the supply thread.
final class Connection {
    let options: ConnectionOptions
    let session: SSHSession
    let channel: SSHChannel
    /// The host's health state (shared with the loop's table; the loop keeps it when this closes).
    let health: HostHealth
    var reader: StreamReader
    let since: Instant

    private init(options: ConnectionOptions, session: SSHSession, channel: SSHChannel, health: HostHealth,
                 reader: StreamReader, since: Instant) {
        self.options = options
        self.session = session
        self.channel = channel
        self.health = health
        self.reader = reader
        self.since = since
    }

    deinit { close(quickly: true) }

    /// Connects to `options.host`, checks its key, authenticates, and starts the remote command,
    /// all within the connect timeout; logs `connected`.
    static func open(_ options: ConnectionOptions, health: HostHealth, waker: Waker, stats: TunnelStats?,
                     logger: Logger) throws(TunnelError) -> Connection {
        let started = Instant.now
        let session = try SSHSession.connect(options, waker: waker, logger: logger)
        let channel: SSHChannel
        do throws(TunnelError) {
            channel = try session.openExecChannel(
                command: options.remoteCommand, window: options.window, deadline: started + options.connectTimeout)
        } catch {
            session.disconnect("entropy-tunnel: cannot start the remote command", within: .zero)
            session.close()
            throw error
        }
        logger.info("connected", metadata: [
            "host": "\(options.host)", "user": "\(options.user)",
            "hostkey": "\(session.hostKeyType?.rawValue ?? "?") \(session.hostKeyFingerprint)",
            "window": "\(options.window)", "setup_ms": "\((Instant.now - started).nanoseconds / 1_000_000)",
        ])
        let now = Instant.now
        let reader = StreamReader(endpoint: options.host, liveness: Liveness(
            deadPeerTimeout: options.deadPeerTimeout, dataTimeout: options.dataTimeout,
            window: HealthParameters.windowSize, now: now), stats: stats, logger: logger)
        return Connection(options: options, session: session, channel: channel, health: health, reader: reader, since: now)
    }

    /// Tears the connection down in order: frees the channel, says goodbye, frees the session,
    /// closes the socket. `quickly` (a stop) makes one non-blocking attempt at each goodbye
    /// instead of waiting up to 200 ms. Idempotent.
    func close(quickly: Bool = false) {
        let grace: Duration = quickly ? .zero : .milliseconds(200)
        channel.free(within: grace)
        session.disconnect("entropy-tunnel closing", within: grace)
        session.close()
    }

    /// The private key the host accepted: the identity, or `IDENTITY.old` during a rotation.
    var authenticatedIdentity: String { session.authenticatedIdentity }
    var usesPreviousKey: Bool { session.authenticatedIdentity != options.identity }
    /// `TYPE SHA256:...`, as `ssh-keygen -l` prints the host key.
    var hostKey: String { "\(session.hostKeyType?.rawValue ?? "?") \(session.hostKeyFingerprint)" }
}

import Logging

/// One connection to one entropy host: connected, host key verified, authenticated, and the
/// remote reader started; ready to be pumped, possibly several times (the daemon pauses a
/// fallback connection while it probes a preferred host, and goes on with it if the probe fails).
///
/// Everything here blocks (in `poll()` only) and runs on a thread of its own.
public final class TunnelConnection {
    /// How one pump ended without failing.
    public enum Outcome: Sendable {
        case limitReached
        case stopped
        /// The `until` instant passed, or a reload interrupted, while the stream was flowing.
        case timeUp
    }

    /// What a pump needs besides the connection.
    public struct PumpSettings: Sendable {
        public var readChunk = 16 << 10
        /// Stop once the connection has delivered this many bytes in all, over all its pumps
        /// (a second fill of n bytes passes `delivered + n`); nil for no limit. With a `serve`
        /// host exactly the bytes still needed are requested, rounded up to whole health
        /// windows; the pump ends with `.limitReached` and the connection stays usable.
        public var byteLimit: Int?
        public var health: HealthParameters? = .default
        public var healthFailureLimit = 3
        public var until: Instant = .distantFuture
        /// Ends the pump with `.timeUp` when a new configuration is offered (a reload).
        public var interrupt: ConfigurationReloads?

        public init() {}
    }

    public let options: ConnectionOptions
    let session: SSHSession
    let channel: SSHChannel
    private let logger: Logger
    /// Serve or plain, and what was asked of a serve host: kept from one pump to the next.
    private var stream = StreamState()
    /// Bytes this connection has delivered, over all its pumps.
    public private(set) var delivered = 0
    /// The serve protocol version the host greeted with; nil for a plain reader (or before its first bytes).
    package var serveVersion: Int? {
        if case .serve(let version) = stream.greeting.kind { version } else { nil }
    }

    private init(options: ConnectionOptions, session: SSHSession, channel: SSHChannel, logger: Logger) {
        self.options = options
        self.session = session
        self.channel = channel
        self.logger = logger
    }

    deinit { close(quickly: true) }

    /// Tears the connection down in order: frees the channel, says goodbye, frees the session,
    /// closes the socket. `quickly` (a stop) makes one non-blocking attempt at each goodbye
    /// instead of waiting up to half a second. Idempotent.
    public func close(quickly: Bool = false) {
        let grace: Duration = quickly ? .zero : .milliseconds(200)
        channel.free(within: grace)
        session.disconnect("entropy-tunnel closing", within: grace)
        session.close()
    }

    /// Connects to `options.host` and starts the remote command, all within the connect timeout.
    public static func open(_ options: ConnectionOptions, waker: Waker, logger: Logger) throws(TunnelError) -> TunnelConnection {
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
        return TunnelConnection(options: options, session: session, channel: channel, logger: logger)
    }

    /// Pumps the host's RNG bytes into `sink` until the limit, a stop, the `until` instant, or a
    /// failure. A remote command that ends is a failure (the stream is gone); its stderr is in
    /// the message.
    public func pump(into sink: any ByteSink, settings: PumpSettings, waker: Waker, stats: TunnelStats?) throws(TunnelError) -> Outcome {
        var settings = settings
        if let limit = settings.byteLimit { settings.byteLimit = limit - delivered }
        let pump = ChannelPump(
            channel: channel, sink: sink,
            settings: .init(readChunk: settings.readChunk, byteLimit: settings.byteLimit,
                            deadPeerTimeout: options.deadPeerTimeout, dataTimeout: options.dataTimeout,
                            health: settings.health,
                            healthFailureLimit: settings.healthFailureLimit, until: settings.until,
                            interrupt: settings.interrupt),
            stream: stream, waker: waker, stats: stats, logger: logger)
        defer {
            delivered += pump.delivered
            stream = pump.stream
        }
        switch try pump.run() {
        case .limitReached:
            return .limitReached
        case .stopped:
            return .stopped
        case .timeUp:
            return .timeUp
        case .remoteExited(let exit, let stderr, let received):
            let total = delivered + pump.delivered
            let partial = received > 0
                ? "; the last \(received) bytes it sent were less than one \(HealthParameters.windowSize)-byte " +
                  "health-test window and were not passed on"
                : ""
            logger.notice("remote command ended", metadata: ["host": "\(options.host)", "result": "\(exit)", "bytes": "\(total)"])
            if exit.succeeded && stderr.isEmpty {
                throw TunnelError(.remoteCommandFailed,
                                  "the remote command on \(options.host) ended (\(exit)) after \(total) bytes\(partial); " +
                                  "it must stream without end, like `\(ConnectionOptions.defaultRemoteCommand)`")
            }
            throw TunnelError(.remoteCommandFailed,
                              "the remote command on \(options.host) failed (\(exit)) after \(total) bytes\(partial)\(stderr)")
        }
    }

    /// Connects, pumps until the end, and disconnects: `fetch`'s one-shot use.
    public static func pump(
        _ options: ConnectionOptions, into sink: any ByteSink, settings: PumpSettings,
        waker: Waker, logger: Logger
    ) throws(TunnelError) -> Outcome {
        let connection = try open(options, waker: waker, logger: logger)
        defer { connection.close(quickly: waker.isWoken) }
        return try connection.pump(into: sink, settings: settings, waker: waker, stats: nil)
    }
}

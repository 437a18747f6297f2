import Logging

/// One connection to one entropy host: connect, verify, authenticate, start the reader, pump.
///
/// Everything here blocks (in `poll()` only) and runs on a thread of its own.
public enum TunnelConnection {
    /// How one connection ended without failing.
    public enum Outcome: Sendable {
        case limitReached
        case stopped
        /// The `until` instant passed while the stream was flowing.
        case timeUp
    }

    /// What a pump needs besides the connection options.
    public struct PumpSettings: Sendable {
        public var readChunk = 16 << 10
        public var byteLimit: Int?
        public var health: HealthParameters? = .default
        public var healthFailureLimit = 3
        public var until: Instant = .distantFuture

        public init() {}
    }

    /// Connects to `options.host` and pumps its RNG bytes into `sink` until the limit, a stop,
    /// the `until` instant, or a failure. A remote command that ends is a failure (the stream is
    /// gone); its stderr is in the message.
    ///
    /// - Parameter onConnected: called once the remote command runs, before the first byte.
    public static func pump(
        _ options: ConnectionOptions, into sink: any ByteSink, settings: PumpSettings,
        waker: Waker, stats: TunnelStats?, logger: Logger, onConnected: (() -> Void)? = nil
    ) throws(TunnelError) -> Outcome {
        let started = Instant.now
        let session = try SSHSession.connect(options, waker: waker, logger: logger)
        defer { session.disconnect("entropy-tunnel closing") }
        let channel = try session.openExecChannel(
            command: options.remoteCommand, window: options.window, deadline: started + options.connectTimeout)
        logger.info("connected", metadata: [
            "host": "\(options.host)", "user": "\(options.user)",
            "hostkey": "\(session.hostKeyType?.rawValue ?? "?") \(session.hostKeyFingerprint)",
            "window": "\(options.window)", "setup_ms": "\((Instant.now - started).nanoseconds / 1_000_000)",
        ])
        stats?.update { $0.host = options.host; $0.connected = true; $0.connections += 1 }
        defer { stats?.update { $0.connected = false } }
        onConnected?()

        let pump = ChannelPump(
            channel: channel, sink: sink,
            settings: .init(readChunk: settings.readChunk, byteLimit: settings.byteLimit,
                            deadPeerTimeout: options.deadPeerTimeout, health: settings.health,
                            healthFailureLimit: settings.healthFailureLimit, until: settings.until),
            waker: waker, stats: stats, logger: logger)
        switch try pump.run() {
        case .limitReached:
            return .limitReached
        case .stopped:
            return .stopped
        case .timeUp:
            return .timeUp
        case .remoteExited(let exit, let stderr):
            logger.notice("remote command ended", metadata: ["host": "\(options.host)", "result": "\(exit)", "bytes": "\(pump.delivered)"])
            if exit.succeeded && stderr.isEmpty {
                throw TunnelError(.remoteCommandFailed,
                                  "the remote command on \(options.host) ended (\(exit)) after \(pump.delivered) bytes; " +
                                  "it must stream without end, like `\(ConnectionOptions.defaultRemoteCommand)`")
            }
            throw TunnelError(.remoteCommandFailed,
                              "the remote command on \(options.host) failed (\(exit)) after \(pump.delivered) bytes\(stderr)")
        }
    }
}

import Logging

/// What a reload (SIGHUP, `systemctl reload`) does with a re-read configuration: a value, tested
/// as one.
///
/// The re-read configuration is first checked as `run` checks it at start (`check`: every host
/// listed once, the private key usable, known_hosts readable); one that fails is not applied at
/// all. Then each config-file key is either applied at once (`ReloadClass.appliesAtOnce`: the
/// hosts and everything about reaching them, the backoff cap, the failback interval) or kept at
/// its running value until a restart (`.needsRestart`: the sink, its FIFO and kernel schedule,
/// the connection mode and reserve, the state and metrics files, rngd, the health tests whose
/// entropy estimate the kernel sink credits, the log level); those are named, by key, in
/// `needsRestart`. The class of each key is one row of `rows`, so that a table of settings can
/// carry it.
public struct ConfigurationReload: Sendable {
    /// How a key takes a new value on reload.
    public enum ReloadClass: Sendable, Equatable {
        case appliesAtOnce
        case needsRestart
    }

    /// One config-file key: its reload class, and how to compare (and apply) its value.
    public struct Row: Sendable {
        public let key: String
        public let reload: ReloadClass
        let differs: @Sendable (RunConfiguration, RunConfiguration) -> Bool
        let apply: @Sendable (inout RunConfiguration, RunConfiguration) -> Void

        /// A key that applies at once: compared and copied by `path`.
        static func at<T: Equatable & Sendable>(_ key: String, _ reload: ReloadClass,
                                               _ path: any WritableKeyPath<RunConfiguration, T> & Sendable) -> Row {
            Row(key: key, reload: reload,
                differs: { $0[keyPath: path] != $1[keyPath: path] },
                apply: { $0[keyPath: path] = $1[keyPath: path] })
        }

        /// A key that keeps its running value until a restart: only compared.
        static func restart<T: Equatable & Sendable>(_ key: String, _ path: any KeyPath<RunConfiguration, T> & Sendable) -> Row {
            Row(key: key, reload: .needsRestart, differs: { $0[keyPath: path] != $1[keyPath: path] }, apply: { _, _ in })
        }
    }

    /// Every config-file key: those applied at once, then those that need a restart.
    public static let rows: [Row] = [
        .at("host", .appliesAtOnce, \.hosts),
        .at("port", .appliesAtOnce, \.connection.host.port),
        .at("user", .appliesAtOnce, \.connection.user),
        .at("identity", .appliesAtOnce, \.connection.identity),
        .at("known_hosts", .appliesAtOnce, \.connection.knownHosts),
        .at("remote_command", .appliesAtOnce, \.connection.remoteCommand),
        .at("window", .appliesAtOnce, \.connection.window),
        .at("connect_timeout", .appliesAtOnce, \.connection.connectTimeout),
        .at("keepalive_interval", .appliesAtOnce, \.connection.keepaliveInterval),
        .at("keepalive_count", .appliesAtOnce, \.connection.keepaliveCount),
        .at("data_timeout", .appliesAtOnce, \.connection.dataTimeout),
        .at("backoff_cap", .appliesAtOnce, \.backoff),
        .at("failback_interval", .appliesAtOnce, \.failbackInterval),
        .restart("sink", \.sink),
        .restart("fifo", \.fifoPath),
        .restart("fifo_group", \.fifoGroup),
        .restart("fifo_size", \.fifoSize),
        .restart("kernel_interval", \.kernelInterval),
        .restart("kernel_bytes", \.kernelBytes),
        // The key as written: a mode that only follows a changed sink is the sink's restart.
        .restart("connection", \.connectionChoice),
        .restart("reserve", \.reserve),
        .restart("state_dir", \.stateDirectory),
        .restart("state_file", \.stateFile),
        .restart("metrics_file", \.metricsFile),
        .restart("metrics_interval", \.metricsInterval),
        .restart("rngd", \.rngdPath),
        .restart("rngd_args", \.rngdArguments),
        .restart("health_min_entropy", \.health?.minEntropy),
        .restart("health_alpha", \.health?.alpha),
        .restart("log_level", \.logLevel),
    ]

    /// The configuration to run with from now on.
    public let applied: RunConfiguration
    /// Config-file keys whose new value differs but takes a restart to apply.
    public let needsRestart: [String]
    /// Config-file keys whose new value was applied.
    public let changed: [String]

    /// Checks a re-read configuration as `run` checks its own at start; a reload that fails
    /// this changes nothing.
    public static func check(_ reread: RunConfiguration) throws(TunnelError) {
        try reread.validateForRun()
    }

    public init(running: RunConfiguration, reread: RunConfiguration) {
        var applied = running
        var changed: [String] = []
        var fixed: [String] = []
        for row in Self.rows where row.differs(running, reread) {
            switch row.reload {
            case .appliesAtOnce:
                row.apply(&applied, reread)
                changed.append(row.key)
            case .needsRestart:
                fixed.append(row.key)
            }
        }
        // The port lives in each host spec; the connection's own host is only the first host.
        if changed.contains("host") || changed.contains("port") {
            applied.connection.host = reread.connection.host
        }
        self.applied = applied
        self.changed = changed.filter { $0 != "port" || !changed.contains("host") }
        self.needsRestart = fixed
    }
}

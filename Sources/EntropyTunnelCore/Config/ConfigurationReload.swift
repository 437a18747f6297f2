import Logging

/// What a reload (SIGHUP, `systemctl reload`) does with a re-read configuration: a value, tested
/// as one.
///
/// The connection settings (hosts and everything about reaching them), the backoff cap and the
/// failback interval apply at once; the rest is fixed for the life of the process (the sink,
/// its FIFO and kernel schedule, the state and metrics files, rngd, the health tests whose
/// entropy estimate the kernel sink credits, the log level) and keeps its running value until a
/// restart. Those are named, by their config-file keys, in `needsRestart`.
public struct ConfigurationReload: Sendable {
    /// The configuration to run with from now on.
    public let applied: RunConfiguration
    /// Config-file keys whose new value differs but takes a restart to apply.
    public let needsRestart: [String]
    /// Config-file keys whose new value was applied.
    public let changed: [String]

    public init(running: RunConfiguration, reread: RunConfiguration) {
        var applied = running
        var changed: [String] = []
        func take<T: Equatable>(_ key: String, _ path: WritableKeyPath<RunConfiguration, T>) {
            guard running[keyPath: path] != reread[keyPath: path] else { return }
            applied[keyPath: path] = reread[keyPath: path]
            changed.append(key)
        }
        take("host", \.hosts)
        take("port", \.connection.host.port)
        take("user", \.connection.user)
        take("identity", \.connection.identity)
        take("known_hosts", \.connection.knownHosts)
        take("remote_command", \.connection.remoteCommand)
        take("window", \.connection.window)
        take("connect_timeout", \.connection.connectTimeout)
        take("keepalive_interval", \.connection.keepaliveInterval)
        take("keepalive_count", \.connection.keepaliveCount)
        take("data_timeout", \.connection.dataTimeout)
        take("backoff_cap", \.backoff)
        take("failback_interval", \.failbackInterval)
        // The port lives in each host spec; the connection's own host is only the first host.
        if changed.contains("host") || changed.contains("port") {
            applied.connection.host = reread.connection.host
        }

        var fixed: [String] = []
        func keep<T: Equatable>(_ key: String, _ path: KeyPath<RunConfiguration, T>) {
            if running[keyPath: path] != reread[keyPath: path] { fixed.append(key) }
        }
        keep("sink", \.sink)
        keep("fifo", \.fifoPath)
        keep("fifo_group", \.fifoGroup)
        keep("fifo_size", \.fifoSize)
        keep("kernel_interval", \.kernelInterval)
        keep("kernel_bytes", \.kernelBytes)
        keep("state_dir", \.stateDirectory)
        keep("state_file", \.stateFile)
        keep("metrics_file", \.metricsFile)
        keep("metrics_interval", \.metricsInterval)
        keep("rngd", \.rngdPath)
        keep("rngd_args", \.rngdArguments)
        keep("health_min_entropy", \.health?.minEntropy)
        keep("health_alpha", \.health?.alpha)
        keep("log_level", \.logLevel)
        self.applied = applied
        self.changed = changed.filter { $0 != "port" || !changed.contains("host") }
        self.needsRestart = fixed
    }
}

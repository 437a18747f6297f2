import Logging

/// Where `run` delivers the bytes.
public enum SinkKind: String, CaseIterable, Sendable {
    /// Feed the kernel directly: RNDADDENTROPY + RNDRESEEDCRNG on a timer (the default).
    case kernel
    /// Start and supervise rngd on the FIFO.
    case rngd
    /// Only keep the FIFO filled, for whoever reads it.
    case fifo
}

/// How `run` uses its connections.
public enum ConnectionMode: String, CaseIterable, Sendable {
    /// One session, held and streamed through (the FIFO sinks' default).
    case persistent
    /// A reserve in memory, filled in short sessions (the kernel sink's default).
    case onDemand = "on-demand"
}

/// The complete settings of `entropy-tunnel run` (and of `fetch`, which uses the connection
/// part), resolved from the config file and the command line, defaults filled in, validated.
public struct RunConfiguration: Sendable {
    /// Entropy hosts in order of preference.
    public var hosts: [HostSpec]
    /// Everything about a connection but the host.
    public var connection: ConnectionOptions
    public var fifoPath = "/run/entropy-tunnel/entropy.fifo"
    /// A group allowed to read (never write) the FIFO; nil: the daemon's user only.
    public var fifoGroup: String?
    /// The FIFO's capacity: with the window, it bounds what is taken from the host ahead of use.
    public var fifoSize: ByteSize = .kib(64)
    public var sink: SinkKind = .kernel
    /// Kernel sink: time between feeds once the CRNG is ready.
    public var kernelInterval: Duration = .seconds(60)
    /// Kernel sink: bytes per feed.
    public var kernelBytes = 64
    /// persistent or on-demand; nil: chosen by the sink (`connectionMode`).
    public var connectionChoice: ConnectionMode?
    /// On-demand mode: bytes kept in memory.
    public var reserve = 4096
    /// The seed for the next boot (kernel sink: refreshed by `run`; `seed load` at boot).
    public var stateDirectory = "/var/lib/entropy-tunnel"
    /// The state `entropy-tunnel status` reads (nil: none written).
    public var stateFile: String? = DaemonState.defaultPath
    /// The Prometheus textfile (nil: off).
    public var metricsFile: String?
    /// At most how often the metrics file is written.
    public var metricsInterval: Duration = .seconds(15)
    /// At least how often the state file is written besides on events.
    public var stateInterval: Duration = .seconds(10)
    /// The rngd binary; nil means "find it on PATH or in /usr/sbin".
    public var rngdPath: String?
    public var rngdArguments: [String] = []
    /// SP 800-90B health tests on the stream; nil turns them off (fetch only, for benchmarks).
    public var health: HealthParameters? = .default
    /// A host whose stream fails this many health-test windows in a row is treated as failed.
    public var healthFailureLimit = 3
    /// Reconnect pacing.
    public var backoff = Backoff.Configuration()
    /// While on a less preferred host, how often to go back and try the preferred ones.
    public var failbackInterval: Duration = .seconds(300)
    public var logLevel: Logger.Level = .info

    public init(hosts: [HostSpec]) {
        self.hosts = hosts
        connection = ConnectionOptions(host: hosts.first ?? HostSpec(host: "localhost", port: 22))
    }

    /// The connection mode in effect: as chosen, else on-demand with the kernel sink.
    public var connectionMode: ConnectionMode {
        connectionChoice ?? (sink == .kernel ? .onDemand : .persistent)
    }

    /// The options for a connection to `host`.
    public func connectionOptions(for host: HostSpec) -> ConnectionOptions {
        var options = connection
        options.host = host
        return options
    }

    /// Builds the configuration from file values overlaid with command-line values.
    ///
    /// - Parameter source: names where the values came from, for messages ("--host or 'host' in
    ///   /etc/entropy-tunnel/config.toml").
    public init(_ values: ConfigFile.Values, source: String) throws(TunnelError) {
        guard let hostTexts = values.hosts, !hostTexts.isEmpty else {
            let file = source.hasPrefix("/") ? source : ConfigFile.defaultPath
            throw TunnelError(.configuration,
                              "no entropy host given: pass --host HOST, or set host = \"HOST\" in \(file)")
        }
        var hosts: [HostSpec] = []
        for text in hostTexts { hosts.append(try HostSpec(parsing: text, defaultPort: values.port ?? 22)) }
        self.init(hosts: hosts)
        if let v = values.user { connection.user = v }
        if let v = values.identity { connection.identity = v }
        if let v = values.knownHosts { connection.knownHosts = v }
        if let v = values.remoteCommand { connection.remoteCommand = v }
        if let v = values.window { connection.window = v }
        if let v = values.connectTimeout { connection.connectTimeout = v }
        if let v = values.keepaliveInterval { connection.keepaliveInterval = v }
        if let v = values.keepaliveCount { connection.keepaliveCount = v }
        if let v = values.dataTimeout { connection.dataTimeout = v }
        if let v = values.fifo { fifoPath = v }
        if let v = values.fifoGroup { fifoGroup = v }
        if let v = values.fifoSize { fifoSize = v }
        if let v = values.sink {
            guard let kind = SinkKind(rawValue: v) else {
                throw TunnelError(.configuration, "sink '\(v)' is not one of: kernel, rngd, fifo")
            }
            sink = kind
        }
        if let v = values.kernelInterval { kernelInterval = v }
        if let v = values.kernelBytes { kernelBytes = v.bytes }
        if let v = values.connection {
            guard let mode = ConnectionMode(rawValue: v) else {
                throw TunnelError(.configuration, "connection '\(v)' is not one of: persistent, on-demand")
            }
            connectionChoice = mode
        }
        if let v = values.reserve { reserve = v.bytes }
        if let v = values.stateDir { stateDirectory = v }
        if let v = values.stateFile { stateFile = v }
        if let v = values.metricsFile { metricsFile = v }
        if let v = values.metricsInterval { metricsInterval = v }
        if let v = values.rngd { rngdPath = v }
        if let v = values.rngdArguments { rngdArguments = v }
        if values.healthMinEntropy != nil || values.healthAlpha != nil {
            health = try HealthParameters(minEntropy: values.healthMinEntropy ?? HealthParameters.default.minEntropy,
                                          alpha: values.healthAlpha ?? HealthParameters.default.alpha)
        }
        if let v = values.backoffCap { backoff.cap = v }
        if let v = values.failbackInterval { failbackInterval = v }
        if let v = values.logLevel { logLevel = v }
        try validate()
    }

    /// Checks values that are well-formed but cannot work.
    public func validate() throws(TunnelError) {
        try connection.validate()
        guard fifoPath.hasPrefix("/") else {
            throw TunnelError(.invalidArgument, "fifo \(fifoPath) must be an absolute path")
        }
        if fifoSize.bytes < 4096 || fifoSize.bytes > 1 << 30 {
            throw TunnelError(.invalidArgument, "fifo size \(fifoSize) is out of range: use 4K up to the pipe-max-size (1M by default)")
        }
        guard KernelFeedPolicy.intervalRange.contains(kernelInterval) else {
            throw TunnelError(.invalidArgument, "kernel interval must be from 1 to 86400 seconds")
        }
        guard KernelFeedPolicy.batchRange.contains(kernelBytes) else {
            throw TunnelError(.invalidArgument, "kernel bytes \(kernelBytes) is out of range: use 16 to 4096")
        }
        if connectionMode == .onDemand && sink != .kernel {
            throw TunnelError(.invalidArgument,
                              "connection on-demand works only with the kernel sink; use connection persistent with sink \(sink.rawValue)")
        }
        guard (1 << 10 ... 1 << 20).contains(reserve) else {
            throw TunnelError(.invalidArgument, "reserve \(ByteSize(bytes: reserve)) is out of range: use 1K to 1M")
        }
        for (name, path) in [("state file", stateFile), ("metrics file", metricsFile)] {
            if let path, !path.hasPrefix("/") || path.hasSuffix("/") {
                throw TunnelError(.invalidArgument, "\(name) \(path) must be an absolute path of a file")
            }
        }
        if metricsInterval < .milliseconds(100) {
            throw TunnelError(.invalidArgument, "metrics interval must be at least 0.1 seconds")
        }
        guard stateDirectory.hasPrefix("/") else {
            throw TunnelError(.invalidArgument, "state directory \(stateDirectory) must be an absolute path")
        }
        if backoff.cap < .seconds(1) {
            throw TunnelError(.invalidArgument, "backoff cap must be at least 1 second")
        }
        if failbackInterval < .seconds(1) {
            throw TunnelError(.invalidArgument, "failback interval must be at least 1 second")
        }
    }
}

extension ConfigFile.Values {
    /// These values with every value that `overrides` sets replacing this one's: the command line
    /// over the config file.
    public func overlaid(with overrides: ConfigFile.Values) -> ConfigFile.Values {
        var merged = self
        merged.hosts = overrides.hosts ?? hosts
        merged.port = overrides.port ?? port
        merged.user = overrides.user ?? user
        merged.identity = overrides.identity ?? identity
        merged.knownHosts = overrides.knownHosts ?? knownHosts
        merged.remoteCommand = overrides.remoteCommand ?? remoteCommand
        merged.window = overrides.window ?? window
        merged.connectTimeout = overrides.connectTimeout ?? connectTimeout
        merged.keepaliveInterval = overrides.keepaliveInterval ?? keepaliveInterval
        merged.keepaliveCount = overrides.keepaliveCount ?? keepaliveCount
        merged.dataTimeout = overrides.dataTimeout ?? dataTimeout
        merged.fifo = overrides.fifo ?? fifo
        merged.fifoGroup = overrides.fifoGroup ?? fifoGroup
        merged.fifoSize = overrides.fifoSize ?? fifoSize
        merged.sink = overrides.sink ?? sink
        merged.kernelInterval = overrides.kernelInterval ?? kernelInterval
        merged.kernelBytes = overrides.kernelBytes ?? kernelBytes
        merged.connection = overrides.connection ?? connection
        merged.reserve = overrides.reserve ?? reserve
        merged.stateDir = overrides.stateDir ?? stateDir
        merged.stateFile = overrides.stateFile ?? stateFile
        merged.metricsFile = overrides.metricsFile ?? metricsFile
        merged.metricsInterval = overrides.metricsInterval ?? metricsInterval
        merged.rngd = overrides.rngd ?? rngd
        merged.rngdArguments = overrides.rngdArguments ?? rngdArguments
        merged.healthMinEntropy = overrides.healthMinEntropy ?? healthMinEntropy
        merged.healthAlpha = overrides.healthAlpha ?? healthAlpha
        merged.backoffCap = overrides.backoffCap ?? backoffCap
        merged.failbackInterval = overrides.failbackInterval ?? failbackInterval
        merged.logLevel = overrides.logLevel ?? logLevel
        return merged
    }
}

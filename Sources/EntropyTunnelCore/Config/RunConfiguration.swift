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
///
/// The fields that hold a setting's value start from the table's default (`Settings`, applied in
/// `init(hosts:)`); their initial values below are only placeholders for Swift.
public struct RunConfiguration: Sendable {
    /// Entropy hosts in order of preference.
    public var hosts: [HostSpec]
    /// The SSH port of hosts that name none.
    public var port = 0
    /// Everything about a connection but the host.
    public var connection: ConnectionOptions
    public var fifoPath = ""
    /// A group allowed to read (never write) the FIFO; nil: the daemon's user only.
    public var fifoGroup: String?
    /// The FIFO's capacity: with the window, it bounds what is taken from the host ahead of use.
    public var fifoSize = ByteSize(bytes: 0)
    public var sink: SinkKind = .kernel
    /// Kernel sink: time between feeds once the CRNG is ready.
    public var kernelInterval: Duration = .zero
    /// Kernel sink: bytes per feed.
    public var kernelBytes = 0
    /// persistent or on-demand; nil: chosen by the sink (`connectionMode`).
    public var connectionChoice: ConnectionMode?
    /// On-demand mode: bytes kept in memory.
    public var reserve = 0
    /// The seed for the next boot (kernel sink: refreshed by `run`; `seed load` at boot).
    public var stateDirectory = ""
    /// The state `entropy-tunnel status` reads (nil: none written).
    public var stateFile: String?
    /// The Prometheus textfile (nil: off).
    public var metricsFile: String?
    /// At most how often the metrics file is written.
    public var metricsInterval: Duration = .zero
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
    public var failbackInterval: Duration = .zero
    public var logLevel: Logger.Level = .info

    /// The defaults of every setting, for `hosts`.
    public init(hosts: [HostSpec]) {
        self.hosts = hosts
        connection = ConnectionOptions(placeholderFor: hosts.first ?? HostSpec(host: "localhost", port: 22))
        for setting in Settings.applyOrder {
            guard let value = setting.defaultValue else { continue }
            // The table's defaults are valid values (a test applies each one).
            try? setting.binding.set(&self, value)
        }
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

    /// Builds the configuration from file values overlaid with command-line values: the table's
    /// defaults, then every value given.
    ///
    /// - Parameter source: names where the values came from, for messages ("--host or 'host' in
    ///   /etc/entropy-tunnel/config.toml").
    public init(_ values: ConfigFile.Values, source: String) throws(TunnelError) {
        guard let hostTexts = values.hosts, !hostTexts.isEmpty else {
            let file = source.hasPrefix("/") ? source : ConfigFile.defaultPath
            throw TunnelError(.configuration,
                              "no entropy host given: pass --host HOST, or set host = \"HOST\" in \(file)")
        }
        self.init(hosts: [])
        for setting in Settings.applyOrder {
            guard let value = values[setting] else { continue }
            do throws(TunnelError) {
                try setting.binding.set(&self, value)
            } catch {
                throw values.located(error, at: setting, source: source)
            }
        }
        try validateSettings()
        do throws(TunnelError) {
            try validateCombination()
        } catch {
            // The one check across settings: name the line of `connection` when the file set it.
            throw values.located(error, at: Settings.connection, source: source)
        }
    }

    /// Checks every setting's value against the table's kind and range (values set in code, not
    /// read from a file or a flag, which are checked as they are read).
    public func validate() throws(TunnelError) {
        try validateSettings()
        try validateCombination()
    }

    private func validateSettings() throws(TunnelError) {
        for setting in Settings.commandLine where setting.checksFlag {
            if let value = setting.binding.get(self) { try setting.check(value) }
        }
    }

    /// What no single setting's range can say.
    private func validateCombination() throws(TunnelError) {
        if connectionMode == .onDemand && sink != .kernel {
            throw TunnelError(.invalidArgument,
                              "connection on-demand works only with the kernel sink; use connection persistent with sink \(sink.rawValue)")
        }
    }
}

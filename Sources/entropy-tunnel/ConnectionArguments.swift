import ArgumentParser
import EntropyTunnelCore
import Logging

extension ByteSize: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

extension Setting {
    /// The flag's help, from the table: summary, range, default.
    var argumentHelp: ArgumentHelp { ArgumentHelp(helpText, valueName: valueName) }
}


/// The options every command that talks to an entropy host shares. Each may also be set in the
/// config file; a flag given here wins over the file.
package struct ConnectionArguments: ParsableArguments {
    package init() {}

    @Option(help: ArgumentHelp("Config file. (default: /etc/entropy-tunnel/config.toml, when it exists)", valueName: "path"))
    package var config: String?

    @Option(help: Settings.host.argumentHelp)
    package var host: [String] = []

    @Option(help: Settings.port.argumentHelp)
    package var port: Int?

    @Option(help: Settings.user.argumentHelp)
    package var user: String?

    @Option(help: Settings.identity.argumentHelp)
    package var identity: String?

    @Option(help: Settings.knownHosts.argumentHelp)
    package var knownHosts: String?

    @Option(help: Settings.remoteCommand.argumentHelp)
    package var remoteCommand: String?

    @Option(help: Settings.window.argumentHelp)
    package var window: ByteSize?

    @Option(help: Settings.connectTimeout.argumentHelp)
    package var connectTimeout: Double?

    @Option(help: Settings.keepaliveInterval.argumentHelp)
    package var keepaliveInterval: Double?

    @Option(help: Settings.keepaliveCount.argumentHelp)
    package var keepaliveCount: Int?

    @Option(help: Settings.dataTimeout.argumentHelp)
    package var dataTimeout: Double?

    @Option(help: Settings.healthMinEntropy.argumentHelp)
    package var healthMinEntropy: Double?

    @Option(help: Settings.healthAlpha.argumentHelp)
    package var healthAlpha: Double?

    @Option(help: Settings.logLevel.argumentHelp)
    package var logLevel: Logger.Level?

    /// The values the flags set; nil where a flag was not given.
    package var values: ConfigFile.Values {
        var v = ConfigFile.Values()
        v.hosts = host.isEmpty ? nil : host
        v.port = port
        v.user = user
        v.identity = identity
        v.knownHosts = knownHosts
        v.remoteCommand = remoteCommand
        v.window = window
        v.connectTimeout = connectTimeout.map(Self.duration)
        v.keepaliveInterval = keepaliveInterval.map(Self.duration)
        v.keepaliveCount = keepaliveCount
        v.dataTimeout = dataTimeout.map(Self.duration)
        v.healthMinEntropy = healthMinEntropy
        v.healthAlpha = healthAlpha
        v.logLevel = logLevel
        return v
    }

    package func validate() throws {
        // Ranges from the one table of settings (the config reader uses the same).
        let numbers: [(Setting, Double?)] = [
            (Settings.port, port.map(Double.init)), (Settings.connectTimeout, connectTimeout),
            (Settings.keepaliveInterval, keepaliveInterval), (Settings.keepaliveCount, keepaliveCount.map(Double.init)),
            (Settings.dataTimeout, dataTimeout), (Settings.healthMinEntropy, healthMinEntropy),
            (Settings.window, window.map { Double($0.bytes) }),
        ]
        for (setting, value) in numbers {
            if let value, !setting.accepts(value) {
                throw ValidationError(setting.outOfRange(setting.key == "window" ? window!.description : value.shortDescription))
            }
        }
        if let healthAlpha, !Settings.healthAlpha.accepts(healthAlpha) {
            throw ValidationError("--health-alpha \(healthAlpha) is out of range: give a probability above 0 and at most 2^-8 (0.0039), like 2^-40")
        }
    }

    /// The config file's values (when there is one) overlaid with the flags', and where they came from.
    func resolvedValues(overlaying flags: ConfigFile.Values) throws -> (ConfigFile.Values, source: String) {
        var path = config
        if path == nil, FileSystem.exists(ConfigFile.defaultPath) { path = ConfigFile.defaultPath }
        guard let path else { return (flags, "the command line") }
        let file = try ConfigFile.load(path: path)
        return (file.overlaid(with: flags), path)
    }

    static func duration(_ seconds: Double) -> Duration { .nanoseconds(Int64(seconds * 1e9)) }
}

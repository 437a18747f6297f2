import ArgumentParser
import EntropyTunnelCore
import Logging

/// The options every command that talks to an entropy host shares. Each may also be set in the
/// config file; a flag given here wins over the file. The settings' help, checks and conversion
/// come from the table (`Settings`): a property named after a setting's key is its flag.
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

    /// The values the flags set; absent where a flag was not given.
    package var values: ConfigFile.Values { (try? settingValues()) ?? ConfigFile.Values() }

    package func validate() throws { try validateSettings() }

    /// The config file's values (when there is one) overlaid with the flags', and where they came from.
    func resolvedValues(overlaying flags: ConfigFile.Values) throws -> (ConfigFile.Values, source: String) {
        var path = config
        if path == nil, FileSystem.exists(ConfigFile.defaultPath) { path = ConfigFile.defaultPath }
        guard let path else { return (flags, "the command line") }
        let file = try ConfigFile.load(path: path)
        return (file.overlaid(with: flags), path)
    }
}

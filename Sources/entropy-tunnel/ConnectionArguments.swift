import ArgumentParser
import EntropyTunnelCore
import Logging

extension ByteSize: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// The options every command that talks to an entropy host shares. Each may also be set in the
/// config file; a flag given here wins over the file.
package struct ConnectionArguments: ParsableArguments {
    package init() {}

    @Option(help: ArgumentHelp("Config file. (default: /etc/entropy-tunnel/config.toml, when it exists)", valueName: "path"))
    package var config: String?

    @Option(help: ArgumentHelp("An entropy host: HOST, HOST:PORT or [IPv6]:PORT. Repeat for fallbacks, most preferred first.", valueName: "host"))
    package var host: [String] = []

    @Option(help: "SSH port for hosts that name none. (default: 22)")
    package var port: Int?

    @Option(help: "User to log in as on the entropy host. (default: entropy)")
    package var user: String?

    @Option(help: ArgumentHelp("Private key (OpenSSH format, Ed25519 or ECDSA, mode 0600). (default: /etc/entropy-tunnel/id_ed25519)", valueName: "file"))
    package var identity: String?

    @Option(help: ArgumentHelp("OpenSSH known_hosts file holding the hosts' pinned keys. (default: /etc/entropy-tunnel/known_hosts)", valueName: "file"))
    package var knownHosts: String?

    @Option(help: ArgumentHelp("Command that streams the host's RNG; ignored by a host whose key forces a command. (default: dd if=/dev/hwrng bs=512 status=none)", valueName: "command"))
    package var remoteCommand: String?

    @Option(help: ArgumentHelp("SSH channel receive window: the most the host sends ahead of use. K/M/G suffixes. (default: 64K)", valueName: "size"))
    package var window: ByteSize?

    @Option(help: ArgumentHelp("Seconds allowed to connect, authenticate and start the command. (default: 10)", valueName: "seconds"))
    package var connectTimeout: Double?

    @Option(help: ArgumentHelp("Seconds between SSH keepalives. (default: 15)", valueName: "seconds"))
    package var keepaliveInterval: Double?

    @Option(help: ArgumentHelp("Keepalive intervals without an answer before the host counts as dead, 1 to 1000. (default: 3)", valueName: "n"))
    package var keepaliveCount: Int?

    @Option(help: ArgumentHelp("Seconds a host may answer keepalives yet send no data (while there is room for it) before it counts as failed, 1 to 86400. (default: 60)", valueName: "seconds"))
    package var dataTimeout: Double?

    @Option(help: ArgumentHelp("Health tests: claimed min-entropy of the host's RNG, bits per byte, 0.1 <= H <= 8. (default: 7)", valueName: "bits"))
    package var healthMinEntropy: Double?

    @Option(help: ArgumentHelp("Health tests: false-alarm probability per test, 0 < alpha <= 2^-8. (default: 2^-40, about 9.1e-13)", valueName: "alpha"))
    package var healthAlpha: Double?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. (default: info)")
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
        if let port, !(1...65535).contains(port) { throw ValidationError("--port \(port) is not a number from 1 to 65535") }
        for (name, value, minimum) in [("--connect-timeout", connectTimeout, 0.1), ("--keepalive-interval", keepaliveInterval, 1.0),
                                       ("--data-timeout", dataTimeout, 1.0)] {
            if let value, !(value.isFinite && value >= minimum && value <= 86_400) {
                throw ValidationError("\(name) \(value) is out of range: give a number of seconds from \(minimum) to 86400")
            }
        }
        if let keepaliveCount, !(1...1000).contains(keepaliveCount) {
            throw ValidationError("--keepalive-count \(keepaliveCount) is out of range: give a count from 1 to 1000")
        }
        if let healthMinEntropy, !(healthMinEntropy.isFinite && healthMinEntropy >= 0.1 && healthMinEntropy <= 8) {
            throw ValidationError("--health-min-entropy \(healthMinEntropy) is out of range: give bits per byte, from 0.1 to 8")
        }
        if let healthAlpha, !(healthAlpha.isFinite && healthAlpha > 0 && healthAlpha <= 0x1p-8) {
            throw ValidationError("--health-alpha \(healthAlpha) is out of range: give a probability above 0 and at most 2^-8 (0.0039), like 2^-40")
        }
        if let window, !(4 << 10...64 << 20).contains(window.bytes) {
            throw ValidationError("--window \(window) is out of range: give 4K to 64M")
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

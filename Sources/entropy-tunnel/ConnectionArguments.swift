import ArgumentParser
import EntropyTunnelCore
import Logging

extension ByteSize: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// The options every command that talks to an entropy host shares.
struct ConnectionArguments: ParsableArguments {
    @Option(help: ArgumentHelp("The entropy host: HOST, HOST:PORT or [IPv6]:PORT.", valueName: "host"))
    var host: String

    @Option(help: "SSH port, when --host does not name one. (default: 22)")
    var port: Int?

    @Option(help: "User to log in as on the entropy host. (default: entropy)")
    var user: String?

    @Option(help: ArgumentHelp("Private key (OpenSSH format, Ed25519 or ECDSA, mode 0600). (default: /etc/entropy-tunnel/id_ed25519)", valueName: "file"))
    var identity: String?

    @Option(help: ArgumentHelp("OpenSSH known_hosts file holding the host's pinned key. (default: /etc/entropy-tunnel/known_hosts)", valueName: "file"))
    var knownHosts: String?

    @Option(help: ArgumentHelp("Command that streams the host's RNG; ignored by a host whose key forces a command. (default: dd if=/dev/hwrng bs=512 status=none)", valueName: "command"))
    var remoteCommand: String?

    @Option(help: ArgumentHelp("SSH channel receive window: the most the host sends ahead of use. K/M/G suffixes. (default: 64K)", valueName: "size"))
    var window: ByteSize?

    @Option(help: ArgumentHelp("Seconds allowed to connect, authenticate and start the command. (default: 10)", valueName: "seconds"))
    var connectTimeout: Double?

    @Option(help: ArgumentHelp("Seconds between SSH keepalives. (default: 15)", valueName: "seconds"))
    var keepaliveInterval: Double?

    @Option(help: ArgumentHelp("Keepalive intervals without an answer before the host counts as dead. (default: 3)", valueName: "n"))
    var keepaliveCount: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. (default: info)")
    var logLevel: Logger.Level?

    /// The connection options these arguments describe, defaults filled in, validated.
    func connectionOptions() throws -> ConnectionOptions {
        var hostSpec = try HostSpec(parsing: host, defaultPort: port ?? 22)
        if let port, !host.contains("]:"), !(host.filter { $0 == ":" }.count == 1) {
            guard (1...65535).contains(port) else { throw ValidationError("--port \(port) is not a number from 1 to 65535") }
            hostSpec.port = port
        }
        var options = ConnectionOptions(host: hostSpec)
        if let user { options.user = user }
        if let identity { options.identity = identity }
        if let knownHosts { options.knownHosts = knownHosts }
        if let remoteCommand { options.remoteCommand = remoteCommand }
        if let window { options.window = window }
        if let connectTimeout { options.connectTimeout = try seconds(connectTimeout, "--connect-timeout") }
        if let keepaliveInterval { options.keepaliveInterval = try seconds(keepaliveInterval, "--keepalive-interval") }
        if let keepaliveCount { options.keepaliveCount = keepaliveCount }
        try options.validate()
        return options
    }

    private func seconds(_ value: Double, _ name: String) throws -> Duration {
        guard value.isFinite, value > 0, value < 86_400 else {
            throw ValidationError("\(name) \(value) must be a number of seconds above 0")
        }
        return .nanoseconds(Int64(value * 1e9))
    }
}

import ArgumentParser
import EntropyTunnelCore
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

extension SinkKind: ExpressibleByArgument {}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the tunnel: pump the host's RNG bytes into the FIFO (the daemon systemd starts).",
        discussion: """
            The FIFO is created if missing (mode 0600) and held open, so consumers may come and go. \
            When the FIFO is full, entropy-tunnel stops reading from SSH; the SSH window closes and \
            the host's reader blocks, so at most about --window + --fifo-size bytes are taken from \
            the host ahead of use. SIGTERM or SIGINT stops it cleanly.
            """
    )

    @OptionGroup var connection: ConnectionArguments

    @Option(help: ArgumentHelp("The FIFO to create and fill. (default: /run/entropy-tunnel/entropy.fifo)", valueName: "path"))
    var fifo: String?

    @Option(help: ArgumentHelp("FIFO capacity, 4K up to /proc/sys/fs/pipe-max-size. (default: 64K)", valueName: "size"))
    var fifoSize: ByteSize?

    @Option(help: "Where the bytes go: fifo (keep the FIFO filled for whoever reads it). (default: fifo)")
    var sink: SinkKind?

    func validate() throws {
        if let fifoSize, fifoSize.bytes < 4096 || fifoSize.bytes > 1 << 30 {
            throw ValidationError("--fifo-size \(fifoSize) is out of range: use 4K up to the pipe-max-size (1M by default)")
        }
    }

    func run() async throws {
        let logger = bootstrapLogging(connection.logLevel)
        var configuration = RunConfiguration(connection: try connection.connectionOptions())
        if let fifo { configuration.fifoPath = fifo }
        if let fifoSize { configuration.fifoSize = fifoSize }
        if let sink { configuration.sink = sink }

        let service = TunnelService(configuration: configuration, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            logger.error("\(describe(error))")
            throw ExitCode.failure
        }
    }
}

/// Sets up logging for the process and returns the root logger.
func bootstrapLogging(_ level: Logger.Level?) -> Logger {
    // A reader that goes away must show up as EPIPE, never kill the daemon.
    signal(SIGPIPE, SIG_IGN)
    let level = level ?? .info
    LoggingSystem.bootstrap { _ in DaemonLogHandler(level: level) }
    return Logger(label: "entropy-tunnel")
}

/// The message of an error for people: TunnelError's own, ServiceGroup's unwrapped.
func describe(_ error: any Error) -> String {
    if let error = error as? TunnelError { return error.message }
    return "\(error)"
}

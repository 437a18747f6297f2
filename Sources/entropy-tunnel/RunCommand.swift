import ArgumentParser
import EntropyTunnelCore
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

package struct RunCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the tunnel: feed this machine's kernel with the host's RNG bytes (the daemon systemd starts).",
        discussion: """
            Connects to the first working --host, checks its pinned key, and pumps its RNG bytes \
            through the SP 800-90B health tests into a sink. Each host is listed once: a host \
            given twice (however spelled) is refused with exit 78, as are a key this process cannot \
            use and a known_hosts file that is missing or unreadable.

            --sink kernel (the default) feeds the kernel itself. Before the kernel's CRNG is ready it \
            adds every byte that arrives with RNDADDENTROPY, credited at --health-min-entropy bits \
            per byte; after that it adds --kernel-bytes every --kernel-interval and forces a \
            reseed (RNDRESEEDCRNG), and takes nothing in between, so the host's reader stays \
            blocked. SIGUSR1 feeds and reseeds at once (after restoring or cloning a VM). It needs \
            CAP_SYS_ADMIN; without it the bytes are written to /dev/urandom (mixed in, never \
            credited, no reseed) and a warning says so. It also keeps a seed for the next boot in \
            --state-dir (see `entropy-tunnel seed`).

            --sink rngd fills a FIFO and starts and supervises rngd on it, restarting it whenever it \
            exits; note that rngd 5 (Debian 12) feeds the kernel once after boot and then waits \
            forever on kernels since 5.18. --sink fifo only fills the FIFO, for another reader.

            With a FIFO sink, when the FIFO is full it stops \
            reading from SSH: the window closes and the host's reader blocks, so about --window + \
            --fifo-size bytes at most are taken from the host ahead of use. On any connection \
            failure it fails over to the next host or reconnects with backoff, and stays on the \
            host it failed over to until the next --failback-interval (with --connection on-demand \
            too: later fills do not go back to a broken host at once). A host counts as failed when \
            it is unreachable, loses the connection, or its stream fails the health tests (3 windows \
            in a row, or 2 of its last 64 with the default --health-alpha, counted across sessions, fills and reloads) or delivers \
            less than one 512-byte window within --data-timeout while bytes are wanted (stuck or \
            trickling). An untrusted host key or a refused key is retried every 5 s for the first \
            5 minutes after start, then at the backoff cap. Under systemd (Type=notify) it reports READY=1 once it runs (sink \
            ready, rngd found; never waiting for a host), a STATUS= line at least every 5 s, and \
            WATCHDOG=1. It keeps its state in \
            --state-file for `entropy-tunnel status`, and with --metrics-file writes Prometheus \
            metrics for node_exporter's textfile collector. SIGTERM or SIGINT stops it \
            cleanly. SIGHUP (`systemctl reload entropy-tunnel`) re-reads the config file and checks it \
            as at start (hosts listed once, key usable, known_hosts readable): the hosts and \
            connection settings apply at once, keeping a healthy connection whose host is still \
            listed; a file that no longer reads or fails those checks is logged as one error and \
            the running settings and connection stay; keys that need a restart (connection, reserve, \
            sink, ...) are named in the log. A reload never stops the daemon. Every option can also \
            be set in the config file.
            """
    )

    @OptionGroup package var connection: ConnectionArguments

    @OptionGroup package var daemon: DaemonArguments

    package func run() async throws {
        let flags = daemon.applied(to: connection.values)

        // systemd's variables are read, then removed so that rngd does not inherit them.
        let notifier = SystemdNotifier.fromEnvironment(unsetEnvironment: true)
        // Logging is set up exactly once, with the configured level when the configuration reads.
        let resolved = Result { try connection.resolvedValues(overlaying: flags) }
        let logger = bootstrapLogging((try? resolved.get())?.0.logLevel)
        let configuration: RunConfiguration
        do {
            let (values, source) = try resolved.get()
            configuration = try RunConfiguration(values, source: source)
        } catch {
            logger.error("\(describe(error))")
            throw ExitCode(78)  // EX_CONFIG: the unit's RestartPreventExitStatus=78 stops it looping
        }
        var startMetadata: Logger.Metadata = [
            "hosts": "\(configuration.hosts.map(\.description).joined(separator: ","))",
            "sink": "\(configuration.sink)",
            "health": "\(configuration.health.map { "\($0)" } ?? "off")",
            "connection": "\(configuration.connectionMode.rawValue)",
        ]
        if configuration.connectionMode == .onDemand { startMetadata["reserve"] = "\(configuration.reserve)" }
        if configuration.sink == .kernel {
            startMetadata["kernel_interval"] = "\(Int(configuration.kernelInterval.seconds))s"
            startMetadata["kernel_bytes"] = "\(configuration.kernelBytes)"
        } else {
            startMetadata["fifo"] = "\(configuration.fifoPath)"
        }
        logger.info("starting", metadata: startMetadata)
        // SIGHUP re-reads the config file exactly as at start, the command line still on top.
        let arguments = connection
        let daemon = TunnelDaemon(configuration: configuration, logger: logger, notifier: notifier) { () throws(TunnelError) in
            do {
                let (values, source) = try arguments.resolvedValues(overlaying: flags)
                return try RunConfiguration(values, source: source)
            } catch let error as TunnelError {
                throw error
            } catch {
                throw TunnelError(.configuration, describe(error))
            }
        }
        // ServiceGroup's own bookkeeping is debug detail; our services log what matters.
        var groupLogger = logger
        groupLogger.logLevel = configuration.logLevel == .trace ? .trace : .error
        let group = ServiceGroup(configuration: .init(
            services: daemon.services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: groupLogger))
        do {
            try await group.run()
        } catch {
            logger.error("\(describe(error))")
            if let tunnelError = error as? TunnelError, tunnelError.exitsAsConfigurationError {
                throw ExitCode(78)  // EX_CONFIG: the unit's RestartPreventExitStatus=78 stops a restart loop
            }
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

/// The message of an error for people.
func describe(_ error: any Error) -> String {
    if let error = error as? TunnelError { return error.message }
    return "\(error)"
}

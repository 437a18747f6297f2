import Logging
import ServiceLifecycle

/// rngd for `--sink rngd`, as a service: finds rngd at once (a missing rngd is a configuration
/// error, reported before anything else happens), waits until the FIFO first holds bytes (rngd
/// 2.x gives up on a silent source), then supervises it with `RngdSupervisor` until shutdown.
final class RngdService: Service, Sendable {
    let configuration: RunConfiguration
    let stats: TunnelStats
    let logger: Logger

    init(configuration: RunConfiguration, stats: TunnelStats, logger: Logger) {
        self.configuration = configuration
        self.stats = stats
        self.logger = logger
    }

    func run() async throws {
        let configuration = self.configuration
        let command = try await BlockingThread.run(name: "et-rngd-probe") { () throws(TunnelError) -> RngdCommand in
            try RngdCommand.resolve(explicitPath: configuration.rngdPath, fifo: configuration.fifoPath,
                                    extraArguments: configuration.rngdArguments)
        }
        logger.info("rngd found", metadata: ["path": "\(command.executable)", "flavor": "\(command.flavor.package)"])
        stats.update { $0.rngdFound = true }
        stats.emit(.rngdFound)
        await cancelWhenGracefulShutdown { await self.stats.waitUntilPrimed() }
        // Shutdown came first (or the tunnel ended): there is nothing to supervise.
        guard stats.snapshot.bytesDelivered > 0, !Task.isCancelled, !Task.isShuttingDownGracefully else { return }
        let stats = self.stats
        let supervisor = RngdSupervisor(configuration: .init(command: command), logger: logger) { event in
            switch event {
            case .started(let pid, let restarts, _):
                stats.update { $0.rngdPID = pid; $0.rngdRestarts = restarts }
            case .exited:
                stats.update { $0.rngdPID = nil }
            case .startFailed:
                break
            }
            stats.emit(.rngdChanged)
        }
        try await supervisor.run()
    }
}

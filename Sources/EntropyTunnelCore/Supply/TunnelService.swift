import CSystemShims
import Logging
import ServiceLifecycle

/// The tunnel itself, as a service: opens the sink (the kernel's random device, or the FIFO),
/// checks what `run` needs at start (`RunConfiguration.validateForRun`: hosts given once, the
/// private key usable, known_hosts readable), then runs the supply loop on a thread of its own
/// until a graceful shutdown or cancellation wakes it. Effects the consumer asks for (saving the
/// seed, with fsync) run on other threads, never on the supply thread.
///
/// Everything that cannot work as configured (an unsafe or wrong FIFO path, an unusable key, a
/// host given twice) is thrown before any connection is made, as an error whose
/// `exitsAsConfigurationError` holds.
final class TunnelService: Service, Sendable {
    let configuration: RunConfiguration
    let stats: TunnelStats
    let logger: Logger
    /// The kernel sink's timer and SIGUSR1 trigger (kernel sink only).
    let trigger: KernelFeedTrigger?
    /// Reloaded configurations for the supply loop (SIGHUP).
    let reloads: ConfigurationReloads?

    init(configuration: RunConfiguration, stats: TunnelStats, trigger: KernelFeedTrigger?,
         reloads: ConfigurationReloads? = nil, logger: Logger) {
        self.configuration = configuration
        self.stats = stats
        self.trigger = trigger
        self.reloads = reloads
        self.logger = logger
    }

    /// The consumer `configuration` asks for, ready to take bytes.
    private func makeSink() throws(TunnelError) -> any Consumer {
        switch configuration.sink {
        case .kernel:
            guard let trigger else { throw TunnelError(.system, "no timer for the kernel sink (out of file descriptors?)") }
            let device = try KernelRandomDevice()
            let policy = KernelFeedPolicy(interval: configuration.kernelInterval, batchBytes: configuration.kernelBytes,
                                          minEntropy: configuration.health?.minEntropy ?? 0)
            return KernelSink(device: device, policy: policy, trigger: trigger, seed: KernelSink.SeedRefresh(),
                              stats: stats, logger: logger)
        case .rngd, .fifo:
            let fifo = try FIFOSink(path: configuration.fifoPath, size: configuration.fifoSize,
                                    group: configuration.fifoGroup, logger: logger)
            logger.info("fifo ready", metadata: [
                "path": "\(fifo.path)", "capacity": "\(ByteSize(bytes: fifo.capacity))",
                "mode": "\(configuration.fifoGroup.map { "0640 group \($0)" } ?? "0600")",
            ])
            return fifo
        }
    }

    /// Writes a new seed for the next boot (`extra`: fresh stream bytes, hashed in with
    /// getrandom, the old seed and the time). A failure is logged, not fatal: the tunnel goes on.
    func saveSeed(extra: [UInt8]) {
        do {
            let result = try SeedStore(directory: configuration.stateDirectory).save(extra: extra)
            stats.update { $0.kernel?.seedsSaved += 1 }
            logger.info("seed for the next boot saved", metadata: [
                "path": "\(result.path)", "creditable": "\(result.creditable)",
            ])
        } catch {
            stats.update { $0.kernel?.seedsSkipped += 1 }
            logger.warning("could not save the seed for the next boot: \(error.message)")
        }
    }

    func run() async throws {
        defer { stats.finish() }
        let logger = self.logger
        let stats = self.stats
        let sink = UncheckedSendableBox(try makeSink())
        try configuration.validateForRun()
        stats.update { $0.sinkReady = true }
        stats.emit(.sinkReady)
        let waker = try Waker()
        // A stop that arrived while starting, before the group handled signals.
        if csystem_stop_requested() != 0 { waker.wake() }
        let settings = SupplyLoop.Settings(configuration)
        let reloads = self.reloads
        let (effects, effectQueue) = AsyncStream<ConsumerEffect>.makeStream()
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                // The consumer's effects (the seed, with fsync), one at a time, off the supply thread.
                group.addTask {
                    for await effect in effects {
                        switch effect {
                        case .saveSeed(let extra):
                            _ = try? await BlockingThread.run(name: "et-seed") { self.saveSeed(extra: extra) }
                        }
                    }
                }
                defer { effectQueue.finish() }
                try await BlockingThread.run(name: "et-tunnel") { () throws(TunnelError) in
                    let loop = SupplyLoop(settings: settings, consumer: sink.value, waker: waker, reloads: reloads,
                                          stats: stats, effects: { effectQueue.yield($0) }, logger: logger)
                    _ = try loop.run()
                }
                effectQueue.finish()
                try await group.waitForAll()
            }
        } onCancelOrGracefulShutdown: {
            waker.wake()
        }
        // A stop refreshes the seed too (it may be the last chance before a shutdown).
        if configuration.sink == .kernel, (stats.snapshot.kernel?.feeds ?? 0) > 0 {
            _ = try? await BlockingThread.run(name: "et-seed") { self.saveSeed(extra: []) }
        }
        logger.info("stopped", metadata: ["bytes": "\(stats.snapshot.bytesDelivered)"])
    }
}

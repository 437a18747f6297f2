import Logging
import ServiceLifecycle

/// `entropy-tunnel run`: the services that keep the sink filled from the most preferred working
/// host without a human, for one swift-service-lifecycle `ServiceGroup`.
///
/// In start order (a graceful shutdown, on SIGTERM or SIGINT, stops them in reverse):
/// 0. `StateFileService` (with `--state-file`, on by default, or `--metrics-file`): the state for
///    `entropy-tunnel status` and the Prometheus textfile; it stops last, marking the state stopped.
/// 1. `TunnelService`: the sink (the kernel's random device, or the FIFO), then the supply loop on a thread of its own (connect, read,
///    fail over, back off, fail back).
/// 2. `RngdService` (with `--sink rngd`): finds rngd at once (a missing rngd is a configuration
///    error), starts it once the FIFO first holds bytes, and keeps it running.
/// 3. `StatusService` (under systemd): READY=1 once the sink is ready (and rngd found), never
///    waiting for a host; STATUS= lines on the tunnel's events and at least every 5 s.
/// 4. `WatchdogService` (under systemd with `WatchdogSec=`): WATCHDOG=1 only while the tunnel
///    thread's heartbeat is recent, so a stuck supply loop trips the watchdog.
/// 5. `HangupService`: SIGHUP re-reads the configuration (with `reread`) and hands it to the
///    supply loop through `reloads`; it never ends the daemon.
/// 6. `FeedNowService` (with `--sink kernel`): SIGUSR1 makes the kernel sink feed and reseed now.
public final class TunnelDaemon: Sendable {
    public let configuration: RunConfiguration
    public let stats = TunnelStats()
    /// Wall-clock start time, for the state file and metrics.
    public let startedAt = WallClock.now()
    private let logger: Logger
    private let notifier: SystemdNotifier?
    /// The kernel sink's timer, which SIGUSR1 fires (nil with the other sinks).
    private let trigger: KernelFeedTrigger?
    /// Re-reads the configuration on SIGHUP (nil: SIGHUP is only logged).
    private let reread: (@Sendable () throws(TunnelError) -> RunConfiguration)?
    /// Carries a reloaded configuration to the supply loop's thread.
    private let reloads: ConfigurationReloads?

    public init(configuration: RunConfiguration, logger: Logger, notifier: SystemdNotifier?,
                reread: (@Sendable () throws(TunnelError) -> RunConfiguration)? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.notifier = notifier
        self.reread = reread
        reloads = reread == nil ? nil : try? ConfigurationReloads()
        trigger = configuration.sink == .kernel ? try? KernelFeedTrigger() : nil
    }

    /// The services in start order.
    public var services: [ServiceGroupConfiguration.ServiceConfiguration] {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if configuration.stateFile != nil || configuration.metricsFile != nil {
            // First, so that it stops last and its final write sees the tunnel stopped.
            services.append(.init(service: StateFileService(configuration: configuration, stats: stats,
                                                            startedAt: startedAt, logger: logger),
                                  successTerminationBehavior: .ignore, serviceName: "state file"))
        }
        // The tunnel ends only when stopped (or on a fatal error): then the rest stops too.
        services.append(.init(service: TunnelService(configuration: configuration, stats: stats, trigger: trigger,
                                                    reloads: reloads, logger: logger),
                              successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "tunnel"))
        if configuration.sink == .rngd {
            services.append(.init(service: RngdService(configuration: configuration, stats: stats, logger: logger),
                                  successTerminationBehavior: .ignore, serviceName: "rngd supervisor"))
        }
        if let notifier {
            services.append(.init(service: StatusService(configuration: configuration, stats: stats, notifier: notifier),
                                  successTerminationBehavior: .ignore, serviceName: "status"))
            if notifier.watchdogPingInterval != nil {
                services.append(.init(service: WatchdogService(notifier: notifier, stats: stats,
                                                               staleAfter: configuration.connection.connectTimeout + .seconds(5),
                                                               logger: logger),
                                      successTerminationBehavior: .ignore, serviceName: "watchdog"))
            }
        }
        services.append(.init(service: HangupService(running: configuration, reread: reread, reloads: reloads,
                                                    notifier: notifier, logger: logger), successTerminationBehavior: .ignore, serviceName: "sighup"))
        if let trigger {
            services.append(.init(service: FeedNowService(trigger: trigger, logger: logger),
                                  successTerminationBehavior: .ignore, serviceName: "sigusr1"))
        }
        return services
    }
}

/// Moves a non-Sendable object to the one thread that will use it from then on.
struct UncheckedSendableBox<Value>: @unchecked Sendable {
    // Safe: the creator hands the value over and does not touch it while the other thread runs.
    let value: Value
    init(_ value: Value) { self.value = value }
}

import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// `entropy-tunnel run`: keeps the FIFO filled from the most preferred working host and rngd
/// fed from the FIFO, without a human.
///
/// - The FIFO is created and opened once and held for the daemon's life, so rngd never sees EOF
///   while the tunnel reconnects.
/// - The connection loop runs on a thread of its own: connect, pump, and on any failure fail
///   over to the next host or wait out a backoff delay (exponential, full jitter). Host-key and
///   authentication failures are configuration problems: retried only at the backoff cap.
///   While on a less preferred host it goes back to the preferred ones every failback interval.
/// - rngd starts once the FIFO holds bytes, and is supervised by `RngdSupervisor`.
/// - systemd hears READY=1 when the FIFO first holds bytes, STATUS= lines, and WATCHDOG=1.
/// - On graceful shutdown (SIGTERM, SIGINT) it stops reading, closes the session, stops rngd.
public final class TunnelDaemon: Service, Sendable {
    public let configuration: RunConfiguration
    public let stats = TunnelStats()
    private let logger: Logger
    private let notifier: SystemdNotifier?

    public init(configuration: RunConfiguration, logger: Logger, notifier: SystemdNotifier?) {
        self.configuration = configuration
        self.logger = logger
        self.notifier = notifier
    }

    public func run() async throws {
        let configuration = self.configuration
        let logger = self.logger
        let fifo = try FIFOSink(path: configuration.fifoPath, size: configuration.fifoSize, logger: logger)
        logger.info("fifo ready", metadata: ["path": "\(fifo.path)", "capacity": "\(ByteSize(bytes: fifo.capacity))"])
        // Find rngd before connecting anywhere: a missing rngd is a configuration error to report now.
        let rngdCommand: RngdCommand? = configuration.sink != .rngd ? nil :
            try await BlockingThread.run(name: "et-rngd-probe") { () throws(TunnelError) -> RngdCommand in
                try RngdCommand.resolve(explicitPath: configuration.rngdPath, fifo: configuration.fifoPath,
                                        extraArguments: configuration.rngdArguments)
            }
        if let rngdCommand {
            logger.info("rngd found", metadata: ["path": "\(rngdCommand.executable)", "flavor": "\(rngdCommand.flavor.package)"])
        }
        let waker = try Waker()
        let sink = UncheckedSendableBox(fifo)
        let loop = ConnectionLoop(configuration: configuration, stats: stats, waker: waker, logger: logger)

        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await BlockingThread.run(name: "et-tunnel") { () throws(TunnelError) in
                            try loop.run(sink: sink.value)
                        }
                    }
                    group.addTask { [self] in
                        try await report(rngdCommand: rngdCommand)
                    }
                    // The connection loop ends only on stop (or a fatal sink error): then stop the rest.
                    try await group.next()
                    stats.finish()
                    group.cancelAll()
                    try await group.waitForAll()
                }
            } onGracefulShutdown: {
                waker.wake()
            }
        } onCancel: {
            waker.wake()
        }
        logger.info("stopped", metadata: ["bytes": "\(stats.snapshot.bytesDelivered)"])
    }

    /// Follows the tunnel's events: starts rngd once the FIFO holds bytes, tells systemd.
    /// Returns (stopping rngd) when the events end or the task is cancelled.
    private func report(rngdCommand: RngdCommand?) async throws {
        try await withThrowingTaskGroup(of: Void.self) { children in
            if let notifier, let interval = notifier.watchdogPingInterval {
                children.addTask {
                    while !Task.isCancelled {
                        notifier.send("WATCHDOG=1")
                        // Cancelled at shutdown: that ends the loop, it is not an error.
                        try? await Task.sleep(for: interval)
                    }
                }
            }
            var supervisor: RngdSupervisor?
            for await event in stats.events {
                switch event {
                case .primed:
                    if let rngdCommand, supervisor == nil {
                        let started = RngdSupervisor(configuration: .init(command: rngdCommand), logger: logger) { [stats] event in
                            if case .started(let pid, _, _) = event { stats.update { $0.rngdPID = pid } }
                            if case .exited = event { stats.update { $0.rngdPID = nil } }
                        }
                        supervisor = started
                        children.addTask { try await started.run() }
                    }
                    notifier?.send("READY=1\nSTATUS=\(statusLine())")
                case .connected:
                    stats.update { $0.lastError = nil }
                    notifier?.send("STATUS=\(statusLine())")
                case .failed(_, let error):
                    stats.update { $0.lastError = error.message }
                    notifier?.send("STATUS=\(statusLine())")
                }
            }
            notifier?.send("STOPPING=1")
            children.cancelAll()
            try await children.waitForAll()
        }
    }

    /// One line of state for `systemctl status`.
    func statusLine() -> String {
        let s = stats.snapshot
        var parts: [String] = []
        if s.connected, let host = s.host {
            parts.append("connected to \(host)")
        } else {
            parts.append("not connected" + (s.lastError.map { " (\($0.prefix(120)))" } ?? ""))
        }
        parts.append("\(ByteSize.human(s.bytesDelivered)) delivered")
        if configuration.sink == .rngd { parts.append(s.rngdPID.map { "rngd pid \($0)" } ?? "rngd not running") }
        if s.windowsDropped > 0 { parts.append("\(s.windowsDropped) windows failed health tests") }
        return parts.joined(separator: ", ")
    }
}

extension ByteSize {
    /// `12.3 MiB`, for status lines.
    static func human(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        if unit == 0 { return "\(bytes) B" }
        return "\((value * 10).rounded() / 10) \(units[unit])"
    }
}

/// Moves a non-Sendable object to the one thread that will use it from then on.
struct UncheckedSendableBox<Value>: @unchecked Sendable {
    // Safe: the creator hands the value over and does not touch it while the other thread runs.
    let value: Value
    init(_ value: Value) { self.value = value }
}

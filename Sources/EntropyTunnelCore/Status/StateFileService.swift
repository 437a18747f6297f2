import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Writes `--state-file` (for `entropy-tunnel status`) and `--metrics-file` (for node_exporter)
/// from the tunnel's stats, off the pump thread: the state on every event and at least every
/// `stateInterval`, the metrics at most every `metricsInterval`; both once more at the stop,
/// the state then with `"running": false`.
///
/// Started before the tunnel so that it stops after it: it ends when the tunnel's stats end,
/// and its last write holds the final counters.
final class StateFileService: Service, Sendable {
    let configuration: RunConfiguration
    let stats: TunnelStats
    let process: DaemonState.Process
    let logger: Logger

    init(configuration: RunConfiguration, stats: TunnelStats, startedAt: Double, logger: Logger) {
        self.configuration = configuration
        self.stats = stats
        process = DaemonState.Process(pid: getpid(), startedAt: startedAt, configuration: configuration)
        self.logger = logger
    }

    /// What the writer remembers between writes; touched only by the service's own loop.
    private struct Progress {
        var lastBytes: UInt64 = 0
        var lastBytesAt: Double?
        var metricsWrittenAt: Instant?
        var stateFailed = false
        var metricsFailed = false
    }

    func run() async throws {
        var progress = Progress()
        if let stateFile = configuration.stateFile {
            // Under systemd RuntimeDirectory= made it; by hand (as root) it may be missing.
            _ = try? FileSystem.makeDirectories(FileSystem.parent(of: stateFile), mode: 0o755)
        }
        // A path the safe write refuses (a planted link, a directory others can write) is a
        // configuration problem: `run` stops at once with it (exit 78) instead of running blind.
        if let refusal = write(&progress, final: false) { throw refusal }
        let tick = min(configuration.stateInterval, configuration.metricsFile == nil ? .seconds(3600) : configuration.metricsInterval)
        let (ticks, ticker) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let stats = self.stats
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in stats.changes { ticker.yield() }
                ticker.finish()
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: tick)
                    ticker.yield()
                }
            }
            // Ends when the tunnel finished its stats (or this task is cancelled).
            for await _ in ticks { self.write(&progress, final: false) }
            group.cancelAll()
        }
        write(&progress, final: true)
        // The group stops services one by one in reverse order: returning before this one's turn
        // would count as an unexpected end.
        try? await gracefulShutdown()
    }

    /// Writes what is due; returns the first refusal of an unsafe path (a `.configuration` error).
    @discardableResult
    private func write(_ progress: inout Progress, final: Bool) -> TunnelError? {
        var refusal: TunnelError?
        let snapshot = stats.snapshot
        let now = WallClock.now()
        if snapshot.bytesDelivered != progress.lastBytes {
            progress.lastBytes = snapshot.bytesDelivered
            progress.lastBytesAt = now
        }
        if let path = configuration.stateFile {
            let state = DaemonState(snapshot, process: process, now: now, lastBytesAt: progress.lastBytesAt,
                                    stoppedAt: final ? now : nil)
            do {
                try FileSystem.replace(path, try state.rendered(), mode: 0o640)
                progress.stateFailed = false
            } catch {
                if error.code == .configuration && refusal == nil { refusal = error }
                if !progress.stateFailed {
                    logger.warning("cannot write the state file; `entropy-tunnel status` will be stale: \(error.message)", metadata: ["path": "\(path)"])
                }
                progress.stateFailed = true
            }
        }
        if let path = configuration.metricsFile,
           final || progress.metricsWrittenAt.map({ Instant.now - $0 >= configuration.metricsInterval }) ?? true {
            progress.metricsWrittenAt = .now
            do {
                // 0644: node_exporter runs as its own user.
                try FileSystem.replace(path, MetricsText.render(snapshot, process: process), mode: 0o644)
                progress.metricsFailed = false
            } catch {
                if error.code == .configuration && refusal == nil { refusal = error }
                if !progress.metricsFailed {
                    logger.warning("cannot write the metrics file: \(error.message)", metadata: ["path": "\(path)"])
                }
                progress.metricsFailed = true
            }
        }
        return refusal
    }
}

import Logging

/// The daemon's connection policy, run on a thread of its own: which host to use, when to fail
/// over, when to go back, how long to wait. Ends only when stopped.
final class ConnectionLoop: Sendable {
    let configuration: RunConfiguration
    let stats: TunnelStats
    let waker: Waker
    let logger: Logger

    init(configuration: RunConfiguration, stats: TunnelStats, waker: Waker, logger: Logger) {
        self.configuration = configuration
        self.stats = stats
        self.waker = waker
        self.logger = logger
    }

    /// Connects and pumps into `sink` until stopped; fails only when the sink itself fails.
    func run(sink: FIFOSink) throws(TunnelError) {
        let hosts = configuration.hosts
        var backoff = Backoff(configuration.backoff)
        // The earliest time each host may be tried again.
        var notBefore = [Instant](repeating: .now, count: hosts.count)
        var settings = TunnelConnection.PumpSettings()
        settings.health = configuration.health
        settings.healthFailureLimit = configuration.healthFailureLimit

        while !waker.isWoken {
            let now = Instant.now
            guard let index = hosts.indices.first(where: { notBefore[$0] <= now }) else {
                if try wait(until: notBefore.min()!, sink: sink) { return }
                continue
            }
            let host = hosts[index]
            // On a fallback host, go back to a preferred one every failback interval, but not
            // before one of them may be tried again.
            settings.until = index == 0 ? .distantFuture
                : max(now + configuration.failbackInterval, notBefore[0..<index].min()!)
            let started = Instant.now
            do throws(TunnelError) {
                let outcome = try TunnelConnection.pump(
                    configuration.connectionOptions(for: host), into: sink, settings: settings,
                    waker: waker, stats: stats, logger: logger,
                    onConnected: { [stats] in stats.emit(.connected(host)) })
                switch outcome {
                case .stopped, .limitReached:
                    return
                case .timeUp:
                    logger.info("trying the preferred host again", metadata: ["host": "\(hosts[0])", "current": "\(host)"])
                    backoff.reset()
                }
            } catch where error.code == .stopped {
                return
            } catch where error.code == .sink {
                throw error
            } catch {
                let uptime = Instant.now - started
                let delay: Duration
                if error.isConfigurationProblem {
                    // Retrying cannot help until someone changes the configuration: no tight loop.
                    delay = configuration.backoff.cap
                } else {
                    delay = backoff.nextDelay(afterRunningFor: uptime)
                }
                notBefore[index] = .now + delay
                let next = hosts.indices.first(where: { notBefore[$0] <= .now })
                var metadata: Logger.Metadata = ["host": "\(host)"]
                if let next {
                    metadata["failover_to"] = "\(hosts[next])"
                } else {
                    metadata["retry_in"] = "\(Double(delay.nanoseconds / 1_000_000) / 1000) s"
                }
                if error.isConfigurationProblem || error.code == .healthTestFailed || error.code == .remoteCommandFailed {
                    logger.error("\(error.message)", metadata: metadata)
                } else {
                    logger.warning("\(error.message)", metadata: metadata)
                }
                stats.emit(.failed(host, error, retryIn: next == nil ? delay : .zero))
            }
        }
    }

    /// Waits until `deadline` or a stop, checking the FIFO once a second; returns true on stop.
    private func wait(until deadline: Instant, sink: FIFOSink) throws(TunnelError) -> Bool {
        while Instant.now < deadline {
            var poller = Poller()
            poller.add(waker.fd, .readable)
            if try poller.wait(until: min(deadline, .now + .seconds(1))) { return true }
            try sink.revalidate()
        }
        return false
    }
}

import EntropyTunnelCore
import Testing

/// What a reload applies at once and what it leaves for a restart, as values.
struct ConfigurationReloadTests {
    func configuration(_ hosts: [String], _ change: (inout RunConfiguration) -> Void = { _ in }) throws -> RunConfiguration {
        var configuration = RunConfiguration(hosts: try hosts.map { try HostSpec(parsing: $0, defaultPort: 22) })
        change(&configuration)
        return configuration
    }

    @Test("an identical configuration changes nothing")
    func identical() throws {
        let running = try configuration(["a.example", "b.example"])
        let reload = ConfigurationReload(running: running, reread: running)
        #expect(reload.changed.isEmpty && reload.needsRestart.isEmpty)
        #expect(reload.applied.hosts == running.hosts)
    }

    @Test("hosts and connection settings apply at once")
    func appliesConnectionSettings() throws {
        let running = try configuration(["a.example", "b.example"])
        let reread = try configuration(["c.example", "a.example:2222"]) {
            $0.connection.user = "rng"
            $0.connection.dataTimeout = .seconds(30)
            $0.failbackInterval = .seconds(60)
        }
        let reload = ConfigurationReload(running: running, reread: reread)
        #expect(reload.applied.hosts == reread.hosts)
        #expect(reload.applied.connection.host == reread.connection.host)
        #expect(reload.applied.connection.user == "rng")
        #expect(reload.applied.connection.dataTimeout == .seconds(30))
        #expect(reload.applied.failbackInterval == .seconds(60))
        #expect(reload.changed == ["host", "user", "data_timeout", "failback_interval"])
        #expect(reload.needsRestart.isEmpty)
    }

    @Test("sink, FIFO, kernel schedule, files, rngd, health and log level keep their running value and are named")
    func restartSettingsNamed() throws {
        let running = try configuration(["a.example"])
        let reread = try configuration(["a.example"]) {
            $0.sink = .rngd
            $0.fifoPath = "/run/other.fifo"
            $0.kernelInterval = .seconds(30)
            $0.stateFile = nil
            $0.rngdArguments = ["-d", "1"]
            $0.health = nil
            $0.logLevel = .debug
        }
        let reload = ConfigurationReload(running: running, reread: reread)
        // In the table's order.
        #expect(reload.needsRestart == ["fifo", "sink", "kernel_interval", "state_file", "rngd_args",
                                        "health_min_entropy", "health_alpha", "log_level"])
        #expect(reload.changed.isEmpty)
        #expect(reload.applied.sink == running.sink && reload.applied.fifoPath == running.fifoPath)
        #expect(reload.applied.kernelInterval == running.kernelInterval && reload.applied.health == running.health)
        #expect(reload.applied.logLevel == running.logLevel && reload.applied.stateFile == running.stateFile)
    }
}

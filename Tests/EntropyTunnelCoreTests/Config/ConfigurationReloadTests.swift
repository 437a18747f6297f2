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

/// The reload's own checks and the keys it names, beyond the table above.
struct ConfigurationReloadCheckTests {
    @Test("connection and reserve are named as needing a restart, not reported as unchanged")
    func connectionAndReserveNamed() throws {
        let running = RunConfiguration(hosts: [HostSpec(host: "a.example", port: 22)])
        var reread = running
        reread.connectionChoice = .persistent
        reread.reserve = 8192
        let reload = ConfigurationReload(running: running, reread: reread)
        #expect(reload.needsRestart == ["connection", "reserve"])
        #expect(reload.changed.isEmpty)
        #expect(reload.applied.connectionChoice == nil && reload.applied.reserve == 4096)
    }

    @Test("every key of a reload has one class in the settings table: applied at once or kept until a restart")
    func everyKeyHasAClass() {
        let keys = Settings.all.map(\.key)
        #expect(Set(keys).count == keys.count)
        let live = Settings.all.filter { if case .live = $0.reload { true } else { false } }.map(\.key)
        #expect(Set(live) == ["host", "port", "user", "identity", "known_hosts", "remote_command", "window", "connect_timeout",
                              "keepalive_interval", "keepalive_count", "data_timeout", "backoff_cap", "failback_interval"])
    }

    @Test("a re-read configuration is checked as run checks its start: a host listed twice, a missing key or known_hosts")
    func checkedAsAtStart() throws {
        var twice = RunConfiguration(hosts: [HostSpec(host: "a.example", port: 22), HostSpec(host: "A.example", port: 22)])
        #expect(throws: TunnelError.self) { try ConfigurationReload.check(twice) }
        do {
            try ConfigurationReload.check(twice)
        } catch {
            #expect(error.message.contains("listed twice") && error.exitsAsConfigurationError)
        }
        twice.hosts = [HostSpec(host: "a.example", port: 22)]
        twice.connection.identity = "/nonexistent/entropy-tunnel-test-key"
        do {
            try ConfigurationReload.check(twice)
            Issue.record("a missing key passed the check")
        } catch {
            #expect(error.code == .privateKey && error.message.contains("does not exist"))
        }
    }
}

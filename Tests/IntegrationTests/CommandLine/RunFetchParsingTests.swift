import ArgumentParser
import EntropyTunnelCore
import entropy_tunnel
import Testing

/// The command lines of run and fetch through the real parser, and how flags meet the config file.
struct RunFetchParsingTests {
    @Test("run: repeatable --host, sizes with suffixes, every flag lands in the configuration")
    func runParsing() throws {
        let run = try #require(try EntropyTunnelCommand.parseAsRoot([
            "run", "--host", "a.example", "--host", "[::1]:2200", "--port", "2222", "--window", "32K",
            "--fifo", "/run/x/f", "--fifo-size", "128K", "--sink", "fifo", "--keepalive-interval", "5",
            "--keepalive-count", "2", "--health-min-entropy", "6", "--backoff-cap", "30",
            "--rngd", "/opt/rngd", "--rngd-args", "-x 1", "--failback-interval", "120",
            "--state-file", "/run/x/state.json", "--metrics-file", "/var/x.prom", "--metrics-interval", "2",
        ]) as? RunCommand)
        let values = run.daemon.applied(to: run.connection.values)
        let configuration = try RunConfiguration(values, source: "the command line")
        #expect(configuration.hosts == [HostSpec(host: "a.example", port: 2222), HostSpec(host: "::1", port: 2200)])
        #expect(configuration.connection.window == .kib(32))
        #expect(configuration.connection.deadPeerTimeout == .seconds(10))
        #expect(configuration.fifoSize == .kib(128) && configuration.sink == .fifo && configuration.fifoPath == "/run/x/f")
        #expect(configuration.health?.minEntropy == 6)
        #expect(configuration.rngdPath == "/opt/rngd" && configuration.rngdArguments == ["-x", "1"])
        #expect(configuration.backoff.cap == .seconds(30) && configuration.failbackInterval == .seconds(120))
        #expect(configuration.stateFile == "/run/x/state.json" && configuration.metricsFile == "/var/x.prom")
        #expect(configuration.metricsInterval == .seconds(2))
        // Defaults: the state file in systemd's RuntimeDirectory, no metrics.
        let defaults = try RunConfiguration(ConfigFile.Values().overlaid(with: run.connection.values), source: "the command line")
        #expect(defaults.stateFile == "/run/entropy-tunnel/state.json" && defaults.metricsFile == nil)
    }

    @Test("install takes every run option and writes each one it was given into the config file")
    func installWritesRunOptions() throws {
        let install = try #require(try EntropyTunnelCommand.parseAsRoot([
            "install", "--host", "rng", "--window", "32K", "--sink", "fifo", "--rngd-args", "-x 1",
            "--backoff-cap", "30", "--health-alpha", "1e-12", "--keepalive-interval", "2.5",
        ]) as? InstallCommand)
        let written = Dictionary(uniqueKeysWithValues: install.settings.map { ($0.key, $0.value) })
        #expect(written["window"] == .string("32K"))
        #expect(written["sink"] == .string("fifo"))
        #expect(written["rngd_args"] == .strings(["-x", "1"]))
        #expect(written["backoff_cap"] == .int(30))
        #expect(written["health_alpha"] == .double(1e-12))
        #expect(written["keepalive_interval"] == .double(2.5))
        // What install writes, run reads back to the same configuration.
        let reread = try ConfigFile.parse(install.settings.map { "\($0.key) = \(tomlText($0.value))" }.joined(separator: "\n") + "\nhost = \"rng\"\n", path: "x")
        #expect(reread[Settings.window] == .size(.kib(32)) && reread[Settings.rngdArgs] == .strings(["-x", "1"]))
        #expect(reread[Settings.healthAlpha] == .number(1e-12))
    }

    @Test("nonsense values are rejected with a message naming the option",
          arguments: [["--window", "64Q"], ["--port", "0"], ["--keepalive-count", "0"], ["--fifo-size", "lots"],
                      ["--connect-timeout", "-1"], ["--sink", "kernal"], ["--kernel-bytes", "8"], ["--kernel-bytes", "1M"],
                      ["--kernel-interval", "0"], ["--kernel-interval", "nan"], ["--kernel-interval", "1e300"], ["--state-dir", "relative"],
                      ["--state-file", "state.json"], ["--metrics-file", "/var/lib/node/"], ["--metrics-interval", "0"]])
    func rejectsNonsense(arguments: [String]) {
        do {
            _ = try EntropyTunnelCommand.parseAsRoot(["run", "--host", "h"] + arguments)
            Issue.record("\(arguments) was accepted")
        } catch {
            let message = EntropyTunnelCommand.message(for: error)
            #expect(message.contains(arguments[0]), "\(message)")
        }
    }

    @Test("values the parser accepts but that cannot work are refused by the configuration")
    func configurationRefusals() throws {
        var values = ConfigFile.Values()
        #expect(throws: TunnelError.self) { try RunConfiguration(values, source: "test") }  // no host
        values.hosts = ["h"]
        values[Settings.window] = .size(.kib(1))
        #expect(throws: TunnelError.self) { try RunConfiguration(values, source: "test") }
        values[Settings.window] = nil
        values[Settings.fifo] = .string("relative/path")
        #expect(throws: TunnelError.self) { try RunConfiguration(values, source: "test") }
    }

    @Test("flags win over the config file, the file over the defaults")
    func flagsWinOverFile() throws {
        let file = try ConfigFile.parse("""
            host = ["file.example"]
            window = "128K"
            user = "fromfile"
            """, path: "/etc/entropy-tunnel/config.toml")
        var flags = ConfigFile.Values()
        flags[Settings.window] = .size(.kib(16))
        let configuration = try RunConfiguration(file.overlaid(with: flags), source: "test")
        #expect(configuration.connection.window == .kib(16))
        #expect(configuration.connection.user == "fromfile")
        #expect(configuration.hosts == [HostSpec(host: "file.example", port: 22)])
        #expect(configuration.connection.keepaliveInterval == .seconds(15))
    }

    @Test("fetch needs --bytes; help explains the defaults")
    func fetchParsing() throws {
        let fetch = try #require(try EntropyTunnelCommand.parseAsRoot(["fetch", "--host", "h", "--bytes", "1M"]) as? FetchCommand)
        #expect(fetch.bytes == .mib(1) && fetch.output == "-" && fetch.healthTests)
        #expect(throws: (any Error).self) { try EntropyTunnelCommand.parseAsRoot(["fetch", "--host", "h"]) }
        let help = EntropyTunnelCommand.helpMessage(for: RunCommand.self, columns: 200)
        for text in ["--host", "(default: 64K)", "(default: /run/entropy-tunnel/entropy.fifo)", "--sink", "--rngd", "--config"] {
            #expect(help.contains(text), "run --help lacks \(text)")
        }
    }
}

/// A config value as TOML, as the installer writes it.
func tomlText(_ value: Installer.ConfigValue) -> String {
    switch value {
    case .string(let s): return "\"\(s)\""
    case .int(let n): return "\(n)"
    case .double(let d): return "\(d)"
    case .strings(let list): return "[" + list.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
    }
}

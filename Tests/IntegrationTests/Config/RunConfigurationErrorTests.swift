import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// Configuration mistakes stop `run` at once with EX_CONFIG (78) and a message that says where,
/// before any connection and without a trap: absurd values on the command line and in the config
/// file, a missing rngd, an unusable key. (`fetch`'s --bytes is a usage error, 64.)
@Suite(.serialized, .timeLimit(.minutes(10)))
struct RunConfigurationErrorTests {
    @Test("a value the parser accepts but that cannot work: exit 78, the option named")
    func badValue() throws {
        let result = try runTunnel(["run", "--host", "127.0.0.1:1", "--window", "1K", "--sink", "fifo", "--fifo", "/tmp/et-never.fifo"])
        #expect(result.status == 78)
        #expect(result.stderr.contains("--window 1K is out of range"), "\(result.stderr)")
    }

    @Test("no host anywhere: exit 78, how to give one")
    func noHost() throws {
        let result = try runTunnel(["run", "--config", "/dev/null"])
        #expect(result.status == 78)
        #expect(result.stderr.contains("no entropy host given: pass --host HOST"), "\(result.stderr)")
    }

    @Test("absurd values on the command line: exit 78 for run (64 for fetch), the option named, no trap", arguments: [
        (["--keepalive-count", "99999999999999999999"], "keepalive-count"),
        (["--keepalive-count", "1000000"], "--keepalive-count"),
        (["--connect-timeout", "nan"], "--connect-timeout"),
        (["--connect-timeout", "inf"], "--connect-timeout"),
        (["--connect-timeout", "1e308"], "--connect-timeout"),
        (["--data-timeout", "0"], "--data-timeout"),
        (["--window", "0"], "--window"),
        (["--window", "99999999999999999999G"], "window"),
        (["--fifo-size", "2G"], "--fifo-size"),
        (["--port", "70000"], "--port"),
        (["--health-alpha", "0"], "--health-alpha"),
        (["--health-min-entropy", "nan"], "--health-min-entropy"),
        (["--backoff-cap", "inf"], "--backoff-cap"),
        (["--failback-interval", "1e300"], "--failback-interval"),
        (["--host", ""], "host"),
        (["--host", "a b"], "invalid host"),
        (["--host", "evil\nhost"], "invalid host"),
        (["--fifo-group", "../etc"], "--fifo-group"),
    ] as [([String], String)])
    func absurdFlags(arguments: [String], named: String) throws {
        _ = try? FileManager.default.removeItem(atPath: "/tmp/et-never")
        let result = try runTunnel(["run", "--host", "127.0.0.1:1", "--sink", "fifo", "--fifo", "/tmp/et-never/f"] + arguments)
        #expect(result.signal == nil)
        #expect(result.status == 78, "\(arguments): \(result.status) \(result.stderr)")
        #expect(result.stderr.contains(named), "\(arguments): \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/et-never"))
    }

    @Test("absurd --bytes for fetch: a usage error naming it", arguments: ["0", "-1", "99999999999999999999", "NaN", "2T"])
    func absurdBytes(value: String) throws {
        let result = try runTunnel(["fetch", "--host", "127.0.0.1:1", "--bytes", value])
        #expect(result.signal == nil && result.status == 64, "\(value): \(result.status) \(result.stderr)")
        #expect(result.stderr.contains("bytes"), "\(result.stderr)")
    }

    @Test("absurd values in the config file: exit 78 naming file:line:key", arguments: [
        ("keepalive_count = 9223372036854775807", "keepalive_count"),
        ("connect_timeout = nan", "connect_timeout"),
        ("data_timeout = inf", "data_timeout"),
        ("window = \"99999999999999999999G\"", "window"),
        ("port = 0", "port"),
        ("fifo_group = \"../x\"", "fifo_group"),
        ("health_alpha = -inf", "health_alpha"),
        ("no_such_key = 1", "no_such_key"),
        ("host = [\"a\", 3]", "host"),
        ("fifo = \"relative/f\"", "fifo"),
    ])
    func absurdConfig(line: String, key: String) throws {
        let directory = try makeScratchDirectory()
        let path = directory + "/config.toml"
        try "host = \"127.0.0.1:1\"\nsink = \"fifo\"\n\(line)\n".write(toFile: path, atomically: false, encoding: .utf8)
        let result = try runTunnel(["run", "--config", path])
        #expect(result.signal == nil && result.status == 78, "\(line): \(result.status) \(result.stderr)")
        #expect(result.stderr.contains("\(path):3:") && result.stderr.contains(key), "\(line): \(result.stderr)")
    }

    @Test("a missing rngd or unusable key: exit 78 before connecting", arguments: ["rngd", "key missing", "key mode"])
    func unusableSetup(problem: String) throws {
        let directory = try makeScratchDirectory()
        var arguments = ["run", "--host", "127.0.0.1:1", "--fifo", directory + "/run/f", "--known-hosts", throwawayClient.knownHosts]
        switch problem {
        case "rngd":
            arguments += ["--sink", "rngd", "--rngd", "/nonexistent/rngd", "--identity", throwawayClient.identity]
        case "key missing":
            arguments += ["--sink", "fifo", "--identity", directory + "/no-such-key"]
        default:
            _ = try Shell.run("cp", throwawayClient.identity, directory + "/open-key")
            chmod(directory + "/open-key", 0o644)
            arguments += ["--sink", "fifo", "--identity", directory + "/open-key"]
        }
        let result = try runTunnel(arguments)
        #expect(result.signal == nil && result.status == 78, "\(problem): \(result.status) \(result.stderr)")
        let expected = ["rngd": "/nonexistent/rngd", "key missing": "does not exist", "key mode": "chmod 600"][problem]!
        #expect(result.stderr.contains(expected), "\(result.stderr)")
        if problem == "rngd" { #expect(result.stderr.contains("rng-tools5"), "the Debian package is named: \(result.stderr)") }
    }
}

import EntropyTunnelCore
import Foundation
import Testing

/// `config.toml`: good files, and every kind of error reported with its file, line and key.
struct ConfigFileTests {
    let path = "/etc/entropy-tunnel/config.toml"

    @Test("a complete file parses into every value")
    func completeFile() throws {
        let text = """
            # entropy-tunnel
            host = ["rng.example:2222", "backup.example"]
            port = 2200
            user = "entropy"
            identity = "/etc/entropy-tunnel/id_ed25519"
            known_hosts = "/etc/entropy-tunnel/known_hosts"
            remote_command = "dd if=/dev/hwrng bs=512 status=none"
            window = "128K"
            connect_timeout = 2.5
            keepalive_interval = 15
            keepalive_count = 4
            fifo = "/run/entropy-tunnel/entropy.fifo"
            fifo_size = 65536
            sink = "rngd"
            state_file = "/run/et/state.json"
            metrics_file = "/var/lib/node/et.prom"
            rngd = "/usr/sbin/rngd"
            rngd_args = ["-d", "1"]
            health_min_entropy = 6.5
            health_alpha = 1e-12
            backoff_cap = 60
            failback_interval = 300.0
            log_level = "notice"
            """
        let v = try ConfigFile.parse(text, path: path)
        #expect(v.hosts == ["rng.example:2222", "backup.example"])
        #expect(v.hostSpecs == [HostSpec(host: "rng.example", port: 2222), HostSpec(host: "backup.example", port: 2200)])
        #expect(v[Settings.port] == .integer(2200))
        #expect(v[Settings.user] == .string("entropy"))
        #expect(v[Settings.identity] == .string("/etc/entropy-tunnel/id_ed25519"))
        #expect(v[Settings.knownHosts] == .string("/etc/entropy-tunnel/known_hosts"))
        #expect(v[Settings.remoteCommand] == .string("dd if=/dev/hwrng bs=512 status=none"))
        #expect(v[Settings.window] == .size(.kib(128)))
        #expect(v[Settings.connectTimeout] == .seconds(.milliseconds(2500)))
        #expect(v[Settings.keepaliveInterval] == .seconds(.seconds(15)))
        #expect(v[Settings.keepaliveCount] == .integer(4))
        #expect(v[Settings.fifo] == .string("/run/entropy-tunnel/entropy.fifo"))
        #expect(v[Settings.fifoSize] == .size(.kib(64)))
        #expect(v[Settings.sink] == .string("rngd"))
        #expect(v[Settings.stateFile] == .string("/run/et/state.json") && v[Settings.metricsFile] == .string("/var/lib/node/et.prom"))
        #expect(v[Settings.rngd] == .string("/usr/sbin/rngd"))
        #expect(v[Settings.rngdArgs] == .strings(["-d", "1"]))
        #expect(v[Settings.healthMinEntropy] == .number(6.5))
        #expect(v[Settings.healthAlpha] == .number(1e-12))
        #expect(v[Settings.backoffCap] == .seconds(.seconds(60)))
        #expect(v[Settings.failbackInterval] == .seconds(.seconds(300)))
        #expect(v.logLevel == .notice)
    }

    @Test("an empty file and a single host string are fine; absent keys stay nil")
    func minimalFiles() throws {
        #expect(try ConfigFile.parse("", path: path) == ConfigFile.Values())
        let v = try ConfigFile.parse("host = \"[fe80::1]:22\"\n", path: path)
        #expect(v.hosts == ["[fe80::1]:22"])
        #expect(v[Settings.window] == nil && v.logLevel == nil && v[Settings.rngdArgs] == nil)
    }

    @Test("the shipped example parses, and names every known key")
    func exampleFile() throws {
        let examplePath = #filePath.components(separatedBy: "/Tests/")[0] + "/install/config.toml.example"
        let text = try FileSystem.read(examplePath)
        // Everything is commented out: the file as shipped sets nothing...
        #expect(try ConfigFile.parse(text, path: examplePath) == ConfigFile.Values())
        // ...and uncommenting every setting gives a valid file.
        let uncommented = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("#") && $0.dropFirst().contains("=") && !$0.hasPrefix("# ") ? String($0.dropFirst()) : String($0) }
            .joined(separator: "\n")
        let values = try ConfigFile.parse(uncommented, path: examplePath)
        #expect(values.hosts != nil && values.logLevel == .info && values[Settings.window] == .size(.kib(64)))
        for key in ConfigFile.knownKeys {
            #expect(uncommented.contains("\n\(key) = "), "example lacks \(key)")
        }
    }

    @Test("errors name the file, the line and the key", arguments: [
        ("host = \"rng\"\nwindw = \"64K\"\n", "config.toml:2: unknown key 'windw' (known keys: host, port,"),
        ("host = \"rng\"\n\n\nwindow = \"512x\"\n", "config.toml:4: 'window' must be a size like \"64K\" (or a number of bytes), not \"512x\""),
        ("window = \"1K\"", "config.toml:1: 'window' = 1K is out of range: use 4K to 64M"),
        ("port = \"22\"", "config.toml:1: 'port' must be a port number from 1 to 65535, not \"22\""),
        ("port = 70000", "config.toml:1: 'port' must be a port number from 1 to 65535, not 70000"),
        ("host = 5", "config.toml:1: 'host' must be a string or an array of strings"),
        ("host = [\"a\", 2]", "config.toml:1: 'host' must be a string or an array of strings"),
        ("host = \"a b\"", "config.toml:1: 'host': invalid host 'a b'"),
        ("user = \"\"", "config.toml:1: 'user' must be a user name, not \"\""),
        ("identity = \"id_ed25519\"", "config.toml:1: 'identity' must be an absolute path (starting with /), not \"id_ed25519\""),
        ("connect_timeout = \"10s\"", "config.toml:1: 'connect_timeout' must be a number of seconds from 0.1 to 86400"),
        ("keepalive_interval = 0.5", "config.toml:1: 'keepalive_interval' must be a number of seconds from 1 to 86400"),
        ("keepalive_count = 0", "config.toml:1: 'keepalive_count' must be a count from 1 to 1000, not 0"),
        ("sink = \"kernl\"", "config.toml:1: 'sink' must be one of \"kernel\", \"rngd\", \"fifo\", not \"kernl\""),
        ("kernel_bytes = \"8\"", "config.toml:1: 'kernel_bytes' = 8 is out of range: use 16 to 4K"),
        ("kernel_interval = 0", "config.toml:1: 'kernel_interval' must be a number of seconds from 1 to 86400"),
        ("connection = \"sometimes\"", "config.toml:1: 'connection' must be \"persistent\" or \"on-demand\", not \"sometimes\""),
        ("reserve = \"512\"", "config.toml:1: 'reserve' = 512 is out of range: use 1K to 1M"),
        ("state_dir = \"var/lib\"", "config.toml:1: 'state_dir' must be an absolute path"),
        ("rngd_args = \"-d 1\"", "config.toml:1: 'rngd_args' must be an array of strings"),
        ("rngd_args = [\"-d\", 1]", "config.toml:1: 'rngd_args' must hold only strings"),
        ("health_min_entropy = 9.0", "config.toml:1: 'health_min_entropy' must be a number of bits per byte from 0.1 to 8"),
        ("health_alpha = 1", "config.toml:1: 'health_alpha' must be a probability above 0 and at most 2^-8"),
        ("log_level = \"verbose\"", "config.toml:1: 'log_level' must be one of \"trace\", \"debug\", \"info\", \"notice\", \"warning\", \"error\", \"critical\", not \"verbose\""),
        ("  fifo_size   =  \"2G\"", "config.toml:1: 'fifo_size' = 2G is out of range"),
        ("host = \"a\"\n[tunnel]\nwindow = 1\n", "config.toml:2: unknown section or key 'tunnel'"),
    ])
    func errors(text: String, expected: String) {
        #expect {
            _ = try ConfigFile.parse(text, path: "/etc/entropy-tunnel/config.toml")
        } throws: { error in
            guard let error = error as? TunnelError else { return false }
            return error.code == .configuration && error.message.hasPrefix("/etc/entropy-tunnel/" + expected)
        }
    }

    @Test("TOML syntax errors carry the line")
    func syntaxError() {
        let error = #expect(throws: TunnelError.self) {
            _ = try ConfigFile.parse("host = \"rng\"\nport = 22\nwindow = \"64K\n", path: path)
        }
        #expect(error?.message.hasPrefix("\(path):3: TOML syntax error") == true, "\(error?.message ?? "")")
    }

    @Test("a missing file says so and how to fix it")
    func missingFile() {
        let error = #expect(throws: TunnelError.self) {
            _ = try ConfigFile.load(path: "/nonexistent/config.toml")
        }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("cannot read configuration file /nonexistent/config.toml") == true)
    }
}

/// Text that toml++ 3.4 aborts the process on (found by `install/fuzz.sh config`) never reaches
/// it: the subset check turns it into a syntax error naming the line.
struct ConfigFileHostileTextTests {
    @Test("malformed text is a syntax error with its line, not an abort", arguments: [
        ("[é]\n", 1), ("host = \"a\"\n[\u{0B}]\n", 2), ("host = [}\n", 1), ("host = {a = 1}\n", 1),
        ("host = \"\"\"a\"\"\"\n", 1), ("host = \"a\nb\"\n", 1), ("\n\nwindow = \"64K\" x\n", 3), ("host = [[[[[[\"a\"]]]]]]\n", 1),
        ("host = \"\\q\"\n", 1), ("= 3\n", 1), ("[[a]]\n", 1), ("host = \"a\u{07}\"\n", 1),
    ])
    func hostileText(text: String, line: Int) {
        do {
            _ = try ConfigFile.parse(text, path: "c.toml")
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.message.hasPrefix("c.toml:\(line): TOML syntax error"), "\(text.debugDescription): \(error.message)")
        }
    }

    @Test("what the config uses still parses: CRLF, comments, arrays over lines, quoted keys, numbers")
    func subsetStillParses() throws {
        let text = "# c\r\nhost = [\r\n  \"a.example\", # first\r\n  'b.example:2222',\r\n]\r\n\"window\" = \"32K\"\r\n" +
            "health_alpha = 1e-12\r\nkeepalive_count = 1_0\r\nconnect_timeout = 2.5\r\n"
        let v = try ConfigFile.parse(text, path: "c.toml")
        #expect(v.hosts == ["a.example", "b.example:2222"] && v[Settings.window] == .size(.kib(32)) && v[Settings.healthAlpha] == .number(1e-12))
        #expect(v[Settings.keepaliveCount] == .integer(10) && v[Settings.connectTimeout] == .seconds(.milliseconds(2500)))
    }

    @Test("a claimed min-entropy far below a bit per byte is refused, not a trap", arguments: [1e-20, 0.05, 0])
    func tinyMinEntropy(h: Double) {
        #expect(throws: TunnelError.self) { _ = try ConfigFile.parse("health_min_entropy = \(h)\n", path: "c.toml") }
        #expect(throws: TunnelError.self) { _ = try HealthParameters(minEntropy: h, alpha: 0x1p-40) }
    }
}

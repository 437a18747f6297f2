import Logging
import TOMLKit
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's configuration file, `/etc/entropy-tunnel/config.toml`: one flat TOML table whose
/// snake_case keys mirror the `run` options (command-line flags win over the file).
///
/// Every problem is reported as `PATH:LINE: what is wrong with 'key'`, so an administrator can
/// jump straight to the line. TOMLKit does not expose the positions of keys, so the line of a
/// key is found by scanning the text for `key =` at the start of a line.
public struct ConfigFile {
    /// The default location of the file.
    public static let defaultPath = "/etc/entropy-tunnel/config.toml"

    /// The settings a file holds; `nil` means "not in the file" (the default, or the flag, applies).
    public struct Values: Sendable, Equatable {
        /// Entropy hosts in order of preference, as written (`host = "a"` or
        /// `host = ["a:2222", "b"]`), each already checked by `HostSpec(parsing:)`.
        /// `hostSpecs` applies `port` to those that name none.
        public var hosts: [String]?
        public var port: Int?
        public var user: String?
        public var identity: String?
        public var knownHosts: String?
        public var remoteCommand: String?
        public var window: ByteSize?
        public var connectTimeout: Duration?
        public var keepaliveInterval: Duration?
        public var keepaliveCount: Int?
        public var dataTimeout: Duration?
        public var fifo: String?
        /// A group that may read the FIFO (mode 0640); nil: only the daemon's user (0600).
        public var fifoGroup: String?
        public var fifoSize: ByteSize?
        /// `"kernel"`, `"rngd"` or `"fifo"`.
        public var sink: String?
        /// Seconds between kernel feeds after the CRNG is ready (`--sink kernel`).
        public var kernelInterval: Duration?
        /// Bytes per kernel feed (`--sink kernel`).
        public var kernelBytes: ByteSize?
        /// `"persistent"` or `"on-demand"`.
        public var connection: String?
        /// On-demand mode's reserve.
        public var reserve: ByteSize?
        /// Where the seed for the next boot lives.
        public var stateDir: String?
        /// Where `run` keeps its state for `entropy-tunnel status`.
        public var stateFile: String?
        /// A Prometheus textfile to write the counters to (off when nil).
        public var metricsFile: String?
        /// How often the metrics file is written: a command-line-only setting, for tests.
        public var metricsInterval: Duration?
        public var rngd: String?
        public var rngdArguments: [String]?
        /// Claimed min-entropy in bits per byte, 0.1 <= H <= 8.
        public var healthMinEntropy: Double?
        /// False-alarm probability of the health tests, 0 < alpha <= 2^-8.
        public var healthAlpha: Double?
        public var backoffCap: Duration?
        public var failbackInterval: Duration?
        public var logLevel: Logger.Level?

        public init() {}

        /// `hosts` parsed, with `port` (or 22) for those that name no port of their own.
        public var hostSpecs: [HostSpec]? {
            hosts?.compactMap { try? HostSpec(parsing: $0, defaultPort: port ?? 22) }
        }
    }

    /// Every key the file may hold, in the order of the example file.
    public static let knownKeys = Settings.all.map(\.key)

    /// Whether `name` can be a group name (what `groupadd` accepts): no path or shell surprises.
    public static func isGroupName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 32 && !name.hasPrefix("-") &&
            name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") ||
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ||
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// The sinks `sink` accepts.
    public static var sinkNames: [String] {
        guard case .choice(let names) = Settings.sink.kind else { return [] }
        return names
    }

    /// Reads and parses the file at `path`.
    public static func load(path: String) throws(TunnelError) -> Values {
        let text: String
        do throws(TunnelError) {
            text = try FileSystem.read(path)
        } catch {
            throw TunnelError(.configuration,
                              "cannot read configuration file \(path): \(error.errno.map { "\($0)" } ?? error.message); " +
                              "create it (see install/config.toml.example) or pass --config with another path",
                              errno: error.errno)
        }
        return try parse(text, path: path)
    }

    /// Parses `text`; `path` is only used in messages.
    public static func parse(_ text: String, path: String) throws(TunnelError) -> Values {
        // toml++ aborts the process on some malformed text: only text it cannot trip on reaches it.
        try TOMLSubset.check(text, path: path)
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw TunnelError(.configuration, "\(path):\(error.source.begin.line): TOML syntax error: \(error.description)")
        } catch {
            throw TunnelError(.configuration, "\(path): TOML syntax error: \(error)")
        }
        var reader = Reader(path: path, lines: text.lines, table: table)
        return try reader.read()
    }

    /// Walks the parsed table key by key, converting and checking each value.
    private struct Reader {
        let path: String
        let lines: [String]
        let table: TOMLTable

        mutating func read() throws(TunnelError) -> Values {
            for key in table.keys where !ConfigFile.knownKeys.contains(key) {
                let kind = table[key]?.type == .table ? "unknown section or key" : "unknown key"
                throw fail(key, "\(kind) '\(key)' (known keys: \(ConfigFile.knownKeys.joined(separator: ", ")))")
            }
            var v = Values()
            if let value = table["host"] {
                let names: [String]
                if let one = value.string {
                    names = [one]
                } else if let array = value.array {
                    var collected: [String] = []
                    for element in array {
                        guard let s = element.string else {
                            throw fail("host", "'host' must be a string or an array of strings, like \"rng.example:2222\"")
                        }
                        collected.append(s)
                    }
                    names = collected
                } else {
                    throw fail("host", "'host' must be a string or an array of strings, like \"rng.example:2222\", not \(describe(value))")
                }
                if names.isEmpty { throw fail("host", "'host' must name at least one entropy host") }
                for name in names {
                    do throws(TunnelError) {
                        _ = try HostSpec(parsing: name)
                    } catch {
                        throw fail("host", "'host': \(error.message)")
                    }
                }
                v.hosts = names
            }
            v.port = try int(Settings.port, "a port number")
            v.user = try string("user", check: { !$0.isEmpty }, "a user name")
            v.identity = try path("identity")
            v.knownHosts = try path("known_hosts")
            v.remoteCommand = try string("remote_command", check: { !$0.trimmingSpaces.isEmpty }, "a shell command, like \"\(ConnectionOptions.defaultRemoteCommand)\"")
            v.window = try size(Settings.window)
            v.connectTimeout = try seconds(Settings.connectTimeout)
            v.keepaliveInterval = try seconds(Settings.keepaliveInterval)
            v.keepaliveCount = try int(Settings.keepaliveCount, "a count")
            v.dataTimeout = try seconds(Settings.dataTimeout)
            v.fifo = try path("fifo")
            v.fifoGroup = try string("fifo_group", check: ConfigFile.isGroupName, "a group name, like \"rngd\"")
            v.fifoSize = try size(Settings.fifoSize)
            v.sink = try string("sink", check: { ConfigFile.sinkNames.contains($0) }, "one of \(ConfigFile.sinkNames.map { "\"\($0)\"" }.joined(separator: ", "))")
            v.kernelInterval = try seconds(Settings.kernelInterval)
            v.kernelBytes = try size(Settings.kernelBytes)
            v.connection = try string("connection", check: { ConnectionMode(rawValue: $0) != nil }, "\"persistent\" or \"on-demand\"")
            v.reserve = try size(Settings.reserve)
            v.stateDir = try path("state_dir")
            v.stateFile = try path("state_file")
            v.metricsFile = try path("metrics_file")
            v.rngd = try path("rngd")
            if let value = table["rngd_args"] {
                guard let array = value.array else {
                    throw fail("rngd_args", "'rngd_args' must be an array of strings, like [\"-d\", \"1\"], not \(describe(value))")
                }
                var arguments: [String] = []
                for element in array {
                    guard let s = element.string else {
                        throw fail("rngd_args", "'rngd_args' must hold only strings, like [\"-d\", \"1\"]; \(describe(element)) is not one")
                    }
                    arguments.append(s)
                }
                v.rngdArguments = arguments
            }
            v.healthMinEntropy = try double("health_min_entropy", "a number of bits per byte from \(Settings.healthMinEntropy.rangeText ?? ""), like 6.0") { Settings.healthMinEntropy.accepts($0) }
            v.healthAlpha = try double("health_alpha", "a probability above 0 and at most 2^-8 (0.00390625), like 1e-12") { Settings.healthAlpha.accepts($0) }
            v.backoffCap = try seconds(Settings.backoffCap)
            v.failbackInterval = try seconds(Settings.failbackInterval)
            if let value = table["log_level"] {
                let names = Logger.Level.allCases.map(\.rawValue)
                guard let s = value.string, let level = Logger.Level(rawValue: s) else {
                    throw fail("log_level", "'log_level' must be one of \(names.joined(separator: ", ")), not \(describe(value))")
                }
                v.logLevel = level
            }
            return v
        }

        // MARK: Typed readers

        func string(_ key: String, check: (String) -> Bool, _ expected: String) throws(TunnelError) -> String? {
            guard let value = table[key] else { return nil }
            guard let s = value.string, check(s) else {
                throw fail(key, "'\(key)' must be \(expected), not \(describe(value))")
            }
            return s
        }

        /// An absolute path: a daemon's working directory is `/`, so relative paths are a trap.
        func path(_ key: String) throws(TunnelError) -> String? {
            try string(key, check: { $0.hasPrefix("/") && !$0.contains("\0") }, "an absolute path (starting with /)")
        }

        func int(_ key: String, in range: ClosedRange<Int>, _ expected: String) throws(TunnelError) -> Int? {
            guard let value = table[key] else { return nil }
            guard let n = value.int, range.contains(n) else {
                throw fail(key, "'\(key)' must be \(expected), not \(describe(value))")
            }
            return n
        }

        func double(_ key: String, _ expected: String, _ check: (Double) -> Bool) throws(TunnelError) -> Double? {
            guard let value = table[key] else { return nil }
            guard let d = value.double ?? value.int.map(Double.init), d.isFinite, check(d) else {
                throw fail(key, "'\(key)' must be \(expected), not \(describe(value))")
            }
            return d
        }

        /// An integer in the setting's range.
        func int(_ setting: Setting, _ what: String) throws(TunnelError) -> Int? {
            guard case .integer(let range) = setting.kind else { preconditionFailure("\(setting.key) is not an integer setting") }
            return try int(setting.key, in: range, "\(what) from \(range.lowerBound) to \(range.upperBound)")
        }

        /// Seconds in the setting's range.
        func seconds(_ setting: Setting) throws(TunnelError) -> Duration? {
            guard case .seconds(let range) = setting.kind else { preconditionFailure("\(setting.key) is not a seconds setting") }
            guard let value = table[setting.key] else { return nil }
            guard let d = value.double ?? value.int.map(Double.init), d.isFinite, range.contains(d) else {
                throw fail(setting.key, "'\(setting.key)' must be a number of seconds from \(range.lowerBound.shortDescription) to " +
                           "\(range.upperBound.shortDescription), like 10 or 2.5, not \(describe(value))")
            }
            return .nanoseconds(Int64((d * 1e9).rounded()))
        }

        /// A size in the setting's range.
        func size(_ setting: Setting) throws(TunnelError) -> ByteSize? {
            guard case .size(let range) = setting.kind else { preconditionFailure("\(setting.key) is not a size setting") }
            return try size(setting.key, in: range, setting.rangeText ?? "")
        }

        /// A size as a string with a K/M/G suffix (`"64K"`) or an integer number of bytes.
        func size(_ key: String, in range: ClosedRange<Int>, _ rangeText: String) throws(TunnelError) -> ByteSize? {
            guard let value = table[key] else { return nil }
            let parsed: ByteSize?
            if let n = value.int {
                parsed = ByteSize(bytes: n)
            } else if let s = value.string {
                parsed = ByteSize(parsing: s)
            } else {
                parsed = nil
            }
            guard let size = parsed else {
                throw fail(key, "'\(key)' must be a size like \"64K\" (or a number of bytes), not \(describe(value))")
            }
            guard range.contains(size.bytes) else {
                throw fail(key, "'\(key)' = \(size) is out of range: use \(rangeText)")
            }
            return size
        }

        // MARK: Messages

        /// A configuration error at the line where `key` is set.
        func fail(_ key: String, _ message: String) -> TunnelError {
            if let line = line(of: key) {
                return TunnelError(.configuration, "\(path):\(line): \(message)")
            }
            return TunnelError(.configuration, "\(path): \(message)")
        }

        /// The 1-based line that sets `key` (`key =`, `"key" =`, or `[key]`).
        func line(of key: String) -> Int? {
            for (index, raw) in lines.enumerated() {
                var rest = Substring(raw.trimmingSpaces)
                if rest.hasPrefix("[") {
                    rest = rest.drop { $0 == "[" || $0 == " " || $0 == "\t" }
                    if rest.hasPrefix(key) || rest.hasPrefix("\"\(key)\"") { return index + 1 }
                    continue
                }
                for spelling in [key, "\"\(key)\"", "'\(key)'"] where rest.hasPrefix(spelling) {
                    let after = rest.dropFirst(spelling.count).drop { $0 == " " || $0 == "\t" }
                    if after.hasPrefix("=") || after.hasPrefix(".") { return index + 1 }
                }
            }
            return nil
        }

        /// A value as the file spells it, for messages: strings quoted, others as TOML writes them.
        func describe(_ value: any TOMLValueConvertible) -> String {
            if let s = value.string { return "\"\(s)\"" }
            if let n = value.int { return "\(n)" }
            if let d = value.double { return "\(d)" }
            if let b = value.bool { return "\(b)" }
            return "a value of type \(value.type)"
        }
    }
}

extension String {
    /// The lines of the text, split at "\n" and at "\r\n" (one Character in Swift, so splitting
    /// at "\n" alone would leave a CRLF file as one line).
    package var lines: [String] {
        split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
    }
}

extension Double {
    /// `1` for 1.0, `0.1` for 0.1: the shortest spelling for messages.
    public var shortDescription: String {
        self == rounded() && abs(self) < 1e15 ? "\(Int(self))" : "\(self)"
    }
}

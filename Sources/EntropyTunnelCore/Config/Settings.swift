/// One setting of `entropy-tunnel run`: its config-file key, its flag, what it takes, its default
/// and its meaning.
///
/// `Settings.all` is the one table of settings. The command-line help (`ArgumentHelp` is built
/// from `help`), the config reader (its keys, order and ranges), `install` (which keys it writes,
/// in this order) and the manual page read it, and tests check that the example config file and
/// the code's defaults agree with it, so none of them can drift.
public struct Setting: Sendable {
    /// What a setting takes, with its range where it has one.
    public enum Kind: Sendable {
        case hosts
        case text
        /// An absolute path.
        case path
        case integer(ClosedRange<Int>)
        /// Seconds, as an integer or a decimal number.
        case seconds(ClosedRange<Double>)
        /// A size with a K/M/G suffix, or a number of bytes.
        case size(ClosedRange<Int>)
        /// A decimal number (bits per byte, a probability).
        case number(ClosedRange<Double>)
        case choice([String])
        /// A probability above 0, at most `max`.
        case probability(max: Double)
        /// A list of words (rngd's extra arguments).
        case words
        case group
    }

    /// The config-file key.
    public let key: String
    /// The flag's placeholder in help (`<seconds>`).
    public let valueName: String
    public let kind: Kind
    /// The default as people read it (`64K`, `60`), or nil when there is none.
    public let defaultText: String?
    /// The default as a TOML value (`"64K"`, `60`), or nil when there is none.
    public let defaultTOML: String?
    /// What it does, one or two sentences (no default, no range: those are added from the table).
    public let summary: String
    /// Which commands read it.
    public let scope: Scope

    public enum Scope: Sendable {
        /// `run`, `fetch`, `check` (the connection).
        case connection
        /// `run` only (the sink, rngd, pacing).
        case daemon
    }

    /// `--data-timeout` for `data_timeout`.
    public var flag: String { "--" + String(key.map { $0 == "_" ? "-" : $0 }) }

    /// The range in words, for help and messages ("1 to 86400").
    public var rangeText: String? {
        switch kind {
        case .integer(let r): return "\(r.lowerBound) to \(r.upperBound)"
        case .seconds(let r): return "\(r.lowerBound.shortDescription) to \(r.upperBound.shortDescription) seconds"
        case .size(let r): return "\(ByteSize(bytes: r.lowerBound)) to \(ByteSize(bytes: r.upperBound))"
        case .number(let r): return "\(r.lowerBound.shortDescription) to \(r.upperBound.shortDescription)"
        case .probability(let max): return "above 0, at most \(max == 0x1p-8 ? "2^-8" : max.shortDescription)"
        case .choice(let names): return names.joined(separator: ", ")
        default: return nil
        }
    }

    /// The help line for `--help` and the manual: the summary, the range, the default. (The
    /// values of a choice are listed by the argument parser itself.)
    public var helpText: String {
        var text = summary
        if case .choice = kind {
        } else if let rangeText {
            text += " Range: \(rangeText)."
        }
        if let defaultText { text += " (default: \(defaultText))" }
        return text
    }

    /// Whether `value` is in range (finite, for numbers).
    public func accepts(_ value: Double) -> Bool {
        guard value.isFinite else { return false }
        switch kind {
        case .seconds(let r), .number(let r): return r.contains(value)
        case .probability(let max): return value > 0 && value <= max
        case .integer(let r): return value == value.rounded() && Double(r.lowerBound) <= value && value <= Double(r.upperBound)
        case .size(let r): return Double(r.lowerBound) <= value && value <= Double(r.upperBound)
        default: return true
        }
    }

    /// "--window 1K is out of range: give 4K to 64M".
    public func outOfRange(_ shown: String) -> String {
        "\(flag) \(shown) is out of range: give \(rangeText ?? "a valid value")"
    }
}

/// The table. Order: the example config file's, which `install` and the manual follow too.
public enum Settings {
    public static let host = Setting(
        key: "host", valueName: "host", kind: .hosts, defaultText: nil, defaultTOML: nil,
        summary: "An entropy host: HOST, HOST:PORT or [IPv6]:PORT. Repeat the flag (or give a list in the file) for fallbacks, most preferred first.",
        scope: .connection)
    public static let port = Setting(
        key: "port", valueName: "port", kind: .integer(1...65535), defaultText: "22", defaultTOML: "22",
        summary: "SSH port for hosts that name none.", scope: .connection)
    public static let user = Setting(
        key: "user", valueName: "user", kind: .text, defaultText: "entropy", defaultTOML: "\"entropy\"",
        summary: "User to log in as on the entropy host.", scope: .connection)
    public static let identity = Setting(
        key: "identity", valueName: "file", kind: .path, defaultText: "/etc/entropy-tunnel/id_ed25519",
        defaultTOML: "\"/etc/entropy-tunnel/id_ed25519\"",
        summary: "Private key (OpenSSH format, Ed25519 or ECDSA, no passphrase, mode 0600).", scope: .connection)
    public static let knownHosts = Setting(
        key: "known_hosts", valueName: "file", kind: .path, defaultText: "/etc/entropy-tunnel/known_hosts",
        defaultTOML: "\"/etc/entropy-tunnel/known_hosts\"",
        summary: "OpenSSH known_hosts file holding the hosts' pinned keys.", scope: .connection)
    public static let remoteCommand = Setting(
        key: "remote_command", valueName: "command", kind: .text, defaultText: ConnectionOptions.defaultRemoteCommand,
        defaultTOML: "\"\(ConnectionOptions.defaultRemoteCommand)\"",
        summary: "Command that streams the host's RNG; ignored by a host whose key forces a command.", scope: .connection)
    public static let window = Setting(
        key: "window", valueName: "size", kind: .size(4 << 10 ... 64 << 20), defaultText: "64K", defaultTOML: "\"64K\"",
        summary: "SSH channel receive window: the most the host sends ahead of use. K/M/G suffixes.", scope: .connection)
    public static let connectTimeout = Setting(
        key: "connect_timeout", valueName: "seconds", kind: .seconds(0.1 ... 86_400), defaultText: "10", defaultTOML: "10",
        summary: "Seconds allowed to connect, check the host key, authenticate and start the command.", scope: .connection)
    public static let keepaliveInterval = Setting(
        key: "keepalive_interval", valueName: "seconds", kind: .seconds(1 ... 86_400), defaultText: "15", defaultTOML: "15",
        summary: "Seconds between SSH keepalives.", scope: .connection)
    public static let keepaliveCount = Setting(
        key: "keepalive_count", valueName: "n", kind: .integer(1 ... 1000), defaultText: "3", defaultTOML: "3",
        summary: "Keepalive intervals without an answer before the host counts as dead.", scope: .connection)
    public static let dataTimeout = Setting(
        key: "data_timeout", valueName: "seconds", kind: .seconds(1 ... 86_400), defaultText: "60", defaultTOML: "60",
        summary: "Seconds a host may answer keepalives yet send no data (while there is room for it) before it counts as failed.",
        scope: .connection)
    public static let fifo = Setting(
        key: "fifo", valueName: "path", kind: .path, defaultText: "/run/entropy-tunnel/entropy.fifo",
        defaultTOML: "\"/run/entropy-tunnel/entropy.fifo\"",
        summary: "The FIFO to create and fill (sinks rngd and fifo).", scope: .daemon)
    public static let fifoGroup = Setting(
        key: "fifo_group", valueName: "name", kind: .group, defaultText: nil, defaultTOML: nil,
        summary: "A group whose members may read (never write) the FIFO: mode 0640 instead of 0600.", scope: .daemon)
    public static let fifoSize = Setting(
        key: "fifo_size", valueName: "size", kind: .size(4 << 10 ... 1 << 30), defaultText: "64K", defaultTOML: "\"64K\"",
        summary: "FIFO capacity, at most /proc/sys/fs/pipe-max-size (1M by default).", scope: .daemon)
    public static let sink = Setting(
        key: "sink", valueName: "kernel|rngd|fifo", kind: .choice(["kernel", "rngd", "fifo"]), defaultText: "kernel",
        defaultTOML: "\"kernel\"",
        summary: """
            Where the bytes go. kernel: feed the kernel directly (RNDADDENTROPY, then RNDRESEEDCRNG every \
            --kernel-interval; needs CAP_SYS_ADMIN, else bytes are only mixed in by write()). rngd: fill a FIFO and \
            start and supervise rngd on it (rngd 5 feeds once after boot and then waits forever on kernels since 5.18). \
            fifo: only fill the FIFO, for another reader.
            """,
        scope: .daemon)
    public static let kernelInterval = Setting(
        key: "kernel_interval", valueName: "seconds", kind: .seconds(1 ... 86_400), defaultText: "60", defaultTOML: "60",
        summary: "Kernel sink: seconds between feeds (and reseeds) once the kernel's CRNG is ready; SIGUSR1 feeds at once.",
        scope: .daemon)
    public static let kernelBytes = Setting(
        key: "kernel_bytes", valueName: "size", kind: .size(KernelFeedPolicy.batchRange.lowerBound ... KernelFeedPolicy.batchRange.upperBound),
        defaultText: "64", defaultTOML: "64",
        summary: "Kernel sink: bytes per feed.", scope: .daemon)
    public static let connection = Setting(
        key: "connection", valueName: "persistent|on-demand", kind: .choice(["persistent", "on-demand"]),
        defaultText: "on-demand with the kernel sink, persistent with rngd and fifo", defaultTOML: nil,
        summary: """
            persistent: hold one session and stream through it. on-demand (kernel sink only): keep --reserve \
            health-tested bytes in memory, feed the kernel from them, refill in one short session when below a quarter, \
            and hold no connection in between (for fleets: the host gives out only what is used).
            """,
        scope: .daemon)
    public static let reserve = Setting(
        key: "reserve", valueName: "size", kind: .size(1 << 10 ... 1 << 20), defaultText: "4K", defaultTOML: "\"4K\"",
        summary: "On-demand connections: bytes kept in memory for the kernel sink (whole 512-byte health windows are fetched).",
        scope: .daemon)
    public static let stateDir = Setting(
        key: "state_dir", valueName: "dir", kind: .path, defaultText: "/var/lib/entropy-tunnel", defaultTOML: "\"/var/lib/entropy-tunnel\"",
        summary: "Kernel sink: the directory of the seed for the next boot (see `entropy-tunnel seed`).", scope: .daemon)
    public static let stateFile = Setting(
        key: "state_file", valueName: "path", kind: .path, defaultText: "/run/entropy-tunnel/state.json",
        defaultTOML: "\"/run/entropy-tunnel/state.json\"",
        summary: "Where run keeps its state for `entropy-tunnel status` (JSON, mode 0640).", scope: .daemon)
    public static let metricsFile = Setting(
        key: "metrics_file", valueName: "path", kind: .path, defaultText: nil, defaultTOML: nil,
        summary: "Write Prometheus metrics to this file (for node_exporter's textfile collector) at most every 15 s and at the stop (default: off).",
        scope: .daemon)
    public static let rngd = Setting(
        key: "rngd", valueName: "path", kind: .path, defaultText: nil, defaultTOML: nil,
        summary: "The rngd binary (default: rngd on PATH, else /usr/sbin/rngd).", scope: .daemon)
    public static let rngdArgs = Setting(
        key: "rngd_args", valueName: "args", kind: .words, defaultText: nil, defaultTOML: "[]",
        summary: "Extra arguments for rngd, after those chosen for its flavour (separated by spaces on the command line, e.g. \"-s 64\").",
        scope: .daemon)
    public static let healthMinEntropy = Setting(
        key: "health_min_entropy", valueName: "bits", kind: .number(0.1 ... 8), defaultText: "7", defaultTOML: "7.0",
        summary: "Health tests: claimed min-entropy of the host's RNG, in bits per byte (also the credit per byte before the CRNG is ready).",
        scope: .connection)
    public static let healthAlpha = Setting(
        key: "health_alpha", valueName: "alpha", kind: .probability(max: 0x1p-8), defaultText: "2^-40, about 9.1e-13",
        defaultTOML: "9.094947017729282e-13",
        summary: "Health tests: false-alarm probability per test.", scope: .connection)
    public static let backoffCap = Setting(
        key: "backoff_cap", valueName: "seconds", kind: .seconds(1 ... 86_400), defaultText: "60", defaultTOML: "60",
        summary: "Longest wait between reconnection attempts.", scope: .daemon)
    public static let failbackInterval = Setting(
        key: "failback_interval", valueName: "seconds", kind: .seconds(1 ... 86_400), defaultText: "300", defaultTOML: "300",
        summary: "While on a fallback host, seconds between tries of the preferred one.", scope: .daemon)
    public static let logLevel = Setting(
        key: "log_level", valueName: "level", kind: .choice(["trace", "debug", "info", "notice", "warning", "error", "critical"]),
        defaultText: "info", defaultTOML: "\"info\"",
        summary: "Log level.", scope: .connection)

    /// Every setting, in the example file's order.
    public static let all: [Setting] = [
        host, port, user, identity, knownHosts, remoteCommand, window, connectTimeout, keepaliveInterval, keepaliveCount,
        dataTimeout, backoffCap, failbackInterval, fifo, fifoSize, fifoGroup, sink, kernelInterval, kernelBytes, connection,
        reserve, stateDir,
        stateFile, metricsFile, rngd, rngdArgs, healthMinEntropy, healthAlpha, logLevel,
    ]

    /// The setting with config key `key`.
    public static func named(_ key: String) -> Setting? { all.first { $0.key == key } }
}

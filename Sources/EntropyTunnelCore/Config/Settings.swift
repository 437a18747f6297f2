import Logging

/// The table of settings: every setting of `run` once, in the order of the example config file,
/// which `install` and the manual page follow too (see `Setting`).
public enum Settings {
    // MARK: The entropy host

    public static let host = Setting(
        "host", "host", .hosts, default: nil,
        Setting.Binding(
            set: { configuration, value throws(TunnelError) in
                guard case .strings(let names) = value else { preconditionFailure("host takes a list") }
                var hosts: [HostSpec] = []
                // `port` is applied first (`applyOrder`): it is the port of hosts that name none.
                for name in names { hosts.append(try HostSpec(parsing: name, defaultPort: configuration.port)) }
                configuration.hosts = hosts
                if let first = hosts.first { configuration.connection.host = first }
            },
            get: { .strings($0.hosts.map(\.description)) },
            differs: { $0.hosts != $1.hosts },
            copy: { $0.hosts = $1.hosts; $0.connection.host = $1.connection.host }),
        reload: .live, scope: .connection,
        summary: "An entropy host: HOST, HOST:PORT or [IPv6]:PORT. Repeat the flag (or give a list in the file) for fallbacks, most preferred first.",
        example: .init(section: "The entropy host", comment: """
            The entropy host: "HOST", "HOST:PORT" or "[IPv6]:PORT". Required (here or with --host).
            A list names fallbacks in order of preference: ["rng1.example", "rng2.example:2222"].
            """, value: "\"rng.example\""))

    public static let port = Setting(
        "port", "port", .integer(1...65535), default: .integer(22), .integer(\.port),
        reload: .live, scope: .connection, expected: "a port number",
        summary: "SSH port for hosts that name none.",
        example: .init(comment: "SSH port for hosts that name none."))

    public static let user = Setting(
        "user", "user", .text, default: .string("entropy"), .string(\.connection.user),
        reload: .live, scope: .connection, expected: "a user name",
        summary: "User to log in as on the entropy host.",
        example: .init(comment: "The unprivileged user on the entropy host (`entropy-tunnel keys authorize --user` there)."))

    public static let identity = Setting(
        "identity", "file", .file, default: .string("/etc/entropy-tunnel/id_ed25519"), .string(\.connection.identity),
        reload: .live, scope: .connection,
        summary: "Private key (OpenSSH format, Ed25519 or ECDSA, no passphrase, mode 0600).",
        example: .init(comment: """
            This machine's private key: Ed25519 or ECDSA, OpenSSH format, no passphrase, mode 0600.
            Made by `entropy-tunnel keys generate`.
            """))

    public static let knownHosts = Setting(
        "known_hosts", "file", .file, default: .string("/etc/entropy-tunnel/known_hosts"), .string(\.connection.knownHosts),
        reload: .live, scope: .connection,
        summary: "OpenSSH known_hosts file holding the hosts' pinned keys.",
        example: .init(comment: """
            The host's pinned key, in OpenSSH known_hosts format. Written by `entropy-tunnel keys trust`.
            A host whose key is not pinned here is refused.
            """))

    public static let remoteCommand = Setting(
        "remote_command", "command", .text, default: .string(ConnectionOptions.defaultRemoteCommand),
        .string(\.connection.remoteCommand),
        reload: .live, scope: .connection, expected: "a shell command, like \"\(ConnectionOptions.defaultRemoteCommand)\"",
        summary: "Command that streams the host's RNG; ignored by a host whose key forces a command.",
        example: .init(comment: """
            The command that streams the host's RNG. Ignored when the host's authorized_keys line forces
            a command (as `keys authorize` sets it up); change it there instead.
            """))

    // MARK: The connection

    public static let window = Setting(
        "window", "size", .size(ConnectionOptions.minimumWindow ... 64 << 20), default: .size(.kib(64)),
        .size(\.connection.window),
        reload: .live, scope: .connection,
        summary: "SSH channel receive window: the most the host sends ahead of use. K/M/G suffixes.",
        example: .init(section: "The connection", comment: """
            SSH channel receive window: the most the host sends ahead of use (K, M, G suffixes; {range}).
            Smaller drains the host's RNG less; 64K is far above any hardware RNG's rate.
            """))

    public static let connectTimeout = Setting(
        "connect_timeout", "seconds", .seconds(0.1 ... 86_400), default: .seconds(.seconds(10)), .seconds(\.connection.connectTimeout),
        reload: .live, scope: .connection,
        summary: "Seconds allowed to connect, check the host key, authenticate and start the command.",
        example: .init(comment: "Seconds allowed to connect, check the host key, authenticate and start the command."))

    public static let keepaliveInterval = Setting(
        "keepalive_interval", "seconds", .seconds(1 ... 86_400), default: .seconds(.seconds(15)),
        .seconds(\.connection.keepaliveInterval),
        reload: .live, scope: .connection,
        summary: "Seconds between SSH keepalives.",
        example: .init(comment: "Seconds between SSH keepalives while the host is silent."))

    public static let keepaliveCount = Setting(
        "keepalive_count", "n", .integer(1 ... 1000), default: .integer(3), .integer(\.connection.keepaliveCount),
        reload: .live, scope: .connection, expected: "a count",
        summary: "Keepalive intervals without an answer before the host counts as dead.",
        example: .init(comment: """
            Keepalive intervals without an answer before the host counts as dead and is reconnected
            ({range}).
            """))

    public static let dataTimeout = Setting(
        "data_timeout", "seconds", .seconds(1 ... 86_400), default: .seconds(.seconds(60)), .seconds(\.connection.dataTimeout),
        reload: .live, scope: .connection,
        summary: "Seconds a host may answer keepalives yet send no data (while there is room for it) before it counts as failed.",
        example: .init(comment: """
            Seconds a host may answer keepalives yet deliver no bytes (while the FIFO has room for them)
            before it counts as failed: a stuck RNG reader. {range}.
            """))

    public static let backoffCap = Setting(
        "backoff_cap", "seconds", .seconds(1 ... 86_400), default: .seconds(.seconds(60)), .seconds(\.backoff.cap),
        reload: .live, scope: .daemon,
        summary: "Longest wait between reconnection attempts.",
        example: .init(comment: "Most seconds to wait between reconnection attempts (the wait doubles up to this cap)."))

    public static let failbackInterval = Setting(
        "failback_interval", "seconds", .seconds(1 ... 86_400), default: .seconds(.seconds(300)), .seconds(\.failbackInterval),
        reload: .live, scope: .daemon,
        summary: "While on a fallback host, seconds between tries of the preferred one.",
        example: .init(comment: "With several hosts: seconds after which the first (preferred) host is tried again."))

    // MARK: Where the bytes go

    public static let fifo = Setting(
        "fifo", "path", .file, default: .string("/run/entropy-tunnel/entropy.fifo"), .string(\.fifoPath),
        reload: .restart, scope: .daemon,
        summary: "The FIFO to create and fill (sinks rngd and fifo).",
        example: .init(section: "Where the bytes go", comment: """
            The FIFO entropy-tunnel creates (mode 0600) and keeps filled (sinks "rngd" and "fifo"). An
            existing FIFO must belong to the service's user and not be writable by others.
            """))

    public static let fifoSize = Setting(
        "fifo_size", "size", .size(4 << 10 ... 1 << 30), default: .size(.kib(64)), .size(\.fifoSize),
        reload: .restart, scope: .daemon,
        summary: "FIFO capacity, at most /proc/sys/fs/pipe-max-size (1M by default).",
        example: .init(comment: "FIFO capacity, 4K up to /proc/sys/fs/pipe-max-size (1M by default)."))

    public static let fifoGroup = Setting(
        "fifo_group", "name", .group, default: nil, .optionalString(\.fifoGroup),
        reload: .restart, scope: .daemon,
        summary: "A group whose members may read (never write) the FIFO: mode 0640 instead of 0600.",
        example: .init(comment: """
            A group whose members may read (never write) the FIFO: mode 0640 instead of 0600. The FIFO's
            directory must belong to root or the service's user and be writable by nobody else.
            """, value: "\"rngd\""))

    public static let sink = Setting(
        "sink", "kernel|rngd|fifo", .choice(SinkKind.allCases.map(\.rawValue)), default: .string(SinkKind.kernel.rawValue),
        .choice(\.sink),
        reload: .restart, scope: .daemon,
        summary: """
            Where the bytes go. kernel: feed the kernel directly (RNDADDENTROPY, then RNDRESEEDCRNG every \
            --kernel-interval; needs CAP_SYS_ADMIN, else bytes are only mixed in by write()). rngd: fill a FIFO and \
            start and supervise rngd on it (rngd 5 feeds once after boot and then waits forever on kernels since 5.18). \
            fifo: only fill the FIFO, for another reader.
            """,
        example: .init(comment: """
            Where the bytes go:
            "kernel": feed the kernel directly. Before its CRNG is ready, every byte that arrives
              (RNDADDENTROPY, credited health_min_entropy bits per byte); after, kernel_bytes and a forced
              reseed (RNDRESEEDCRNG) every kernel_interval seconds, nothing in between. SIGUSR1 feeds at
              once. Needs CAP_SYS_ADMIN (the unit keeps it); without it, bytes are written to
              /dev/urandom: mixed in, never credited, no reseed.
            "rngd": keep the FIFO filled and start and supervise rngd reading it. Note: rngd 5 (Debian 12)
              feeds the kernel once after boot and then waits forever on kernels since 5.18.
            "fifo": only keep the FIFO filled, for a consumer you run yourself.
            """))

    public static let kernelInterval = Setting(
        "kernel_interval", "seconds",
        .seconds(KernelFeedPolicy.intervalRange.lowerBound.seconds ... KernelFeedPolicy.intervalRange.upperBound.seconds),
        default: .seconds(.seconds(60)), .seconds(\.kernelInterval),
        reload: .restart, scope: .daemon,
        summary: "Kernel sink: seconds between feeds (and reseeds) once the kernel's CRNG is ready; SIGUSR1 feeds at once.",
        example: .init(comment: """
            Kernel sink: seconds between feeds once the CRNG is ready ({range}), and bytes per feed
            ({range:kernel_bytes}). The kernel's own hardware-RNG driver adds about 64 bytes per 60 s.
            """))

    public static let kernelBytes = Setting(
        "kernel_bytes", "size", .size(KernelFeedPolicy.batchRange), default: .size(ByteSize(bytes: 64)), .bytes(\.kernelBytes),
        reload: .restart, scope: .daemon,
        summary: "Kernel sink: bytes per feed.",
        example: .init(comment: ""))

    public static let connection = Setting(
        "connection", "persistent|on-demand", .choice(ConnectionMode.allCases.map(\.rawValue)), default: nil,
        note: "on-demand with the kernel sink, persistent with rngd and fifo", .optionalChoice(\.connectionChoice),
        reload: .restart, scope: .daemon,
        summary: """
            persistent: hold one session and stream through it. on-demand (kernel sink only): keep --reserve \
            health-tested bytes in memory, feed the kernel from them, refill in one short session when below a quarter, \
            and hold no connection in between (for fleets: the host gives out only what is used).
            """,
        example: .init(comment: """
            How connections are used:
            "persistent": one session, held and streamed through (the default with sinks "rngd" and "fifo").
            "on-demand": kernel sink only, its default. A small reserve of health-tested bytes is kept in
              memory (zeroed when used) and feeds the kernel; when it falls below a quarter it is refilled in
              one short session, and no connection is held in between: the host gives out only what is used
              and holds no session per idle client. Failover, backoff, host-key checks and health tests apply
              to every session. The default below depends on the sink.
            """, value: "\"on-demand\""))

    public static let reserve = Setting(
        "reserve", "size", .size(1 << 10 ... 1 << 20), default: .size(.kib(4)), .bytes(\.reserve),
        reload: .restart, scope: .daemon,
        summary: "On-demand connections: bytes kept in memory for the kernel sink (whole 512-byte health windows are fetched).",
        example: .init(comment: "On-demand connections: bytes kept in memory ({range}; fills ask for whole 512-byte windows)."))

    public static let stateDir = Setting(
        "state_dir", "dir", .path, default: .string("/var/lib/entropy-tunnel"), .string(\.stateDirectory),
        reload: .restart, scope: .daemon,
        summary: "Kernel sink: the directory of the seed for the next boot (see `entropy-tunnel seed`).",
        example: .init(comment: "Kernel sink: the directory of the seed for the next boot (`entropy-tunnel seed load` at boot)."))

    public static let stateFile = Setting(
        "state_file", "path", .file, default: .string(DaemonState.defaultPath), .optionalString(\.stateFile),
        reload: .restart, scope: .daemon,
        summary: "Where run keeps its state for `entropy-tunnel status` (JSON, mode 0640).",
        example: .init(comment: """
            The daemon's state for `entropy-tunnel status` (current host, bytes, kernel feeds, last error),
            rewritten on every event and at least every 10 s; kept at the stop, marked "running": false.
            Mode 0640. The default lies in systemd's RuntimeDirectory=entropy-tunnel.
            """))

    public static let metricsFile = Setting(
        "metrics_file", "path", .file, default: nil, .optionalString(\.metricsFile),
        reload: .restart, scope: .daemon,
        summary: "Write Prometheus metrics to this file (for node_exporter's textfile collector) at most every 15 s and at the stop (default: off).",
        example: .init(comment: """
            Prometheus metrics in the text format, for node_exporter's textfile collector
            (--collector.textfile.directory): written at most every 15 s and at the stop. Off by default.
            """, value: "\"/var/lib/prometheus/node-exporter/entropy-tunnel.prom\""))

    /// How often the metrics file is written: a command-line-only setting, for tests.
    public static let metricsInterval = Setting(
        "metrics_interval", "seconds", .seconds(0.1 ... 86_400), default: .seconds(.seconds(15)), .seconds(\.metricsInterval),
        reload: .restart, scope: .daemon, commandLineOnly: true,
        summary: "Seconds between writes of the metrics file.",
        example: .init(comment: ""))

    public static let rngd = Setting(
        "rngd", "path", .file, default: nil, .optionalString(\.rngdPath),
        reload: .restart, scope: .daemon, checksFlag: false,
        summary: "The rngd binary (default: rngd on PATH, else /usr/sbin/rngd).",
        example: .init(comment: """
            The rngd program (Debian: package rng-tools5 or rng-tools-debian). Default: the first rngd
            on PATH or in /usr/sbin.
            """, value: "\"/usr/sbin/rngd\""))

    public static let rngdArgs = Setting(
        "rngd_args", "args", .words, default: .strings([]), .strings(\.rngdArguments),
        reload: .restart, scope: .daemon,
        summary: "Extra arguments for rngd, after those chosen for its flavour (separated by spaces on the command line, e.g. \"-s 64\").",
        example: .init(comment: """
            Extra arguments for rngd, added after those chosen for the installed rngd's flavour
            (rng-tools5: -f -r FIFO -d 1 -n 1).
            """))

    // MARK: Health tests

    public static let healthMinEntropy = Setting(
        "health_min_entropy", "bits", .number(0.1 ... 8), default: .number(HealthParameters.default.minEntropy),
        Setting.Binding(
            set: { configuration, value throws(TunnelError) in
                guard case .number(let h) = value else { preconditionFailure("health_min_entropy takes a number") }
                let current = configuration.health ?? .default
                if configuration.health != nil && current.minEntropy == h { return }
                configuration.health = try HealthParameters(minEntropy: h, alpha: current.alpha)
            },
            get: { $0.health.map { .number($0.minEntropy) } },
            differs: { $0.health?.minEntropy != $1.health?.minEntropy },
            copy: { $0.health = $1.health }),
        reload: .restart, scope: .connection, expected: "a number of bits per byte",
        summary: "Health tests: claimed min-entropy of the host's RNG, in bits per byte (also the credit per byte before the CRNG is ready).",
        example: .init(section: "Health tests (NIST SP 800-90B 4.4) on the received bytes",
                       comment: "Claimed min-entropy of the host's RNG in bits per byte ({range})."))

    public static let healthAlpha = Setting(
        "health_alpha", "alpha", .probability(max: 0x1p-8), default: .number(HealthParameters.default.alpha),
        note: "2^-40, about 9.1e-13",
        Setting.Binding(
            set: { configuration, value throws(TunnelError) in
                guard case .number(let alpha) = value else { preconditionFailure("health_alpha takes a number") }
                let current = configuration.health ?? .default
                if configuration.health != nil && current.alpha == alpha { return }
                configuration.health = try HealthParameters(minEntropy: current.minEntropy, alpha: alpha)
            },
            get: { $0.health.map { .number($0.alpha) } },
            differs: { $0.health?.alpha != $1.health?.alpha },
            copy: { $0.health = $1.health }),
        reload: .restart, scope: .connection,
        summary: "Health tests: false-alarm probability per test.",
        example: .init(comment: "False-alarm probability per test ({range} = 0.0039); 2^-40 is about 9.09e-13."))

    // MARK: Logging

    public static let logLevel = Setting(
        "log_level", "level", .choice(Logger.Level.allCases.map(\.rawValue)), default: .string(Logger.Level.info.rawValue),
        .choice(\.logLevel),
        reload: .restart, scope: .connection,
        summary: "Log level.",
        example: .init(section: "Logging", comment: "trace, debug, info, notice, warning, error or critical. Messages go to the journal."))

    /// Every setting of the config file, in the example file's order.
    public static let all: [Setting] = [
        host, port, user, identity, knownHosts, remoteCommand, window, connectTimeout, keepaliveInterval, keepaliveCount,
        dataTimeout, backoffCap, failbackInterval, fifo, fifoSize, fifoGroup, sink, kernelInterval, kernelBytes, connection,
        reserve, stateDir, stateFile, metricsFile, rngd, rngdArgs, healthMinEntropy, healthAlpha, logLevel,
    ]

    /// Every setting with a flag: the file's and the command-line-only ones.
    public static let commandLine: [Setting] = all + [metricsInterval]

    /// The order in which values are applied: `host` after `port`, whose value it uses.
    static let applyOrder: [Setting] = commandLine.filter { !$0.isHosts } + commandLine.filter(\.isHosts)

    /// The config-file setting with key `key`.
    public static func named(_ key: String) -> Setting? { all.first { $0.key == key } }

    /// The setting with key `key`, command-line-only ones included.
    public static func flagged(_ key: String) -> Setting? { commandLine.first { $0.key == key } }
}

extension Setting {
    var isHosts: Bool { if case .hosts = kind { true } else { false } }
}

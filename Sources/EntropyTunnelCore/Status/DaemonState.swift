/// The daemon's state as `run` writes it to `--state-file` and `status` reads it: a JSON object
/// whose field names are stable (documented in docs/architecture.md, "State file").
public struct DaemonState: Sendable {
    /// Where `run` writes it by default (systemd's `RuntimeDirectory=entropy-tunnel`).
    public static let defaultPath = "/run/entropy-tunnel/state.json"

    /// The process and configuration facts that do not change while it runs.
    public struct Process: Sendable {
        public var pid: Int32
        public var startedAt: Double
        public var sink: SinkKind
        public var kernelInterval: Duration
        public var hosts: [HostSpec]

        public init(pid: Int32, startedAt: Double, configuration: RunConfiguration) {
            self.pid = pid
            self.startedAt = startedAt
            sink = configuration.sink
            kernelInterval = configuration.kernelInterval
            hosts = configuration.hosts
        }
    }

    /// The state file's JSON for `snapshot`; `stoppedAt` nil while running.
    ///
    /// `lastBytesAt`: when the writer last saw `bytes_delivered` grow (it samples; the pump
    /// does not read the clock for this).
    public static func json(_ s: TunnelStats.Snapshot, process p: Process, now: Double,
                            lastBytesAt: Double?, stoppedAt: Double? = nil) -> JSONValue {
        let current: JSONValue
        if s.connected, let host = s.host {
            current = .object([
                ("host", .string(host.description)),
                ("preferred", .bool(host == p.hosts.first)),
                ("since", .optional(s.connectedSince, JSONValue.double)),
                ("host_key", .optional(s.hostKey, JSONValue.string)),
                ("client_key", .optional(s.clientKey, JSONValue.string)),
                ("bytes", .int(Int64(clamping: s.bytesDelivered &- s.bytesAtConnect))),
            ])
        } else {
            current = .null
        }
        let hosts: [JSONValue] = s.hosts.map { h in
            let state: String
            if s.connected, s.host == h.host {
                state = "connected"
            } else if h.failing, let retry = h.retryAt, retry > now {
                state = "backing_off"
            } else if h.failing {
                // May be tried again: at the next failure, or the next failback probe.
                state = "failed"
            } else {
                state = "ok"
            }
            return .object([
                ("host", .string(h.host.description)),
                ("state", .string(state)),
                ("retry_at", h.failing ? .optional(h.retryAt, JSONValue.double) : .null),
                ("last_error", .optional(h.lastError, JSONValue.string)),
                ("last_error_at", .optional(h.lastErrorAt, JSONValue.double)),
                ("client_key", .optional(h.clientKey, JSONValue.string)),
            ])
        }
        var members: [(String, JSONValue)] = [
            ("version", .string(EntropyTunnelVersion.string)),
            ("running", .bool(stoppedAt == nil)),
            ("pid", .int(Int64(p.pid))),
            ("started_at", .double(p.startedAt)),
            ("stopped_at", .optional(stoppedAt, JSONValue.double)),
            ("updated", .double(now)),
            ("sink", .string(p.sink.rawValue)),
            ("mode", p.sink == .kernel ? .optional(s.kernel?.mode.rawValue, JSONValue.string) : .null),
            ("kernel_interval", .double(p.kernelInterval.seconds)),
            ("current", current),
            ("hosts", .array(hosts)),
            ("connections", .int(Int64(s.connections))),
            ("bytes_delivered", .int(Int64(clamping: s.bytesDelivered))),
            ("last_bytes_at", .optional(lastBytesAt, JSONValue.double)),
        ]
        if let k = s.kernel {
            members.append(("kernel", .object([
                ("mode", .string(k.mode.rawValue)),
                ("feeds", .int(Int64(clamping: k.feeds))),
                ("reseeds", .int(Int64(clamping: k.reseeds))),
                ("bytes_mixed", .int(Int64(clamping: k.bytesMixed))),
                ("bits_credited", .int(Int64(clamping: k.bitsCredited))),
                ("add_entropy_calls", .int(Int64(clamping: k.addEntropyCalls))),
                ("add_entropy_failures", failures(k.addEntropyFailures)),
                ("reseed_failures", failures(k.reseedFailures)),
                ("last_feed_at", .optional(k.lastFeedAt, JSONValue.double)),
                ("crng_ready_at", .optional(k.crngReadyAt, JSONValue.double)),
                ("started_before_ready", .bool(k.startedBeforeReady)),
                ("seeds_saved", .int(Int64(clamping: k.seedsSaved))),
                ("seeds_skipped", .int(Int64(clamping: k.seedsSkipped))),
            ])))
        } else {
            members.append(("kernel", .null))
        }
        if let r = s.reserve {
            members.append(("reserve", .object([
                ("capacity", .int(Int64(r.capacity))), ("level", .int(Int64(r.level))),
                ("fills", .int(Int64(clamping: r.fills))), ("sessions", .int(Int64(s.connections))),
                ("last_host", .optional(r.lastHost, JSONValue.string)),
            ])))
        }
        members.append(("rngd", p.sink == .rngd
            ? .object([("pid", .optional(s.rngdPID) { .int(Int64($0)) }), ("restarts", .int(Int64(s.rngdRestarts)))])
            : .null))
        members.append(("health_windows", .object([
            ("passed", .int(Int64(clamping: s.windowsPassed))),
            ("dropped", .int(Int64(clamping: s.windowsDropped))),
        ])))
        members.append(("last_error", s.lastFailure.map {
            .object([("message", .string($0)), ("at", .optional(s.lastFailureAt, JSONValue.double))])
        } ?? .null))
        return .object(members)
    }

    /// Failures by errno as `{"EPERM": 3}`.
    private static func failures(_ byErrno: [Int32: UInt64]) -> JSONValue {
        .object(byErrno.sorted { $0.key < $1.key }.map { (ErrnoSymbol.name($0.key), .int(Int64(clamping: $0.value))) })
    }
}

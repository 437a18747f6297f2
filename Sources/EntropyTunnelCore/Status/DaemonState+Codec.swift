import FoundationEssentials

extension DaemonState {
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

    /// The state for `snapshot`; `stoppedAt` nil while running.
    ///
    /// `lastBytesAt`: when the writer last saw `bytes_delivered` grow (it samples; the pump does
    /// not read the clock for this).
    public init(_ s: TunnelStats.Snapshot, process p: Process, now: Double, lastBytesAt: Double?, stoppedAt: Double? = nil) {
        // The plain members first: a wrapped (`@Nullable`) one is set through its wrapper.
        schemaVersion = Self.schema
        version = EntropyTunnelVersion.string
        running = stoppedAt == nil
        pid = p.pid
        startedAt = Self.time(p.startedAt) ?? 0
        updated = Self.time(now) ?? 0
        sink = p.sink
        kernelInterval = p.kernelInterval.seconds
        hosts = s.hosts.map { h in
            let state: Host.State
            if s.connected, s.host == h.host {
                state = .connected
            } else if h.failing, let retry = h.retryAt, retry > now {
                state = .backingOff
            } else if h.failing {
                // May be tried again: at the next failure, or the next failback probe.
                state = .failed
            } else {
                state = .ok
            }
            return Host(host: h.host.description, state: state, retryAt: h.failing ? h.retryAt.flatMap(Self.time) : nil,
                        lastError: h.lastError, lastErrorAt: h.lastErrorAt.flatMap(Self.time), clientKey: h.clientKey)
        }
        connections = s.connections
        bytesDelivered = s.bytesDelivered
        reserve = s.reserve.map {
            Reserve(capacity: $0.capacity, level: $0.level, fills: $0.fills, sessions: s.connections, lastHost: $0.lastHost)
        }
        healthWindows = HealthWindows(passed: s.windowsPassed, dropped: s.windowsDropped)

        self.stoppedAt = stoppedAt.flatMap(Self.time)
        mode = p.sink == .kernel ? s.kernel?.mode.rawValue : nil
        if s.connected, let host = s.host {
            current = Current(host: host.description, preferred: host == p.hosts.first, since: s.connectedSince.flatMap(Self.time),
                              hostKey: s.hostKey, clientKey: s.clientKey, bytes: s.bytesDelivered &- s.bytesAtConnect)
        }
        self.lastBytesAt = lastBytesAt.flatMap(Self.time)
        idleSince = s.connected ? nil : s.idleSince.flatMap(Self.time)
        if let k = s.kernel {
            kernel = Kernel(mode: k.mode.rawValue, feeds: k.feeds, reseeds: k.reseeds, bytesMixed: k.bytesMixed,
                            bitsCredited: k.bitsCredited, addEntropyCalls: k.addEntropyCalls,
                            addEntropyFailures: Self.byName(k.addEntropyFailures), reseedFailures: Self.byName(k.reseedFailures),
                            lastFeedAt: k.lastFeedAt.flatMap(Self.time), crngReadyAt: k.crngReadyAt.flatMap(Self.time),
                            startedBeforeReady: k.startedBeforeReady, seedsSaved: k.seedsSaved, seedsSkipped: k.seedsSkipped)
        }
        rngd = p.sink == .rngd ? Rngd(pid: s.rngdPID, restarts: s.rngdRestarts) : nil
        lastError = s.lastFailure.map { LastError(message: $0, at: s.lastFailureAt.flatMap(Self.time)) }
    }

    /// A time to the millisecond (precise enough, and the file reads the same); nil if not finite.
    static func time(_ seconds: Double) -> Double? {
        seconds.isFinite ? (seconds * 1000).rounded() / 1000 : nil
    }

    /// Failures by errno name: `{"EPERM": 3}`.
    static func byName(_ byErrno: [Int32: UInt64]) -> [String: UInt64] {
        Dictionary(byErrno.map { (ErrnoSymbol.name($0.key), $0.value) }, uniquingKeysWith: +)
    }

    // MARK: The file's text

    /// The JSON text, two spaces per level, members sorted by name (the same state reads the same).
    public func rendered() throws(TunnelError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
        } catch {
            throw TunnelError(.system, "cannot encode the state: \(error)")
        }
    }

    /// Why a state file cannot be read.
    public enum ReadError: Error, Sendable, Equatable {
        /// Not JSON, not an object of this schema, or a value out of range: written by something
        /// else, or damaged.
        case damaged(String)
        /// Another version of the format: a different entropy-tunnel wrote it.
        case unknownSchema(Int)

        /// The problem in words, for `PATH: ...`.
        public var message: String {
            switch self {
            case .damaged(let why):
                return "is not a state file written by entropy-tunnel run (\(why))"
            case .unknownSchema(let version):
                return "has state file schema \(version), which this entropy-tunnel \(EntropyTunnelVersion.string) does not know " +
                    "(it reads schema \(DaemonState.schema)); run the `status` of the entropy-tunnel that runs"
            }
        }
    }

    /// Reads a state file's text: the schema version first, then every member, then every number
    /// checked to be a plausible time, pid or count. Never traps, whatever the text.
    public static func decode(_ text: String) throws(ReadError) -> DaemonState {
        let data = Data(text.utf8)
        // The version alone first, so that another schema is named as such, not as damage.
        struct Version: Decodable {
            var schemaVersion: Int?
            enum CodingKeys: String, CodingKey { case schemaVersion = "schema_version" }
        }
        let version: Version
        do {
            version = try JSONDecoder().decode(Version.self, from: data)
        } catch {
            throw .damaged(Self.describe(error))
        }
        // A file from before the member existed has the same format as schema 1.
        let schema = version.schemaVersion ?? 1
        guard schema == Self.schema else { throw .unknownSchema(schema) }
        let state: DaemonState
        do {
            state = try JSONDecoder().decode(DaemonState.self, from: data)
        } catch {
            throw .damaged(Self.describe(error))
        }
        try state.checkRanges()
        return state
    }

    /// The decoder's complaint, short: which member and what is wrong.
    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context):
            // FoundationEssentials reports a number out of its member's range (a pid of 1e19) as
            // invalid JSON too, without a path.
            return context.codingPath.isEmpty ? "not JSON, or a number out of range" : "\(path(context.codingPath)): \(context.debugDescription)"
        case DecodingError.keyNotFound(let key, let context):
            return "no member \(path(context.codingPath + [key]))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return context.codingPath.isEmpty ? "not a JSON object" : "\(path(context.codingPath)) has the wrong type"
        default:
            return "not JSON"
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    /// Every time between 1970 and the year 5000, every count and pid non-negative: a file
    /// beyond that is damaged, and no later arithmetic on it can overflow.
    func checkRanges() throws(ReadError) {
        let latest = 1e11
        var times: [(String, Double?)] = [("started_at", startedAt), ("stopped_at", stoppedAt), ("updated", updated),
                                          ("last_bytes_at", lastBytesAt), ("idle_since", idleSince), ("current.since", current?.since),
                                          ("kernel.last_feed_at", kernel?.lastFeedAt), ("kernel.crng_ready_at", kernel?.crngReadyAt),
                                          ("last_error.at", lastError?.at)]
        for (i, host) in hosts.enumerated() {
            times += [("hosts[\(i)].retry_at", host.retryAt), ("hosts[\(i)].last_error_at", host.lastErrorAt)]
        }
        for case let (name, time?) in times where !(time.isFinite && time >= 0 && time <= latest) {
            throw .damaged("\(name) is \(time), not a time")
        }
        guard kernelInterval.isFinite, kernelInterval > 0, kernelInterval <= 1e9 else {
            throw .damaged("kernel_interval is \(kernelInterval), not a number of seconds")
        }
        let counts: [(String, Int?)] = [("pid", Int(pid)), ("connections", connections), ("reserve.capacity", reserve?.capacity),
                                        ("reserve.level", reserve?.level), ("reserve.sessions", reserve?.sessions),
                                        ("rngd.pid", rngd?.pid.map(Int.init)), ("rngd.restarts", rngd?.restarts)]
        for case let (name, n?) in counts where n < 0 {
            throw .damaged("\(name) is \(n), below 0")
        }
    }
}

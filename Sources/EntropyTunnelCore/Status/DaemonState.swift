import FoundationEssentials

/// The state file: what `run` writes to `--state-file` and `status` and `keys` read, one
/// Codable type for both sides (FoundationEssentials' JSON), with the format's version in
/// `schema_version`. Member names are stable (docs/architecture.md, "State file"); an optional
/// member is written as `null`, so every documented member is always there.
public struct DaemonState: Codable, Sendable, Equatable {
    /// Where `run` writes it by default (systemd's `RuntimeDirectory=entropy-tunnel`).
    public static let defaultPath = "/run/entropy-tunnel/state.json"
    /// The version of this format. A reader refuses another: it would misread the file.
    public static let schema = 1

    /// Absent in files written before the member existed (the same format as schema 1).
    public var schemaVersion: Int?
    /// The version of the entropy-tunnel that wrote it.
    public var version: String
    public var running: Bool
    public var pid: Int32
    /// Times are seconds since the epoch.
    public var startedAt: Double
    @Nullable public var stoppedAt: Double? = nil
    public var updated: Double
    public var sink: SinkKind
    /// `ioctl` or `write` (kernel sink only).
    @Nullable public var mode: String? = nil
    public var kernelInterval: Double
    /// The connection held now.
    @Nullable public var current: Current? = nil
    /// Every configured host, in order of preference.
    public var hosts: [Host]
    public var connections: Int
    public var bytesDelivered: UInt64
    /// When the writer last saw `bytes_delivered` grow.
    @Nullable public var lastBytesAt: Double? = nil
    /// Since when no connection is held because the host ended an idle session (`serve
    /// --idle-timeout`: the consumer took nothing); the next connection comes with demand.
    @Nullable public var idleSince: Double? = nil
    @Nullable public var kernel: Kernel? = nil
    /// On-demand connections only (absent otherwise).
    public var reserve: Reserve?
    @Nullable public var rngd: Rngd? = nil
    public var healthWindows: HealthWindows
    @Nullable public var lastError: LastError? = nil
    /// Added by `status --json` (never by `run`): the verdict on this state.
    public var health: DaemonHealth?

    public struct Current: Codable, Sendable, Equatable {
        public var host: String
        /// Whether it is the first (most preferred) host.
        public var preferred: Bool
        @Nullable public var since: Double? = nil
        /// `TYPE SHA256:...` as `ssh-keygen -l` prints it.
        @Nullable public var hostKey: String? = nil
        /// The private key the host accepted: the identity, or `IDENTITY.old` during a rotation.
        @Nullable public var clientKey: String? = nil
        /// Bytes delivered on this connection.
        public var bytes: UInt64

        enum CodingKeys: String, CodingKey {
            case host, preferred, since, hostKey = "host_key", clientKey = "client_key", bytes
        }
    }

    public struct Host: Codable, Sendable, Equatable {
        public enum State: String, Codable, Sendable {
            case connected, ok, failed
            case backingOff = "backing_off"
        }

        public var host: String
        public var state: State
        @Nullable public var retryAt: Double? = nil
        @Nullable public var lastError: String? = nil
        @Nullable public var lastErrorAt: Double? = nil
        /// The private key this host last accepted (the identity, or `IDENTITY.old` during a key
        /// rotation): what `keys list` and `keys rotate --finish` read, also between on-demand fills.
        @Nullable public var clientKey: String? = nil

        enum CodingKeys: String, CodingKey {
            case host, state, retryAt = "retry_at", lastError = "last_error", lastErrorAt = "last_error_at", clientKey = "client_key"
        }
    }

    public struct Kernel: Codable, Sendable, Equatable {
        public var mode: String
        public var feeds: UInt64
        public var reseeds: UInt64
        public var bytesMixed: UInt64
        public var bitsCredited: UInt64
        public var addEntropyCalls: UInt64
        /// Failed calls by errno name: `{"EPERM": 3}`.
        public var addEntropyFailures: [String: UInt64]
        public var reseedFailures: [String: UInt64]
        @Nullable public var lastFeedAt: Double? = nil
        @Nullable public var crngReadyAt: Double? = nil
        public var startedBeforeReady: Bool
        public var seedsSaved: UInt64
        public var seedsSkipped: UInt64

        enum CodingKeys: String, CodingKey {
            case mode, feeds, reseeds, bytesMixed = "bytes_mixed", bitsCredited = "bits_credited",
                 addEntropyCalls = "add_entropy_calls", addEntropyFailures = "add_entropy_failures",
                 reseedFailures = "reseed_failures", lastFeedAt = "last_feed_at", crngReadyAt = "crng_ready_at",
                 startedBeforeReady = "started_before_ready", seedsSaved = "seeds_saved", seedsSkipped = "seeds_skipped"
        }
    }

    public struct Reserve: Codable, Sendable, Equatable {
        public var capacity: Int
        public var level: Int
        public var fills: UInt64
        public var sessions: Int
        /// The host of the last complete fill.
        @Nullable public var lastHost: String? = nil

        enum CodingKeys: String, CodingKey {
            case capacity, level, fills, sessions, lastHost = "last_host"
        }
    }

    public struct Rngd: Codable, Sendable, Equatable {
        @Nullable public var pid: Int32? = nil
        public var restarts: Int
    }

    public struct HealthWindows: Codable, Sendable, Equatable {
        public var passed: UInt64
        public var dropped: UInt64
    }

    public struct LastError: Codable, Sendable, Equatable {
        public var message: String
        @Nullable public var at: Double? = nil
    }

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", version, running, pid, startedAt = "started_at", stoppedAt = "stopped_at",
             updated, sink, mode, kernelInterval = "kernel_interval", current, hosts, connections,
             bytesDelivered = "bytes_delivered", lastBytesAt = "last_bytes_at", idleSince = "idle_since", kernel, reserve, rngd,
             healthWindows = "health_windows", lastError = "last_error", health
    }
}

extension SinkKind: Codable {}

/// An optional member written as `null` when absent (so a reader sees every member), and read
/// as absent when `null` or missing.
@propertyWrapper
public struct Nullable<Value: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try container.decode(Value.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}

extension KeyedDecodingContainer {
    /// A missing `Nullable` member is absent, not an error.
    public func decode<T>(_ type: Nullable<T>.Type, forKey key: Key) throws -> Nullable<T> {
        try decodeIfPresent(type, forKey: key) ?? Nullable(wrappedValue: nil)
    }
}

/// What `entropy-tunnel status` concludes from a state file: a pure value (the clock and
/// whether the pid lives are inputs), so it is tested as a table.
public struct DaemonHealth: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case healthy, degraded, stopped
    }

    public var status: Status
    /// Why it is degraded or stopped, one short sentence each.
    public var reasons: [String]

    /// The exit status of `status`: 0 healthy, 1 degraded, 3 not running (LSB `status`).
    public var exitCode: Int32 {
        switch status {
        case .healthy: return 0
        case .degraded: return 1
        case .stopped: return 3
        }
    }

    public init(status: Status, reasons: [String]) {
        self.status = status
        self.reasons = reasons
    }

    /// No state file: not running, as far as anyone can tell.
    public static let missing = DaemonHealth(status: .stopped, reasons: ["no state file: not running, or never ran with this --state-file"])

    /// Evaluates `state` at wall-clock `now`.
    ///
    /// - Parameter pidAlive: whether the state's pid is a live entropy-tunnel process.
    public init(state: DaemonState, now: Double, pidAlive: Bool) {
        guard state.running else {
            status = .stopped
            reasons = ["stopped cleanly"]
            return
        }
        guard pidAlive else {
            status = .stopped
            reasons = ["pid \(state.pid) is gone without marking the state file stopped (crashed or killed)"]
            return
        }
        var reasons: [String] = []
        let firstHost = state.hosts.first?.host
        if let host = state.current?.host, let firstHost, host != firstHost {
            reasons.append("on fallback host \(host) (the preferred host \(firstHost) is not in use)")
        } else if state.current == nil, let host = state.reserve?.lastHost, let firstHost, host != firstHost {
            // On demand no connection is held: the last fill tells which host is in use.
            reasons.append("last reserve fill from fallback host \(host) (the preferred host \(firstHost) was not usable)")
        }
        if state.sink == .kernel {
            // The feed timer fires every interval; two missed and a little slack is a stall.
            let limit = 2 * state.kernelInterval + 10
            let lastFeed = state.kernel?.lastFeedAt
            let since = now - (lastFeed ?? state.startedAt)
            if since > limit {
                reasons.append(lastFeed == nil
                    ? "no kernel feed since the start \(Age.text(since)) ago"
                    : "no kernel feed for \(Age.text(since)) (more than 2 x \(Age.text(state.kernelInterval)) + 10 s)")
            }
            if state.mode == "write" {
                reasons.append("write mode: no CAP_SYS_ADMIN, bytes are mixed in but not credited and the CRNG is not reseeded")
            }
        } else if state.current == nil, state.idleSince == nil {
            // A full FIFO nobody reads stops the bytes while all is well: only a lost connection
            // counts (not a session the host ended because nothing was asked of it).
            let since = now - (state.lastBytesAt ?? state.startedAt)
            if since > 30 { reasons.append("not connected and no bytes for \(Age.text(since))") }
        }
        status = reasons.isEmpty ? .healthy : .degraded
        self.reasons = reasons
    }

    enum CodingKeys: String, CodingKey {
        case status, exit, reasons
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        status = try container.decode(Status.self, forKey: .status)
        reasons = try container.decode([String].self, forKey: .reasons)
    }

    /// `{"status": "degraded", "exit": 1, "reasons": [...]}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encode(exitCode, forKey: .exit)
        try container.encode(reasons, forKey: .reasons)
    }
}

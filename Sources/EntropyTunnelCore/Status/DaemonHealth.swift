/// What `entropy-tunnel status` concludes from a state file: a pure value (the clock and
/// whether the pid lives are inputs), so it is tested as a table.
public struct DaemonHealth: Sendable, Equatable {
    public enum Status: String, Sendable {
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

    /// Evaluates `state` (the state file's JSON) at wall-clock `now`.
    ///
    /// - Parameter pidAlive: whether the state's pid is a live entropy-tunnel process.
    public init(state: JSONValue, now: Double, pidAlive: Bool) {
        guard state["running"]?.bool == true else {
            status = .stopped
            reasons = ["stopped cleanly"]
            return
        }
        guard pidAlive else {
            status = .stopped
            reasons = ["pid \(state["pid"]?.int ?? 0) is gone without marking the state file stopped (crashed or killed)"]
            return
        }
        var reasons: [String] = []
        let current = state["current"]
        let connected = current?["host"]?.string != nil
        let firstHost = state["hosts"]?.array?.first?["host"]?.string
        if connected, let host = current?["host"]?.string, let firstHost, host != firstHost {
            reasons.append("on fallback host \(host) (the preferred host \(firstHost) is not in use)")
        } else if !connected, let host = state["reserve"]?["last_host"]?.string, let firstHost, host != firstHost {
            // On demand no connection is held: the last fill tells which host is in use.
            reasons.append("last reserve fill from fallback host \(host) (the preferred host \(firstHost) was not usable)")
        }
        let started = state["started_at"]?.double ?? now
        if state["sink"]?.string == "kernel" {
            // The feed timer fires every interval; two missed and a little slack is a stall.
            let interval = state["kernel_interval"]?.double ?? 60
            let limit = 2 * interval + 10
            let lastFeed = state["kernel"]?["last_feed_at"]?.double
            if now - (lastFeed ?? started) > limit {
                reasons.append(lastFeed == nil
                    ? "no kernel feed since the start \(Int(now - started)) s ago"
                    : "no kernel feed for \(Int(now - lastFeed!)) s (more than 2 x \(Int(interval)) s + 10 s)")
            }
            if state["mode"]?.string == "write" {
                reasons.append("write mode: no CAP_SYS_ADMIN, bytes are mixed in but not credited and the CRNG is not reseeded")
            }
        } else if !connected {
            // A full FIFO nobody reads stops the bytes while all is well: only a lost connection counts.
            let lastBytes = state["last_bytes_at"]?.double ?? started
            if now - lastBytes > 30 { reasons.append("not connected and no bytes for \(Int(now - lastBytes)) s") }
        }
        status = reasons.isEmpty ? .healthy : .degraded
        self.reasons = reasons
    }

    /// `{"status": "degraded", "exit": 1, "reasons": [...]}`.
    public var json: JSONValue {
        .object([
            ("status", .string(status.rawValue)),
            ("exit", .int(Int64(exitCode))),
            ("reasons", .array(reasons.map(JSONValue.string))),
        ])
    }
}

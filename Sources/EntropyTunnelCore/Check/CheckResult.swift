/// The outcome of one check of `entropy-tunnel check`: what was checked, how it went, what was
/// found, and, when it failed, the one thing to do about it.
public struct CheckResult: Sendable, Equatable {
    /// How a check went.
    public enum Status: String, Sendable, Equatable {
        /// It holds.
        case pass
        /// It does not hold: the tunnel cannot work (or cannot work as configured) until fixed.
        case fail
        /// It holds, but the set-up works worse than it could (`fix` says how to do better).
        case warning
        /// Not checked: an earlier check failed, or there is nothing to check here.
        case skipped

        /// The mark printed before the check's line.
        public var mark: String {
            switch self {
            case .pass: return "✓"
            case .fail: return "✗"
            case .warning: return "!"
            case .skipped: return "-"
            }
        }
    }

    /// What was checked, e.g. `private key` or `host 10.0.0.5:22: host key matches the pin`.
    public var name: String
    public var status: Status
    /// What was found: the evidence for a pass, the error for a failure.
    public var detail: String
    /// What the admin should do; nil when there is nothing to do.
    public var fix: String?

    public init(_ name: String, _ status: Status, _ detail: String, fix: String? = nil) {
        self.name = name
        self.status = status
        self.detail = detail
        self.fix = fix
    }

    /// The check as printed: `MARK NAME: DETAIL`, then `    fix: FIX` when there is a fix.
    public var text: String {
        var line = "\(status.mark) \(name)"
        if !detail.isEmpty { line += ": \(detail)" }
        if let fix { line += "\n    fix: \(fix)" }
        return line
    }

    /// The exit status of `check` for these results: 0 when nothing failed (warnings allowed),
    /// 78 (EX_CONFIG) when the configuration itself is unusable, 1 otherwise.
    public static func exitStatus(of results: [CheckResult]) -> Int32 {
        if results.first(where: { $0.name == Doctor.configurationCheck })?.status == .fail { return 78 }
        return results.contains { $0.status == .fail } ? 1 : 0
    }

    /// The last command quoted in backticks in `message` (the fix the core's errors name), if any.
    package static func quotedCommand(in message: String) -> String? {
        let parts = message.split(separator: "`", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return nil }
        // Odd indices are inside backticks; take the last complete one.
        let lastInside = parts.count % 2 == 1 ? parts.count - 2 : parts.count - 3
        return lastInside >= 1 ? String(parts[lastInside]) : nil
    }
}

/// How a child process ended. A non-zero status is a result to log and act on, not a crash.
public enum ProcessTermination: Hashable, Sendable, CustomStringConvertible {
    /// It exited with this status (rngd exits 0 even when its source failed).
    case exited(Int32)
    /// A signal ended it (9 for `kill -9`).
    case signalled(Int32)
    /// Someone else in the process reaped it (a stray `waitpid(-1)`), so the status is lost.
    case unknown

    public var description: String {
        switch self {
        case .exited(let code): return "exit status \(code)"
        case .signalled(let signal): return "killed by signal \(signal)"
        case .unknown: return "exit status unknown"
        }
    }
}

import SystemPackage

/// An error a user can act on: what went wrong, with what, and what to do next.
///
/// `code` is for programs (tests, the supervisor's retry policy); `message` is for people and
/// always names the thing involved and, where there is one, the fix.
public struct TunnelError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable {
            case invalidArgument = "invalid argument"
            case connectionFailed = "connection failed"
            case connectionLost = "connection lost"
            case hostKeyUnknown = "unknown host key"
            case hostKeyMismatch = "host key mismatch"
            case authenticationFailed = "authentication failed"
            case privateKey = "unusable private key"
            case remoteCommandFailed = "remote command failed"
            case sink = "sink error"
            case protocolError = "ssh protocol error"
            case system = "system error"
            case timeout = "timed out"
            case stalled = "no data"
            case configuration = "configuration error"
            case rngd = "rngd error"
            case stopped = "stopped"
            case healthTestFailed = "health tests failed"
        }
        fileprivate let base: Base
        private init(_ base: Base) { self.base = base }

        public static let invalidArgument = Code(.invalidArgument)
        public static let connectionFailed = Code(.connectionFailed)
        public static let connectionLost = Code(.connectionLost)
        public static let hostKeyUnknown = Code(.hostKeyUnknown)
        public static let hostKeyMismatch = Code(.hostKeyMismatch)
        public static let authenticationFailed = Code(.authenticationFailed)
        public static let privateKey = Code(.privateKey)
        public static let remoteCommandFailed = Code(.remoteCommandFailed)
        public static let sink = Code(.sink)
        public static let protocolError = Code(.protocolError)
        public static let system = Code(.system)
        public static let timeout = Code(.timeout)
        /// The connection is alive but the host delivered no data for `--data-timeout`.
        public static let stalled = Code(.stalled)
        public static let configuration = Code(.configuration)
        public static let rngd = Code(.rngd)
        /// Not a failure: a stop was requested (SIGTERM, SIGINT) while the operation ran.
        public static let stopped = Code(.stopped)
        /// The host's stream failed the SP 800-90B health tests repeatedly.
        public static let healthTestFailed = Code(.healthTestFailed)

        public var description: String { base.rawValue }
    }

    public let code: Code
    public let message: String
    /// The POSIX error behind this failure, when there is one.
    public let errno: Errno?

    public init(_ code: Code, _ message: String, errno: Errno? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// True for failures that retrying cannot fix: the configuration has to change first.
    public var isConfigurationProblem: Bool {
        switch code {
        case .hostKeyUnknown, .hostKeyMismatch, .authenticationFailed, .privateKey,
             .configuration, .invalidArgument:
            return true
        default:
            return false
        }
    }

    /// True for problems of this machine's set-up that no other host can fix: the private key
    /// or the known_hosts file cannot be used.
    public var isLocalProblem: Bool { code == .privateKey || code == .configuration }

    /// True when the process should exit with 78 (EX_CONFIG) rather than be restarted: a
    /// configuration problem, or a sink that cannot be used as configured (wrong file type,
    /// unsafe ownership, size above the system's limit).
    public var exitsAsConfigurationError: Bool {
        isConfigurationProblem || code == .sink || code == .rngd
    }

    public var description: String { message }
}

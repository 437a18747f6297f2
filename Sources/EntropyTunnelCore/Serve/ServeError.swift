/// Why `entropy-tunnel serve` ends early: one line for its stderr (the client shows it) and a
/// distinct exit status per kind.
public struct ServeError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure; each has its own exit status (documented in `serve --help`).
    public struct Code: Hashable, Sendable {
        fileprivate enum Base: Hashable, Sendable { case malformedRequest, deviceUnusable, deviceFailed, output, tooManySessions, budget }
        fileprivate let base: Base
        private init(_ base: Base) { self.base = base }

        /// The client sent something that is not a request (65, EX_DATAERR).
        public static let malformedRequest = Code(.malformedRequest)
        /// The device is missing, unreadable, or not a character device or FIFO (66, EX_NOINPUT).
        public static let deviceUnusable = Code(.deviceUnusable)
        /// Reading the device failed or hit its end (74, EX_IOERR).
        public static let deviceFailed = Code(.deviceFailed)
        /// Writing to the client failed other than by the client going away (74, EX_IOERR).
        public static let output = Code(.output)
        /// The client key already has `--max-sessions` sessions open (75, EX_TEMPFAIL: retry later).
        public static let tooManySessions = Code(.tooManySessions)
        /// The per-key budget files cannot be kept (73, EX_CANTCREAT).
        public static let budget = Code(.budget)

        /// The exit status of `serve` for this kind.
        public var exitStatus: Int32 {
            switch base {
            case .malformedRequest: 65
            case .deviceUnusable: 66
            case .deviceFailed, .output: 74
            case .tooManySessions: 75
            case .budget: 73
            }
        }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

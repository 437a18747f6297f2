#if canImport(Glibc)
import Glibc
#endif

/// The sd_notify protocol without libsystemd: state lines (`READY=1`, `STATUS=...`,
/// `WATCHDOG=1`, `STOPPING=1`) sent as one datagram to the AF_UNIX socket systemd names in
/// `$NOTIFY_SOCKET` (a leading `@` is Linux's abstract namespace).
///
/// Usage in a `Type=notify` daemon:
///
///     let notifier = SystemdNotifier.fromEnvironment()       // nil when not under systemd
///     notifier?.send("READY=1\nSTATUS=connected to rng.example:22")
///     if let every = notifier?.watchdogPingInterval { ... every `every`: notifier?.send("WATCHDOG=1") }
///     notifier?.send("STOPPING=1")
public final class SystemdNotifier: Sendable {
    /// The socket path as systemd gave it (`/run/systemd/notify` or `@/org/...`).
    public let socketPath: String
    /// The service's watchdog timeout (`WatchdogSec=`), when systemd expects `WATCHDOG=1` pings.
    public let watchdogInterval: Duration?
    private let fd: Int32
    private let address: [UInt8]

    /// Reads `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID`; nil when `$NOTIFY_SOCKET`
    /// is unset or unusable (the process was not started by systemd as `Type=notify`).
    ///
    /// With `unsetEnvironment`, the variables are removed so that children (rngd) do not
    /// inherit them; call it before any thread that reads the environment starts.
    public static func fromEnvironment(unsetEnvironment: Bool = false) -> SystemdNotifier? {
        guard let socket = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }) else { return nil }
        var watchdog: Duration?
        if let usec = getenv("WATCHDOG_USEC").flatMap({ Int64(String(cString: $0)) }), usec > 0 {
            let pid = getenv("WATCHDOG_PID").flatMap { Int32(String(cString: $0)) }
            // WATCHDOG_PID names the process systemd watches; another process's watchdog is not ours.
            if pid == nil || pid == getpid() { watchdog = .microseconds(usec) }
        }
        if unsetEnvironment {
            for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] { unsetenv(name) }
        }
        return SystemdNotifier(socketPath: socket, watchdogInterval: watchdog)
    }

    /// A notifier for `socketPath`; nil when the path is empty, too long or no socket can be made.
    public init?(socketPath: String, watchdogInterval: Duration? = nil) {
        var path = Array(socketPath.utf8)
        guard !path.isEmpty, path.first == UInt8(ascii: "/") || path.first == UInt8(ascii: "@") else { return nil }
        if path[0] == UInt8(ascii: "@") { path[0] = 0 }
        guard path.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        self.fd = fd
        self.socketPath = socketPath
        self.watchdogInterval = watchdogInterval
        // sockaddr_un: the family, then the path; an abstract name's length is exact (no NUL).
        var family = sa_family_t(AF_UNIX)
        let familyBytes = withUnsafeBytes(of: &family) { Array($0) }
        address = familyBytes + path + (path[0] == 0 ? [] : [0])
    }

    deinit { close(fd) }

    /// How often to send `WATCHDOG=1`: half the watchdog timeout, as systemd recommends.
    public var watchdogPingInterval: Duration? { watchdogInterval.map { $0 / 2 } }

    /// `STATUS=text` with `text` escaped for sd_notify (`PrintableText`): one line whatever it
    /// holds, so a host's words can never add `WATCHDOG=`, `STOPPING=1` or any other line.
    public static func status(_ text: String) -> String {
        "STATUS=" + PrintableText.escape(text, for: .notify)
    }

    /// Sends `state` (newline-separated `KEY=value` lines) in one datagram (`sendto`). Values that
    /// hold text from elsewhere go through `status(_:)` (or `PrintableText.escape(_:for: .notify)`).
    /// Returns false when it could not be delivered; notification is best effort.
    @discardableResult
    public func send(_ state: String) -> Bool {
        let payload = Array(state.utf8)
        let sent = address.withUnsafeBytes { addressBytes in
            payload.withUnsafeBytes { bytes in
                var rc: Int
                repeat {
                    rc = sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL),
                                addressBytes.baseAddress!.assumingMemoryBound(to: sockaddr.self),
                                socklen_t(addressBytes.count))
                } while rc < 0 && errno == EINTR
                return rc
            }
        }
        return sent == payload.count
    }
}

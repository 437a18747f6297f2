import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real OpenSSH `sshd` serving on a loopback port, for tests, the demo and the benchmarks.
///
/// The harness owns the listening socket (bound to 127.0.0.1 on a free port before anything
/// else happens, so there is nothing to wait for) and runs, like inetd, one `sshd -i` per
/// accepted connection with throwaway host and user keys and a forced command. It therefore
/// knows the PID of every session's sshd, can stop listening and listen again on the same port,
/// and can change the host key between connections.
///
/// Run as root, it creates an unprivileged user for the tests (password field `*`, shell
/// /bin/sh); run as an ordinary user, it serves that user.
public final class LoopbackHost: @unchecked Sendable {
    // Safe: mutable state is guarded by `lock`; the accept thread and callers share only that.
    public let directory: String
    public let port: Int
    public let user: String
    /// The client's private key (Ed25519, OpenSSH format, mode 0600).
    public let identity: String
    /// A known_hosts file pinning this host's key as `[127.0.0.1]:PORT`.
    public let knownHosts: String
    public var endpoint: String { "127.0.0.1:\(port)" }

    private let lock = NSLock()
    private var listener: Int32 = -1
    /// While paused: a socket bound to the port but not listening, so connections are refused
    /// and no other harness (tests run in parallel) can be given the port.
    private var placeholder: Int32 = -1
    /// Whether the harness made `directory` (and so removes it when it goes away).
    private let ownsDirectory: Bool
    private var sessions: [Int32] = []
    private var finished: [Int32] = []
    private var acceptThread: Thread?
    private var stopPipe: [Int32] = [-1, -1]
    private var forcedCommand: String
    private let authorizedKeysFile: String

    /// The name of the unprivileged account the harness uses when it runs as root.
    public static let testUser = "et-test"

    /// Creates keys and config in a new temporary directory and starts listening.
    ///
    /// - Parameters:
    ///   - forcedCommand: the `command="..."` of the client key's authorized_keys line.
    ///   - hostKeyType: `ed25519` or `ecdsa`.
    ///   - loginUser: serve this existing account with its own `~/.ssh/authorized_keys` instead
    ///     of the harness's user and key file (for `keys authorize`, which sets both up).
    public init(forcedCommand: String, hostKeyType: String = "ed25519", directory: String? = nil,
                loginUser: String? = nil) throws {
        ownsDirectory = directory == nil
        let dir = try directory ?? Self.makeTemporaryDirectory()
        mkdir(dir, 0o755)
        self.directory = dir
        self.forcedCommand = forcedCommand
        self.authorizedKeysFile = loginUser == nil ? dir + "/authorized_keys" : ".ssh/authorized_keys"
        if let loginUser {
            user = loginUser
            mkdir("/run/sshd", 0o755)
        } else {
            user = try Self.ensureUser()
        }
        identity = dir + "/id_ed25519"
        knownHosts = dir + "/known_hosts"
        chmod(dir, 0o755)
        try Shell.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "entropy-tunnel-test", "-f", identity)
        try Self.generateHostKey(dir: dir, type: hostKeyType)
        listener = try Self.listen(port: 0)
        port = Self.boundPort(listener)
        try writeConfig()
        try pinHostKey()
        try startAccepting()
    }

    deinit {
        shutdown()
        for fd in stopPipe where fd >= 0 { close(fd) }
        if placeholder >= 0 { close(placeholder) }
        // Keys, logs and test data (tens of MiB) go with the host; a test that wants to look at
        // them afterwards passes a directory of its own.
        if ownsDirectory { try? FileManager.default.removeItem(atPath: directory) }
    }

    // MARK: - Files

    private static func makeTemporaryDirectory() throws -> String {
        var template = Array("/tmp/entropy-tunnel-test.XXXXXX".utf8CString)
        guard let path = mkdtemp(&template) else { throw HarnessError("mkdtemp failed: \(errno)") }
        return String(cString: path)
    }

    private static func generateHostKey(dir: String, type: String) throws {
        let path = dir + "/ssh_host_key"
        unlink(path)
        unlink(path + ".pub")
        var args = ["-q", "-t", type, "-N", "", "-C", "", "-f", path]
        if type == "ecdsa" { args += ["-b", "256"] }
        try Shell.run("ssh-keygen", args)
    }

    private func writeConfig() throws {
        let config = """
            HostKey \(directory)/ssh_host_key
            AuthorizedKeysFile \(authorizedKeysFile)
            StrictModes no
            UsePAM no
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PubkeyAuthentication yes
            PermitRootLogin no
            AllowUsers \(user)
            LogLevel VERBOSE
            PidFile none
            ExposeAuthInfo yes

            """
        try config.writeReplacing(toFile: directory + "/sshd_config")
        try setForcedCommand(forcedCommand)
    }

    /// Rewrites the authorized_keys line with a new forced command (takes effect on the next connection).
    public func setForcedCommand(_ command: String) throws {
        lock.withLock { forcedCommand = command }
        try setAuthorizedKey(from: identity, command: command)
    }

    /// Authorizes another client key (the public half next to `privateKey`) instead of this
    /// host's own, so that several harness hosts accept one client.
    public func setAuthorizedKey(from privateKey: String, command: String) throws {
        let publicKey = try String(contentsOfFile: privateKey + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let escaped = command.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        try "restrict,command=\"\(escaped)\" \(publicKey)\n".writeReplacing(toFile: directory + "/authorized_keys")
        chmod(directory + "/authorized_keys", 0o644)
    }

    /// A known_hosts file (in this host's directory) that pins this host and `others`, for a
    /// client that fails over between them with one key.
    public func knownHostsPinning(_ others: [LoopbackHost]) throws -> String {
        let path = directory + "/known_hosts_both"
        try ([self] + others).map { try String(contentsOfFile: $0.knownHosts, encoding: .utf8) }.joined()
            .writeReplacing(toFile: path)
        return path
    }

    /// Replaces the host key; the next connection sees the new one. The pin is not updated.
    public func changeHostKey(type: String = "ed25519") throws {
        try Self.generateHostKey(dir: directory, type: type)
    }

    /// Writes the current host key into `knownHosts` as OpenSSH would.
    public func pinHostKey() throws {
        let publicKey = try String(contentsOfFile: directory + "/ssh_host_key.pub", encoding: .utf8)
        let fields = publicKey.split(separator: " ")
        try "[127.0.0.1]:\(port) \(fields[0]) \(fields[1])\n".writeReplacing(toFile: knownHosts)
    }

    /// The host key's public half, `TYPE BASE64`.
    public var hostPublicKey: String {
        (try? String(contentsOfFile: directory + "/ssh_host_key.pub", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// A directory the test user can write (for counters the forced command keeps).
    public func writableDirectory() throws -> String {
        let path = directory + "/shared"
        mkdir(path, 0o755)
        if getuid() == 0 { try Shell.run("chown", user, path) }
        return path
    }

    // MARK: - Serving

    /// Stops accepting connections (established sessions go on); `resume()` listens again on the same port.
    public func pause() {
        lock.withLock {
            if listener >= 0 { close(listener); listener = -1 }
            if placeholder < 0 { placeholder = (try? Self.bind(port: port)) ?? -1 }
        }
    }

    /// Listens again on the same port after `pause()`.
    public func resume() throws {
        lock.withLock {
            if placeholder >= 0 { close(placeholder); placeholder = -1 }
        }
        let fd = try Self.listen(port: port)
        lock.withLock { listener = fd }
        wakeAcceptLoop()
    }

    /// PIDs of the `sshd -i` processes of the sessions still running.
    public var sessionPIDs: [Int32] {
        lock.withLock { sessions }
    }

    /// Kills every session's sshd processes with `signal` (each session's process group, which
    /// the harness created: our own children and theirs).
    public func killSessions(signal: Int32 = SIGKILL) {
        for pid in sessionPIDs { kill(-pid, signal) }
    }

    /// Stops listening and kills the sessions.
    public func shutdown() {
        pause()
        killSessions()
        if stopPipe[1] >= 0 {
            var one: UInt8 = 1
            _ = write(stopPipe[1], &one, 1)
        }
        // The accept thread reaps the children on its way out.
        lock.withLock { acceptThread = nil }
    }

    private func wakeAcceptLoop() {
        if stopPipe[1] >= 0 {
            var two: UInt8 = 2
            _ = write(stopPipe[1], &two, 1)
        }
    }

    private static func listen(port: Int) throws -> Int32 {
        let fd = try bind(port: port)
        guard Glibc.listen(fd, 64) == 0 else {
            let err = errno
            close(fd)
            throw HarnessError("cannot listen on 127.0.0.1:\(port): \(String(cString: strerror(err)))")
        }
        return fd
    }

    /// A TCP socket bound to 127.0.0.1:`port` (0: any free port), not yet listening.
    private static func bind(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket failed: \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let err = errno
            close(fd)
            throw HarnessError("cannot bind 127.0.0.1:\(port): \(String(cString: strerror(err)))")
        }
        return fd
    }

    private static func boundPort(_ fd: Int32) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private func startAccepting() throws {
        guard pipe(&stopPipe) == 0 else { throw HarnessError("pipe failed") }
        for end in stopPipe { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "sshd-harness"
        acceptThread = thread
        thread.start()
    }

    private func acceptLoop() {
        // The stop pipe stays open until deinit (which cannot run before this thread ends, as the
        // thread holds the host): closing it here would let a later wake-up write into whatever
        // file reuses the descriptor number.
        let stopFD = stopPipe[0]
        while true {
            let listenFD = lock.withLock { listener }
            var fds = [pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0)]
            if listenFD >= 0 { fds.append(pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)) }
            // Children are reaped on every wake-up; 100 ms bounds how long a dead one stays listed.
            _ = poll(&fds, nfds_t(fds.count), 100)
            reapSessions()
            if fds[0].revents != 0 {
                var byte: UInt8 = 0
                _ = read(stopFD, &byte, 1)
                if byte == 1 {
                    reapAll()
                    return
                }
            }
            if fds.count > 1 && fds[1].revents & Int16(POLLIN) != 0 {
                let connection = accept(listenFD, nil, nil)
                if connection >= 0 {
                    spawnSession(on: connection)
                    close(connection)
                }
            }
        }
    }

    private func spawnSession(on connection: Int32) {
        let log = open(directory + "/sshd.log", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, connection, 0)
        posix_spawn_file_actions_adddup2(&actions, connection, 1)
        if log >= 0 { posix_spawn_file_actions_adddup2(&actions, log, 2) }
        let args = ["/usr/sbin/sshd", "-i", "-e", "-f", directory + "/sshd_config"]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        // Each session gets a process group of its own (sshd's monitor and its unprivileged child),
        // so that "kill the session" really ends the connection.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, args[0], &actions, &attributes, &argv, environ)
        posix_spawn_file_actions_destroy(&actions)
        posix_spawnattr_destroy(&attributes)
        argv.forEach { free($0) }
        if log >= 0 { close(log) }
        if rc == 0 { lock.withLock { sessions.append(pid) } }
    }

    private func reapSessions() {
        let pids = lock.withLock { sessions }
        var done: [Int32] = []
        for pid in pids {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { done.append(pid) }
        }
        if !done.isEmpty { lock.withLock { sessions.removeAll { done.contains($0) }; finished += done } }
    }

    private func reapAll() {
        for pid in lock.withLock({ sessions }) {
            kill(-pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        lock.withLock { sessions.removeAll() }
    }

    // MARK: - The test user

    /// The account sessions log in as: the current user, or (as root) the dedicated test user.
    static func ensureUser() throws -> String {
        guard getuid() == 0 else {
            guard let pw = getpwuid(getuid()) else { throw HarnessError("cannot find the current user") }
            return String(cString: pw.pointee.pw_name)
        }
        if getpwnam(testUser) == nil {
            try Shell.run("useradd", "--system", "--create-home", "--home-dir", "/var/lib/\(testUser)",
                          "--shell", "/bin/sh", testUser)
        }
        // useradd locks the password with "!", which sshd refuses without PAM; "*" is not locked.
        try Shell.run("usermod", "-p", "*", testUser)
        // sshd -i still wants its privilege separation directory.
        mkdir("/run/sshd", 0o755)
        return testUser
    }
}

/// A failure of the harness itself.
public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `entropy-tunnel check`: every check the tunnel's set-up must pass, in order, each returned as
/// a `CheckResult` (with the fix when it fails), so that the command only prints them.
///
/// The order: the configuration; the private key; for each host, its pin, TCP, the host key,
/// authentication, and 4 KiB through the health tests; the kernel's CRNG and what the sink needs;
/// the systemd unit. A check that cannot run because an earlier one failed is `.skipped`.
///
/// Bounded time: per host, the TCP connect takes at most `connect_timeout`, and the SSH set-up
/// and the 4 KiB together at most `connect_timeout` + `data_timeout` (the supply loop's deadline:
/// a stream that stops or trickles is cut off there); rngd's probe at most 2 x 5 s. With the
/// defaults (10 s, 60 s, one host) the worst case is 80 s; `--connect-timeout 2
/// --data-timeout 5` makes it 9 s per host.
public struct Doctor: Sendable {
    /// The name of the first check, whose failure makes `check` exit 78.
    public static let configurationCheck = "config"
    /// How many bytes of the host's stream must pass the health tests.
    public static let sampleBytes = 4096

    /// The configuration as `run` would build it, or why it could not be built.
    public var configuration: Result<RunConfiguration, TunnelError>
    /// Where the configuration came from (a file, or "the command line").
    public var source: String
    /// The systemd unit whose state is checked.
    public var unitPath = ServiceUnit.defaultPath
    /// Whether a unit that is not installed is a failure (otherwise it is skipped).
    public var expectUnit = false
    /// Whether to look at the unit at all (`install --no-start` does not start it).
    public var checkUnit = true
    /// systemd runs when this directory exists.
    public var systemdDirectory = "/run/systemd/system"
    /// Replaces the `keys authorize` line in the fix of a failed authentication (install has
    /// printed that line already).
    public var authorizeFix: String?
    /// The unit's `User=`: as root, a key it owns is the installed set-up, not a finding.
    public var serviceUser = ServiceUnit.user
    public var logger: Logger

    public init(configuration: Result<RunConfiguration, TunnelError>, source: String, logger: Logger = Logger(label: "entropy-tunnel.check")) {
        self.configuration = configuration
        self.source = source
        self.logger = logger
    }

    /// Runs every check in order; `report` sees each result as soon as it is known (the network
    /// checks take a while).
    public func run(report: (CheckResult) -> Void = { _ in }) async -> [CheckResult] {
        var results: [CheckResult] = []
        func add(_ result: CheckResult) {
            results.append(result)
            report(result)
        }
        let configuration: RunConfiguration
        switch self.configuration {
        case .failure(let error):
            add(CheckResult(Self.configurationCheck, .fail, error.message,
                            fix: CheckResult.quotedCommand(in: error.message)
                                ?? "correct the setting the message names (file:line: key), then run `entropy-tunnel check` again"))
            for name in ["private key", "hosts", "kernel", "sink", "service"] {
                add(CheckResult(name, .skipped, "not checked: the configuration is not usable"))
            }
            return results
        case .success(let value):
            configuration = value
        }
        add(CheckResult(Self.configurationCheck, .pass,
                        "\(source): \(configuration.hosts.count == 1 ? "host" : "hosts") " +
                        "\(configuration.hosts.map(\.description).joined(separator: ", ")), sink \(configuration.sink)"))

        let (keyResult, publicKey) = await checkKey(configuration.connection.identity)
        add(keyResult)

        for host in configuration.hosts {
            for result in await checkHost(configuration.connectionOptions(for: host), health: configuration.health ?? .default,
                                          publicKey: publicKey) {
                add(result)
            }
        }

        for result in await checkKernel(configuration) { add(result) }
        if checkUnit { add(await checkUnitState()) }
        return results
    }

    // MARK: - The private key

    /// The key exists, is owned by this user, mode 0600/0400, Ed25519 or ECDSA, no passphrase,
    /// and its .pub (when there is one) belongs to it.
    package func checkKey(_ path: String) async -> (CheckResult, PublicKey?) {
        let name = "private key \(path)"
        var st = stat()
        guard stat(path, &st) == 0 else {
            return (CheckResult(name, .fail, "does not exist",
                                fix: ShellQuote.command(["entropy-tunnel", "keys", "generate", "--identity", path]) +
                                    " (or point --identity / identity in the config file at your key)"), nil)
        }
        let uid = getuid()
        // Root checking an installed set-up: the key belongs to the unit's user, which runs the service.
        let serviceUID = getpwnam(serviceUser)?.pointee.pw_uid
        let ownedByService = uid == 0 && serviceUID != nil && st.st_uid == serviceUID
        if st.st_uid != uid && !ownedByService {
            let owner = uid == 0 && serviceUID != nil ? serviceUser : (Self.accountName(uid) ?? String(uid))
            let why = uid == 0 && serviceUID != nil ? "the service's user; the installed unit runs as it" : "this user"
            return (CheckResult(name, .fail,
                                "owned by \(Self.userName(st.st_uid)), but entropy-tunnel runs here as \(Self.userName(uid)); " +
                                "OpenSSH and entropy-tunnel use a private key only when its user owns it",
                                fix: "\(ShellQuote.command(["chown", owner, path])) (\(why)), or run entropy-tunnel as \(Self.userName(st.st_uid))"), nil)
        }
        if st.st_mode & 0o077 != 0 {
            return (CheckResult(name, .fail, "accessible by group or others (mode 0\(String(st.st_mode & 0o777, radix: 8))); OpenSSH ignores such keys and so does entropy-tunnel",
                                fix: ShellQuote.command(["chmod", "600", path])), nil)
        }
        do throws(TunnelError) {
            try PrivateKeyFile.check(path)
            guard let key = try await KeyGenerator.checkExistingPair(identity: path, repairPublic: false) else {
                return (CheckResult(name, .fail, "does not exist",
                                    fix: ShellQuote.command(["entropy-tunnel", "keys", "generate", "--identity", path])), nil)
            }
            let mode = String(st.st_mode & 0o777, radix: 8)
            return (CheckResult(name, .pass, "\(key.keygenTypeLabel) \(key.fingerprint), mode 0\(mode), owned by \(Self.userName(st.st_uid)), no passphrase"), key)
        } catch {
            return (CheckResult(name, .fail, error.message,
                                fix: CheckResult.quotedCommand(in: error.message)
                                    ?? ShellQuote.command(["entropy-tunnel", "keys", "generate", "--identity", path])), nil)
        }
    }

    /// `NAME (uid N)`, or `uid N` for a uid without an account.
    static func userName(_ uid: uid_t) -> String {
        accountName(uid).map { "\($0) (uid \(uid))" } ?? "uid \(uid)"
    }

    /// The account name of `uid` (`getpwuid`), if it has one.
    static func accountName(_ uid: uid_t) -> String? {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return nil }
        return String(cString: name)
    }
}

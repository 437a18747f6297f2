import ArgumentParser
import EntropyTunnelCore
#if canImport(Glibc)
import Glibc
#endif

/// A rate written `SIZE/s` (`2K/s`, `512/s`) or just `SIZE`.
package struct ByteRate: ExpressibleByArgument, Sendable {
    package var bytesPerSecond: Int

    package init?(argument: String) {
        var text = Substring(argument)
        if text.lowercased().hasSuffix("/s") { text = text.dropLast(2) }
        guard let size = ByteSize(parsing: String(text)) else { return nil }
        bytesPerSecond = size.bytes
    }
}

/// `entropy-tunnel serve`: the host side, meant as the forced command of the restricted key.
package struct ServeCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Host side: give out exactly the random bytes a client asks for (the restricted key's forced command).",
        discussion: """
            Runs on the entropy host as the forced command of the clients' key (`entropy-tunnel \
            keys authorize` installs it). It writes the line `entropy-tunnel-serve 1`, then answers \
            each request line `N` from standard input (1 <= N <= --max-request) with exactly N bytes \
            read from --device, in reads of at most 512 bytes. It reads nothing from the device that \
            was not asked for, so a client that needs 64 bytes an hour takes 64 bytes an hour, and \
            a slow RNG shared by a fleet is not parked in buffers.

            --rate caps each client key, across all of its sessions and reconnects: one token \
            bucket (holding one --max-request burst) per key, kept in a small file in --budget-dir \
            under flock, so reconnecting or opening sessions in parallel gets a key nothing more. \
            The key is the one given with --client (keys authorize writes the key's fingerprint \
            there), else the one sshd records in $SSH_USER_AUTH (ExposeAuthInfo yes, which the \
            Match block of keys authorize sets), else the client's address ($SSH_CLIENT). The \
            default, 2K/s, is meant for fleets sharing a slow RNG: a TPM gives a few KB/s, a client \
            needs a few KB when it boots and tens of bytes a minute after that, so one client boots \
            within a few seconds while no single key can take more than about half of such an RNG \
            from the others. Raise it for a fast RNG (a USB TRNG gives 100K/s and more). A rate \
            below 9/s cannot deliver one 512-byte window within a client's 60 s data timeout and \
            is refused.

            --max-sessions caps the sessions one key may have open at once (a further one is \
            refused with one stderr line and exit status 75); --idle-timeout ends a session that \
            asks for nothing for that long (exit 0). Give each client machine a key of its own.

            Needs nothing but read access to the device. Logs one line per session to syslog \
            (daemon facility, tag entropy-tunnel-serve): bytes served, requests, duration.

            Exit status: 0 when the client closed its side or was idle for --idle-timeout; 65 \
            malformed request; 66 the device cannot be opened or is not a character device or FIFO; \
            74 reading the device failed or hit its end, or writing to the client failed; 75 the key \
            already has --max-sessions sessions; 73 the budget directory cannot be used; 64 bad \
            options. Each failure also writes one line to standard error, which the client shows in \
            its error.
            """
    )

    @Option(help: ArgumentHelp("The RNG to read: a character device or a FIFO.", valueName: "path"))
    package var device = "/dev/hwrng"

    @Option(help: ArgumentHelp("The largest request accepted, in bytes (512 to 1M; clients ask for at most 512 a line).", valueName: "size"))
    package var maxRequest = ByteSize(bytes: ServeProtocol.defaultMaxRequest)

    @Option(help: ArgumentHelp("Bytes per second per client key, over all its sessions, like 2K/s (the burst is one --max-request; at least 9/s). (default: 2K/s)", valueName: "size/s"))
    package var rate: ByteRate?

    @Option(help: ArgumentHelp("The client key's fingerprint (SHA256:...): keys authorize writes it into the key's line, so that every session of the key shares one budget.", valueName: "fingerprint"))
    package var client: String?

    @Option(help: ArgumentHelp("Sessions one client key may have open at once.", valueName: "count"))
    package var maxSessions: Int = 2

    @Option(help: ArgumentHelp("Seconds a session may ask for nothing before it ends (exit 0).", valueName: "seconds"))
    package var idleTimeout: Double = ServeSession.defaultIdleTimeout.seconds

    @Option(help: ArgumentHelp("Where the per-key budgets are kept (created mode 0700). (default: ~/.cache/entropy-tunnel of the user serve runs as)", valueName: "dir"))
    package var budgetDir: String?

    package func validate() throws {
        if !(ServeProtocol.deviceReadSize...ServeProtocol.requestLimit).contains(maxRequest.bytes) {
            throw ValidationError("--max-request \(maxRequest) is out of range: give 512 (what clients ask per line) to 1M")
        }
        if let rate, !(1...(1 << 30)).contains(rate.bytesPerSecond) {
            throw ValidationError("--rate \(rate.bytesPerSecond)/s is out of range: give \(ServeSession.lowestRate)/s to 1G/s, like 2K/s")
        }
        if let rate, rate.bytesPerSecond < ServeSession.lowestRate {
            throw ValidationError("--rate \(rate.bytesPerSecond)/s cannot deliver one 512-byte health window within 60 s (a client's " +
                                  "data timeout), so every client would report a stuck RNG: give at least \(ServeSession.lowestRate)/s")
        }
        if !(1...1000).contains(maxSessions) {
            throw ValidationError("--max-sessions \(maxSessions) is out of range: give 1 to 1000")
        }
        if !(idleTimeout.isFinite && idleTimeout >= 1 && idleTimeout <= 86_400) {
            throw ValidationError("--idle-timeout \(idleTimeout) is out of range: give 1 to 86400 seconds")
        }
        if let client, client.isEmpty || client.utf8.count > 256 || client.contains(where: { $0.isWhitespace || $0.isNewline }) {
            throw ValidationError("--client must be a key fingerprint like SHA256:..., without spaces")
        }
    }

    /// `~/.cache/entropy-tunnel` of the user serve runs as (its passwd entry, not $HOME).
    static var defaultBudgetDirectory: String {
        let home = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_dir) } ?? "/nonexistent"
        return (home.hasSuffix("/") ? String(home.dropLast()) : home) + "/.cache/entropy-tunnel"
    }

    package func run() async throws {
        // The client going away must show up as EPIPE on a write, not kill the process before
        // the session's summary is logged.
        signal(SIGPIPE, SIG_IGN)
        // Not a daemon: SIGTERM, SIGINT and SIGHUP (sshd or an administrator ending the session)
        // end it at once, undoing the start-up trap that only notes them.
        for stop in [SIGTERM, SIGINT, SIGHUP] { signal(stop, SIG_DFL) }
        var stops = sigset_t()
        sigemptyset(&stops)
        for stop in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&stops, stop) }
        sigprocmask(SIG_UNBLOCK, &stops, nil)
        var options = ServeSession.Options()
        options.device = device
        options.maxRequest = maxRequest.bytes
        options.rate = rate?.bytesPerSecond ?? ServeSession.defaultRate
        options.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
        let settings = options
        let identity = ServeClient.fromEnvironment(option: client)
        let directory = budgetDir ?? Self.defaultBudgetDirectory
        let sessions = maxSessions
        let summary = try await BlockingThread.run(name: "serve") { () throws(TunnelError) -> ServeSession.Summary in
            // Under sshd a client is always known: its key's budget and session slot come first.
            var budget: ClientBudgetFiles?
            if let identity {
                do throws(ServeError) {
                    budget = try ClientBudgetFiles(directory: directory, client: identity, maxSessions: sessions)
                } catch {
                    var refused = ServeSession.Summary()
                    refused.error = error
                    return refused
                }
            }
            return ServeSession(options: settings, budget: budget).run()
        }
        // The syslog line carries the client's id and error text: escaped for the log.
        ServeLog.summary(PrintableText.escape(summary.line(device: device, client: identity), for: .syslog))
        if let error = summary.error {
            printError(PrintableText.escape(error.message, for: .syslog))
            throw ExitCode(error.code.exitStatus)
        }
        if summary.result == "idle" {
            printError("entropy-tunnel serve: no request for \(Int(idleTimeout)) s (--idle-timeout): session closed; " +
                       "the client connects again when it needs bytes")
        }
    }
}

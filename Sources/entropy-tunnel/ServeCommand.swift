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

            --rate caps each connection (a token bucket holding one --max-request burst). The \
            default, 2K/s, is meant for fleets sharing a slow RNG: a TPM gives a few KB/s, a client \
            needs a few KB when it boots and tens of bytes a minute after that, so one client boots \
            within a few seconds while no single client can take more than about half of such an \
            RNG from the others. Raise it for a fast RNG (a USB TRNG gives 100K/s and more).

            Needs nothing but read access to the device. Logs one line per session to syslog \
            (daemon facility, tag entropy-tunnel-serve): bytes served, requests, duration.

            Exit status: 0 when the client closed its side; 65 malformed request; 66 the device \
            cannot be opened or is not a character device or FIFO; 74 reading the device failed or \
            hit its end, or writing to the client failed; 64 bad options. Each failure also writes \
            one line to standard error, which the client shows in its error.
            """
    )

    @Option(help: ArgumentHelp("The RNG to read: a character device or a FIFO.", valueName: "path"))
    package var device = "/dev/hwrng"

    @Option(help: ArgumentHelp("The largest request accepted, in bytes (512 to 1M; clients ask for at most 512 a line).", valueName: "size"))
    package var maxRequest = ByteSize(bytes: ServeProtocol.defaultMaxRequest)

    @Option(help: ArgumentHelp("Bytes per second per connection, like 2K/s (the burst is one --max-request). (default: 2K/s)", valueName: "size/s"))
    package var rate: ByteRate?

    package func validate() throws {
        if !(ServeProtocol.deviceReadSize...ServeProtocol.requestLimit).contains(maxRequest.bytes) {
            throw ValidationError("--max-request \(maxRequest) is out of range: give 512 (what clients ask per line) to 1M")
        }
        if let rate, !(1...(1 << 30)).contains(rate.bytesPerSecond) {
            throw ValidationError("--rate \(rate.bytesPerSecond)/s is out of range: give 1/s to 1G/s, like 2K/s")
        }
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
        let settings = options
        let summary = try await BlockingThread.run(name: "serve") { () throws(TunnelError) -> ServeSession.Summary in
            ServeSession(options: settings).run()
        }
        let client = getenv("SSH_CLIENT").map { String(cString: $0).split(separator: " ").first.map(String.init) ?? "" }
        ServeLog.summary(summary.line(device: device, client: client))
        if let error = summary.error {
            printError(error.message)
            throw ExitCode(error.code.exitStatus)
        }
    }
}

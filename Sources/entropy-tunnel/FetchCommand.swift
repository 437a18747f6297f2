import ArgumentParser
import CSystemShims
import EntropyTunnelCore
import Logging
import UnixSignals

package struct FetchCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Fetch a fixed number of random bytes from the host once, and exit.",
        discussion: """
            For scripts, first boot and tests: connects to the first working --host, writes \
            exactly --bytes bytes that passed the health tests to --output (or standard output), \
            disconnects, exits 0. Each host is tried once, in order; the count goes on across \
            them, never more than --bytes in all. A remote command that ends early is an error, \
            with its stderr in the message; so is a host that delivers less than one 512-byte \
            health window within --data-timeout while bytes are wanted (a stuck or trickling \
            reader). From an `entropy-tunnel serve` host exactly --bytes bytes are asked for \
            (whole 512-byte windows with the health tests), paced by the host's --rate (2K/s by \
            default, after a first 4K): large fetches take a while there.

            It ends within --timeout in all: by default --connect-timeout + --data-timeout for \
            each host, plus one second per KiB of --bytes (80 s for 10 KiB from one host with the \
            defaults). Then it exits 1 and the output is left as it was.
            """
    )

    @OptionGroup package var connection: ConnectionArguments

    @Option(help: ArgumentHelp("How many bytes to fetch, with optional K/M/G suffix.", valueName: "size"))
    package var bytes: ByteSize

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to this file (created mode 0600), or - for standard output.", valueName: "file"))
    package var output: String = "-"

    @Flag(inversion: .prefixedNo, help: "Run the SP 800-90B health tests. Turn them off only for data that is not RNG output, such as benchmarks from /dev/zero.")
    package var healthTests = true

    @Option(help: ArgumentHelp("Give up after this many seconds in all (default: --connect-timeout + --data-timeout per host, plus 1 s per KiB of --bytes).",
                               valueName: "seconds"))
    package var timeout: Double?

    /// The overall deadline of a fetch of `bytes` bytes with `configuration`, when --timeout is not given.
    package static func defaultTimeout(_ configuration: RunConfiguration, bytes: Int) -> Duration {
        let perHost = configuration.connection.attemptBound
        return perHost * configuration.hosts.count + .seconds((bytes + 1023) / 1024)
    }

    package func validate() throws {
        if !(1...(1 << 40)).contains(bytes.bytes) { throw ValidationError("--bytes \(bytes) is out of range: give 1 to 1T") }
        if let timeout, !(timeout >= 0.1 && timeout <= 31_536_000) {
            throw ValidationError("--timeout \(timeout) is out of range: give 0.1 to 31536000 seconds")
        }
    }

    package func run() async throws {
        var logger = bootstrapLogging(nil)
        let configuration: RunConfiguration
        do {
            let (values, source) = try connection.resolvedValues(overlaying: connection.values)
            logger.logLevel = values.logLevel ?? .warning
            configuration = try RunConfiguration(values, source: source)
        } catch {
            logger.error("\(describe(error))")
            throw ExitCode(78)
        }
        var settings = SupplyLoop.Settings(hosts: configuration.hosts, connection: configuration.connection, policy: .once)
        settings.health = healthTests ? configuration.health : nil
        settings.healthFailureLimit = configuration.healthFailureLimit
        settings.readChunk = 256 << 10
        let base = settings
        let limit = timeout.map { Duration.milliseconds(Int64(($0 * 1000).rounded())) }
            ?? Self.defaultTimeout(configuration, bytes: bytes.bytes)
        let output = self.output
        let total = bytes.bytes
        let log = logger
        let waker: Waker
        do { waker = try Waker() } catch { logger.error("\(describe(error))"); throw ExitCode.failure }
        // SIGINT or SIGTERM: stop, remove the temporary file, leave the target as it was.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let watcher = Task {
            for await signal in signals {
                log.notice("stopping on \(signal)")
                waker.wake()
            }
        }
        defer { watcher.cancel() }
        if csystem_stop_requested() != 0 { waker.wake() }
        do {
            try await BlockingThread.run(name: "et-fetch") { () throws(TunnelError) in
                let file = output == "-" ? FileSink() : try FileSink(path: output)
                let consumer = CountingConsumer(total: total, output: file)
                var settings = base
                settings.deadline = .now + limit
                let where_ = output == "-" ? "standard output beyond those bytes" : output
                switch try SupplyLoop(settings: settings, consumer: consumer, waker: waker, stats: nil, logger: log).run() {
                case .satisfied:
                    try file.commit()
                case .stopped:
                    throw TunnelError(.stopped, "stopped after \(consumer.taken) of \(total) bytes; nothing was written to \(where_)")
                case .deadlinePassed:
                    throw TunnelError(.timeout, "gave up after \(limit.seconds.shortDescription) s (--timeout) with \(consumer.taken) of " +
                                      "\(total) bytes; nothing was written to \(where_). The hosts deliver too slowly: " +
                                      "ask for fewer bytes, or give a longer --timeout")
                }
            }
        } catch {
            logger.error("\(describe(error))")
            if error.code == .sink || error.isLocalProblem { throw ExitCode(78) }
            throw ExitCode.failure
        }
    }
}

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
            disconnects, exits 0. A remote command that ends early is an error, with its stderr \
            in the message. From an `entropy-tunnel serve` host exactly --bytes bytes are asked for \
            (whole 512-byte windows with the health tests), paced by the host's --rate (2K/s by \
            default, after a first 4K): large fetches take a while there.
            """
    )

    @OptionGroup package var connection: ConnectionArguments

    @Option(help: ArgumentHelp("How many bytes to fetch, with optional K/M/G suffix.", valueName: "size"))
    package var bytes: ByteSize

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to this file (created mode 0600), or - for standard output.", valueName: "file"))
    package var output: String = "-"

    @Flag(inversion: .prefixedNo, help: "Run the SP 800-90B health tests. Turn them off only for data that is not RNG output, such as benchmarks from /dev/zero.")
    package var healthTests = true

    package func validate() throws {
        if !(1...(1 << 40)).contains(bytes.bytes) { throw ValidationError("--bytes \(bytes) is out of range: give 1 to 1T") }
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
        var pumpSettings = TunnelConnection.PumpSettings()
        pumpSettings.readChunk = 256 << 10
        pumpSettings.health = healthTests ? configuration.health : nil
        let settings = pumpSettings
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
                let sink = output == "-" ? FileSink() : try FileSink(path: output)
                var lastError: TunnelError?
                for host in configuration.hosts {
                    // The count goes on across failover: never more than --bytes in all.
                    var settings = settings
                    settings.byteLimit = total - sink.written
                    do throws(TunnelError) {
                        switch try TunnelConnection.pump(configuration.connectionOptions(for: host), into: sink,
                                                         settings: settings, waker: waker, logger: log) {
                        case .limitReached:
                            try sink.commit()
                            return
                        case .stopped, .timeUp:
                            throw TunnelError(.stopped, "stopped after \(sink.written) of \(total) bytes; nothing was written to \(output == "-" ? "standard output beyond those bytes" : output)")
                        }
                    } catch where error.code != .sink && error.code != .stopped && !error.isLocalProblem {
                        lastError = error
                        if host != configuration.hosts.last {
                            log.warning("\(error.message)", metadata: ["host": "\(host)", "bytes_so_far": "\(sink.written)"])
                        }
                    }
                }
                throw lastError!
            }
        } catch {
            logger.error("\(describe(error))")
            if error.code == .sink || error.isLocalProblem { throw ExitCode(78) }
            throw ExitCode.failure
        }
    }
}

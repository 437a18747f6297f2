import ArgumentParser
import EntropyTunnelCore
import Logging

struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Fetch a fixed number of random bytes from the host once, and exit.",
        discussion: """
            For scripts, first boot and tests: connects to the first working --host, writes \
            exactly --bytes bytes that passed the health tests to --output (or standard output), \
            disconnects, exits 0. A remote command that ends early is an error, with its stderr \
            in the message.
            """
    )

    @OptionGroup var connection: ConnectionArguments

    @Option(help: ArgumentHelp("How many bytes to fetch, with optional K/M/G suffix.", valueName: "size"))
    var bytes: ByteSize

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to this file (created mode 0600), or - for standard output. (default: -)", valueName: "file"))
    var output: String = "-"

    @Flag(inversion: .prefixedNo, help: "Run the SP 800-90B health tests. Turn them off only for data that is not RNG output, such as benchmarks from /dev/zero.")
    var healthTests = true

    func validate() throws {
        if bytes.bytes < 1 { throw ValidationError("--bytes must be at least 1") }
    }

    func run() async throws {
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
        pumpSettings.byteLimit = bytes.bytes
        pumpSettings.health = healthTests ? configuration.health : nil
        let settings = pumpSettings
        let output = self.output
        let log = logger
        do {
            let waker = try Waker()
            _ = try await BlockingThread.run(name: "et-fetch") { () throws(TunnelError) -> TunnelConnection.Outcome in
                let sink: any ByteSink = output == "-" ? FileSink() : try FileSink(path: output)
                var lastError: TunnelError?
                for host in configuration.hosts {
                    do throws(TunnelError) {
                        return try TunnelConnection.pump(configuration.connectionOptions(for: host), into: sink,
                                                         settings: settings, waker: waker, logger: log)
                    } catch where configuration.hosts.count > 1 && error.code != .sink {
                        log.warning("\(error.message)", metadata: ["host": "\(host)"])
                        lastError = error
                    }
                }
                throw lastError!
            }
        } catch {
            logger.error("\(describe(error))")
            throw ExitCode.failure
        }
    }
}

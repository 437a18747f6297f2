import ArgumentParser
import EntropyTunnelCore
import Logging

struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Fetch a fixed number of random bytes from the host once, and exit.",
        discussion: """
            For scripts, first boot and tests: connects, writes exactly --bytes bytes to --output \
            (or standard output), disconnects, exits 0. A remote command that ends early is an \
            error, with its stderr in the message.
            """
    )

    @OptionGroup var connection: ConnectionArguments

    @Option(help: ArgumentHelp("How many bytes to fetch, with optional K/M/G suffix.", valueName: "size"))
    var bytes: ByteSize

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to this file (created mode 0600), or - for standard output. (default: -)", valueName: "file"))
    var output: String = "-"

    func validate() throws {
        if bytes.bytes < 1 { throw ValidationError("--bytes must be at least 1") }
    }

    func run() async throws {
        let logger = bootstrapLogging(connection.logLevel ?? .warning)
        let options = try connection.connectionOptions()
        let limit = bytes.bytes
        let output = self.output
        do {
            let waker = try Waker()
            _ = try await BlockingThread.run(name: "et-fetch") { () throws(TunnelError) -> TunnelConnection.Outcome in
                let sink: any ByteSink = output == "-" ? FileSink() : try FileSink(path: output)
                return try TunnelConnection.pump(
                    options, into: sink, readChunk: 256 << 10, byteLimit: limit,
                    waker: waker, stats: nil, logger: logger)
            }
        } catch {
            logger.error("\(describe(error))")
            throw ExitCode.failure
        }
    }
}

import Logging
import ServiceLifecycle

/// Where `run` delivers the bytes.
public enum SinkKind: String, CaseIterable, Sendable {
    /// Keep the FIFO filled for whoever reads it.
    case fifo
}

/// The settings of `entropy-tunnel run`.
public struct RunConfiguration: Sendable {
    public var connection: ConnectionOptions
    public var fifoPath = "/run/entropy-tunnel/entropy.fifo"
    /// The FIFO's capacity: with the window, it bounds what is taken from the host ahead of use.
    public var fifoSize: ByteSize? = .kib(64)
    public var sink: SinkKind = .fifo

    public init(connection: ConnectionOptions) { self.connection = connection }
}

/// The `run` daemon as a service: owns the FIFO, runs the tunnel on its own thread, and stops
/// it on graceful shutdown (SIGTERM, SIGINT) or cancellation.
public final class TunnelService: Service {
    public let configuration: RunConfiguration
    public let stats = TunnelStats()
    private let logger: Logger

    public init(configuration: RunConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        let configuration = self.configuration
        let logger = self.logger
        let stats = self.stats
        let fifo = try FIFOSink(path: configuration.fifoPath, size: configuration.fifoSize)
        logger.info("fifo ready", metadata: ["path": "\(fifo.path)", "capacity": "\(ByteSize(bytes: fifo.capacity))"])
        let sink = UncheckedSendableBox(fifo)
        let waker = try Waker()
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                let outcome = try await BlockingThread.run(name: "et-pump") { () throws(TunnelError) -> TunnelConnection.Outcome in
                    try TunnelConnection.pump(
                        configuration.connection, into: sink.value, readChunk: 16 << 10, byteLimit: nil,
                        waker: waker, stats: stats, logger: logger)
                }
                logger.info("stopped", metadata: ["outcome": "\(outcome)", "bytes": "\(stats.snapshot.bytesDelivered)"])
            } onGracefulShutdown: {
                waker.wake()
            }
        } onCancel: {
            waker.wake()
        }
    }
}

/// Moves a non-Sendable object to the one thread that will use it from then on.
struct UncheckedSendableBox<Value>: @unchecked Sendable {
    // Safe: the creator hands the value over and does not touch it while the other thread runs.
    let value: Value
    init(_ value: Value) { self.value = value }
}

import ArgumentParser
import EntropyTunnelCore

extension SinkKind: ExpressibleByArgument {}

/// The options of the daemon beyond the connection: the FIFO, rngd, reconnection pacing.
/// Shared by `run` and by `install`, which writes them into the config file.
struct DaemonArguments: ParsableArguments {
    @Option(help: ArgumentHelp("The FIFO to create and fill. (default: /run/entropy-tunnel/entropy.fifo)", valueName: "path"))
    var fifo: String?

    @Option(help: ArgumentHelp("FIFO capacity, 4K up to /proc/sys/fs/pipe-max-size. (default: 64K)", valueName: "size"))
    var fifoSize: ByteSize?

    @Option(help: "rngd: start and supervise rngd on the FIFO; fifo: only fill the FIFO for another reader. (default: rngd)")
    var sink: SinkKind?

    @Option(help: ArgumentHelp("The rngd binary. (default: rngd on PATH, else /usr/sbin/rngd)", valueName: "path"))
    var rngd: String?

    // .unconditional: the value itself starts with '-' ("--rngd-args '-s 64'").
    @Option(parsing: .unconditional, help: ArgumentHelp("Extra arguments for rngd, separated by spaces, e.g. \"-s 64\".", valueName: "args"))
    var rngdArgs: String?

    @Option(help: ArgumentHelp("Longest wait between reconnection attempts, in seconds. (default: 60)", valueName: "seconds"))
    var backoffCap: Double?

    @Option(help: ArgumentHelp("While on a fallback host, seconds between tries of the preferred one. (default: 300)", valueName: "seconds"))
    var failbackInterval: Double?

    func validate() throws {
        for (name, value) in [("--backoff-cap", backoffCap), ("--failback-interval", failbackInterval)] {
            if let value, !(value.isFinite && value >= 1 && value < 86_400 * 7) {
                throw ValidationError("\(name) \(value) must be a number of seconds, at least 1")
            }
        }
    }

    /// `values` with these options set where they were given.
    func applied(to values: ConfigFile.Values) -> ConfigFile.Values {
        var v = values
        v.fifo = fifo ?? v.fifo
        v.fifoSize = fifoSize ?? v.fifoSize
        v.sink = sink?.rawValue ?? v.sink
        v.rngd = rngd ?? v.rngd
        v.rngdArguments = rngdArgs.map { $0.split(separator: " ").map(String.init) } ?? v.rngdArguments
        v.backoffCap = backoffCap.map(ConnectionArguments.duration) ?? v.backoffCap
        v.failbackInterval = failbackInterval.map(ConnectionArguments.duration) ?? v.failbackInterval
        return v
    }
}

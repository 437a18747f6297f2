import ArgumentParser
import EntropyTunnelCore

extension SinkKind: ExpressibleByArgument {}

/// The options of the daemon beyond the connection: the FIFO, rngd, reconnection pacing.
/// Shared by `run` and by `install`, which writes them into the config file.
package struct DaemonArguments: ParsableArguments {
    package init() {}

    @Option(help: ArgumentHelp("The FIFO to create and fill. (default: /run/entropy-tunnel/entropy.fifo)", valueName: "path"))
    package var fifo: String?

    @Option(help: ArgumentHelp("FIFO capacity, 4K up to /proc/sys/fs/pipe-max-size. (default: 64K)", valueName: "size"))
    package var fifoSize: ByteSize?

    @Option(help: ArgumentHelp("A group whose members may read (never write) the FIFO: mode 0640 instead of 0600.", valueName: "name"))
    package var fifoGroup: String?

    @Option(help: "rngd: start and supervise rngd on the FIFO; fifo: only fill the FIFO for another reader. (default: rngd)")
    package var sink: SinkKind?

    @Option(help: ArgumentHelp("The rngd binary. (default: rngd on PATH, else /usr/sbin/rngd)", valueName: "path"))
    package var rngd: String?

    // .unconditional: the value itself starts with '-' ("--rngd-args '-s 64'").
    @Option(parsing: .unconditional, help: ArgumentHelp("Extra arguments for rngd, separated by spaces, e.g. \"-s 64\".", valueName: "args"))
    package var rngdArgs: String?

    @Option(help: ArgumentHelp("Longest wait between reconnection attempts, in seconds. (default: 60)", valueName: "seconds"))
    package var backoffCap: Double?

    @Option(help: ArgumentHelp("While on a fallback host, seconds between tries of the preferred one. (default: 300)", valueName: "seconds"))
    package var failbackInterval: Double?

    package func validate() throws {
        if let fifoSize, !(4 << 10...1 << 30).contains(fifoSize.bytes) {
            throw ValidationError("--fifo-size \(fifoSize) is out of range: give 4K up to /proc/sys/fs/pipe-max-size (1M by default)")
        }
        if let fifoGroup, !ConfigFile.isGroupName(fifoGroup) {
            throw ValidationError("--fifo-group '\(fifoGroup)' is not a group name")
        }
        for (name, value) in [("--backoff-cap", backoffCap), ("--failback-interval", failbackInterval)] {
            if let value, !(value.isFinite && value >= 1 && value < 86_400 * 7) {
                throw ValidationError("\(name) \(value) must be a number of seconds, at least 1")
            }
        }
    }

    /// `values` with these options set where they were given.
    package func applied(to values: ConfigFile.Values) -> ConfigFile.Values {
        var v = values
        v.fifo = fifo ?? v.fifo
        v.fifoSize = fifoSize ?? v.fifoSize
        v.fifoGroup = fifoGroup ?? v.fifoGroup
        v.sink = sink?.rawValue ?? v.sink
        v.rngd = rngd ?? v.rngd
        v.rngdArguments = rngdArgs.map { $0.split(separator: " ").map(String.init) } ?? v.rngdArguments
        v.backoffCap = backoffCap.map(ConnectionArguments.duration) ?? v.backoffCap
        v.failbackInterval = failbackInterval.map(ConnectionArguments.duration) ?? v.failbackInterval
        return v
    }
}

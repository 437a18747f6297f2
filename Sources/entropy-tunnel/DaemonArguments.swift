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

    @Option(help: ArgumentHelp("""
        kernel: feed the kernel directly (RNDADDENTROPY, then RNDRESEEDCRNG every --kernel-interval; \
        needs CAP_SYS_ADMIN, else bytes are only mixed in by write()). rngd: fill a FIFO and start and \
        supervise rngd on it (rngd 5 feeds once after boot and then waits forever on kernels >= 5.18). \
        fifo: only fill the FIFO, for another reader. (default: kernel)
        """, valueName: "kernel|rngd|fifo"))
    package var sink: SinkKind?

    @Option(help: ArgumentHelp("Kernel sink: seconds between feeds (and reseeds) once the kernel's CRNG is ready; SIGUSR1 feeds at once. (default: 60)", valueName: "seconds"))
    package var kernelInterval: Double?

    @Option(help: ArgumentHelp("Kernel sink: bytes per feed, 16 to 4096. (default: 64)", valueName: "size"))
    package var kernelBytes: ByteSize?

    @Option(help: ArgumentHelp("Kernel sink: the directory of the seed for the next boot (see `entropy-tunnel seed`). (default: /var/lib/entropy-tunnel)", valueName: "dir"))
    package var stateDir: String?

    @Option(help: ArgumentHelp("Where to keep the daemon's state for `entropy-tunnel status` (mode 0640). (default: /run/entropy-tunnel/state.json)", valueName: "path"))
    package var stateFile: String?

    @Option(help: ArgumentHelp("Write Prometheus metrics to this file (for node_exporter's textfile collector) at most every 15 s and at the stop. (default: off)", valueName: "path"))
    package var metricsFile: String?

    // For tests: how often the metrics file is written.
    @Option(help: ArgumentHelp("Seconds between writes of the metrics file.", valueName: "seconds", visibility: .hidden))
    package var metricsInterval: Double?

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
        if let kernelBytes, !KernelFeedPolicy.batchRange.contains(kernelBytes.bytes) {
            throw ValidationError("--kernel-bytes \(kernelBytes) is out of range: give 16 to 4096 bytes")
        }
        if let kernelInterval, !(kernelInterval.isFinite && kernelInterval >= 1 && kernelInterval <= 86_400) {
            throw ValidationError("--kernel-interval \(kernelInterval) must be a number of seconds from 1 to 86400")
        }
        if let stateDir, !stateDir.hasPrefix("/") || stateDir.contains("\0") {
            throw ValidationError("--state-dir \(stateDir) must be an absolute path")
        }
        for (name, path) in [("--state-file", stateFile), ("--metrics-file", metricsFile)] {
            if let path, !path.hasPrefix("/") || path.hasSuffix("/") || path.contains("\0") {
                throw ValidationError("\(name) \(path) must be an absolute path of a file")
            }
        }
        if let metricsInterval, !(metricsInterval.isFinite && metricsInterval >= 0.1 && metricsInterval <= 86_400) {
            throw ValidationError("--metrics-interval \(metricsInterval) must be a number of seconds from 0.1 to 86400")
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
        v.kernelInterval = kernelInterval.map(ConnectionArguments.duration) ?? v.kernelInterval
        v.kernelBytes = kernelBytes ?? v.kernelBytes
        v.stateDir = stateDir ?? v.stateDir
        v.stateFile = stateFile ?? v.stateFile
        v.metricsFile = metricsFile ?? v.metricsFile
        v.metricsInterval = metricsInterval.map(ConnectionArguments.duration) ?? v.metricsInterval
        v.rngd = rngd ?? v.rngd
        v.rngdArguments = rngdArgs.map { $0.split(separator: " ").map(String.init) } ?? v.rngdArguments
        v.backoffCap = backoffCap.map(ConnectionArguments.duration) ?? v.backoffCap
        v.failbackInterval = failbackInterval.map(ConnectionArguments.duration) ?? v.failbackInterval
        return v
    }
}

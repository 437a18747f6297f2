import ArgumentParser
import EntropyTunnelCore

extension SinkKind: ExpressibleByArgument {}
extension ConnectionMode: ExpressibleByArgument {}

/// The options of the daemon beyond the connection: the FIFO, rngd, reconnection pacing.
/// Shared by `run` and by `install`, which writes them into the config file.
package struct DaemonArguments: ParsableArguments {
    package init() {}

    @Option(help: Settings.fifo.argumentHelp)
    package var fifo: String?

    @Option(help: Settings.fifoSize.argumentHelp)
    package var fifoSize: ByteSize?

    @Option(help: Settings.fifoGroup.argumentHelp)
    package var fifoGroup: String?

    @Option(help: Settings.sink.argumentHelp)
    package var sink: SinkKind?

    @Option(help: Settings.kernelInterval.argumentHelp)
    package var kernelInterval: Double?

    @Option(help: Settings.kernelBytes.argumentHelp)
    package var kernelBytes: ByteSize?

    @Option(help: Settings.connection.argumentHelp)
    package var connection: ConnectionMode?

    @Option(help: Settings.reserve.argumentHelp)
    package var reserve: ByteSize?

    @Option(help: Settings.stateDir.argumentHelp)
    package var stateDir: String?

    @Option(help: Settings.stateFile.argumentHelp)
    package var stateFile: String?

    @Option(help: Settings.metricsFile.argumentHelp)
    package var metricsFile: String?

    // For tests: how often the metrics file is written.
    @Option(help: ArgumentHelp("Seconds between writes of the metrics file.", valueName: "seconds", visibility: .hidden))
    package var metricsInterval: Double?

    @Option(help: Settings.rngd.argumentHelp)
    package var rngd: String?

    // .unconditional: the value itself starts with '-' ("--rngd-args '-s 64'").
    @Option(parsing: .unconditional, help: Settings.rngdArgs.argumentHelp)
    package var rngdArgs: String?

    @Option(help: Settings.backoffCap.argumentHelp)
    package var backoffCap: Double?

    @Option(help: Settings.failbackInterval.argumentHelp)
    package var failbackInterval: Double?

    package func validate() throws {
        // Ranges from the one table of settings (the config reader uses the same).
        for (setting, value) in [(Settings.fifoSize, fifoSize), (Settings.kernelBytes, kernelBytes), (Settings.reserve, reserve)] {
            if let value, !setting.accepts(Double(value.bytes)) { throw ValidationError(setting.outOfRange(value.description)) }
        }
        for (setting, value) in [(Settings.kernelInterval, kernelInterval), (Settings.backoffCap, backoffCap),
                                 (Settings.failbackInterval, failbackInterval)] {
            if let value, !setting.accepts(value) { throw ValidationError(setting.outOfRange(value.shortDescription)) }
        }
        if let fifoGroup, !ConfigFile.isGroupName(fifoGroup) {
            throw ValidationError("--fifo-group '\(fifoGroup)' is not a group name")
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
        v.connection = connection?.rawValue ?? v.connection
        v.reserve = reserve ?? v.reserve
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

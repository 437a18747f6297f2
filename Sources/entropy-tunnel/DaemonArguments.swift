import ArgumentParser
import EntropyTunnelCore

/// The options of the daemon beyond the connection: the FIFO, rngd, reconnection pacing.
/// Shared by `run` and by `install`, which writes them into the config file. As in
/// `ConnectionArguments`, a property named after a setting's key is its flag.
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

    @Option(help: Settings.metricsInterval.argumentHelp)
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

    package func validate() throws { try validateSettings() }

    /// `values` with these options set where they were given.
    package func applied(to values: ConfigFile.Values) -> ConfigFile.Values {
        values.overlaid(with: (try? settingValues()) ?? ConfigFile.Values())
    }
}

import EntropyTunnelCore
import Testing

/// `RunConfiguration` from the values read: defaults that depend on other settings, and the
/// combinations it refuses.
struct RunConfigurationTests {
    @Test("connection: on-demand by default with the kernel sink, persistent with the FIFO sinks; on-demand needs the kernel sink")
    func connectionModeDefaults() throws {
        func configuration(_ text: String) throws -> RunConfiguration {
            try RunConfiguration(ConfigFile.parse("host = \"rng\"\n" + text, path: "config.toml"), source: "config.toml")
        }
        #expect(try configuration("").connectionMode == .onDemand)
        #expect(try configuration("").reserve == 4096)
        #expect(try configuration("sink = \"rngd\"\n").connectionMode == .persistent)
        #expect(try configuration("sink = \"fifo\"\n").connectionMode == .persistent)
        #expect(try configuration("connection = \"persistent\"\n").connectionMode == .persistent)
        #expect(try configuration("reserve = \"64K\"\n").reserve == 65536)
        #expect(throws: TunnelError.self) { try configuration("sink = \"fifo\"\nconnection = \"on-demand\"\n") }
    }
}

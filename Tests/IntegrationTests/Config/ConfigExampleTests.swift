import Foundation
import Testing

/// The example config inside the binary: the same bytes as install/config.toml.example, printed
/// by `config example`, and what a new config starts from.
struct ConfigExampleTests {
    @Test("`config example` prints install/config.toml.example byte for byte")
    func exampleEmbedded() throws {
        let file = try String(contentsOf: SettingsTableTests.repository.appendingPathComponent("install/config.toml.example"), encoding: .utf8)
        let printed = try runTunnel(["config", "example"])
        #expect(printed.status == 0)
        #expect(printed.stdout == file, "the embedded example (ConfigExample.swift) differs from install/config.toml.example")
    }
}

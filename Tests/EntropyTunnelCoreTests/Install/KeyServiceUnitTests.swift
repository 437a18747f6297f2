import EntropyTunnelCore
import Foundation
import Testing

/// The first-boot key unit of `install --per-instance-key`: the embedded template and its placeholders.
struct KeyServiceUnitTests {
    let repository = #filePath.components(separatedBy: "/Tests/")[0]

    @Test("the embedded key unit is install/entropy-tunnel-key.service.in, byte for byte, and fills its placeholders")
    func keyUnitTemplate() throws {
        let file = try String(contentsOfFile: repository + "/install/entropy-tunnel-key.service.in", encoding: .utf8)
        #expect(KeyServiceUnit.template == file)
        let unit = KeyServiceUnit(binary: "/usr/bin/entropy-tunnel", configPath: "/etc/et/config.toml", identity: "/etc/et/keys/id").text
        #expect(!unit.contains("@"), "a placeholder is left: \(unit)")
        for line in ["ConditionPathExists=!/etc/et/keys/id", "Before=entropy-tunnel.service", "After=systemd-sysusers.service",
                     "ExecStart=/usr/bin/entropy-tunnel keys generate --config /etc/et/config.toml --owner entropy-tunnel",
                     "ReadWritePaths=/etc/et/keys", "ProtectSystem=strict", "WantedBy=multi-user.target", "Type=oneshot"] {
            #expect(unit.contains("\n\(line)\n"), "key unit lacks \(line)")
        }
    }
}

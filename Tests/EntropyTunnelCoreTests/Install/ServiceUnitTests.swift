import EntropyTunnelCore
import Foundation
import Testing

/// The tunnel's unit: the embedded template and the binary install names in it.
struct ServiceUnitTests {
    let repository = #filePath.components(separatedBy: "/Tests/")[0]

    @Test("install's default binary: /usr/bin/entropy-tunnel only when it runs from there (the .deb)", arguments: [
        ("/usr/bin/entropy-tunnel", "/usr/bin/entropy-tunnel"),
        ("/usr/local/bin/entropy-tunnel", "/usr/local/bin/entropy-tunnel"),
        ("/work/.build/release/entropy-tunnel", "/usr/local/bin/entropy-tunnel"),
        (nil, "/usr/local/bin/entropy-tunnel"),
    ] as [(String?, String)])
    func defaultBinary(running: String?, expected: String) {
        #expect(ServiceUnit.defaultBinary(running: running) == expected)
    }

    @Test("the embedded unit template is install/entropy-tunnel.service.in, byte for byte")
    func unitTemplate() throws {
        let file = try String(contentsOfFile: repository + "/install/entropy-tunnel.service.in", encoding: .utf8)
        #expect(ServiceUnit.template == file)
        let unit = ServiceUnit(binary: "/opt/et/bin/entropy-tunnel", configPath: "/etc/et.toml").text
        #expect(unit.contains("\nExecStart=/opt/et/bin/entropy-tunnel run --config /etc/et.toml\n"))
        #expect(!unit.contains("@BINARY@") && !unit.contains("@CONFIG@"))
        for line in ["Type=notify", "NotifyAccess=main", "Restart=always", "RuntimeDirectory=entropy-tunnel",
                     "WatchdogSec=30s", "CapabilityBoundingSet=CAP_SYS_ADMIN", "DevicePolicy=closed",
                     "DeviceAllow=/dev/random rw", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"] {
            #expect(unit.contains("\n\(line)\n"), "unit lacks \(line)")
        }
    }
}

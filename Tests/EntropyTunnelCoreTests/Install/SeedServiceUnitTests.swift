import EntropyTunnelCore
import Foundation
import Testing

/// The seed's unit: the embedded template, and the ordering that makes its credit count.
struct SeedServiceUnitTests {
    let repository = #filePath.components(separatedBy: "/Tests/")[0]

    @Test("the embedded seed unit template is install/entropy-tunnel-seed.service.in, byte for byte")
    func seedUnitTemplate() throws {
        let file = try String(contentsOfFile: repository + "/install/entropy-tunnel-seed.service.in", encoding: .utf8)
        #expect(SeedServiceUnit.template == file)
        let unit = SeedServiceUnit(binary: "/opt/et/bin/entropy-tunnel").text
        #expect(!unit.contains("@BINARY@"))
        for line in ["ExecStart=/opt/et/bin/entropy-tunnel seed load", "ExecStop=/opt/et/bin/entropy-tunnel seed save",
                     "Type=oneshot", "RemainAfterExit=yes", "DefaultDependencies=no", "RequiresMountsFor=/var/lib/entropy-tunnel",
                     "After=systemd-remount-fs.service systemd-sysusers.service",
                     "Before=systemd-random-seed.service sysinit.target shutdown.target entropy-tunnel.service", "Conflicts=shutdown.target",
                     "StateDirectory=entropy-tunnel", "StateDirectoryMode=0700", "User=entropy-tunnel",
                     "AmbientCapabilities=CAP_SYS_ADMIN", "CapabilityBoundingSet=CAP_SYS_ADMIN",
                     "PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX", "WantedBy=sysinit.target"] {
            #expect(unit.contains("\n\(line)\n"), "seed unit lacks \(line)")
        }
        #expect(ServiceUnit.template.contains("\nStateDirectory=entropy-tunnel\nStateDirectoryMode=0700\n"))
        // Early enough that its credit counts: nothing that orders it after local-fs.target
        // (PrivateTmp= orders after systemd-tmpfiles-setup.service, which is after local-fs.target).
        let directives = unit.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(!directives.contains { $0.contains("local-fs.target") || $0.hasPrefix("PrivateTmp=") },
                "the seed unit would run after local-fs.target")
    }
}

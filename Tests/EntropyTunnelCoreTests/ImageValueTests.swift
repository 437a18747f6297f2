import EntropyTunnelCore
import Foundation
import Testing
import TestHost

/// The pieces of staged images and unattended installs that are values: the key unit and the
/// sysusers.d file (embedded copies of the files under install/), the passwd lookup in an image,
/// and which --fingerprint / --host-key belongs to which --host.
@Suite struct ImageValueTests {
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

    @Test("the embedded sysusers.d file is install/entropy-tunnel.sysusers, byte for byte, and declares the units' user")
    func sysusersFile() throws {
        let file = try String(contentsOfFile: repository + "/install/entropy-tunnel.sysusers", encoding: .utf8)
        #expect(ServiceUser.sysusersText == file)
        let lines = file.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(lines == [#"u entropy-tunnel - "entropy-tunnel service" /nonexistent /usr/sbin/nologin"#])
        #expect(ServiceUser.name == "entropy-tunnel" && ServiceUnit.template.contains("\nUser=entropy-tunnel\n")
                && SeedServiceUnit.template.contains("\nUser=entropy-tunnel\n"))
    }

    @Test("the service user's ids are read from the image's own passwd file, not from this machine's")
    func idsInPasswd() throws {
        let dir = try Scratch.directory("entropy-tunnel-passwd")
        let path = dir + "/passwd"
        try """
            root:x:0:0:root:/root:/bin/bash
            entropy-tunnel-old:x:5:5::/:/bin/false
            broken-line
            entropy-tunnel:x:998:997:entropy-tunnel service:/nonexistent:/usr/sbin/nologin

            """.write(toFile: path, atomically: true, encoding: .utf8)
        let ids = try #require(ServiceUser.ids(inPasswd: path))
        #expect(ids.uid == 998 && ids.gid == 997)
        #expect(ServiceUser.ids(inPasswd: path, user: "nobody-here") == nil)
        #expect(ServiceUser.ids(inPasswd: dir + "/missing") == nil)
        try "entropy-tunnel:x:abc:997::/:/bin/sh\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(ServiceUser.ids(inPasswd: path) == nil, "a uid that is not a number is no user")
    }

    @Test("the unit's drop-in: a supplementary group and fchown for fifo_group; ReadWritePaths= only for a metrics directory the template does not cover")
    func dropIn() throws {
        #expect(ServiceDropIn(fifoGroup: nil, metricsFile: nil).text == nil)
        #expect(ServiceDropIn(fifoGroup: nil, metricsFile: "/var/lib/prometheus/node-exporter/et.prom").text == nil)
        #expect(ServiceDropIn(fifoGroup: nil, metricsFile: "/run/entropy-tunnel/metrics.prom").text == nil)
        let both = try #require(ServiceDropIn(fifoGroup: "rngd", metricsFile: "/srv/metrics/et.prom").text)
        let directives = both.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(directives == ["[Service]", "SupplementaryGroups=rngd", "SystemCallFilter=fchown", "ReadWritePaths=-/srv/metrics"])
        // A directory systemd would split or expand, or a newline that would start a directive of its own.
        for path in ["/srv/my metrics/et.prom", "/srv/%h/et.prom", "/srv/x\nExecStartPre=/bin/sh/et.prom"] {
            #expect(throws: TunnelError.self) { try ServiceDropIn(fifoGroup: nil, metricsFile: path).check() }
            #expect(ServiceDropIn(fifoGroup: nil, metricsFile: path).text == nil)
        }
        try ServiceDropIn(fifoGroup: "rngd", metricsFile: "/srv/metrics/et.prom").check()
    }

    typealias Trust = Installer.HostTrust

    @Test("the i-th --fingerprint and --host-key go to the i-th --host; more than hosts is refused")
    func trustPerHost() throws {
        #expect(try Installer.trustPerHost(hosts: 2, fingerprints: ["FA", "FB"], hostKeys: [])
                == [Trust(fingerprint: "FA"), Trust(fingerprint: "FB")])
        #expect(try Installer.trustPerHost(hosts: 3, fingerprints: ["FA"], hostKeys: ["KA", "KB"])
                == [Trust(fingerprint: "FA", hostKey: "KA"), Trust(hostKey: "KB"), Trust()])
        #expect(try Installer.trustPerHost(hosts: 1, fingerprints: [], hostKeys: []) == [Trust()])
        for (fingerprints, keys) in [(["FA", "FB"], [String]()), ([], ["KA", "KB"])] {
            #expect(throws: TunnelError.self) { try Installer.trustPerHost(hosts: 1, fingerprints: fingerprints, hostKeys: keys) }
        }
    }
}

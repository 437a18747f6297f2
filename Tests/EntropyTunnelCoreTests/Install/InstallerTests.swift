import EntropyTunnelCore
import Testing

/// `install`'s decisions as values: the config it writes, --root and its paths, which pin belongs to
/// which --host, and what to do about the distribution's rngd.
struct InstallerTests {
    @Test("the config install writes is valid and quotes what TOML needs quoted")
    func installConfig() throws {
        var installer = Installer(host: "rng.example:2222")
        installer.settings = [("user", .string("ent\"ropy")), ("window", .string("32K")), ("connect_timeout", .double(2.5)),
                              ("keepalive_count", .int(5)), ("remote_command", .string("dd if=/dev/hwrng\tbs=512"))]
        let values = try ConfigFile.parse(installer.configText, path: "generated")
        #expect(values.hosts == ["rng.example:2222"])
        #expect(values[Settings.user] == .string("ent\"ropy"))
        #expect(values[Settings.window] == .size(.kib(32)))
        #expect(values[Settings.connectTimeout] == .seconds(.milliseconds(2500)))
        #expect(values[Settings.keepaliveCount] == .integer(5))
        #expect(values[Settings.remoteCommand] == .string("dd if=/dev/hwrng\tbs=512"))
    }

    @Test("--root and the paths install writes: absolute, no '..', no control characters")
    func paths() throws {
        #expect(try Installer.normalizedRoot(nil) == "")
        #expect(try Installer.normalizedRoot("/tmp/pkg//") == "/tmp/pkg")
        for bad in ["", "/", "//", "tmp/pkg", "/tmp/../etc", "/tmp/a\nb"] {
            #expect(throws: TunnelError.self, "\(bad)") { try Installer.normalizedRoot(bad) }
        }
        #expect(throws: TunnelError.self) { try Installer.checkPath("/etc/entropy-tunnel/", "--identity") }
        #expect(throws: TunnelError.self) { try Installer.checkUnitPath("/etc/%h.toml", "--config") }
        try Installer.checkUnitPath("/etc/entropy-tunnel/config.toml", "--config")
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

    @Test("install and the distribution's rngd: warn when enabled or running, disable only when asked", arguments: [
        ("enabled", "inactive", false, Installer.DistroRngdAction.warn("rngd.service")),
        ("enabled", "active", true, .disable("rngd.service")),
        ("disabled", "active", false, .warn("rngd.service")),
        ("disabled", "inactive", true, .none),
        ("masked", "inactive", false, .none),
        ("not-found", "inactive", false, .none),
        ("static", "inactive", false, .none),
    ])
    func distroRngd(enabled: String, active: String, disable: Bool, expected: Installer.DistroRngdAction) {
        #expect(Installer.distroRngdAction(unit: "rngd.service", enabled: enabled, active: active, disable: disable) == expected)
    }
}

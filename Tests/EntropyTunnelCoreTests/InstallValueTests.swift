import EntropyTunnelCore
import Foundation
import Testing

/// The pure parts of keys and install: key lines, known_hosts edits, the unit template.
struct InstallValueTests {
    let ed25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF8b/RnY2w428ptPmGFjGTgdBijV5UOkVVHgf/NJteMb entropy-tunnel@vm"
    let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC1H7U7eLswzBF3B3jwLxVJsAVEIqr9v7F3hkWk2tird other@host"
    var repository: String { #filePath.components(separatedBy: "/Tests/")[0] }

    @Test("install's default binary: /usr/bin/entropy-tunnel only when it runs from there (the .deb)", arguments: [
        ("/usr/bin/entropy-tunnel", "/usr/bin/entropy-tunnel"),
        ("/usr/local/bin/entropy-tunnel", "/usr/local/bin/entropy-tunnel"),
        ("/work/.build/release/entropy-tunnel", "/usr/local/bin/entropy-tunnel"),
        (nil, "/usr/local/bin/entropy-tunnel"),
    ] as [(String?, String)])
    func defaultBinary(running: String?, expected: String) {
        #expect(ServiceUnit.defaultBinary(running: running) == expected)
    }

    @Test("the authorized_keys line is exactly restrict,[from=],command=\"...\" KEY COMMENT MARKER; serve gets --client")
    func keyLine() throws {
        let key = try PublicKey(parsing: ed25519)
        let marker = " " + AuthorizedKeyLine.marker
        #expect(AuthorizedKeyLine(key: key).text ==
                "restrict,command=\"dd if=/dev/hwrng bs=512 status=none\" " + ed25519 + marker)
        #expect(AuthorizedKeyLine(key: key, command: "head -c 9 \"/dev/hw rng\"", from: "10.0.0.5,*.lan").text ==
                "restrict,from=\"10.0.0.5,*.lan\",command=\"head -c 9 \\\"/dev/hw rng\\\"\" " + ed25519 + marker)
        // The serve command carries the key's fingerprint: its budget on the host.
        #expect(AuthorizedKeyLine(key: key, command: "/usr/bin/entropy-tunnel serve --device /dev/hwrng").text ==
                "restrict,command=\"/usr/bin/entropy-tunnel serve --device /dev/hwrng --client \(key.fingerprint)\" " + ed25519 + marker)
        #expect(throws: TunnelError.self) { try AuthorizedKeyLine(key: key, from: "a b").validate() }
        #expect(throws: TunnelError.self) { try AuthorizedKeyLine(key: key, command: "a\nb").validate() }
    }

    @Test("authorized_keys: the same key replaces its line, never a duplicate; other keys stay")
    func authorizedKeysMerge() throws {
        let key = try PublicKey(parsing: ed25519)
        let first = AuthorizedKeyLine(key: key).merged(into: "# comment\n" + other + "\n")
        #expect(first == "# comment\n\(other)\nrestrict,command=\"dd if=/dev/hwrng bs=512 status=none\" \(ed25519) \(AuthorizedKeyLine.marker)\n")
        #expect(AuthorizedKeyLine(key: key).merged(into: first) == first)
        let changed = AuthorizedKeyLine(key: key, command: "cat /dev/hwrng").merged(into: first + first)
        #expect(changed == "# comment\n\(other)\nrestrict,command=\"cat /dev/hwrng\" \(ed25519) \(AuthorizedKeyLine.marker)\n# comment\n\(other)\n")
    }

    @Test("known_hosts: one entry per host and key type, [host]:port for other ports")
    func knownHostsMerge() throws {
        let key = try PublicKey(parsing: ed25519)
        let old = try PublicKey(parsing: other)
        let host = HostSpec(host: "rng.example", port: 2222)
        let existing = """
            rng.example ssh-ed25519 \(old.base64)
            [rng.example]:2222 ecdsa-sha2-nistp256 AAAAE2VjZHNh
            [rng.example]:2222,10.0.0.5 ssh-ed25519 \(old.base64)
            [rng.example]:2222 ssh-ed25519 \(old.base64)

            """
        let merged = KnownHostsFile.merged(existing, host: host, key: key)
        #expect(merged == """
            rng.example ssh-ed25519 \(old.base64)
            [rng.example]:2222 ecdsa-sha2-nistp256 AAAAE2VjZHNh
            [rng.example]:2222 ssh-ed25519 \(key.base64)
            10.0.0.5 ssh-ed25519 \(old.base64)

            """)
        #expect(KnownHostsFile.merged(merged, host: host, key: key) == merged)
        #expect(KnownHostsFile.merged("", host: HostSpec(host: "rng", port: 22), key: key) == "rng ssh-ed25519 \(key.base64)\n")
        #expect(KnownHostsFile.hasEntry(merged, for: host))
        #expect(!KnownHostsFile.hasEntry(merged, for: HostSpec(host: "rng.example", port: 2200)))
    }

    @Test("public keys: parsed and checked; fingerprint and bits as ssh-keygen -l prints them")
    func publicKeys() throws {
        let key = try PublicKey(parsing: ed25519)
        #expect(key.type == .ed25519 && key.comment == "entropy-tunnel@vm")
        #expect(key.keygenListing(name: key.comment) == "256 SHA256:L4xEz8g00faho2fnTwlHa6aRvWZ5paYP1KWtBLfEJAE entropy-tunnel@vm (ED25519)")
        #expect(throws: TunnelError.self) { try PublicKey(parsing: "ssh-ed25519") }
        #expect(throws: TunnelError.self) { try PublicKey(parsing: "ssh-dss AAAAB3NzaC1kc3M=") }
        // A valid blob of another type under the ed25519 name.
        #expect(throws: TunnelError.self) { try PublicKey(parsing: "ssh-ed25519 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY=") }
        #expect(HostKeyTrust.normalizeFingerprint("L4xEz8g00faho2fnTwlHa6aRvWZ5paYP1KWtBLfEJAE=") == key.fingerprint)
    }

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

    /// systemd has no include: the two units each carry their hardening block. They must not
    /// drift apart; these are the only differences, each on purpose.
    @Test("the two units' hardening blocks differ only where they must (network, /dev/random, the nice limit, /tmp, the metrics directory)")
    func hardeningBlocksAgree() {
        func hardening(_ template: String) -> Set<Substring> {
            guard let start = template.range(of: "# --- Hardening ---"), let end = template.range(of: "[Install]") else { return [] }
            return Set(template[start.upperBound..<end.lowerBound].split(separator: "\n").filter { !$0.hasPrefix("#") })
        }
        let tunnel = hardening(ServiceUnit.template), seed = hardening(SeedServiceUnit.template)
        #expect(tunnel.count > 30 && seed.count > 30)
        // The tunnel connects out over IP, feeds /dev/random, and runs libdispatch's nice -4 thread.
        // PrivateTmp= only in the tunnel: in the seed unit it would order it after local-fs.target,
        // too late for its credit. The tunnel may write node_exporter's textfile directory.
        #expect(tunnel.subtracting(seed) == ["RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "DeviceAllow=/dev/random rw", "LimitNICE=-4",
                                             "PrivateTmp=yes", "ReadWritePaths=-/var/lib/prometheus/node-exporter"])
        // The seed needs no network at all.
        #expect(seed.subtracting(tunnel) == ["PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX", "IPAddressDeny=any"])
    }

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
}

/// The values behind "a careless admin gets errors, not damage": quoting, the manifest, paths.
struct CarelessAdminValueTests {
    @Test("ShellQuote: safe words stay bare, everything else is single-quoted with '\\'' for quotes", arguments: [
        ("rng.example", "rng.example"), ("192.0.2.7", "192.0.2.7"), ("entropy-tunnel@vm", "entropy-tunnel@vm"),
        ("", "''"), ("a b", "'a b'"), ("it's", #"'it'\''s'"#), ("$HOME", "'$HOME'"), ("[::1]:22", "'[::1]:22'"),
        ("10.0.0.*", "'10.0.0.*'"), ("~root", "'~root'"), ("a\nb", "'a\nb'"), ("'", #"''\'''"#),
    ])
    func shellQuote(_ word: String, _ quoted: String) throws {
        #expect(ShellQuote.quote(word) == quoted)
        // sh reads it back as the same single word.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "printf '%s' " + ShellQuote.quote(word)]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(String(decoding: output, as: UTF8.self) == word)
    }

    @Test("the manifest: text round-trips, a file install created stays created, a damaged line is refused")
    func manifest() throws {
        var manifest = InstallManifest()
        manifest.recordWrite("/etc/entropy-tunnel/config.toml", content: Array("a\n".utf8), existedBefore: false)
        manifest.recordWrite("/etc/entropy-tunnel/known_hosts", content: Array("b\n".utf8), existedBefore: true)
        manifest.directories = ["/etc/entropy-tunnel", "/var/lib/entropy-tunnel"]
        manifest.user = "entropy-tunnel"
        #expect(manifest.files["/etc/entropy-tunnel/config.toml"]?.sha256 ==
                "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7")  // sha256sum of "a\n"
        #expect(try InstallManifest(parsing: manifest.text, path: "m") == manifest)
        // Rewritten later: still install's creation; a file that existed before stays "existing".
        manifest.recordWrite("/etc/entropy-tunnel/config.toml", content: Array("c\n".utf8), existedBefore: true)
        #expect(manifest.files["/etc/entropy-tunnel/config.toml"]?.created == true)
        #expect(manifest.files["/etc/entropy-tunnel/known_hosts"]?.created == false)
        #expect(manifest.holdsWhatInstallWrote("/etc/entropy-tunnel/config.toml", content: Array("c\n".utf8)))
        #expect(!manifest.holdsWhatInstallWrote("/etc/entropy-tunnel/config.toml", content: Array("a\n".utf8)))
        #expect(!manifest.holdsWhatInstallWrote("/etc/other", content: []))
        let error = try #require(throws: TunnelError.self) { try InstallManifest(parsing: "# x\nfile created nothex /a\n", path: "/m") }
        #expect(error.message.hasPrefix("/m:2: "))
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

    @Test("text that looks like a private key is refused without being quoted")
    func privateKeyText() throws {
        let text = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n"
        let error = try #require(throws: TunnelError.self) { try PublicKey(parsing: text) }
        #expect(error.message.contains("that looks like a PRIVATE key; pass the .pub"))
        #expect(!error.message.contains("b3BlbnNzaC1rZXktdjE"))
        #expect(throws: TunnelError.self) { try PublicKey(parsing: "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ") }
    }
}

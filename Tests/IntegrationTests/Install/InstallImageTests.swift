import EntropyTunnelCore
import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// `install` without a terminal and for images, through the real binary: one --fingerprint per
/// --host, every host confirmed before a file is written (a refusal leaves nothing), and
/// `--root DIR` staging an image that starts when booted (the user in DIR/etc/passwd, the key
/// given to it, the units enabled, or with --per-instance-key no key but the first-boot unit).
/// The boot itself is install/vm-test.sh's.
@Suite(.serialized, .timeLimit(.minutes(10)),
       .enabled(if: getuid() == 0, "writes users into scratch images and enables units with systemctl --root: needs root"))
struct InstallImageTests {
    static let hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC1H7U7eLswzBF3B3jwLxVJsAVEIqr9v7F3hkWk2tird"

    /// Every path below `root` (relative), for "nothing was written".
    func paths(_ root: String) -> [String] {
        (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).sorted()
    }

    func fingerprint(of host: LoopbackHost) throws -> String {
        String(try Shell.run("ssh-keygen", "-lf", host.directory + "/ssh_host_key.pub").stdout.split(separator: " ")[1])
    }

    @Test("--host A --host B --fingerprint FA --fingerprint FB without a terminal: both pinned; a wrong FB, a missing one or a third writes nothing")
    func severalHostsNoTerminal() throws {
        let a = try LoopbackHost(forcedCommand: "true")
        let b = try LoopbackHost(forcedCommand: "true", hostKeyType: "ecdsa")
        defer { a.shutdown(); b.shutdown() }
        let (fa, fb) = (try fingerprint(of: a), try fingerprint(of: b))
        let hosts = ["install", "--host", a.endpoint, "--host", b.endpoint]

        let root = try makeScratchDirectory()
        let ok = try runTunnel(hosts + ["--fingerprint", fa, "--fingerprint", fb, "--root", root])
        #expect(ok.status == 0, "\(ok.stdout)\n\(ok.stderr)")
        let pins = try String(contentsOfFile: root + "/etc/entropy-tunnel/known_hosts", encoding: .utf8)
        #expect(pins == "[127.0.0.1]:\(a.port) \(a.hostPublicKey)\n[127.0.0.1]:\(b.port) \(b.hostPublicKey)\n", "\(pins)")
        #expect(ok.stdout.contains("[127.0.0.1]:\(b.port) ecdsa-sha2-nistp256 \(fb)"), "\(ok.stdout)")

        // A wrong fingerprint for the second host: refused, and not one file or directory made,
        // although the first host's key matched.
        let refused = try makeScratchDirectory()
        let wrong = try runTunnel(hosts + ["--fingerprint", fa, "--fingerprint", fa, "--root", refused])
        #expect(wrong.status == 78, "\(wrong.stdout)\n\(wrong.stderr)")
        #expect(wrong.stderr.contains("no host key of 127.0.0.1:\(b.port) has fingerprint \(fa)") && wrong.stderr.contains("nothing was written"),
                "\(wrong.stderr)")
        #expect(wrong.stderr.contains("host 2 of 2"), "\(wrong.stderr)")
        #expect(paths(refused).isEmpty, "a refused install wrote \(paths(refused))")

        // No fingerprint for the second host and no terminal to ask: the same, nothing written.
        let unasked = try runTunnel(hosts + ["--fingerprint", fa, "--root", refused])
        #expect(unasked.status == 78, "\(unasked.stdout)\n\(unasked.stderr)")
        #expect(unasked.stderr.contains("No terminal to ask whether to trust the key of 127.0.0.1:\(b.port)"), "\(unasked.stderr)")
        #expect(paths(refused).isEmpty, "an unconfirmed host left \(paths(refused))")

        // A third fingerprint for two hosts is a mistake on the command line.
        let three = try runTunnel(hosts + ["--fingerprint", fa, "--fingerprint", fb, "--fingerprint", fb, "--root", refused])
        #expect(three.status == 64, "\(three.stderr)")
        #expect(three.stderr.contains("3 --fingerprint for 2 --host"), "\(three.stderr)")
        #expect(paths(refused).isEmpty)

        // --host-key per host works the same, without connecting.
        let offline = try makeScratchDirectory()
        let keys = try runTunnel(["install", "--host", "rng1.example", "--host", "rng2.example:2222",
                                  "--host-key", a.hostPublicKey, "--host-key", b.hostPublicKey, "--root", offline])
        #expect(keys.status == 0, "\(keys.stderr)")
        #expect(try String(contentsOfFile: offline + "/etc/entropy-tunnel/known_hosts", encoding: .utf8)
                == "rng1.example \(a.hostPublicKey)\n[rng2.example]:2222 \(b.hostPublicKey)\n")
    }

    @Test("install --root stages an image: the user in its passwd (sysusers), the key given to that uid, the units enabled; a rerun changes nothing")
    func stagedImage() throws {
        let root = try makeScratchDirectory()
        let arguments = ["install", "--host", "rng.example", "--host-key", Self.hostKey, "--root", root]
        let first = try runTunnel(arguments)
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        let passwd = try String(contentsOfFile: root + "/etc/passwd", encoding: .utf8)
        let entry = try #require(passwd.split(separator: "\n").first { $0.hasPrefix("entropy-tunnel:") }, "\(passwd)")
        let fields = entry.split(separator: ":", omittingEmptySubsequences: false)
        let uid = try #require(UInt32(fields[2])), gid = try #require(UInt32(fields[3]))
        #expect(fields[6] == "/usr/sbin/nologin")
        #expect(try String(contentsOfFile: root + "/etc/sysusers.d/entropy-tunnel.conf", encoding: .utf8) == ServiceUser.sysusersText)
        var st = stat()
        #expect(stat(root + "/etc/entropy-tunnel/id_ed25519", &st) == 0)
        #expect(st.st_uid == uid && st.st_gid == gid && st.st_mode & 0o777 == 0o600, "the key is not the image's service user's")
        for link in ["multi-user.target.wants/entropy-tunnel.service", "sysinit.target.wants/entropy-tunnel-seed.service"] {
            let target = try FileManager.default.destinationOfSymbolicLink(atPath: root + "/etc/systemd/system/" + link)
            #expect(target.hasSuffix("/etc/systemd/system/" + (link.split(separator: "/").last.map(String.init) ?? "")), "\(link) -> \(target)")
        }
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/systemd/system/" + KeyServiceUnit.name))

        let again = try runTunnel(arguments)
        #expect(again.status == 0 && again.stdout.contains("\nno change\n"), "\(again.stdout)\n\(again.stderr)")

        // uninstall --root disables the units below the root and removes install's files.
        let removed = try runTunnel(["uninstall", "--purge", "--root", root])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(removed.stdout.contains("systemctl --root"), "\(removed.stdout)")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/etc/systemd/system/multi-user.target.wants/entropy-tunnel.service")) == nil)
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/entropy-tunnel"))
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/sysusers.d/entropy-tunnel.conf"))
    }

    @Test("install --root --per-instance-key: no key in the image, the first-boot key unit enabled; an image that holds a key is refused, nothing written")
    func perInstanceKey() throws {
        let root = try makeScratchDirectory()
        let arguments = ["install", "--host", "rng.example", "--host-key", Self.hostKey, "--user", "et-vm", "--root", root, "--per-instance-key"]
        let staged = try runTunnel(arguments)
        #expect(staged.status == 0, "\(staged.stdout)\n\(staged.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/entropy-tunnel/id_ed25519"))
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/entropy-tunnel/id_ed25519.pub"))
        let unit = try String(contentsOfFile: root + "/etc/systemd/system/" + KeyServiceUnit.name, encoding: .utf8)
        #expect(unit == KeyServiceUnit(binary: ServiceUnit.defaultBinary).text)
        // The link names the path inside the image (which does not exist on this machine).
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/etc/systemd/system/multi-user.target.wants/" + KeyServiceUnit.name))
                == "/etc/systemd/system/" + KeyServiceUnit.name)
        #expect(staged.stdout.contains("Each machine made from this image makes its own key at its first boot"), "\(staged.stdout)")
        #expect(staged.stdout.contains("journalctl -u entropy-tunnel-key.service"), "\(staged.stdout)")
        #expect(!staged.stdout.contains("keys authorize --key"), "no key, so no line to authorize yet: \(staged.stdout)")

        // What the key unit runs at a first boot: the key, given to the service user, and the
        // host-side line with the config's user.
        let config = root + "/etc/entropy-tunnel/config.toml"
        let scratchConfig = root + "/first-boot.toml"
        let identity = root + "/keys/id_ed25519"
        try (try String(contentsOfFile: config, encoding: .utf8) + "\nidentity = \"\(identity)\"\n")
            .write(toFile: scratchConfig, atomically: true, encoding: .utf8)
        let firstBoot = try runTunnel(["keys", "generate", "--config", scratchConfig, "--owner", "nobody"])
        #expect(firstBoot.status == 0, "\(firstBoot.stderr)")
        let pub = try String(contentsOfFile: identity + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(firstBoot.stdout.contains("entropy-tunnel keys authorize --user et-vm --key '\(pub)'"), "\(firstBoot.stdout)")
        var st = stat()
        #expect(stat(identity, &st) == 0 && st.st_uid == getpwnam("nobody")?.pointee.pw_uid && st.st_mode & 0o777 == 0o600)

        // An image that already holds a key would give it to every clone.
        let holding = try makeScratchDirectory()
        #expect(try runTunnel(["install", "--host", "rng.example", "--host-key", Self.hostKey, "--root", holding]).status == 0)
        let before = paths(holding)
        let refused = try runTunnel(["install", "--host", "rng.example", "--host-key", Self.hostKey, "--root", holding, "--per-instance-key"])
        #expect(refused.status == 78 && refused.stderr.contains("every machine made from it would share"), "\(refused.stderr)")
        #expect(paths(holding) == before, "a refused install changed the image")
    }
}

extension InstallImageTests {
    @Test("--fifo-group: install writes the unit's drop-in (SupplementaryGroups=), and removes it when the config no longer names a group")
    func fifoGroupDropIn() throws {
        let root = try makeScratchDirectory()
        let base = ["install", "--host", "rng.example", "--host-key", Self.hostKey, "--root", root, "--sink", "fifo"]
        let grouped = try runTunnel(base + ["--fifo-group", "nogroup"])
        #expect(grouped.status == 0, "\(grouped.stderr)")
        let dropIn = root + ServiceDropIn.defaultPath
        let text = try String(contentsOfFile: dropIn, encoding: .utf8)
        #expect(text.contains("\n[Service]\n") && text.contains("\nSupplementaryGroups=nogroup\nSystemCallFilter=fchown\n"), "\(text)")
        #expect(ServiceDropIn(fifoGroup: nil).text == nil)

        // The config written with the group; a merged config without it (--force: a new one).
        let plain = try runTunnel(base + ["--force"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dropIn), "the drop-in stayed: \(plain.stdout)")
        #expect(plain.stdout.contains("install.conf: removed"), "\(plain.stdout)")
    }
}

import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// Host set-up that cannot break the host: shared devices refused by number, the sshd drop-in
/// checked with the real `sshd -t` (against a throwaway sshd_config, never /etc/ssh), and
/// `keys deauthorize` / `keys untrust` taking back what was set up; `keys untrust` and `keys list`
/// find a pin in every spelling the daemon matches.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct HostSetupTests {
    func publicKey(_ identity: String) throws -> String {
        try String(contentsOfFile: identity + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func deviceState(_ path: String) -> [UInt32] {
        var st = stat()
        guard stat(path, &st) == 0 else { return [] }
        return [st.st_mode, st.st_uid, st.st_gid]
    }

    @Test("keys authorize --device refuses the kernel CSPRNG and other shared devices, by number, changing nothing",
          .enabled(if: getuid() == 0, "would create a system user: needs root"))
    func sharedDevicesRefused() throws {
        let user = "et-shared"
        let dir = try makeScratchDirectory()
        let identity = dir + "/id_ed25519"
        #expect(try runTunnel(["keys", "generate", "--identity", identity]).status == 0)
        let key = try publicKey(identity)
        symlink("/dev/urandom", dir + "/hwrng-link")
        try Shell.run("mknod", "-m", "600", dir + "/urandom-copy", "c", "1", "9")
        for device in ["/dev/random", "/dev/urandom", "/dev/null", "/dev/zero", "/dev/full", "/dev/tty",
                       dir + "/hwrng-link", dir + "/urandom-copy"] {
            let before = deviceState(device)
            let result = try runTunnel(["keys", "authorize", "--key", key, "--user", user, "--device", device,
                                        "--udev-rule", dir + "/60-entropy-tunnel.rules"])
            #expect(result.status == 78, "\(device): \(result.stderr)")
            #expect(result.stderr.contains("refusing --device \(device)") && result.stderr.contains("docs/setup.md"), "\(result.stderr)")
            #expect(deviceState(device) == before, "\(device) changed")
        }
        #expect(getpwnam(user) == nil, "a refused device must not leave a user behind")
        #expect(!FileManager.default.fileExists(atPath: dir + "/60-entropy-tunnel.rules"))
    }

    /// A throwaway sshd_config that includes its own sshd_config.d/, with a host key of its own.
    func sshdConfig(in dir: String, extra: String = "") throws -> String {
        try Shell.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir + "/ssh_host_ed25519_key")
        let path = dir + "/sshd_config"
        try "Include \(dir)/sshd_config.d/*.conf\nHostKey \(dir)/ssh_host_ed25519_key\n\(extra)"
            .writeReplacing(toFile: path)
        return path
    }

    @Test("--sshd-drop-in: written, passes the real sshd -t; a failing check removes it with sshd's message; deauthorize takes everything back",
          .enabled(if: getuid() == 0, "creates a system user: needs root"))
    func sshdDropInAndDeauthorize() throws {
        let user = "et-dropin"
        _ = try? Shell.capture("userdel", ["--remove", user])
        defer { _ = try? Shell.capture("userdel", ["--remove", user]) }
        let dir = try makeScratchDirectory()
        let device = try hwrngStandIn(in: dir)
        let rule = dir + "/60-entropy-tunnel.rules"
        let identity = dir + "/id_ed25519"
        #expect(try runTunnel(["keys", "generate", "--identity", identity]).status == 0)
        let key = try publicKey(identity)
        let config = try sshdConfig(in: dir)
        let dropIn = dir + "/sshd_config.d/entropy-tunnel-\(user).conf"
        let authorize = ["keys", "authorize", "--key", key, "--user", user, "--device", device, "--udev-rule", rule,
                         "--remote-command", "dd if=\(device) bs=512 status=none", "--test-device-stand-in",
                         "--sshd-drop-in", "--sshd-config", config]
        let first = try runTunnel(authorize)
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        #expect(first.stdout.contains("\(dropIn): created, `sshd -t` passed"), "\(first.stdout)")
        let block = try String(contentsOfFile: dropIn, encoding: .utf8)
        #expect(block.contains("Match User \(user)") && block.contains("ForceCommand dd if=\(device)"))
        #expect(try Shell.capture("/usr/sbin/sshd", ["-t", "-f", config]).status == 0)
        // sshd reads the drop-in: -T shows the Match block's settings for that user.
        let effective = try Shell.capture("/usr/sbin/sshd", ["-T", "-f", config, "-C", "user=\(user),host=h,addr=127.0.0.1"])
        #expect(effective.stdout.contains("permittty no") && effective.stdout.contains("forcecommand dd if=\(device)"), "\(effective.stdout)")
        // The limits for a key's sessions, and the key's identity for serve's budget.
        for setting in ["maxsessions 1", "clientaliveinterval 15", "clientalivecountmax 3", "exposeauthinfo yes"] {
            #expect(effective.stdout.contains(setting), "\(setting): \(effective.stdout)")
        }

        // A configuration sshd refuses: the drop-in is removed and sshd's own words are shown.
        let brokenDir = try makeScratchDirectory()
        let broken = try sshdConfig(in: brokenDir, extra: "NoSuchSshdOption yes\n")
        var brokenArguments = authorize
        brokenArguments[brokenArguments.count - 1] = broken
        let refused = try runTunnel(brokenArguments)
        #expect(refused.status == 78, "\(refused.stderr)")
        #expect(refused.stderr.contains("NoSuchSshdOption") && refused.stderr.contains("sshd -t"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: brokenDir + "/sshd_config.d/entropy-tunnel-\(user).conf"))

        // deauthorize: the key line, the udev rule, the device access and the drop-in go; the user stays.
        let home = String(cString: try #require(getpwnam(user)).pointee.pw_dir)
        try "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherAdminKeyOtherAdminKeyOtherAdminKey admin\n"
            .write(toFile: home + "/.ssh/authorized_keys", atomically: false, encoding: .utf8)
        _ = try runTunnel(authorize)
        let undo = try runTunnel(["keys", "deauthorize", "--user", user, "--device", device, "--udev-rule", rule,
                                  "--sshd-config", config, "--test-device-stand-in"])
        #expect(undo.status == 0, "\(undo.stderr)")
        let left = try String(contentsOfFile: home + "/.ssh/authorized_keys", encoding: .utf8)
        #expect(!left.contains(key.split(separator: " ")[1]) && left.contains("admin"), "the admin's own line stays: \(left)")
        var keysStat = stat()
        stat(home + "/.ssh/authorized_keys", &keysStat)
        #expect(keysStat.st_uid == getpwnam(user)!.pointee.pw_uid && keysStat.st_mode & 0o077 == 0, "still the user's, mode 0600")
        #expect(!FileManager.default.fileExists(atPath: rule))
        #expect(!FileManager.default.fileExists(atPath: dropIn))
        var st = stat()
        stat(device, &st)
        #expect(st.st_mode & 0o777 == 0o600 && st.st_gid == 0)
        #expect(getpwnam(user) != nil && undo.stdout.contains("userdel --remove \(user)"))
    }

    @Test("keys untrust removes one host's pin and keeps the others; keys list shows the pins")
    func removeAndUntrust() throws {
        let dir = try makeScratchDirectory()
        let knownHosts = dir + "/known_hosts"
        try """
            rng.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEJ0d2VudHktdHdvIGJ5dGVzIG9mIGEga2V5ISE
            [rng2.example]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEJ0d2VudHktdHdvIGJ5dGVzIG9mIGEga2V5ISE

            """.writeReplacing(toFile: knownHosts)
        let untrust = try runTunnel(["keys", "untrust", "rng.example", "--known-hosts", knownHosts])
        #expect(untrust.status == 0 && untrust.stdout.contains("removed 1 pin of rng.example"), "\(untrust.stdout)\(untrust.stderr)")
        #expect(try String(contentsOfFile: knownHosts, encoding: .utf8).hasPrefix("[rng2.example]:2222 ssh-ed25519"))
        let again = try runTunnel(["keys", "untrust", "rng.example", "--known-hosts", knownHosts])
        #expect(again.status == 0 && again.stdout.contains("unchanged"))
        let list = try runTunnel(["keys", "list", "--identity", dir + "/none", "--known-hosts", knownHosts, "--state-file", dir + "/none.json"])
        #expect(list.stdout.contains("missing") && list.stdout.contains("[rng2.example]:2222 ssh-ed25519 SHA256:"), "\(list.stdout)")
    }

    static let key = "AAAAC3NzaC1lZDI1NTE5AAAAIF8b/RnY2w428ptPmGFjGTgdBijV5UOkVVHgf/NJteMb"

    @Test("keys untrust and keys list with the daemon's matcher: hashed, upper-case, wildcard and tab-separated pins, with line numbers")
    func pinSpellings() throws {
        let dir = try Scratch.directory("et-untrust")
        let knownHosts = dir + "/known_hosts"
        // ssh-keygen -H hashes a name exactly as OpenSSH (and the daemon) match it.
        _ = createFile(atPath: dir + "/plain", contents: Array("rng.example ssh-ed25519 \(Self.key)\n".utf8))
        try Shell.run("ssh-keygen", "-q", "-H", "-f", dir + "/plain")
        let hashed = try String(contentsOfFile: dir + "/plain", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        for (spelling, line, removable) in [("hashed", hashed, true), ("upper-case", "RNG.EXAMPLE ssh-ed25519 \(Self.key)", true),
                                            ("tab-separated", "rng.example\tssh-ed25519\t\(Self.key)", true),
                                            ("wildcard", "*.example ssh-ed25519 \(Self.key)", false)] {
            let file = "# pins\nother.host ssh-ed25519 \(Self.key)\n\(line)\n"
            _ = createFile(atPath: knownHosts, contents: Array(file.utf8))
            let list = try runTunnel(["keys", "list", "--known-hosts", knownHosts, "--identity", dir + "/none"])
            #expect(list.stdout.contains("line 3: "), "\(spelling): keys list shows the pin: \(list.stdout)")
            let untrust = try runTunnel(["keys", "untrust", "rng.example", "--known-hosts", knownHosts])
            let after = try String(contentsOfFile: knownHosts, encoding: .utf8)
            if removable {
                #expect(untrust.status == 0, "\(spelling): \(untrust.stdout)\n\(untrust.stderr)")
                #expect(untrust.stdout.contains("\(knownHosts):3: "), "\(spelling): \(untrust.stdout)")
                #expect(after == "# pins\nother.host ssh-ed25519 \(Self.key)\n", "\(spelling): \(after)")
            } else {
                #expect(untrust.status == 1, "\(spelling): \(untrust.stdout)\n\(untrust.stderr)")
                #expect(untrust.stdout.contains("NOT removed \(knownHosts):3: *.example") && untrust.stdout.contains("also covers other hosts"),
                        "\(spelling): \(untrust.stdout)")
                #expect(untrust.stderr.contains("still trusted"), "\(spelling): \(untrust.stderr)")
                #expect(after == file)
            }
            print("keys untrust, \(spelling) pin: exit \(untrust.status); \(untrust.stdout.split(separator: "\n").first ?? "")")
        }
    }
}

import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// `keys generate`, `keys trust` and `keys authorize` against the real loopback sshd, checked
/// with OpenSSH's own tools (ssh-keygen -l, ssh -o StrictHostKeyChecking=yes).
@Suite(.serialized, .timeLimit(.minutes(10)))
struct KeysCommandTests {
    /// `ssh-keygen -lf FILE`'s fields: bits, fingerprint, ..., (TYPE).
    func keygenListing(_ path: String) throws -> [String] {
        try Shell.run("ssh-keygen", "-lf", path).stdout.split(separator: " ").map(String.init)
    }

    @Test("keys generate: Ed25519, OpenSSH format, 0600, comment entropy-tunnel@HOSTNAME, the exact host line; kept on a second run")
    func generate() throws {
        let dir = try makeScratchDirectory()
        let identity = dir + "/keys/id_ed25519"
        let first = try runTunnel(["keys", "generate", "--identity", identity, "--from", "192.0.2.7"])
        #expect(first.status == 0, "\(first.stderr)")
        let publicKey = try String(contentsOfFile: identity + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let hostname = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? ""
        #expect(publicKey.hasPrefix("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"))
        #expect(publicKey.hasSuffix(" entropy-tunnel@\(hostname)") || publicKey.contains(" entropy-tunnel@"))
        #expect(try String(contentsOfFile: identity, encoding: .utf8).hasPrefix("-----BEGIN OPENSSH PRIVATE KEY-----"))
        #expect(try (FileManager.default.attributesOfItem(atPath: identity)[.posixPermissions] as? Int) == 0o600)
        let lines = first.stdout.split(separator: "\n").map(String.init)
        let fingerprint = try #require(try? keygenListing(identity + ".pub"))[1]
        #expect(lines.contains("restrict,from=\"192.0.2.7\",command=\"/usr/bin/entropy-tunnel serve --device /dev/hwrng " +
                               "--client \(fingerprint)\" \(publicKey) entropy-tunnel:keys-authorize"), "\(first.stdout)")
        #expect(lines.contains("  entropy-tunnel keys authorize --from 192.0.2.7 --key '\(publicKey)'"))
        // The fingerprint shown is ssh-keygen's.
        let listing = try keygenListing(identity + ".pub")
        #expect(first.stdout.contains("\(listing[0]) \(listing[1])"))

        let before = try FileManager.default.attributesOfItem(atPath: identity)
        let second = try runTunnel(["keys", "generate", "--identity", identity])
        #expect(second.status == 0)
        #expect(second.stdout.contains("exists, kept"))
        let after = try FileManager.default.attributesOfItem(atPath: identity)
        #expect(before[.modificationDate] as? Date == after[.modificationDate] as? Date)
        #expect(try String(contentsOfFile: identity + ".pub", encoding: .utf8).contains(publicKey))
    }

    @Test("keys trust: the fingerprint shown equals ssh-keygen -lf, and --fingerprint pins that key", arguments: ["ed25519", "ecdsa"])
    func trustFingerprint(hostKeyType: String) throws {
        let host = try LoopbackHost(forcedCommand: "true", hostKeyType: hostKeyType)
        defer { host.shutdown() }
        let listing = try keygenListing(host.directory + "/ssh_host_key.pub")
        let knownHosts = host.directory + "/trusted_known_hosts"
        let result = try runTunnel(["keys", "trust", host.endpoint, "--known-hosts", knownHosts, "--fingerprint", listing[1]])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\(listing[0]) \(listing[1]) [127.0.0.1]:\(host.port) \(listing.last!)"), "\(result.stdout)")
        let entry = try String(contentsOfFile: knownHosts, encoding: .utf8)
        #expect(entry == "[127.0.0.1]:\(host.port) \(host.hostPublicKey)\n")
        // ssh-keygen -l reads the entry back with the same fingerprint.
        #expect(try keygenListing(knownHosts)[1] == listing[1])

        // A fingerprint the host does not have pins nothing and says what the host offers.
        unlink(knownHosts)
        let wrong = try runTunnel(["keys", "trust", host.endpoint, "--known-hosts", knownHosts,
                                   "--fingerprint", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("no host key of 127.0.0.1:\(host.port) has fingerprint") && wrong.stderr.contains(listing[1]))
        #expect(!FileManager.default.fileExists(atPath: knownHosts))
    }

    @Test("keys trust: no terminal and no --yes pins nothing; --yes pins; the entry satisfies ssh StrictHostKeyChecking=yes")
    func trustAcceptedByOpenSSH() throws {
        let host = try LoopbackHost(forcedCommand: "echo entropy-ok")
        defer { host.shutdown() }
        let knownHosts = host.directory + "/trusted_known_hosts"
        let refused = try runTunnel(["keys", "trust", host.endpoint, "--known-hosts", knownHosts])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("No terminal to ask"))
        #expect(!FileManager.default.fileExists(atPath: knownHosts))

        // An older, different pin for the same host and type is replaced, not duplicated.
        try "[127.0.0.1]:\(host.port) ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF8b/RnY2w428ptPmGFjGTgdBijV5UOkVVHgf/NJteMb\nother.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF8b/RnY2w428ptPmGFjGTgdBijV5UOkVVHgf/NJteMb\n"
            .writeReplacing(toFile: knownHosts)
        let accepted = try runTunnel(["keys", "trust", host.endpoint, "--known-hosts", knownHosts, "--yes"])
        #expect(accepted.status == 0, "\(accepted.stderr)")
        let lines = try String(contentsOfFile: knownHosts, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.filter { $0.hasPrefix("[127.0.0.1]:\(host.port) ") }.count == 1)

        let ssh = try Shell.capture("ssh", [
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=\(knownHosts)",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-i", host.identity,
            "-p", "\(host.port)", "\(host.user)@127.0.0.1", "ignored",
        ])
        #expect(ssh.status == 0, "\(ssh.stderr)")
        #expect(ssh.stdout == "entropy-ok\n")

        // The same check fails against a host whose key changed: the pin means something.
        try host.changeHostKey()
        let mismatch = try Shell.capture("ssh", [
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=\(knownHosts)",
            "-o", "GlobalKnownHostsFile=/dev/null", "-i", host.identity, "-p", "\(host.port)", "\(host.user)@127.0.0.1", "x",
        ])
        #expect(mismatch.status != 0)
    }

    @Test("keys trust on a terminal asks y/N: n pins nothing, y pins",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs script(1) for a pseudo-terminal"))
    func trustAsksOnATerminal() throws {
        let host = try LoopbackHost(forcedCommand: "true")
        defer { host.shutdown() }
        let knownHosts = host.directory + "/asked_known_hosts"
        // script(1) runs the command on a pseudo-terminal and types our answer into it.
        let command = "\(tunnelBinary) keys trust \(host.endpoint) --known-hosts \(knownHosts)"
        let no = try Shell.capture("script", ["-qec", command, "/dev/null"], input: Data("n\n".utf8))
        #expect(no.status != 0)
        #expect(no.stdout.contains("[y/N]") && no.stdout.contains("was not trusted"))
        #expect(!FileManager.default.fileExists(atPath: knownHosts))
        let yes = try Shell.capture("script", ["-qec", command, "/dev/null"], input: Data("y\n".utf8))
        #expect(yes.status == 0, "\(yes.stdout)")
        #expect(try String(contentsOfFile: knownHosts, encoding: .utf8) == "[127.0.0.1]:\(host.port) \(host.hostPublicKey)\n")
    }

    @Test("keys authorize as root: user, restricted line (idempotent), device access, proof; then fetch works with that key",
          .enabled(if: getuid() == 0, "creates a system user: needs root"))
    func authorizeThenFetch() throws {
        let user = "et-authz"
        // A user of this test alone: made by keys authorize, removed (with its home) at the end.
        _ = try? Shell.capture("userdel", ["--remove", user])
        defer { _ = try? Shell.capture("userdel", ["--remove", user]) }
        let dir = try makeScratchDirectory()
        let device = try hwrngStandIn(in: dir)
        let command = "dd if=\(device) bs=512 status=none"
        let identity = dir + "/client/id_ed25519"
        #expect(try runTunnel(["keys", "generate", "--identity", identity]).status == 0)
        let publicKey = try String(contentsOfFile: identity + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let authorize = ["keys", "authorize", "--key", publicKey, "--user", user, "--remote-command", command,
                         "--device", device, "--udev-rule", dir + "/60-entropy-tunnel.rules", "--test-device-stand-in"]

        let first = try runTunnel(authorize)
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        #expect(first.stdout.contains("forced command works"))
        #expect(first.stdout.contains("Match User \(user)"))
        let second = try runTunnel(authorize)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("authorized_keys: unchanged"))

        let home = try #require(getpwnam(user)).pointee
        #expect(String(cString: home.pw_shell) == "/bin/sh")
        let shadow = try String(contentsOfFile: "/etc/shadow", encoding: .utf8)
        #expect(shadow.split(separator: "\n").contains { $0.hasPrefix("\(user):*:") })
        let sshDirectory = String(cString: home.pw_dir) + "/.ssh"
        #expect(try (FileManager.default.attributesOfItem(atPath: sshDirectory)[.posixPermissions] as? Int) == 0o700)
        let authorizedKeys = try String(contentsOfFile: sshDirectory + "/authorized_keys", encoding: .utf8)
        let ours = authorizedKeys.split(separator: "\n").filter { $0.contains(publicKey) }
        #expect(ours == ["restrict,command=\"\(command)\" \(publicKey) entropy-tunnel:keys-authorize"[...]])
        let rule = try String(contentsOfFile: dir + "/60-entropy-tunnel.rules", encoding: .utf8)
        #expect(rule.contains("KERNEL==\"hwrng\", GROUP=\"\(user)\", MODE=\"0440\""))
        var st = stat()
        stat(device, &st)
        #expect(st.st_mode & 0o777 == 0o440 && st.st_gid == home.pw_gid)

        // A forced command that cannot work is caught before any client tries, with its stderr.
        let broken = try runTunnel(["keys", "authorize", "--key", publicKey, "--user", user, "--device", device, "--test-device-stand-in",
                                    "--remote-command", "dd if=\(dir)/missing-rng bs=512 status=none",
                                    "--udev-rule", dir + "/60-entropy-tunnel.rules"])
        #expect(broken.status != 0)
        #expect(broken.stderr.contains("gave 0 of 16 bytes") && broken.stderr.contains("missing-rng"), "\(broken.stderr)")
        #expect(try String(contentsOfFile: sshDirectory + "/authorized_keys", encoding: .utf8) == authorizedKeys,
                "a failed proof must leave authorized_keys alone")

        // The real test of it all: sshd with the user's own authorized_keys, and the tunnel.
        let host = try LoopbackHost(forcedCommand: "unused", loginUser: user)
        defer { host.shutdown() }
        let output = dir + "/fetched.bin"
        let fetch = try runTunnel(["fetch", "--host", host.endpoint, "--user", user, "--identity", identity,
                                   "--known-hosts", host.knownHosts, "--remote-command", "echo not-forced",
                                   "--bytes", "4096", "--output", output])
        #expect(fetch.status == 0, "\(fetch.stderr)\n\((try? String(contentsOfFile: host.directory + "/sshd.log", encoding: .utf8)) ?? "")")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: output))
        #expect(bytes.count == 4096)
        #expect(!bytes.starts(with: Data("not-forced".utf8)), "the forced command must win over the client's")
        #expect(Set(bytes).count > 200, "random bytes from the device, not text")

        // The default: `entropy-tunnel serve` (this binary's real path) reading --device,
        // proven with one request, replacing the plain reader's line; fetch works through it.
        let serve = try runTunnel(["keys", "authorize", "--key", publicKey, "--user", user, "--device", device,
                                   "--udev-rule", dir + "/60-entropy-tunnel.rules", "--test-device-stand-in"])
        #expect(serve.status == 0, "\(serve.stdout)\n\(serve.stderr)")
        #expect(serve.stdout.contains("forced command works"))
        let binary = try #require(realpath(tunnelBinary, nil))
        defer { free(binary) }
        let serveLines = try String(contentsOfFile: sshDirectory + "/authorized_keys", encoding: .utf8)
            .split(separator: "\n").filter { $0.contains(publicKey) }
        let fingerprint = try keygenListing(identity + ".pub")[1]
        #expect(serveLines == ["restrict,command=\"\(String(cString: binary)) serve --device \(device) --client \(fingerprint)\" " +
                               "\(publicKey) entropy-tunnel:keys-authorize"[...]])
        let servedOutput = dir + "/served.bin"
        let served = try runTunnel(["fetch", "--host", host.endpoint, "--user", user, "--identity", identity,
                                    "--known-hosts", host.knownHosts, "--bytes", "1000", "--output", servedOutput])
        #expect(served.status == 0, "\(served.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: servedOutput)).count == 1000)
    }
}

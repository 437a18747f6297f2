import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// "A careless admin gets errors, not damage", for keys through the real binary: an unusable key
/// pair or a private key where a public one belongs is refused (78) without printing it; the
/// printed `keys authorize` line survives a shell; `keys authorize` on an account it did not create
/// changes nothing without --force and undoes everything when its proof fails (1).
@Suite(.serialized, .timeLimit(.minutes(10)))
struct KeysCarelessAdminTests {
    func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// A key pair made by ssh-keygen with `options` at DIR/NAME.
    func keygen(_ dir: String, _ name: String, _ options: [String]) throws -> String {
        let path = dir + "/" + name
        try Shell.run("ssh-keygen", ["-q", "-C", "test"] + options + ["-f", path])
        return path
    }

    /// The base64 lines of a private key file: none may appear in any output.
    func secretLines(_ path: String) throws -> [String] {
        try read(path).split(separator: "\n").map(String.init).filter { !$0.hasPrefix("-----") && $0.count > 20 }
    }

    @Test("keys generate refuses an unusable existing pair (78), changes nothing, and never prints the private key",
          arguments: ["passphrase", "rsa", "mismatch", "garbage"])
    func unusablePair(_ problem: String) throws {
        let dir = try makeScratchDirectory()
        var identity = dir + "/id"
        let expected: String
        switch problem {
        case "passphrase":
            identity = try keygen(dir, "id", ["-t", "ed25519", "-N", "secret"])
            expected = "protected by a passphrase"
        case "rsa":
            identity = try keygen(dir, "id", ["-t", "rsa", "-b", "2048", "-N", ""])
            expected = "is an RSA key"
        case "mismatch":
            identity = try keygen(dir, "id", ["-t", "ed25519", "-N", ""])
            let other = try keygen(dir, "other", ["-t", "ed25519", "-N", ""])
            try FileManager.default.removeItem(atPath: identity + ".pub")
            try FileManager.default.copyItem(atPath: other + ".pub", toPath: identity + ".pub")
            expected = "belongs to another key"
        default:
            try "not a key at all\n".write(toFile: identity, atomically: false, encoding: .utf8)
            chmod(identity, 0o600)
            expected = "is not an OpenSSH private key"
        }
        let before = try read(identity)
        let result = try runTunnel(["keys", "generate", "--identity", identity])
        #expect(result.status == 78, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains(identity) && result.stderr.contains(expected), "\(result.stderr)")
        #expect(result.stderr.contains("pass another path"), "the fix is named: \(result.stderr)")
        #expect(!result.stdout.contains("kept"))
        #expect(try read(identity) == before)
        for line in try secretLines(identity) {
            #expect(!result.stderr.contains(line) && !result.stdout.contains(line), "private key material printed")
        }
    }

    @Test("keys generate keeps a sound ECDSA pair and recreates a missing .pub from the private key")
    func soundPair() throws {
        let dir = try makeScratchDirectory()
        let identity = try keygen(dir, "id_ecdsa", ["-t", "ecdsa", "-N", ""])
        let pub = try read(identity + ".pub")
        try FileManager.default.removeItem(atPath: identity + ".pub")
        let result = try runTunnel(["keys", "generate", "--identity", identity])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("exists, kept"))
        #expect(try read(identity + ".pub") == pub)
    }

    @Test("a private key passed where a public key belongs is refused (78) without echoing it")
    func privateKeyAsPublic() throws {
        let dir = try makeScratchDirectory()
        let identity = try keygen(dir, "id", ["-t", "ed25519", "-N", ""])
        let privateText = try read(identity)
        for arguments in [["keys", "authorize", "--key", privateText],
                          ["install", "--host", "rng.example", "--host-key", privateText, "--root", dir + "/root"]] {
            let result = try runTunnel(arguments)
            #expect(result.status == 78, "\(arguments[0]): \(result.stderr)")
            #expect(result.stderr.contains("that looks like a PRIVATE key; pass the .pub"), "\(result.stderr)")
            for line in try secretLines(identity) {
                #expect(!result.stderr.contains(line) && !result.stdout.contains(line), "private key material printed")
            }
        }
        #expect(!exists(dir + "/root"))
    }

    @Test("the printed keys authorize command survives sh: quotes, spaces and $ come back as the same arguments")
    func pastedCommandRoundTrips() throws {
        let dir = try makeScratchDirectory()
        let command = "head -c 512 '/dev/hw rng' # it's $HOME"
        let result = try runTunnel(["keys", "generate", "--identity", dir + "/id", "--remote-command", command, "--from", "10.0.0.*"])
        #expect(result.status == 0, "\(result.stderr)")
        let publicKey = try read(dir + "/id.pub").trimmingCharacters(in: .newlines)
        let printed = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("  entropy-tunnel keys authorize") })
        // The shell parses the pasted line; a function stands in for the binary and prints its arguments.
        let words = String(printed.dropFirst("  entropy-tunnel ".count))
        let parsed = try Shell.run("sh", ["-c", "args() { for a; do printf '%s\\0' \"$a\"; done; }; args " + words])
        #expect(parsed.stdout.split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
                == ["keys", "authorize", "--remote-command", command, "--from", "10.0.0.*", "--key", publicKey], "\(printed)")
    }

    // MARK: - keys authorize on an account it did not create

    /// The login shell and /etc/shadow password field of `user`.
    func account(_ user: String) throws -> (shell: String, password: String) {
        let entry = try #require(getpwnam(user)).pointee
        let shadow = try read("/etc/shadow").split(separator: "\n").first { $0.hasPrefix(user + ":") }
        let field = shadow.map { String($0.split(separator: ":", omittingEmptySubsequences: false)[1]) } ?? ""
        return (String(cString: entry.pw_shell), field)
    }

    func deviceState(_ path: String) -> [UInt32] {
        var st = stat()
        stat(path, &st)
        return [st.st_gid, st.st_mode & 0o7777]
    }

    @Test("keys authorize leaves an existing locked nologin account with home /nonexistent alone without --force (78); with --force a failed proof undoes every change (1), and /nonexistent is never created",
          .enabled(if: getuid() == 0 && !FileManager.default.fileExists(atPath: "/nonexistent"), "creates system users: needs root"))
    func authorizeExistingAccount() throws {
        let user = "et-careless"
        let ownHome = "/var/lib/\(user)"
        _ = try? Shell.capture("userdel", [user])
        try? FileManager.default.removeItem(atPath: ownHome)
        // Like `adduser --system`: the home is Debian's placeholder, which must never exist.
        try Shell.run("useradd", "--system", "--user-group", "--shell", "/usr/sbin/nologin", "--home-dir", "/nonexistent", user)
        defer {
            _ = try? Shell.capture("userdel", [user])
            try? FileManager.default.removeItem(atPath: ownHome)
        }
        func home() -> String { getpwnam(user).map { String(cString: $0.pointee.pw_dir) } ?? "?" }
        let before = try account(user)
        #expect(before.password.hasPrefix("!"), "useradd locks a new account: \(before)")
        let dir = try makeScratchDirectory()
        let hwrng = try hwrngStandIn(in: dir)
        let rule = dir + "/60-entropy-tunnel.rules"
        let identity = dir + "/id_ed25519"
        #expect(try runTunnel(["keys", "generate", "--identity", identity]).status == 0)
        let key = try read(identity + ".pub").trimmingCharacters(in: .newlines)
        let base = ["keys", "authorize", "--key", key, "--user", user, "--device", hwrng, "--udev-rule", rule, "--test-device-stand-in"]
        let working = ["--remote-command", "dd if=\(hwrng) bs=512 status=none"]
        let broken = ["--remote-command", "dd if=\(dir)/missing bs=512 status=none"]

        let refused = try runTunnel(base + working)
        #expect(refused.status == 78)
        #expect(refused.stderr.contains("user \(user) exists with the login shell '/usr/sbin/nologin'") &&
                refused.stderr.contains("--force"), "\(refused.stderr)")
        #expect(try account(user) == before)
        #expect(!exists(rule) && deviceState(hwrng) == [0, 0o600])

        let failed = try runTunnel(base + broken + ["--force"])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("gave 0 of 16 bytes") && failed.stderr.contains("Undone: "), "\(failed.stderr)")
        #expect(failed.stderr.contains("restored the shell of \(user) to /usr/sbin/nologin"))
        #expect(failed.stderr.contains("restored the home of \(user) to /nonexistent"), "\(failed.stderr)")
        #expect(try account(user) == before, "shell and password field restored")
        #expect(home() == "/nonexistent" && !exists(ownHome), "the home it made is gone: \(home())")
        #expect(!exists(rule), "the udev rule it wrote is removed")
        #expect(deviceState(hwrng) == [0, 0o600], "the device's group and mode restored")

        let done = try runTunnel(base + working + ["--force"])
        #expect(done.status == 0, "\(done.stderr)")
        #expect(try account(user).shell == "/bin/sh" && account(user).password == "*")
        #expect(done.stdout.contains("changed the home of \(user) from /nonexistent to \(ownHome)"), "\(done.stdout)")
        #expect(home() == ownHome && exists(ownHome + "/.ssh/authorized_keys"), "\(home())")
        #expect(!exists("/nonexistent"), "keys authorize created /nonexistent")
    }

    @Test("keys authorize removes the user it created when the proof fails (1), and writes no authorized_keys",
          .enabled(if: getuid() == 0, "creates system users: needs root"))
    func authorizeUndoesCreatedUser() throws {
        let user = "et-undone"
        _ = try? Shell.capture("userdel", ["--remove", user])
        defer { _ = try? Shell.capture("userdel", ["--remove", user]) }
        let dir = try makeScratchDirectory()
        let hwrng = try hwrngStandIn(in: dir)
        let rule = dir + "/60-entropy-tunnel.rules"
        #expect(try runTunnel(["keys", "generate", "--identity", dir + "/id"]).status == 0)
        let key = try read(dir + "/id.pub").trimmingCharacters(in: .newlines)
        let failed = try runTunnel(["keys", "authorize", "--key", key, "--user", user, "--device", hwrng, "--udev-rule", rule,
                                    "--test-device-stand-in", "--remote-command", "dd if=\(dir)/missing bs=512 status=none"])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("removed user \(user), which this run created"), "\(failed.stderr)")
        #expect(getpwnam(user) == nil)
        #expect(!exists("/var/lib/\(user)"), "the home useradd made is gone, and with it any authorized_keys")
        #expect(!exists(rule) && deviceState(hwrng) == [0, 0o600])
    }
}

import EntropyTunnelCore
import Testing

/// The pure parts of the keys' later life: taking lines out of authorized_keys and known_hosts,
/// the shared-device refusal, and install's decision about the distribution's rngd.
struct KeyLifetimeValueTests {
    let ours = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF8b/RnY2w428ptPmGFjGTgdBijV5UOkVVHgf/NJteMb entropy-tunnel@vm"
    let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC1H7U7eLswzBF3B3jwLxVJsAVEIqr9v7F3hkWk2tird other@host"

    @Test("removing a key takes every line holding it and nothing else; comments and other keys stay")
    func removeKeyLines() throws {
        let key = try PublicKey(parsing: ours)
        let file = "# admin's keys\n\(other)\nrestrict,command=\"dd\" \(ours)\n\(ours)\n"
        let (kept, removed) = AuthorizedKeyLine.removing(base64: key.base64, from: file)
        #expect(removed == 2)
        #expect(kept == "# admin's keys\n\(other)\n")
        #expect(AuthorizedKeyLine.removing(base64: key.base64, from: kept).1 == 0)
        // The key's text inside another line's comment is not the key.
        let (_, none) = AuthorizedKeyLine.removing(base64: key.base64, from: "\(other) not-\(key.base64)\n")
        #expect(none == 0)
        #expect(AuthorizedKeyLine.removing(base64: key.base64, from: "").0 == "")
    }

    @Test("deauthorize without --key takes only the lines keys authorize wrote (its marker, or a forced entropy-tunnel serve); the admin's other command= keys stay")
    func removeEntropyTunnelLines() throws {
        let key = try PublicKey(parsing: ours)
        let marked = AuthorizedKeyLine(key: key).text
        let markedServe = AuthorizedKeyLine(key: key, command: "/usr/bin/entropy-tunnel serve --device /dev/hwrng", from: "10.0.0.5").text
        let oldServe = "restrict,command=\"/usr/local/bin/entropy-tunnel serve --device /dev/hwrng\" \(ours)"
        let adminsReader = "restrict,command=\"dd if=/dev/hwrng bs=512 status=none\" \(other)"
        let adminsBackup = "restrict,from=\"10.0.0.5\",command=\"rsync --server . /backup\" \(other)"
        // A marker inside a quoted option or as a word of the command is not the comment's last word.
        let lookalike = "command=\"echo \(AuthorizedKeyLine.marker)\" \(other)"
        let file = [other, marked, adminsReader, markedServe, adminsBackup, oldServe, lookalike, "# \(AuthorizedKeyLine.marker)"]
            .joined(separator: "\n") + "\n"
        let (kept, removed) = AuthorizedKeyLine.removingEntropyTunnelLines(from: file)
        #expect(removed == 3)
        #expect(kept == [other, adminsReader, adminsBackup, lookalike, "# \(AuthorizedKeyLine.marker)"].joined(separator: "\n") + "\n")
    }

    @Test("untrust removes a host's entries (also from a line naming several hosts), keeps the rest")
    func untrustHost() throws {
        let key = try PublicKey(parsing: ours)
        let file = "rng.example ssh-ed25519 \(key.base64)\n[rng.example]:2222 ssh-ed25519 \(key.base64)\n" +
            "other,rng.example ecdsa-sha2-nistp256 AAAA\n# rng.example comment\n"
        let (kept, removed) = KnownHostsFile.removing(file, host: try HostSpec(parsing: "rng.example"))
        #expect(removed == 2)
        #expect(kept == "[rng.example]:2222 ssh-ed25519 \(key.base64)\nother ecdsa-sha2-nistp256 AAAA\n# rng.example comment\n")
        let entries = KnownHostsFile.entries("|1|abc=|def= ssh-ed25519 \(key.base64)\nbroken line\n")
        #expect(entries.count == 1 && entries[0].names == "(hashed name)" && entries[0].key.fingerprint == key.fingerprint)
    }

    @Test("shared devices: /dev/urandom, /dev/null and a symlink to them refused; a regular file or a missing path is not a device question")
    func sharedDevices() {
        #expect(SharedDevice.refusal("/dev/urandom") != nil)
        #expect(SharedDevice.refusal("/dev/null") != nil)
        #expect(SharedDevice.refusal("/etc/passwd") == nil)
        #expect(SharedDevice.refusal("/nonexistent/hwrng") == nil)
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

    @Test("the previous key of a rotation lives next to the key")
    func previousIdentity() {
        #expect(KeyRotation.previousIdentity(of: "/etc/entropy-tunnel/id_ed25519") == "/etc/entropy-tunnel/id_ed25519.old")
    }
}

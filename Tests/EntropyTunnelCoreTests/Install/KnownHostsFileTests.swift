import EntropyTunnelCore
import Testing

/// known_hosts as `keys trust` and `install` write it: one entry per host and key type; the
/// entries `keys untrust` takes out.
struct KnownHostsFileTests {
    let ours = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF8b/RnY2w428ptPmGFjGTgdBijV5UOkVVHgf/NJteMb entropy-tunnel@vm"
    let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC1H7U7eLswzBF3B3jwLxVJsAVEIqr9v7F3hkWk2tird other@host"

    @Test("known_hosts: one entry per host and key type, [host]:port for other ports")
    func knownHostsMerge() throws {
        let key = try PublicKey(parsing: ours)
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
}

/// `keys untrust` and `keys list` with the daemon's matcher: the spellings of a pin that the
/// daemon matches are all found and removed, with their line numbers.
struct KnownHostsUntrustTests {
    let key = "AAAAC3NzaC1lZDI1NTE5AAAAIF8b/RnY2w428ptPmGFjGTgdBijV5UOkVVHgf/NJteMb"
    let other = "AAAAC3NzaC1lZDI1NTE5AAAAIC1H7U7eLswzBF3B3jwLxVJsAVEIqr9v7F3hkWk2tird"
    /// `rng.example` hashed with a fixed salt, as `ssh-keygen -H` writes it.
    var hashed: String {
        let salt: [UInt8] = Array(0..<20)
        let hash = SHA1.hmac(key: salt, message: Array("rng.example".utf8))
        return "|1|\(Base64.encode(salt))|\(Base64.encode(hash))"
    }

    @Test("hashed, upper-case, tab-separated and [host]:port pins are found and removed; other lines stay", arguments: [
        "hashed", "upper-case", "tab-separated", "several names",
    ])
    func spellings(_ spelling: String) throws {
        let host = try HostSpec(parsing: "rng.example")
        let line: String
        var kept = ""
        switch spelling {
        case "hashed": line = "\(hashed) ssh-ed25519 \(key)"
        case "upper-case": line = "RNG.Example ssh-ed25519 \(key)"
        case "tab-separated": line = "rng.example\tssh-ed25519\t\(key)"
        default:
            line = "other.example,RNG.EXAMPLE ssh-ed25519 \(key)"
            kept = "other.example ssh-ed25519 \(key)\n"
        }
        let file = "# pins\nelsewhere ssh-ed25519 \(other)\n\(line)\n"
        // The daemon accepts the key for the host before...
        #expect(KnownHosts(text: file, path: "kh").check(host: host, key: try #require(Base64.decode(key)), type: .ed25519) == .match)
        let result = KnownHostsFile.untrusting(file, host: host)
        #expect(result.matches.map(\.line) == [3])
        #expect(result.kept.isEmpty)
        #expect(result.text == "# pins\nelsewhere ssh-ed25519 \(other)\n" + kept)
        // ...and not after.
        #expect(KnownHosts(text: result.text, path: "kh").check(host: host, key: try #require(Base64.decode(key)), type: .ed25519) == .notFound)
        #expect(KnownHostsFile.listing(file, path: "kh").pins.contains { $0.line == 3 })
    }

    @Test("a port other than 22 is [host]:port; a wildcard or negated pattern that also covers others is reported and kept")
    func wildcards() throws {
        let port = try HostSpec(parsing: "rng.example:2222")
        let file = "[rng.example]:2222 ssh-ed25519 \(key)\n*.example ssh-ed25519 \(other)\n*,!elsewhere ssh-ed25519 \(other)\n" +
            "!rng.example,* ssh-ed25519 \(other)\n@revoked rng.example ssh-ed25519 \(other)\n"
        let result = KnownHostsFile.untrusting(file, host: port)
        #expect(result.removed.map(\.line) == [1])
        let plain = KnownHostsFile.untrusting(file, host: try HostSpec(parsing: "rng.example"))
        // Lines 2 and 3 cover it by wildcard (kept: they cover others too); line 4 negates it and
        // line 5 is a revocation: neither pins it.
        #expect(plain.matches.map(\.line) == [2, 3])
        #expect(plain.removed.isEmpty && plain.text == file)
        let wild = try HostSpec(parsing: "a.example")
        let covering = KnownHostsFile.untrusting(file, host: wild)
        #expect(covering.matches.map(\.line) == [2, 3, 4])
        #expect(covering.removed.isEmpty)
        #expect(covering.kept.allSatisfy { $0.kept?.contains("also covers other hosts") == true })
        #expect(covering.text == file)
    }

    @Test("keys list sees what the daemon sees: tab-separated pins, revoked lines, and the lines it skips")
    func listing() {
        let file = "rng.example\tssh-ed25519\t\(key)\n@revoked bad.example ssh-ed25519 \(other)\nbroken line\n"
        let (pins, warnings) = KnownHostsFile.listing(file, path: "kh")
        #expect(pins.map(\.line) == [1, 2])
        #expect(pins[0].hosts == "rng.example" && !pins[0].revoked)
        #expect(pins[1].revoked)
        #expect(warnings.count == 1 && warnings[0].hasPrefix("kh:3:"))
    }
}

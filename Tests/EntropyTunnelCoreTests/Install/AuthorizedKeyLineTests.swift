import EntropyTunnelCore
import Testing

/// authorized_keys lines as `keys authorize` writes and merges them, and as `keys deauthorize` takes
/// them out again.
struct AuthorizedKeyLineTests {
    let ours = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF8b/RnY2w428ptPmGFjGTgdBijV5UOkVVHgf/NJteMb entropy-tunnel@vm"
    let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC1H7U7eLswzBF3B3jwLxVJsAVEIqr9v7F3hkWk2tird other@host"

    @Test("the authorized_keys line is exactly restrict,[from=],command=\"...\" KEY COMMENT MARKER; serve gets --client")
    func keyLine() throws {
        let key = try PublicKey(parsing: ours)
        let marker = " " + AuthorizedKeyLine.marker
        #expect(AuthorizedKeyLine(key: key).text ==
                "restrict,command=\"dd if=/dev/hwrng bs=512 status=none\" " + ours + marker)
        #expect(AuthorizedKeyLine(key: key, command: "head -c 9 \"/dev/hw rng\"", from: "10.0.0.5,*.lan").text ==
                "restrict,from=\"10.0.0.5,*.lan\",command=\"head -c 9 \\\"/dev/hw rng\\\"\" " + ours + marker)
        // The serve command carries the key's fingerprint: its budget on the host.
        #expect(AuthorizedKeyLine(key: key, command: "/usr/bin/entropy-tunnel serve --device /dev/hwrng").text ==
                "restrict,command=\"/usr/bin/entropy-tunnel serve --device /dev/hwrng --client \(key.fingerprint)\" " + ours + marker)
        #expect(throws: TunnelError.self) { try AuthorizedKeyLine(key: key, from: "a b").validate() }
        #expect(throws: TunnelError.self) { try AuthorizedKeyLine(key: key, command: "a\nb").validate() }
    }

    @Test("authorized_keys: the same key replaces its line, never a duplicate; other keys stay")
    func authorizedKeysMerge() throws {
        let key = try PublicKey(parsing: ours)
        let first = AuthorizedKeyLine(key: key).merged(into: "# comment\n" + other + "\n")
        #expect(first == "# comment\n\(other)\nrestrict,command=\"dd if=/dev/hwrng bs=512 status=none\" \(ours) \(AuthorizedKeyLine.marker)\n")
        #expect(AuthorizedKeyLine(key: key).merged(into: first) == first)
        let changed = AuthorizedKeyLine(key: key, command: "cat /dev/hwrng").merged(into: first + first)
        #expect(changed == "# comment\n\(other)\nrestrict,command=\"cat /dev/hwrng\" \(ours) \(AuthorizedKeyLine.marker)\n# comment\n\(other)\n")
    }

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
}

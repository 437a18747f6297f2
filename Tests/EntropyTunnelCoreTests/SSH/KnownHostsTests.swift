// A plain import, not a testable one: these tests also run against -c release builds.
import EntropyTunnelCore
import Foundation
import Testing
import TestHost

/// Keys and lines made with OpenSSH 9.2's ssh-keygen: `ssh-keygen -t ed25519|ecdsa [-b 384]`,
/// and `ssh-keygen -H` on a file with `rng.example ED25519` and `[rng.example]:2222 ECDSA256`.
enum Fixture {
    static let ed25519 = "AAAAC3NzaC1lZDI1NTE5AAAAIBqtjrxOnRUuw7TnYeEO2cd4DJ+aCh4V6In7fqR7zaJb"
    static let ed25519Other = "AAAAC3NzaC1lZDI1NTE5AAAAIIm+KUOO+bX7Rmg3LfAvg0LbxChbjxj0GuerlVDzXgyE"
    static let ecdsa256 = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBJKahZuDKR550oWw/bxok/A91eGNuDJu8aL5+vxCWLj0qF33gEwhvqsMTl20Mrcfix7x2co1Y/kjLr5XayLIag="
    static let ecdsa384 = "AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBBRpSQgAnCXBIVb9wfWYvgV0ifHGWoLBwFlXoPbo9PaAhLrrXhENhzSm13Pw3gnQEVEoGH/yVpbF8orMDWOU+DcKZW6NJZPWmD3mWSbmVh3b+y4axI9QhAF/oXdk+BneCQ=="
    static let hashed = """
        |1|waJrV8L8+iaDXte5Fs0FSMvjPPc=|7XsqK6x21WHE0lKk0OKkl/f5bAo= ssh-ed25519 \(ed25519)
        |1|6RYaYlfi3gPe7vaTwA4+63bDui8=|brOCyh4+RHhurTjNPWxB1M3Es04= ecdsa-sha2-nistp256 \(ecdsa256)

        """

    static func blob(_ base64: String) -> [UInt8] { Base64.decode(base64)! }
}

/// One row: a file, the host and key presented, and the verdict.
struct KnownHostsCase: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var host: String
    var key: String
    var type: HostKeyType
    var expected: KnownHosts.Check
    var testDescription: String { name }
}

@Suite struct KnownHostsTests {
    static let ed = Fixture.ed25519, ed2 = Fixture.ed25519Other, ec = Fixture.ecdsa256

    static let cases: [KnownHostsCase] = [
        .init(name: "plain", text: "rng.example ssh-ed25519 \(ed)\n", host: "rng.example", key: ed, type: .ed25519, expected: .match),
        .init(name: "plain, with a comment", text: "rng.example ssh-ed25519 \(ed) root@rng\n", host: "rng.example", key: ed, type: .ed25519, expected: .match),
        .init(name: "plain, other host", text: "rng.example ssh-ed25519 \(ed)\n", host: "other.example", key: ed, type: .ed25519, expected: .notFound),
        .init(name: "plain name is port 22 only", text: "rng.example ssh-ed25519 \(ed)\n", host: "rng.example:2222", key: ed, type: .ed25519, expected: .notFound),
        .init(name: "[host]:port", text: "[rng.example]:2222 ecdsa-sha2-nistp256 \(ec)\n", host: "rng.example:2222", key: ec, type: .ecdsa256, expected: .match),
        .init(name: "[host]:port, other port", text: "[rng.example]:2222 ecdsa-sha2-nistp256 \(ec)\n", host: "rng.example:2200", key: ec, type: .ecdsa256, expected: .notFound),
        .init(name: "[host]:22 is not how port 22 is written", text: "[rng.example]:22 ssh-ed25519 \(ed)\n", host: "rng.example", key: ed, type: .ed25519, expected: .notFound),
        .init(name: "[IPv6]:port", text: "[::1]:2222 ssh-ed25519 \(ed)\n", host: "[::1]:2222", key: ed, type: .ed25519, expected: .match),
        .init(name: "several names on a line", text: "a.example,rng.example,10.0.0.5 ssh-ed25519 \(ed)\n", host: "10.0.0.5", key: ed, type: .ed25519, expected: .match),
        .init(name: "hashed", text: Fixture.hashed, host: "rng.example", key: ed, type: .ed25519, expected: .match),
        .init(name: "hashed [host]:port", text: Fixture.hashed, host: "rng.example:2222", key: ec, type: .ecdsa256, expected: .match),
        .init(name: "hashed, host name in capitals", text: Fixture.hashed, host: "RNG.Example", key: ed, type: .ed25519, expected: .match),
        .init(name: "hashed, other host", text: Fixture.hashed, host: "rng.example.org", key: ed, type: .ed25519, expected: .notFound),
        .init(name: "hashed, mismatch", text: Fixture.hashed, host: "rng.example", key: ed2, type: .ed25519, expected: .mismatch(pinnedKey: Fixture.blob(ed))),
        .init(name: "pattern in capitals", text: "RNG.Example ssh-ed25519 \(ed)\n", host: "rng.EXAMPLE", key: ed, type: .ed25519, expected: .match),
        .init(name: "* wildcard", text: "*.lan ssh-ed25519 \(ed)\n", host: "rng.lan", key: ed, type: .ed25519, expected: .match),
        .init(name: "* wildcard, no match", text: "*.lan ssh-ed25519 \(ed)\n", host: "rng.lan.example", key: ed, type: .ed25519, expected: .notFound),
        .init(name: "? wildcard", text: "rng?.lan ssh-ed25519 \(ed)\n", host: "rng1.lan", key: ed, type: .ed25519, expected: .match),
        .init(name: "? is exactly one", text: "rng?.lan ssh-ed25519 \(ed)\n", host: "rng10.lan", key: ed, type: .ed25519, expected: .notFound),
        .init(name: "wildcard over [host]:port", text: "[*.lan]:2222 ssh-ed25519 \(ed)\n", host: "rng.lan:2222", key: ed, type: .ed25519, expected: .match),
        .init(name: "negation wins", text: "*.lan,!bad.lan ssh-ed25519 \(ed)\n", host: "bad.lan", key: ed, type: .ed25519, expected: .notFound),
        .init(name: "negation first wins too", text: "!bad.lan,*.lan ssh-ed25519 \(ed)\n", host: "bad.lan", key: ed, type: .ed25519, expected: .notFound),
        .init(name: "negation spares others", text: "*.lan,!bad.lan ssh-ed25519 \(ed)\n", host: "good.lan", key: ed, type: .ed25519, expected: .match),
        .init(name: "negation alone matches nothing", text: "!bad.lan ssh-ed25519 \(ed)\n", host: "good.lan", key: ed, type: .ed25519, expected: .notFound),
        .init(name: "negated line falls through to the next", text: "*,!rng.lan ssh-ed25519 \(ed2)\nrng.lan ssh-ed25519 \(ed)\n", host: "rng.lan", key: ed, type: .ed25519, expected: .match),
        .init(name: "mismatch returns the pinned key", text: "rng.example ssh-ed25519 \(ed)\n", host: "rng.example", key: ed2, type: .ed25519, expected: .mismatch(pinnedKey: Fixture.blob(ed))),
        .init(name: "another line may pin the key", text: "rng.example ssh-ed25519 \(ed2)\nrng.example ssh-ed25519 \(ed)\n", host: "rng.example", key: ed, type: .ed25519, expected: .match),
        .init(name: "a pin of another type is not a mismatch", text: "rng.example ssh-ed25519 \(ed)\n", host: "rng.example", key: ec, type: .ecdsa256, expected: .notFound),
        .init(name: "revoked beats a pin", text: "rng.example ssh-ed25519 \(ed)\n@revoked rng.example ssh-ed25519 \(ed)\n", host: "rng.example", key: ed, type: .ed25519, expected: .revoked),
        .init(name: "revoked applies to every host", text: "rng.example ssh-ed25519 \(ed)\n@revoked old.example ssh-ed25519 \(ed)\n", host: "rng.example", key: ed, type: .ed25519, expected: .revoked),
        .init(name: "revoked hashed line", text: "rng.example ssh-ed25519 \(ed)\n@revoked " + Fixture.hashed, host: "rng.example", key: ed, type: .ed25519, expected: .revoked),
        .init(name: "revoking another key leaves the pin", text: "rng.example ssh-ed25519 \(ed)\n@revoked * ssh-ed25519 \(ed2)\n", host: "rng.example", key: ed, type: .ed25519, expected: .match),
        .init(name: "a revoked line is no pin", text: "@revoked rng.example ssh-ed25519 \(ed2)\n", host: "rng.example", key: ed, type: .ed25519, expected: .notFound),
        .init(name: "cert-authority pins nothing", text: "@cert-authority rng.example ssh-ed25519 \(ed)\n", host: "rng.example", key: ed, type: .ed25519, expected: .notFound),
        .init(name: "CRLF", text: "# pinned\r\nrng.example ssh-ed25519 \(ed)\r\n[rng.example]:2222 ecdsa-sha2-nistp256 \(ec)\r\n", host: "rng.example:2222", key: ec, type: .ecdsa256, expected: .match),
        .init(name: "tabs and leading blanks", text: "\t rng.example\tssh-ed25519 \t\(ed)\n", host: "rng.example", key: ed, type: .ed25519, expected: .match),
        .init(name: "no newline at the end", text: "rng.example ssh-ed25519 \(ed)", host: "rng.example", key: ed, type: .ed25519, expected: .match),
        .init(name: "empty file", text: "", host: "rng.example", key: ed, type: .ed25519, expected: .notFound),
        .init(name: "comments and blank lines only", text: "\n# rng.example ssh-ed25519 \(ed)\n   \n\t\n", host: "rng.example", key: ed, type: .ed25519, expected: .notFound),
    ]

    @Test(arguments: cases)
    func verdict(_ row: KnownHostsCase) throws {
        let file = KnownHosts(text: row.text, path: "kh")
        let host = try HostSpec(parsing: row.host)
        #expect(file.check(host: host, key: Fixture.blob(row.key), type: row.type) == row.expected)
    }

    @Test("malformed lines are skipped with FILE:LINE warnings; good lines still count")
    func malformedLines() throws {
        let text = """
            rng.example ssh-ed25519 \(Self.ed)
            @cert-authority *.lan ssh-ed25519 \(Self.ed)
            @pinned rng.example ssh-ed25519 \(Self.ed)
            rng.example ssh-ed25519
            rng.example ssh-ed25519 AAAA$$$notbase64
            rng.example ssh-foo \(Self.ed)
            rng.example ssh-ed25519 \(Self.ec)
            |1|c2FsdA==|aGFzaA== ssh-ed25519 \(Self.ed)
            |2|waJrV8L8+iaDXte5Fs0FSMvjPPc=|7XsqK6x21WHE0lKk0OKkl/f5bAo= ssh-ed25519 \(Self.ed)
            rng.example ssh-ed25519 AAAA
            @revoked
            rng.example ssh-dss AAAAB3NzaC1kc3M=
            rng.example sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t
            [rng.example]:2222 ecdsa-sha2-nistp256 \(Self.ec)

            """
        let file = KnownHosts(text: text, path: "/etc/entropy-tunnel/known_hosts")
        let lines = file.warnings.map { $0.split(separator: ":").dropFirst().first.map(String.init) ?? "" }
        #expect(lines == ["2", "3", "4", "5", "6", "7", "8", "9", "10", "11"])
        for warning in file.warnings {
            #expect(warning.hasPrefix("/etc/entropy-tunnel/known_hosts:"))
            #expect(warning.hasSuffix("; line skipped"))
        }
        #expect(file.warnings[0].contains("@cert-authority"))
        #expect(file.warnings[1].contains("@pinned"))
        #expect(file.warnings[4].contains("ssh-foo"))
        #expect(file.warnings[5].contains("ecdsa-sha2-nistp256"))
        #expect(file.entries.map(\.line) == [1, 14])
        #expect(file.check(host: try HostSpec(parsing: "rng.example"), key: Fixture.blob(Self.ed), type: .ed25519) == .match)
        #expect(file.check(host: try HostSpec(parsing: "rng.example:2222"), key: Fixture.blob(Self.ec), type: .ecdsa256) == .match)
    }

    @Test("CRLF files parse without warnings")
    func crlfHasNoWarnings() {
        let file = KnownHosts(text: "# x\r\n\r\nrng.example ssh-ed25519 \(Self.ed)\r\n" + Fixture.hashed.replacing("\n", with: "\r\n"), path: "kh")
        #expect(file.warnings == [])
        #expect(file.entries.count == 3)
    }

    @Test("pinned types follow OpenSSH's order, not the file's; revoked keys do not count")
    func pinnedTypes() throws {
        let text = """
            rng.example ecdsa-sha2-nistp384 \(Fixture.ecdsa384)
            *.example ecdsa-sha2-nistp256 \(Self.ec)
            rng.example ssh-ed25519 \(Self.ed)
            [rng.example]:2222 ssh-ed25519 \(Self.ed2)
            @revoked [rng.example]:2222 ssh-ed25519 \(Self.ed2)
            other.example ssh-ed25519 \(Self.ed2)

            """
        let file = KnownHosts(text: text, path: "kh")
        #expect(file.pinnedTypes(for: try HostSpec(parsing: "rng.example")) == [.ed25519, .ecdsa256, .ecdsa384])
        #expect(file.pinnedTypes(for: try HostSpec(parsing: "rng.example:2222")) == [])
        #expect(file.pinnedTypes(for: try HostSpec(parsing: "other.example")) == [.ecdsa256])
        #expect(KnownHosts(text: Fixture.hashed, path: "kh").pinnedTypes(for: try HostSpec(parsing: "rng.example:2222")) == [.ecdsa256])
        #expect(file.entries.map { $0.applies(to: HostSpec(host: "RNG.example", port: 22)) } == [true, true, true, false, false, false])
    }

    @Test("pathological wildcards finish at once")
    func wildcardBacktracking() throws {
        let pattern = String(repeating: "*a", count: 200) + "b"
        let file = KnownHosts(text: "\(pattern) ssh-ed25519 \(Self.ed)\n", path: "kh")
        let host = HostSpec(host: String(repeating: "a", count: 1000), port: 22)
        #expect(file.check(host: host, key: Fixture.blob(Self.ed), type: .ed25519) == .notFound)
    }

    // MARK: - The file

    static func temporaryDirectory() throws -> String {
        try Scratch.directory("et-knownhosts")
    }

    @Test("a missing file pins nothing")
    func missingFile() throws {
        let file = try KnownHosts(path: "/nonexistent/entropy-tunnel/known_hosts")
        #expect(!file.fileExists)
        #expect(file.entries.isEmpty && file.warnings.isEmpty)
    }

    @Test("a file is read from disk, warnings name it")
    func readsFile() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/known_hosts"
        try "rng.example ssh-ed25519 \(Self.ed)\nbroken\n".writeReplacing(toFile: path)
        let file = try KnownHosts(path: path)
        #expect(file.fileExists && file.path == path)
        #expect(file.warnings == ["\(path):2: expected 'HOSTS KEYTYPE BASE64KEY [COMMENT]', found 1 field; line skipped"])
        #expect(file.check(host: try HostSpec(parsing: "rng.example"), key: Fixture.blob(Self.ed), type: .ed25519) == .match)
    }

    @Test("an unreadable file is a configuration error naming it")
    func unreadableFile() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A directory: reading it fails for root too (EISDIR), unlike a chmod 000 file.
        let error = #expect(throws: TunnelError.self) { try KnownHosts(path: directory) }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("cannot read known_hosts file \(directory)") == true)
        #expect(error?.message.contains("--known-hosts") == true)
    }

    @Test("a file over 1 MiB is a configuration error naming it")
    func oversizedFile() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/known_hosts"
        let line = "rng.example ssh-ed25519 \(Self.ed)\n"
        try String(repeating: line, count: KnownHosts.maximumSize / line.utf8.count + 1)
            .writeReplacing(toFile: path)
        let error = #expect(throws: TunnelError.self) { try KnownHosts(path: path) }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("\(path) is larger than 1 MiB") == true)
    }
}

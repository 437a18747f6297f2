import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// Bad input gets a clear error that names the problem and the fix, and loses nothing.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct TunnelRefusalTests {
    static let command = "dd if=/dev/urandom bs=512 status=none"

    func fetch(_ host: LoopbackHost, _ extra: [String] = [], identity: String? = nil, knownHosts: String? = nil) throws -> (Shell.Result, output: String) {
        let output = host.directory + "/out-\(UInt32.random(in: 0...UInt32.max)).bin"
        let result = try runTunnel(["fetch"] + connectionArguments(host, identity: identity, knownHosts: knownHosts) + ["--bytes", "4K", "--output", output] + extra)
        return (result, output)
    }

    func bytesWritten(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    @Test("an unknown host key is refused, with the fingerprint and how to pin it")
    func unknownHostKey() throws {
        let host = try LoopbackHost(forcedCommand: Self.command)
        defer { host.shutdown() }
        let empty = host.directory + "/empty_known_hosts"
        createFile(atPath: empty)
        let (result, output) = try fetch(host, knownHosts: empty)
        #expect(result.status != 0)
        let fingerprint = try Shell.run("ssh-keygen", "-lf", host.directory + "/ssh_host_key.pub").stdout.split(separator: " ")[1]
        #expect(result.stderr.contains("is not pinned in \(empty)"))
        #expect(result.stderr.contains(String(fingerprint)))
        #expect(result.stderr.contains("entropy-tunnel keys trust \(host.endpoint)"))
        #expect(bytesWritten(output) == 0)
        // The key was never offered: sshd saw no authentication attempt.
        let log = (try? String(contentsOfFile: host.directory + "/sshd.log", encoding: .utf8)) ?? ""
        #expect(!log.contains("Accepted publickey"))
    }

    @Test("a changed host key is refused loudly, showing both fingerprints")
    func changedHostKey() throws {
        let host = try LoopbackHost(forcedCommand: Self.command)
        defer { host.shutdown() }
        let oldFingerprint = try Shell.run("ssh-keygen", "-lf", host.directory + "/ssh_host_key.pub").stdout.split(separator: " ")[1]
        try host.changeHostKey()
        let newFingerprint = try Shell.run("ssh-keygen", "-lf", host.directory + "/ssh_host_key.pub").stdout.split(separator: " ")[1]
        let (result, output) = try fetch(host)
        #expect(result.status != 0)
        #expect(result.stderr.contains("HOST KEY MISMATCH"))
        #expect(result.stderr.contains(String(oldFingerprint)))
        #expect(result.stderr.contains(String(newFingerprint)))
        #expect(bytesWritten(output) == 0)
    }

    @Test("a host key of another type than the pinned one is refused")
    func changedHostKeyType() throws {
        let host = try LoopbackHost(forcedCommand: Self.command)
        defer { host.shutdown() }
        try host.changeHostKey(type: "ecdsa")
        let (result, _) = try fetch(host)
        #expect(result.status != 0)
        #expect(result.stderr.contains("offers none of the host key types pinned"))
    }

    @Test("an ECDSA host key pinned in a hashed known_hosts entry is accepted")
    func hashedEcdsaPin() throws {
        let host = try LoopbackHost(forcedCommand: Self.command, hostKeyType: "ecdsa")
        defer { host.shutdown() }
        _ = try Shell.run("ssh-keygen", "-H", "-f", host.knownHosts)
        #expect(try String(contentsOfFile: host.knownHosts, encoding: .utf8).hasPrefix("|1|"))
        let (result, output) = try fetch(host)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(bytesWritten(output) == 4096)
    }

    @Test("a user key the host does not know is refused, with how to authorize it")
    func wrongUserKey() throws {
        let host = try LoopbackHost(forcedCommand: Self.command)
        defer { host.shutdown() }
        let other = host.directory + "/other_key"
        try Shell.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other)
        let (result, output) = try fetch(host, identity: other)
        #expect(result.status != 0)
        #expect(result.stderr.contains("refused key \(other) for user '\(host.user)'"))
        // The line to run on the host names the key itself (status shows it as the last error).
        let publicKey = try String(contentsOfFile: other + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(result.stderr.contains("keys authorize --user \(host.user) --key '\(publicKey)'"), "\(result.stderr)")
        #expect(bytesWritten(output) == 0)
    }

    @Test("a private key readable by group or others is refused with the chmod to run")
    func groupReadableKey() throws {
        let host = try LoopbackHost(forcedCommand: Self.command)
        defer { host.shutdown() }
        chmod(host.identity, 0o640)
        let (result, _) = try fetch(host)
        #expect(result.status != 0)
        #expect(result.stderr.contains("mode 0640"))
        #expect(result.stderr.contains("chmod 600 \(host.identity)"))
    }

    @Test("an RSA key is refused with the reason")
    func rsaKey() throws {
        let host = try LoopbackHost(forcedCommand: Self.command)
        defer { host.shutdown() }
        let rsa = host.directory + "/id_rsa"
        try Shell.run("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", rsa)
        let (result, _) = try fetch(host, identity: rsa)
        #expect(result.status != 0)
        #expect(result.stderr.contains("is an RSA key"))
        #expect(result.stderr.contains("SHA-1"))
    }

    @Test("a remote command that fails shows its stderr and exit status")
    func failingRemoteCommand() throws {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/hwrng-missing bs=512 status=none")
        defer { host.shutdown() }
        let (result, output) = try fetch(host)
        #expect(result.signal == nil && result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("/dev/hwrng-missing"))
        #expect(result.stderr.contains("No such file or directory"))
        #expect(result.stderr.contains("exit status 1"))
        #expect(bytesWritten(output) == 0)
    }

    @Test("an unreachable host is a clear connection error")
    func unreachableHost() throws {
        let host = try LoopbackHost(forcedCommand: Self.command)
        host.shutdown()  // nothing listens on its port any more
        let (result, _) = try fetch(host, ["--connect-timeout", "3"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("cannot connect to \(host.endpoint)"))
        #expect(result.stderr.contains("Connection refused"))
    }
}

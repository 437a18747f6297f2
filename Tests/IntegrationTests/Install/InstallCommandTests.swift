import EntropyTunnelCore
import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// `install --root` and `uninstall --root`: the files against golden copies, and a second run
/// that changes nothing (same inodes, same mtimes).
@Suite(.serialized, .timeLimit(.minutes(10)))
struct InstallCommandTests {
    static let hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC1H7U7eLswzBF3B3jwLxVJsAVEIqr9v7F3hkWk2tird"
    static let golden = #filePath.components(separatedBy: "/Tests/")[0] + "/Tests/Golden/install"

    let arguments = ["install", "--host", "rng.example:2222", "--user", "entropy", "--window", "32K",
                     "--host-key", hostKey, "--fingerprint", "SHA256:m57TNRaDAC18Fq0VOtHqnjo/vT9Z2ps7eMOF+EXPgG8"]

    /// Every regular file below `root` with its inode and modification time (ns).
    func snapshot(_ root: String) -> [String: [Int]] {
        var result: [String: [Int]] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let relative = enumerator?.nextObject() as? String {
            var st = stat()
            guard lstat(root + "/" + relative, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            result[relative] = [Int(st.st_ino), Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec), Int(st.st_mode & 0o7777)]
        }
        return result
    }

    @Test("install --root writes the golden files, a 0600 key, and prints the host-side steps; a second run changes nothing")
    func installMatchesGoldenAndIsIdempotent() throws {
        let root = try makeScratchDirectory()
        let first = try runTunnel(arguments + ["--root", root])
        #expect(first.status == 0, "\(first.stderr)")
        for file in ["etc/entropy-tunnel/config.toml", "etc/entropy-tunnel/known_hosts", "etc/systemd/system/entropy-tunnel.service",
                     "etc/systemd/system/entropy-tunnel-seed.service"] {
            let written = try String(contentsOfFile: root + "/" + file, encoding: .utf8)
            let expected = try String(contentsOfFile: Self.golden + "/" + file, encoding: .utf8)
            #expect(written == expected, "\(file) differs from Tests/Golden/install/\(file)")
        }
        let before = snapshot(root)
        #expect(before["etc/entropy-tunnel/id_ed25519"]?[3] == 0o600)
        #expect(before["etc/entropy-tunnel/config.toml"]?[3] == 0o644)
        #expect(before["etc/systemd/system/entropy-tunnel.service"]?[3] == 0o644)
        #expect(before["etc/systemd/system/entropy-tunnel-seed.service"]?[3] == 0o644)
        #expect(before["etc/entropy-tunnel/install-manifest"] != nil, "the manifest lives where the service user cannot write")
        #expect(before["var/lib/entropy-tunnel/install-manifest"] == nil)
        let publicKey = try String(contentsOfFile: root + "/etc/entropy-tunnel/id_ed25519.pub", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(first.stdout.contains("entropy-tunnel keys authorize --key '\(publicKey)'"))
        #expect(first.stdout.contains("restrict,command=\"/usr/bin/entropy-tunnel serve --device /dev/hwrng --client SHA256:"))
        #expect(first.stdout.contains("\" \(publicKey) entropy-tunnel:keys-authorize"))
        #expect(!first.stdout.contains("no change"))

        let second = try runTunnel(arguments + ["--root", root])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("\nno change\n"), "\(second.stdout)")
        #expect(!second.stdout.contains(": created") && !second.stdout.contains(": updated"))
        #expect(snapshot(root) == before, "the second install rewrote a file")
    }

    @Test("a config install wrote and nobody edited is updated with new options; a wrong --fingerprint for --host-key writes nothing")
    func updatesItsOwnConfig() throws {
        let root = try makeScratchDirectory()
        #expect(try runTunnel(arguments + ["--root", root]).status == 0)
        let config = root + "/etc/entropy-tunnel/config.toml"

        let updated = try runTunnel(arguments + ["--root", root, "--window", "16K"])
        #expect(updated.status == 0, "\(updated.stderr)")
        #expect(updated.stdout.contains("config.toml: updated"))
        #expect(try String(contentsOfFile: config, encoding: .utf8).contains("window = \"16K\""))
        #expect(!FileManager.default.fileExists(atPath: config + ".bak"), "install's own file needs no backup")

        let other = try makeScratchDirectory()
        let wrong = try runTunnel(["install", "--host", "rng.example", "--host-key", Self.hostKey,
                                   "--fingerprint", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--root", other])
        #expect(wrong.status == 78)
        #expect(wrong.stderr.contains("nothing was written"))
        #expect(!FileManager.default.fileExists(atPath: other + "/etc"))
    }

    @Test("install --host A --host B: fallbacks in order, each pinned; a rerun prints key: old -> new; an identical one changes nothing")
    func installWithFallbacks() throws {
        let fallback = try LoopbackHost(forcedCommand: "true")
        defer { fallback.shutdown() }
        let root = try makeScratchDirectory()
        #expect(try runTunnel(arguments + ["--root", root]).status == 0)
        let config = root + "/etc/entropy-tunnel/config.toml"
        let knownHosts = root + "/etc/entropy-tunnel/known_hosts"

        // The fallback is not pinned yet: it is scanned, shown and (--yes) pinned.
        let withFallback = arguments + ["--root", root, "--host", fallback.endpoint]
        let added = try runTunnel(withFallback + ["--yes"])
        #expect(added.status == 0, "\(added.stderr)")
        let text = try String(contentsOfFile: config, encoding: .utf8)
        #expect(text.contains("host = [\"rng.example:2222\", \"\(fallback.endpoint)\"]"), "\(text)")
        #expect(added.stdout.contains("config changes:\n  host: \"rng.example:2222\" -> [\"rng.example:2222\", \"\(fallback.endpoint)\"]\n"),
                "\(added.stdout)")
        #expect(try String(contentsOfFile: knownHosts, encoding: .utf8).contains("[127.0.0.1]:\(fallback.port) \(fallback.hostPublicKey)"))

        let again = try runTunnel(withFallback)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("\nno change\n") && !again.stdout.contains("config changes:"), "\(again.stdout)")

        let twice = try runTunnel(arguments + ["--root", root, "--host", "rng.example:2222"])
        #expect(twice.status == 64 || twice.status == 78, "\(twice.stderr)")
        #expect(twice.stderr.contains("given twice"), "\(twice.stderr)")
    }

    @Test("install --fingerprint fetches the host key over SSH and pins it only when it matches")
    func installPinsByFingerprint() throws {
        let host = try LoopbackHost(forcedCommand: "true")
        defer { host.shutdown() }
        let fingerprint = try Shell.run("ssh-keygen", "-lf", host.directory + "/ssh_host_key.pub").stdout.split(separator: " ")[1]
        let root = try makeScratchDirectory()
        let result = try runTunnel(["install", "--host", host.endpoint, "--fingerprint", String(fingerprint), "--root", root])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try String(contentsOfFile: root + "/etc/entropy-tunnel/known_hosts", encoding: .utf8)
                == "[127.0.0.1]:\(host.port) \(host.hostPublicKey)\n")

        let other = try makeScratchDirectory()
        let wrong = try runTunnel(["install", "--host", host.endpoint, "--root", other,
                                   "--fingerprint", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("no host key of 127.0.0.1:\(host.port) has fingerprint"))
        #expect(!FileManager.default.fileExists(atPath: other + "/etc/entropy-tunnel/known_hosts"))
    }

    @Test("uninstall --root removes the unit and keeps the rest; --purge removes everything")
    func uninstall() throws {
        let root = try makeScratchDirectory()
        #expect(try runTunnel(arguments + ["--root", root]).status == 0)
        let removed = try runTunnel(["uninstall", "--root", root])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/systemd/system/entropy-tunnel.service"))
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/systemd/system/entropy-tunnel-seed.service"))
        #expect(FileManager.default.fileExists(atPath: root + "/etc/entropy-tunnel/id_ed25519"))
        #expect(FileManager.default.fileExists(atPath: root + "/etc/entropy-tunnel/config.toml"))
        let purged = try runTunnel(["uninstall", "--root", root, "--purge"])
        #expect(purged.status == 0)
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/entropy-tunnel"))
        let again = try runTunnel(["uninstall", "--root", root, "--purge"])
        #expect(again.stdout.contains("no change"))
    }

    @Test("uninstall --purge in the middle of a keys rotate removes the previous key too, and the directory with it")
    func purgeDuringRotation() throws {
        let root = try makeScratchDirectory()
        #expect(try runTunnel(arguments + ["--root", root]).status == 0)
        // What `keys rotate` leaves before --finish: the pair moved to .old, a new pair recorded in the manifest.
        let directory = "/etc/entropy-tunnel"
        for suffix in ["", ".pub"] {
            #expect(rename(root + directory + "/id_ed25519" + suffix, root + directory + "/id_ed25519.old" + suffix) == 0)
        }
        #expect(try runTunnel(["keys", "generate", "--identity", root + directory + "/id_ed25519"]).status == 0)
        let manifestFile = root + directory + "/install-manifest"
        var manifest = try InstallManifest.load(manifestFile).manifest
        for suffix in ["", ".pub"] {
            let content = try [UInt8](Data(contentsOf: URL(fileURLWithPath: root + directory + "/id_ed25519" + suffix)))
            manifest.recordWrite(directory + "/id_ed25519" + suffix, content: content, existedBefore: false)
        }
        try manifest.text.writeReplacing(toFile: manifestFile)
        let purged = try runTunnel(["uninstall", "--root", root, "--purge"])
        #expect(purged.status == 0, "\(purged.stderr)")
        #expect(purged.stdout.contains("id_ed25519.old: removed (the previous key of an unfinished `keys rotate`)"), "\(purged.stdout)")
        #expect(!FileManager.default.fileExists(atPath: root + directory), "\(purged.stdout)")
    }

    @Test("uninstall --purge removes the seed's state directory (seed files, lock, directory) but keeps one holding unknown files")
    func purgeRemovesSeedState() throws {
        for unknown in [false, true] {
            let root = try makeScratchDirectory()
            #expect(try runTunnel(arguments + ["--root", root]).status == 0)
            let state = root + "/var/lib/entropy-tunnel"
            #expect(try runTunnel(["seed", "save", "--state-dir", state]).status == 0)
            if unknown { createFile(atPath: state + "/notes.txt", contents: Array("mine\n".utf8)) }
            let purged = try runTunnel(["uninstall", "--root", root, "--purge"])
            #expect(purged.status == 0, "\(purged.stderr)")
            #expect(purged.stdout.contains("\(state)/seed.credit: removed"), "\(purged.stdout)")
            #expect(!FileManager.default.fileExists(atPath: state + "/seed.credit") && !FileManager.default.fileExists(atPath: state + "/seed.lock"))
            if unknown {
                #expect(FileManager.default.fileExists(atPath: state + "/notes.txt"))
                #expect(purged.stdout.contains("\(state): kept (it holds files that are not entropy-tunnel's seed"), "\(purged.stdout)")
            } else {
                #expect(!FileManager.default.fileExists(atPath: state))
            }
        }
    }

    @Test("a manifest at the old path (the state directory) is read and moved to /etc; one the service user could have written is refused")
    func legacyManifest() throws {
        let root = try makeScratchDirectory()
        #expect(try runTunnel(arguments + ["--root", root]).status == 0)
        let manifest = root + "/etc/entropy-tunnel/install-manifest"
        let legacy = root + "/var/lib/entropy-tunnel/install-manifest"
        try FileManager.default.createDirectory(atPath: root + "/var/lib/entropy-tunnel", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: manifest, toPath: legacy)
        let again = try runTunnel(arguments + ["--root", root])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("\(legacy): moved to \(manifest)"), "\(again.stdout)")
        #expect(FileManager.default.fileExists(atPath: manifest) && !FileManager.default.fileExists(atPath: legacy))

        // Written by another user (the service user owns the state directory): not trusted.
        try FileManager.default.moveItem(atPath: manifest, toPath: legacy)
        chown(legacy, 65534, 65534)
        let refused = try runTunnel(["uninstall", "--root", root, "--purge"])
        #expect(refused.status == 78)
        #expect(refused.stderr.contains("not a root-owned file writable only by root"), "\(refused.stderr)")
        #expect(FileManager.default.fileExists(atPath: root + "/etc/entropy-tunnel/config.toml"), "nothing was removed")
    }
}

import EntropyTunnelCore
import Foundation
import Logging
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// "A careless admin gets errors, not damage": install and uninstall through the real binary with
/// --root in a scratch directory, each refusal with its exact exit status (78: a configuration
/// problem; 64: a bad command line; 1: anything else) and the files checked after.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct CarelessAdminTests {
    static let hostKey = InstallCommandTests.hostKey
    let install = ["install", "--host", "rng.example:2222", "--host-key", hostKey]

    /// Every path below `root`, relative, sorted (directories end in "/").
    func tree(_ root: String) -> [String] {
        var paths: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let relative = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory)
            paths.append(relative + (isDirectory.boolValue ? "/" : ""))
        }
        return paths.sorted()
    }

    func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    // MARK: - Hand-edited and foreign files

    @Test("a hand-edited config is merged key by key: the admin's keys and comments stay; --force replaces it and keeps FILE.bak")
    func handEditedConfig() throws {
        let root = try makeScratchDirectory()
        let config = root + "/etc/entropy-tunnel/config.toml"
        #expect(try runTunnel(install + ["--root", root]).status == 0)
        let edited = try read(config) + "# the admin's note\nlog_level = \"debug\"\n"
        try edited.write(toFile: config, atomically: false, encoding: .utf8)

        let merged = try runTunnel(install + ["--root", root, "--window", "16K"])
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(merged.stdout.contains("config changes:\n  window: (default) -> \"16K\"\n"), "\(merged.stdout)")
        let text = try read(config)
        #expect(text.replacingOccurrences(of: "\nwindow = \"16K\"\n", with: "\n") == edited, "only a window line is added:\n\(text)")
        #expect(text.contains("#window = \"64K\"\nwindow = \"16K\"\n"), "the new key goes under its commented example")
        #expect(!exists(config + ".bak"))
        let again = try runTunnel(install + ["--root", root, "--window", "16K"])
        #expect(again.status == 0 && again.stdout.contains("\nno change\n"), "\(again.stdout)")

        let forced = try runTunnel(install + ["--root", root, "--window", "16K", "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try read(config + ".bak") == text)
        #expect(try read(config).contains("\nwindow = \"16K\"\n") && !read(config).contains("the admin's note"))
    }

    @Test("a config install never wrote is merged into; one whose key spans lines or reads back otherwise is an error (78) and stays as it was")
    func foreignConfig() throws {
        let root = try makeScratchDirectory()
        let config = root + "/etc/entropy-tunnel/config.toml"
        try FileManager.default.createDirectory(atPath: root + "/etc/entropy-tunnel", withIntermediateDirectories: true)
        let mine = "# mine\nhost = \"rng.example:2222\"  # the lab's RNG\nwindow = \"8K\"\nconnect_timeout = 3\n"
        try mine.write(toFile: config, atomically: false, encoding: .utf8)
        let merged = try runTunnel(install + ["--root", root, "--window", "32K", "--user", "rng"])
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(try read(config) == "# mine\nhost = \"rng.example:2222\"  # the lab's RNG\nwindow = \"32K\"\nconnect_timeout = 3\nuser = \"rng\"\n")

        // A host list broken over lines: install cannot change it line-wise and says so.
        let other = try makeScratchDirectory()
        let otherConfig = other + "/etc/entropy-tunnel/config.toml"
        try FileManager.default.createDirectory(atPath: other + "/etc/entropy-tunnel", withIntermediateDirectories: true)
        let split = "host = [\n  \"rng.example:2222\",\n]\n"
        try split.write(toFile: otherConfig, atomically: false, encoding: .utf8)
        let refused = try runTunnel(install + ["--root", other])
        #expect(refused.status == 78)
        #expect(refused.stderr.contains(otherConfig + ":1: 'host' spans several lines") && refused.stderr.contains("--force"), "\(refused.stderr)")
        #expect(tree(other) == ["etc/", "etc/entropy-tunnel/", "etc/entropy-tunnel/config.toml"], "a refusal must write nothing")
        #expect(try read(otherConfig) == split)

        // A port the admin set applies to install's host too: the config would not name the host asked for.
        let third = try makeScratchDirectory()
        let thirdConfig = third + "/etc/entropy-tunnel/config.toml"
        try FileManager.default.createDirectory(atPath: third + "/etc/entropy-tunnel", withIntermediateDirectories: true)
        try "host = \"rng.example\"\nport = 2200\n".write(toFile: thirdConfig, atomically: false, encoding: .utf8)
        let differs = try runTunnel(["install", "--host", "rng.example", "--host-key", InstallCommandTests.hostKey, "--root", third])
        #expect(differs.status == 78, "\(differs.stdout)")
        #expect(differs.stderr.contains("nothing was written"), "\(differs.stderr)")
        #expect(try read(thirdConfig) == "host = \"rng.example\"\nport = 2200\n")
    }

    @Test("a hand-edited unit is refused (78); --force keeps entropy-tunnel.service.bak")
    func handEditedUnit() throws {
        let root = try makeScratchDirectory()
        let unit = root + "/etc/systemd/system/entropy-tunnel.service"
        #expect(try runTunnel(install + ["--root", root]).status == 0)
        let edited = try read(unit).replacing("RestartSec=1s", with: "RestartSec=5s")
        try edited.write(toFile: unit, atomically: false, encoding: .utf8)

        let refused = try runTunnel(install + ["--root", root, "--binary", "/opt/et/entropy-tunnel"])
        #expect(refused.status == 78)
        #expect(refused.stderr.contains(unit) && refused.stderr.contains("--force"), "\(refused.stderr)")
        #expect(try read(unit) == edited)
        // Refused before any write: the config still has no trace of the second run either.
        #expect(!exists(unit + ".bak"))

        let forced = try runTunnel(install + ["--root", root, "--binary", "/opt/et/entropy-tunnel", "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try read(unit + ".bak") == edited)
        #expect(try read(unit).contains("\nExecStart=/opt/et/entropy-tunnel run --config /etc/entropy-tunnel/config.toml\n"))
    }

    @Test("a config for another host is refused (78) naming the file and both hosts; --force replaces it")
    func otherHost() throws {
        let root = try makeScratchDirectory()
        let config = root + "/etc/entropy-tunnel/config.toml"
        #expect(try runTunnel(install + ["--root", root]).status == 0)
        let original = try read(config)
        let other = ["install", "--host", "other.example", "--host-key", Self.hostKey, "--root", root]
        let refused = try runTunnel(other)
        #expect(refused.status == 78)
        #expect(refused.stderr.contains(config) && refused.stderr.contains("rng.example:2222")
                && refused.stderr.contains("other.example:22"), "\(refused.stderr)")
        #expect(try read(config) == original)

        let forced = try runTunnel(other + ["--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try read(config).contains("host = \"other.example\""))
        #expect(try read(config + ".bak") == original)
    }

    // MARK: - Options and paths

    @Test("--config PATH: the config goes there and ExecStart names it; a second run changes nothing")
    func configPath() throws {
        let root = try makeScratchDirectory()
        let arguments = install + ["--root", root, "--config", "/opt/et/tunnel.toml"]
        let first = try runTunnel(arguments)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try read(root + "/opt/et/tunnel.toml").contains("host = \"rng.example:2222\""))
        #expect(!exists(root + "/etc/entropy-tunnel/config.toml"))
        #expect(try read(root + "/etc/systemd/system/entropy-tunnel.service")
                .contains("\nExecStart=/usr/local/bin/entropy-tunnel run --config /opt/et/tunnel.toml\n"))
        let second = try runTunnel(arguments)
        #expect(second.status == 0 && second.stdout.contains("\nno change\n"), "\(second.stdout)")
    }

    @Test("bad paths are usage errors (64) and create nothing", arguments: [
        ["--root", ""], ["--root", "relative/dir"], ["--root", "/"], ["--root", "/tmp/et-scratch/../et-elsewhere"],
        ["--config", "etc/config.toml"], ["--config", "/etc/../etc/et.toml"], ["--config", "/etc/et config.toml"],
        ["--identity", "/etc/entropy-tunnel/../../root/key"], ["--known-hosts", "known_hosts"],
        ["--binary", "/usr/bin/entropy tunnel"],
    ])
    func badPaths(_ option: [String]) throws {
        let root = try makeScratchDirectory()
        let arguments = install + (option.first == "--root" ? option : option + ["--root", root])
        let result = try runTunnel(arguments)
        #expect(result.status == 64, "\(option): \(result.stderr)")
        #expect(result.stderr.contains(option[0]), "the message names the option: \(result.stderr)")
        #expect(tree(root).isEmpty)
        #expect(!exists("/tmp/et-elsewhere"))
    }

    @Test("options that would make a config `run` refuses are refused (78) before any file is written")
    func invalidMerge() throws {
        let root = try makeScratchDirectory()
        let result = try runTunnel(install + ["--root", root, "--rngd", "relative/rngd"])
        #expect(result.status == 78)
        #expect(result.stderr.contains("'rngd' must be an absolute path") && result.stderr.contains("nothing was written"), "\(result.stderr)")
        #expect(tree(root).isEmpty)
    }

    @Test("install refuses a setting that would read back differently, before writing anything")
    func settingReadsBackDifferently() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("et-merge-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        var installer = Installer(host: "rng.example")
        installer.root = root
        installer.hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC1H7U7eLswzBF3B3jwLxVJsAVEIqr9v7F3hkWk2tird"
        installer.settings = [("health_min_entropy", .int(7))]  // written as 7, read back as the double 7.0
        let error = await #expect(throws: TunnelError.self) {
            _ = try await installer.install(logger: Logger(label: "test"), show: { _, _ in }, confirm: { _, _ in false })
        }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("'health_min_entropy'") == true && error?.message.contains("nothing was written") == true)
        #expect(!FileManager.default.fileExists(atPath: root))
    }

    // MARK: - Manifest and purge

    @Test("uninstall --purge removes only what install created and nobody changed; other files survive")
    func purgeKeepsWhatIsNotInstalls() throws {
        let root = try makeScratchDirectory()
        let etc = root + "/etc/entropy-tunnel"
        try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
        // Before install: an unrelated file, and a known_hosts install merges its pin into.
        try "keep me\n".write(toFile: etc + "/notes.txt", atomically: false, encoding: .utf8)
        let otherPin = "other.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF8b/RnY2w428ptPmGFjGTgdBijV5UOkVVHgf/NJteMb\n"
        try otherPin.write(toFile: etc + "/known_hosts", atomically: false, encoding: .utf8)
        #expect(try runTunnel(install + ["--root", root]).status == 0)
        let manifest = try read(root + InstallManifest.defaultPath)
        #expect(manifest.contains("file created ") && manifest.contains(" /etc/entropy-tunnel/config.toml\n"))
        #expect(manifest.contains("file existing ") && manifest.contains(" /etc/entropy-tunnel/known_hosts\n"))
        #expect(!manifest.contains("notes.txt"))
        #expect(!manifest.contains("directory /etc/entropy-tunnel\n"), "the directory existed before install")

        // After install: a file next to the config, and the key's .pub edited.
        try "mine\n".write(toFile: etc + "/local.toml", atomically: false, encoding: .utf8)
        let pub = try read(etc + "/id_ed25519.pub")
        try (pub.trimmingCharacters(in: .newlines) + " edited\n").write(toFile: etc + "/id_ed25519.pub", atomically: false, encoding: .utf8)

        let purged = try runTunnel(["uninstall", "--root", root, "--purge"])
        #expect(purged.status == 0, "\(purged.stderr)")
        #expect(purged.stdout.contains(etc + "/id_ed25519.pub: kept (edited after install wrote it"), "\(purged.stdout)")
        #expect(purged.stdout.contains(etc + "/known_hosts: kept (it existed before install"))
        // The image's user database stays: install --root added the service user to it
        // (systemd-sysusers --root made the files in this bare scratch root), not a file of install's.
        #expect(tree(root) == ["etc/", "etc/.pwd.lock", "etc/entropy-tunnel/", "etc/entropy-tunnel/id_ed25519.pub",
                               "etc/entropy-tunnel/known_hosts", "etc/entropy-tunnel/local.toml", "etc/entropy-tunnel/notes.txt",
                               "etc/group", "etc/gshadow", "etc/passwd", "etc/shadow"],
                "\(tree(root))")
        #expect(try read(etc + "/notes.txt") == "keep me\n")
        #expect(try read(etc + "/known_hosts").hasPrefix(otherPin))
    }

    @Test("uninstall keeps a hand-edited unit and says so; --purge without a manifest removes nothing")
    func uninstallKeepsEditedUnit() throws {
        let root = try makeScratchDirectory()
        let unit = root + "/etc/systemd/system/entropy-tunnel.service"
        #expect(try runTunnel(install + ["--root", root]).status == 0)
        try (try read(unit) + "# local change\n").write(toFile: unit, atomically: false, encoding: .utf8)
        let result = try runTunnel(["uninstall", "--root", root])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(unit + ": kept (edited after install wrote it"), "\(result.stdout)")
        #expect(exists(unit))

        let bare = try makeScratchDirectory()
        try FileManager.default.createDirectory(atPath: bare + "/etc/entropy-tunnel", withIntermediateDirectories: true)
        try "host = \"x\"\n".write(toFile: bare + "/etc/entropy-tunnel/config.toml", atomically: false, encoding: .utf8)
        let nothing = try runTunnel(["uninstall", "--root", bare, "--purge"])
        #expect(nothing.status == 0)
        #expect(nothing.stdout.contains("no install manifest"), "\(nothing.stdout)")
        #expect(exists(bare + "/etc/entropy-tunnel/config.toml"))
        #expect(try runTunnel(["uninstall", "--root", "relative", "--purge"]).status == 64)
    }
}

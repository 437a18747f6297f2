import ArgumentParser
import entropy_tunnel
import Testing

/// The command lines of keys, install and uninstall, through the real parser and help text.
struct KeysInstallParsingTests {
    @Test("keys trust / generate / authorize parse with their defaults")
    func keysParsing() throws {
        let trust = try #require(try EntropyTunnelCommand.parseAsRoot(["keys", "trust", "rng.example:2222", "--yes"]) as? KeysCommand.Trust)
        #expect(trust.host == "rng.example:2222" && trust.yes && trust.fingerprint == nil)
        #expect(trust.knownHosts == "/etc/entropy-tunnel/known_hosts")

        let generate = try #require(try EntropyTunnelCommand.parseAsRoot(["keys", "generate", "--from", "10.0.0.5"]) as? KeysCommand.Generate)
        #expect(generate.identity == "/etc/entropy-tunnel/id_ed25519" && generate.from == "10.0.0.5")
        #expect(generate.remoteCommand == nil, "nil: the host forces `entropy-tunnel serve`")

        let authorize = try #require(try EntropyTunnelCommand.parseAsRoot(["keys", "authorize", "--key", "ssh-ed25519 AAAA x"]) as? KeysCommand.Authorize)
        #expect(authorize.user == "entropy" && authorize.device == "/dev/hwrng" && authorize.remoteCommand == nil)
        #expect(throws: (any Error).self) { try EntropyTunnelCommand.parseAsRoot(["keys", "authorize"]) }
    }

    @Test("serve parses with its defaults, refuses what it cannot serve, and its help explains the rate and the statuses")
    func serveParsing() throws {
        let serve = try #require(try EntropyTunnelCommand.parseAsRoot(["serve"]) as? ServeCommand)
        #expect(serve.device == "/dev/hwrng" && serve.maxRequest.bytes == 4096 && serve.rate == nil)
        let tuned = try #require(try EntropyTunnelCommand.parseAsRoot(["serve", "--device", "/dev/tpmrng", "--rate", "4K/s", "--max-request", "64K"]) as? ServeCommand)
        #expect(tuned.rate?.bytesPerSecond == 4096 && tuned.maxRequest.bytes == 65536 && tuned.device == "/dev/tpmrng")
        #expect(try (EntropyTunnelCommand.parseAsRoot(["serve", "--rate", "512"]) as? ServeCommand)?.rate?.bytesPerSecond == 512)
        for bad in [["--max-request", "100"], ["--max-request", "2M"], ["--rate", "0/s"], ["--rate", "fast"]] {
            #expect(throws: (any Error).self, "\(bad)") { try EntropyTunnelCommand.parseAsRoot(["serve"] + bad) }
        }
        let help = EntropyTunnelCommand.helpMessage(for: ServeCommand.self, columns: 200)
        for phrase in ["entropy-tunnel-serve 1", "2K/s", "TPM", "65 malformed request", "66", "74", "syslog"] {
            #expect(help.contains(phrase), "serve --help lacks \(phrase)")
        }
    }

    @Test("install and uninstall parse; help names what an administrator needs")
    func installParsing() throws {
        let install = try #require(try EntropyTunnelCommand.parseAsRoot(
            ["install", "--host", "rng", "--root", "/tmp/x", "--no-start", "--force", "--window", "32K"]) as? InstallCommand)
        #expect(install.root == "/tmp/x" && install.noStart && install.force)
        #expect(install.binary == "/usr/local/bin/entropy-tunnel")
        #expect(install.settings.map(\.key) == ["window"])
        let uninstall = try #require(try EntropyTunnelCommand.parseAsRoot(["uninstall", "--purge"]) as? UninstallCommand)
        #expect(uninstall.purge)

        let help = EntropyTunnelCommand.helpMessage(for: InstallCommand.self, columns: 200)
        for option in ["--fingerprint", "--host-key", "--root", "--no-start", "--force", "--binary", "--yes"] {
            #expect(help.contains(option), "install --help lacks \(option)")
        }
        let keysHelp = EntropyTunnelCommand.helpMessage(for: KeysCommand.self, columns: 200)
        #expect(keysHelp.contains("generate") && keysHelp.contains("trust") && keysHelp.contains("authorize"))
    }
}

import EntropyTunnelCore
import Testing

/// The manifest of what install wrote, which `uninstall --purge` trusts.
struct InstallManifestTests {
    @Test("the manifest: text round-trips, a file install created stays created, a damaged line is refused")
    func manifest() throws {
        var manifest = InstallManifest()
        manifest.recordWrite("/etc/entropy-tunnel/config.toml", content: Array("a\n".utf8), existedBefore: false)
        manifest.recordWrite("/etc/entropy-tunnel/known_hosts", content: Array("b\n".utf8), existedBefore: true)
        manifest.directories = ["/etc/entropy-tunnel", "/var/lib/entropy-tunnel"]
        manifest.user = "entropy-tunnel"
        #expect(manifest.files["/etc/entropy-tunnel/config.toml"]?.sha256 ==
                "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7")  // sha256sum of "a\n"
        #expect(try InstallManifest(parsing: manifest.text, path: "m") == manifest)
        // Rewritten later: still install's creation; a file that existed before stays "existing".
        manifest.recordWrite("/etc/entropy-tunnel/config.toml", content: Array("c\n".utf8), existedBefore: true)
        #expect(manifest.files["/etc/entropy-tunnel/config.toml"]?.created == true)
        #expect(manifest.files["/etc/entropy-tunnel/known_hosts"]?.created == false)
        #expect(manifest.holdsWhatInstallWrote("/etc/entropy-tunnel/config.toml", content: Array("c\n".utf8)))
        #expect(!manifest.holdsWhatInstallWrote("/etc/entropy-tunnel/config.toml", content: Array("a\n".utf8)))
        #expect(!manifest.holdsWhatInstallWrote("/etc/other", content: []))
        let error = try #require(throws: TunnelError.self) { try InstallManifest(parsing: "# x\nfile created nothex /a\n", path: "/m") }
        #expect(error.message.hasPrefix("/m:2: "))
    }
}

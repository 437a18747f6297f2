import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// `install --sink rngd` beside the distribution's own rngd.service, under a real systemd (in a
/// throw-away box): a warning, and `--disable-distro-rngd` disables it.
@Suite(.serialized, .timeLimit(.minutes(10)),
       .enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/lib/systemd/systemd"),
                "boots systemd in namespaces: needs root and the systemd package"))
struct DistroRngdTests {
    @Test("install --sink rngd warns about an enabled rngd.service; --disable-distro-rngd disables and stops it")
    func warnsThenDisables() throws {
        let box = try SystemdBox()
        defer { box.shutdown() }
        let tunnel = try box.copyIn(builtExecutable("entropy-tunnel"), to: "/opt/et-test/entropy-tunnel")
        // A stand-in for Debian's rngd.service (rng-tools5): enabled and running.
        try box.check(["sh", "-c", "cat > /etc/systemd/system/rngd.service"], input: Data("""
            [Unit]
            Description=stand-in for the distribution's rngd
            [Service]
            ExecStart=/bin/sleep infinity
            [Install]
            WantedBy=multi-user.target

            """.utf8))
        try box.check(["systemctl", "daemon-reload"])
        try box.check(["systemctl", "enable", "--now", "rngd.service"])
        let hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF8b/RnY2w428ptPmGFjGTgdBijV5UOkVVHgf/NJteMb"
        let install = [tunnel, "install", "--host", "127.0.0.1:1", "--host-key", hostKey, "--sink", "rngd", "--no-start",
                       "--connect-timeout", "1"]
        let first = try box.exec(install)
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        #expect(first.stdout.contains("warning: rngd.service, the distribution's own rngd, is enabled") &&
                first.stdout.contains("--disable-distro-rngd"), "\(first.stdout)")
        #expect(try box.exec(["systemctl", "is-enabled", "rngd.service"]).stdout == "enabled\n", "a warning changes nothing")

        let second = try box.exec(install + ["--disable-distro-rngd"])
        #expect(second.status == 0, "\(second.stdout)\n\(second.stderr)")
        #expect(second.stdout.contains("systemctl disable --now rngd.service"), "\(second.stdout)")
        #expect(try box.exec(["systemctl", "is-enabled", "rngd.service"]).stdout == "disabled\n")
        #expect(try box.exec(["systemctl", "is-active", "rngd.service"]).stdout == "inactive\n")
        let third = try box.exec(install)
        #expect(!third.stdout.contains("rngd.service"), "nothing to say once it is disabled: \(third.stdout)")
    }
}

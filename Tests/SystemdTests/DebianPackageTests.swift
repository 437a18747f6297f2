import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// The .deb from install/package.sh, installed with dpkg in a throw-away box booted with a real
/// systemd, set up with `entropy-tunnel install` against the loopback sshd harness in the box,
/// upgraded (installed again: the running tunnel must restart on the new binary), then
/// uninstalled, removed and purged: nothing the package or install made may stay but the
/// service user, which Debian leaves. Then once more without `uninstall`: a purge leaves no
/// enabled unit that runs the removed binary.
///
/// The box's `/` is an overlay whose writes go to a tmpfs, so dpkg in the box never changes the
/// machine's own dpkg database: the test checks both before and after.
@Suite(.serialized, .timeLimit(.minutes(10)),
       .enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/lib/systemd/systemd")
                    && FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg"),
                "boots systemd in namespaces and runs dpkg in them: needs root, systemd and dpkg"))
struct DebianPackageTests {
    static let unit = "entropy-tunnel.service"
    static let seedUnit = "entropy-tunnel-seed.service"
    static let repository = #filePath.components(separatedBy: "/Tests/")[0]
    /// Where the test's own package is built (and removed after the test).
    static let output = "/var/tmp/entropy-tunnel-deb-test"

    /// The package to test: `ENTROPY_TUNNEL_DEB` when set (a .deb built by `install/package.sh`),
    /// otherwise one built now by install/package.sh from the release binary this suite runs
    /// (built without --static-swift-stdlib, so it needs the toolchain's Swift libraries, which
    /// the box sees through its overlay of `/`; lintian is for shipped packages, not this one).
    func package() throws -> String {
        if let given = ProcessInfo.processInfo.environment["ENTROPY_TUNNEL_DEB"], !given.isEmpty { return given }
        let output = Self.output
        let built = try Shell.capture("/bin/bash", [Self.repository + "/install/package.sh",
                                                    "--binary", builtExecutable("entropy-tunnel"), "--output", output,
                                                    "--no-lintian", "--allow-unpackaged-libs"])
        try #require(built.status == 0, "install/package.sh exited \(built.status): \(built.stderr.suffix(3000))")
        let deb = built.stdout.split(separator: "\n").last.map(String.init) ?? ""
        try #require(deb.hasSuffix("_amd64.deb") && FileManager.default.fileExists(atPath: deb),
                     "install/package.sh printed no .deb path last: \(built.stdout.suffix(500))")
        return deb
    }

    /// Every path below the directories a package and `install` write to (type and path, sorted),
    /// without the box's harness and dpkg's own database.
    func listing(_ box: SystemdBox) throws -> Set<String> {
        let found = try box.check(["find", "-H", "/usr", "/lib", "/etc", "/var/lib", "-xdev", "-printf", "%y %p\n"]).stdout
        return Set(found.split(separator: "\n").map(String.init).filter { line in
            !Self.ignored.contains { line.dropFirst(2).hasPrefix($0) }
        })
    }

    /// What may change between the listing before `dpkg -i` and after `dpkg -P`: dpkg's own
    /// database and logs, and the homes of the test users (/var/lib/et-*: the harness's, and
    /// those other tests create and remove on the machine meanwhile, which the box's overlay of
    /// the machine's / shows).
    static let ignored = ["/var/lib/dpkg/", "/var/lib/et-"]

    /// The machine's own dpkg database: it must not change whatever happens in the box.
    func machineDpkgStatus() throws -> String {
        try String(contentsOfFile: "/var/lib/dpkg/status", encoding: .utf8)
    }

    @Test("dpkg -i, entropy-tunnel install (service active), uninstall --purge, dpkg -r, dpkg -P: nothing left")
    func installRemovePurge() throws {
        let deb = try package()
        defer { if deb.hasPrefix(Self.output + "/") { try? FileManager.default.removeItem(atPath: Self.output) } }
        let machineStatus = try machineDpkgStatus()
        let box = try SystemdBox()
        defer { box.shutdown() }

        // dpkg runs only where writes cannot reach the machine: `/` of the box is the overlay.
        let rootFS = try box.check(["findmnt", "-n", "-o", "FSTYPE", "/"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(rootFS == "overlay", "the box's / is \(rootFS), not the overlay: dpkg would change the machine")

        // The entropy host, inside the box, as in ServiceUnderSystemdTests.
        let testhost = try box.copyIn(builtExecutable("entropy-tunnel-testhost"), to: "/opt/et-test/entropy-tunnel-testhost")
        try box.check(["systemd-run", "--unit=et-testhost", "--property=Type=exec", testhost,
                       "--command", "dd if=/dev/urandom bs=512 status=none",
                       "--dir", "/var/lib/et-testhost", "--env", "/run/et-testhost.env"])
        var env: [String: String] = [:]
        let hostUp = try waitUntil(20) {
            let text = try box.exec(["cat", "/run/et-testhost.env"]).stdout
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { env[parts[0]] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) }
            }
            return env["PORT"] != nil && env["IDENTITY"] != nil
        }
        try #require(hostUp, "the harness sshd did not start in the box")
        let hostKey = try box.check(["cat", "/var/lib/et-testhost/ssh_host_key.pub"]).stdout
            .split(separator: " ").prefix(2).joined(separator: " ")
        let port = env["PORT"]!
        // A machine (a container image) may carry a policy-rc.d that forbids maintainer scripts
        // to act on services (exit 101); deb-systemd-invoke obeys it. The box models a machine
        // without one: removed in the box's overlay only.
        try box.check(["rm", "-f", "/usr/sbin/policy-rc.d"])
        let before = try listing(box)

        // dpkg -i: the binary and the units arrive; nothing is enabled or started.
        try box.copyIn(deb, to: "/tmp/entropy-tunnel.deb", mode: 0o644)
        let dpkgInstall = try box.exec(["dpkg", "-i", "/tmp/entropy-tunnel.deb"])
        try #require(dpkgInstall.status == 0, "dpkg -i: \(dpkgInstall.stdout)\n\(dpkgInstall.stderr)")
        let version = try box.check(["/usr/bin/entropy-tunnel", "--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // postinst made the service user from the package's sysusers.d file.
        let user = try box.exec(["getent", "passwd", "entropy-tunnel"]).stdout
        #expect(user.hasSuffix(":/nonexistent:/usr/sbin/nologin\n"), "postinst made no service user: \(user)")
        #expect(try box.exec(["test", "-s", "/usr/lib/sysusers.d/entropy-tunnel.conf"]).status == 0)
        let depends = try box.check(["dpkg-query", "-W", "-f", "${Depends}", "entropy-tunnel"]).stdout
        #expect(depends.contains("openssh-client") && depends.contains("libssh2-1"), "Depends: \(depends)")
        let packaged = try box.check(["dpkg-query", "-W", "-f", "${Version}", "entropy-tunnel"]).stdout
        #expect(packaged == version + "-1", "package version \(packaged), binary \(version)")
        for unit in [Self.unit, Self.seedUnit] {
            #expect(try box.exec(["test", "-f", "/lib/systemd/system/\(unit)"]).status == 0, "\(unit) not in /lib/systemd/system")
            #expect(try box.exec(["systemctl", "is-enabled", unit]).stdout == "disabled\n", "the package must not enable \(unit)")
            #expect(try box.exec(["systemctl", "is-active", unit]).stdout != "active\n")
        }
        let execStart = try box.check(["grep", "^ExecStart=", "/lib/systemd/system/\(Self.unit)"]).stdout
        #expect(execStart == "ExecStart=/usr/bin/entropy-tunnel run --config /etc/entropy-tunnel/config.toml\n")
        for file in ["/usr/share/man/man1/entropy-tunnel.1.gz", "/usr/share/man/man5/entropy-tunnel.toml.5.gz",
                     "/usr/share/bash-completion/completions/entropy-tunnel", "/usr/share/zsh/vendor-completions/_entropy-tunnel",
                     "/usr/share/fish/vendor_completions.d/entropy-tunnel.fish",
                     "/usr/share/doc/entropy-tunnel/examples/config.toml", "/usr/share/doc/entropy-tunnel/copyright"] {
            #expect(try box.exec(["test", "-s", file]).status == 0, "\(file) missing")
        }

        // entropy-tunnel install, as the package's description says: files first, then the
        // host's authorized_keys line, then install again, which enables and starts the service.
        let installArguments = ["/usr/bin/entropy-tunnel", "install", "--host", "127.0.0.1:\(port)",
                                "--user", env["HOST_USER"]!, "--host-key", hostKey,
                                "--remote-command", "dd if=/dev/urandom bs=512 status=none"]
        let install = try box.exec(installArguments + ["--no-start"])
        try #require(install.status == 0, "\(install.stdout)\n\(install.stderr)")
        let line = try #require(install.stdout.split(separator: "\n").first { $0.hasPrefix("  restrict,command=") })
            .trimmingCharacters(in: .whitespaces)
        try box.check(["sh", "-c", "cat >> /var/lib/et-testhost/authorized_keys"], input: Data((line + "\n").utf8))
        // The sanitizer's drop-ins are the test's, removed again before the last listing.
        let sanitizerDropIns = try box.passSanitizerOptions(to: [Self.unit, Self.seedUnit])
        // Run from /usr/bin, install's units run /usr/bin/entropy-tunnel without --binary.
        #expect(try box.check(["grep", "^ExecStart=", "/etc/systemd/system/\(Self.unit)"]).stdout == execStart)
        let start = try box.exec(installArguments)
        #expect(start.status == 0 && start.stdout.contains("systemctl enable --now \(Self.unit)"),
                "\(start.stdout)\n\(start.stderr)\n\((try? box.exec(["journalctl", "-u", Self.seedUnit, "-u", Self.unit, "--no-pager", "-n", "40"]).stdout) ?? "")")
        let journal = { (try? box.exec(["journalctl", "-u", Self.unit, "--no-pager", "-n", "40"]).stdout) ?? "" }
        let active = try waitUntil(20) {
            let state = try box.show(Self.unit, ["ActiveState", "StatusText"])
            // On-demand (the kernel sink's default) holds the connection only while it fills its reserve.
            let text = state["StatusText"] ?? ""
            return state["ActiveState"] == "active"
                && (text.hasPrefix("connected to 127.0.0.1:\(port)") || text.hasPrefix("on-demand from 127.0.0.1:\(port): reserve"))
        }
        let state = try box.show(Self.unit, ["ActiveState", "SubState", "StatusText", "FragmentPath"])
        #expect(active, "the packaged binary's service is not active and connected: \(state)\n\(journal())")
        #expect(try box.exec(["systemctl", "is-active", Self.unit]).stdout == "active\n")
        #expect(try box.exec(["systemctl", "is-active", Self.seedUnit]).stdout == "active\n")
        // The listing sees what the package and install made (so it would see them left behind).
        let installed = try listing(box).subtracting(before)
        for path in ["f /usr/bin/entropy-tunnel", "f /lib/systemd/system/\(Self.unit)", "f /etc/entropy-tunnel/config.toml",
                     "f /etc/systemd/system/\(Self.unit)", "d /var/lib/entropy-tunnel"] {
            #expect(installed.contains(path), "the listing does not show \(path): \(installed.sorted())")
        }
        // `entropy-tunnel status`: running and healthy (connected, the kernel fed).
        var status = try box.exec(["/usr/bin/entropy-tunnel", "status"])
        let healthy = try waitUntil(10) {
            status = try box.exec(["/usr/bin/entropy-tunnel", "status"])
            return status.status == 0
        }
        #expect(healthy && status.stdout.contains("running (healthy)") && status.stdout.contains("127.0.0.1"),
                "status: \(status.status) \(status.stdout)\(status.stderr)")

        // An upgrade (the package installed again) restarts the running tunnel on the new binary.
        let pidBefore = try box.show(Self.unit, ["MainPID"])["MainPID"] ?? ""
        let upgrade = try box.exec(["dpkg", "-i", "/tmp/entropy-tunnel.deb"])
        #expect(upgrade.status == 0, "dpkg -i again: \(upgrade.stdout)\n\(upgrade.stderr)")
        var pidAfter = ""
        let restarted = try waitUntil(20) {
            pidAfter = try box.show(Self.unit, ["MainPID"])["MainPID"] ?? ""
            return pidAfter != pidBefore && pidAfter != "0" && !pidAfter.isEmpty
        }
        #expect(restarted, "the tunnel was not restarted by the upgrade: pid \(pidBefore) -> \(pidAfter)")
        let exe = try box.exec(["readlink", "/proc/\(pidAfter)/exe"]).stdout
        // (readlink sees the path through the box's root directory on the machine.)
        #expect(exe.hasSuffix("/usr/bin/entropy-tunnel\n") && !exe.contains("(deleted)"), "after the upgrade the tunnel runs \(exe)")

        // Take everything away again: install's files, then the package.
        let uninstall = try box.exec(["/usr/bin/entropy-tunnel", "uninstall", "--purge"])
        if sanitizerDropIns { try box.removeSanitizerOptions(from: [Self.unit, Self.seedUnit]) }
        #expect(uninstall.status == 0, "uninstall --purge: \(uninstall.stdout)\n\(uninstall.stderr)")
        #expect(try box.exec(["systemctl", "is-active", Self.unit]).stdout != "active\n")
        #expect(try box.exec(["test", "-e", "/run/entropy-tunnel"]).status != 0, "uninstall leaves /run/entropy-tunnel")
        let remove = try box.exec(["dpkg", "-r", "entropy-tunnel"])
        #expect(remove.status == 0, "dpkg -r: \(remove.stdout)\n\(remove.stderr)")
        #expect(try box.exec(["test", "-e", "/usr/bin/entropy-tunnel"]).status != 0, "dpkg -r left the binary")
        let purge = try box.exec(["dpkg", "-P", "entropy-tunnel"])
        #expect(purge.status == 0, "dpkg -P: \(purge.stdout)\n\(purge.stderr)")
        #expect(try box.exec(["dpkg-query", "-W", "entropy-tunnel"]).status != 0, "dpkg still knows the package after -P")

        // Debian leaves system users a package made (their uid may own files).
        #expect(try box.exec(["getent", "passwd", "entropy-tunnel"]).status == 0, "the package's purge removed the service user")

        let after = try listing(box)
        let left = after.subtracting(before).sorted()
        let lost = before.subtracting(after).sorted()
        #expect(left.isEmpty, "left behind after uninstall --purge, dpkg -r, dpkg -P: \(left.joined(separator: ", "))")
        #expect(lost.isEmpty, "gone after the round trip, though there before: \(lost.joined(separator: ", "))")

        // Again, but purged without `uninstall`: no enabled unit may run the binary that is gone.
        try #require(try box.exec(["dpkg", "-i", "/tmp/entropy-tunnel.deb"]).status == 0)
        let sanitizerDropInsAgain = try box.passSanitizerOptions(to: [Self.unit, Self.seedUnit])
        let again = try box.exec(installArguments)
        #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
        let purgedAlone = try box.exec(["dpkg", "-P", "entropy-tunnel"])
        #expect(purgedAlone.status == 0, "dpkg -P: \(purgedAlone.stdout)\n\(purgedAlone.stderr)")
        if sanitizerDropInsAgain { try box.removeSanitizerOptions(from: [Self.unit, Self.seedUnit]) }
        let links = try box.exec(["sh", "-c", "ls /etc/systemd/system/*.wants/ | grep entropy-tunnel || true"]).stdout
        #expect(links.isEmpty, "enabled after the purge: \(links)")
        for unit in [Self.unit, Self.seedUnit] {
            #expect(try box.exec(["test", "-e", "/etc/systemd/system/\(unit)"]).status != 0, "the purge left /etc/systemd/system/\(unit)")
            #expect(try box.exec(["systemctl", "is-enabled", unit]).stdout != "enabled\n")
        }

        box.shutdown()
        #expect(try machineDpkgStatus() == machineStatus, "the machine's /var/lib/dpkg/status changed: dpkg in the box reached it")
        #expect(FileManager.default.fileExists(atPath: "/usr/bin/entropy-tunnel") == machineHadBinary,
                "the machine's /usr/bin/entropy-tunnel appeared or went: dpkg in the box reached it")
    }

    /// Whether the machine itself had /usr/bin/entropy-tunnel before the test.
    let machineHadBinary = FileManager.default.fileExists(atPath: "/usr/bin/entropy-tunnel")
}

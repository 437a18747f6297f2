import Foundation
import Testing
import TestHost
#if canImport(Glibc)
import Glibc
#endif

/// Root never follows a link it did not make: for every path root writes, another account plants
/// a symbolic link (or a hard link, or makes the directory its own) pointing at a root-only file,
/// and the real command, run as root, must leave that file's content, owner and mode as they were,
/// with a clear message and the right exit status.
@Suite(.serialized, .timeLimit(.minutes(10)), .enabled(if: getuid() == 0, "plants links as another user and runs the commands as root"))
struct PlantedLinkTests {
    /// The attacker: `nobody`, or the entropy account itself for its own home.
    static let nobody: uid_t = 65534

    /// A root-only file a planted link points at, and what it was.
    struct Target {
        let path: String
        let content: [UInt8]

        init(_ path: String) throws {
            self.path = path
            content = Array("root's secret \(UInt64.random(in: 0 ... .max))\n".utf8)
            guard createFile(atPath: path, contents: content, mode: 0o600) else { throw HarnessError("cannot create \(path)") }
            chown(path, 0, 0)
            chmod(path, 0o600)
        }

        /// A target already known to have changed (a device node, checked by the case itself).
        static let changed = Target(changedPath: "")

        private init(changedPath: String) {
            path = changedPath
            content = []
        }

        /// Content, owner root:root and mode 0600 as before.
        var unchanged: Bool {
            var st = stat()
            guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return false }
            let now = (try? Data(contentsOf: URL(fileURLWithPath: path))).map(Array.init) ?? []
            return now == content && st.st_uid == 0 && st.st_gid == 0 && st.st_mode & 0o7777 == 0o600
        }
    }

    /// One case: what it plants, the command, and what must come out.
    struct Outcome {
        let name: String
        let result: Shell.Result
        let targets: [Target]
    }

    /// A directory owned by `owner` (mode `mode`) in a root-owned scratch directory.
    static func directory(_ scratch: String, _ name: String, owner: uid_t = nobody, mode: mode_t = 0o755) throws -> String {
        let path = scratch + "/" + name
        guard mkdir(path, mode) == 0 || errno == EEXIST else { throw HarnessError("mkdir \(path): errno \(errno)") }
        chmod(path, mode)
        chown(path, owner, gid_t(owner == nobody ? nobody : owner))
        return path
    }

    /// `ln -s target path`, the link owned by `owner`, as that user would have made it.
    static func plant(_ path: String, pointingAt target: String, owner: uid_t, group: gid_t? = nil) throws {
        unlink(path)
        guard symlink(target, path) == 0 else { throw HarnessError("symlink \(path): errno \(errno)") }
        lchown(path, owner, group ?? owner)
    }

    @Test("planted links at every path root writes: no root-owned file changes; the command says why")
    func everyPathRootWrites() throws {
        let scratch = try Scratch.directory("et-plink")
        var outcomes: [Outcome] = []
        outcomes += try accountHomeCases(scratch)
        outcomes += try daemonFileCases(scratch)
        outcomes += try clientFileCases(scratch)

        var changed = 0
        for outcome in outcomes {
            let intact = outcome.targets.allSatisfy(\.unchanged)
            if !intact { changed += 1 }
            #expect(intact, "\(outcome.name): a root-owned file changed\n\(outcome.result.stdout)\n\(outcome.result.stderr)")
            #expect(outcome.result.signal == nil, "\(outcome.name): died by signal")
            print("planted link, \(outcome.name): exit \(outcome.result.status), root-owned target \(intact ? "unchanged" : "CHANGED"); " +
                  "\(outcome.result.stderr.split(separator: "\n").last.map(String.init) ?? "")")
        }
        print("root-owned files changed by the planted-link cases: \(changed) of \(outcomes.count)")
        #expect(changed == 0)
        #expect(outcomes.count >= 15)
    }

    // MARK: - keys authorize, --remove and deauthorize in the account's home

    func accountHomeCases(_ scratch: String) throws -> [Outcome] {
        let user = "et-plink"
        _ = try? Shell.capture("userdel", [user])
        defer { _ = try? Shell.capture("userdel", [user]) }
        // The account exists with a home below a directory it owns, as an account would that
        // prepares its own attack; keys authorize finds it, it does not create it.
        let base = try Self.directory(scratch, "base", owner: 0, mode: 0o755)
        try Shell.run("useradd", "--system", "--user-group", "--no-create-home", "--home-dir", base + "/home", "--shell", "/bin/sh", user)
        try Shell.run("usermod", "-p", "*", user)
        let pw = try #require(getpwnam(user)).pointee
        let (uid, gid) = (pw.pw_uid, pw.pw_gid)
        let device = try hwrngStandIn(in: try Self.directory(scratch, "dev", owner: 0))
        let identity = scratch + "/client/id_ed25519"
        try Shell.run("mkdir", "-p", scratch + "/client")
        try Shell.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", identity)
        let publicKey = try String(contentsOfFile: identity + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let rules = try Self.directory(scratch, "rules", owner: 0)
        let authorize = ["keys", "authorize", "--key", publicKey, "--user", user, "--device", device, "--test-device-stand-in",
                         "--remote-command", "dd if=\(device) bs=512 status=none", "--udev-rule", rules + "/60-entropy-tunnel.rules"]
        let home = base + "/home"
        var outcomes: [Outcome] = []

        /// A fresh home owned by the account (0750), and a root-only directory with a root file in it.
        func freshHome(_ name: String) throws -> (rootDirectory: String, target: Target) {
            try? FileManager.default.removeItem(atPath: home)
            _ = try Self.directory(base, "home", owner: uid, mode: 0o750)
            chown(home, uid, gid)
            let rootDirectory = try Self.directory(scratch, "root-\(name)", owner: 0, mode: 0o700)
            return (rootDirectory, try Target(rootDirectory + "/authorized_keys"))
        }

        // The home itself a link (the account owns the directory holding it).
        do {
            let (rootDirectory, target) = try freshHome("home")
            try? FileManager.default.removeItem(atPath: home)
            chown(base, uid, gid)
            try Self.plant(home, pointingAt: rootDirectory, owner: uid, group: gid)
            let result = try runTunnel(authorize)
            #expect(result.status == 78 && result.stderr.contains("not a directory"), "home: \(result.stderr)")
            outcomes.append(Outcome(name: "home (~ a link to a root directory)", result: result, targets: [target]))
            unlink(home)
            chown(base, 0, 0)
        }
        // ~/.ssh a link to a root-only directory: it must not be chowned to the account.
        do {
            let (rootDirectory, target) = try freshHome("ssh")
            try Self.plant(home + "/.ssh", pointingAt: rootDirectory, owner: uid, group: gid)
            let result = try runTunnel(authorize)
            var st = stat()
            stat(rootDirectory, &st)
            #expect(st.st_uid == 0 && st.st_mode & 0o7777 == 0o700, ".ssh: the root directory was changed")
            #expect(result.status == 78 && result.stderr.contains("symbolic link"), ".ssh: \(result.stderr)")
            outcomes.append(Outcome(name: "~/.ssh (a link to a root directory)", result: result, targets: [target]))
        }
        // ~/.ssh/authorized_keys a link to a root-only file, for authorize, --remove and deauthorize.
        for (label, command) in [("authorize", authorize),
                                 ("authorize --remove", ["keys", "authorize", "--remove", publicKey, "--user", user]),
                                 ("deauthorize", ["keys", "deauthorize", "--user", user, "--device", device, "--test-device-stand-in",
                                                  "--udev-rule", rules + "/none.rules", "--sshd-config", scratch + "/no-sshd/sshd_config"])] {
            let (_, target) = try freshHome("keys-\(label.split(separator: " ").joined(separator: "-"))")
            _ = try Self.directory(home, ".ssh", owner: uid, mode: 0o700)
            try Self.plant(home + "/.ssh/authorized_keys", pointingAt: target.path, owner: uid, group: gid)
            let result = try runTunnel(command)
            #expect(result.status == 78 && result.stderr.contains("symbolic link"), "\(label): \(result.stderr)")
            outcomes.append(Outcome(name: "~/.ssh/authorized_keys (\(label))", result: result, targets: [target]))
        }
        // authorized_keys a hard link to a root-only file (what fs.protected_hardlinks=0 would allow).
        do {
            let (_, target) = try freshHome("hardlink")
            _ = try Self.directory(home, ".ssh", owner: uid, mode: 0o700)
            guard link(target.path, home + "/.ssh/authorized_keys") == 0 else { throw HarnessError("link: errno \(errno)") }
            let result = try runTunnel(authorize)
            #expect(result.status == 78 && result.stderr.contains("links"), "hard link: \(result.stderr)")
            outcomes.append(Outcome(name: "~/.ssh/authorized_keys (a hard link)", result: result, targets: [target]))
        }
        // The temporary the old code used, predictable: now simply not used. The write succeeds.
        do {
            let (_, target) = try freshHome("temporary")
            _ = try Self.directory(home, ".ssh", owner: uid, mode: 0o700)
            try Self.plant(home + "/.ssh/authorized_keys.tmp-entropy-tunnel", pointingAt: target.path, owner: uid, group: gid)
            let result = try runTunnel(authorize)
            #expect(result.status == 0, "temporary: \(result.stderr)")
            var st = stat()
            #expect(lstat(home + "/.ssh/authorized_keys", &st) == 0 && st.st_mode & S_IFMT == S_IFREG && st.st_uid == uid
                    && st.st_mode & 0o7777 == 0o600)
            let written = (try? String(contentsOfFile: home + "/.ssh/authorized_keys", encoding: .utf8)) ?? ""
            #expect(written.contains(publicKey))
            outcomes.append(Outcome(name: "authorized_keys.tmp-entropy-tunnel (the old predictable temporary)", result: result, targets: [target]))
        }
        // The udev rule and the sshd drop-in in directories another user owns, with links planted.
        do {
            let (_, _) = try freshHome("udev")
            let foreign = try Self.directory(scratch, "udev-foreign")
            let target = try Target(scratch + "/root-udev-target")
            try Self.plant(foreign + "/60-entropy-tunnel.rules", pointingAt: target.path, owner: Self.nobody)
            var command = authorize
            command[command.count - 1] = foreign + "/60-entropy-tunnel.rules"
            let result = try runTunnel(command)
            #expect(result.status == 78 && result.stderr.contains("refusing"), "udev: \(result.stderr)")
            outcomes.append(Outcome(name: "udev rule", result: result, targets: [target]))
        }
        do {
            let (_, _) = try freshHome("dropin")
            let sshd = try Self.directory(scratch, "sshd-foreign")
            let dropIns = try Self.directory(sshd, "sshd_config.d")
            _ = createFile(atPath: sshd + "/sshd_config", contents: Array("Include \(dropIns)/*.conf\n".utf8))
            let target = try Target(scratch + "/root-dropin-target")
            try Self.plant(dropIns + "/entropy-tunnel-\(user).conf", pointingAt: target.path, owner: Self.nobody)
            let result = try runTunnel(authorize + ["--sshd-drop-in", "--sshd-config", sshd + "/sshd_config"])
            #expect(result.status == 78 && result.stderr.contains("refusing"), "drop-in: \(result.stderr)")
            outcomes.append(Outcome(name: "sshd drop-in", result: result, targets: [target]))
        }
        // --device through a link another user planted in /tmp: the real device keeps its group and mode.
        do {
            let (_, target) = try freshHome("device")
            let sticky = try Self.directory(scratch, "device-sticky", owner: 0, mode: 0o1777)
            let other = try hwrngStandIn(in: try Self.directory(scratch, "device-real", owner: 0))
            try Self.plant(sticky + "/hwrng", pointingAt: other, owner: Self.nobody)
            var command = authorize
            command[command.firstIndex(of: device)! ] = sticky + "/hwrng"
            command[command.firstIndex(of: "dd if=\(device) bs=512 status=none")!] = "dd if=\(sticky)/hwrng bs=512 status=none"
            let result = try runTunnel(command)
            var st = stat()
            stat(other, &st)
            #expect(st.st_gid == 0 && st.st_mode & 0o7777 == 0o600, "device: group \(st.st_gid) mode \(String(st.st_mode & 0o7777, radix: 8))")
            #expect(result.status == 78 && result.stderr.contains("symbolic link"), "device: \(result.stderr)")
            outcomes.append(Outcome(name: "--device (a link in /tmp to another device)", result: result,
                                    targets: [target] + (st.st_gid == 0 && st.st_mode & 0o7777 == 0o600 ? [] : [Target.changed])))
        }
        try? FileManager.default.removeItem(atPath: home)
        return outcomes
    }

    // MARK: - run: the metrics and state files

    func daemonFileCases(_ scratch: String) throws -> [Outcome] {
        let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
        defer { host.shutdown() }
        var outcomes: [Outcome] = []
        for (file, option) in [("metrics", "--metrics-file"), ("state", "--state-file")] {
            // node_exporter's textfile directory often belongs to another user; /tmp is everyone's.
            for (kind, mode, owner) in [("another user's directory", mode_t(0o755), Self.nobody),
                                        ("a sticky world-writable directory like /tmp", mode_t(0o1777), uid_t(0))] {
                let directory = try Self.directory(scratch, "\(file)-\(mode)", owner: owner, mode: mode)
                let target = try Target(scratch + "/root-\(file)-\(mode)")
                let path = directory + "/entropy-tunnel.\(file)"
                try Self.plant(path, pointingAt: target.path, owner: Self.nobody)
                var arguments = ["run"] + connectionArguments(host) + ["--sink", "fifo", "--fifo", scratch + "/\(file)-\(mode).fifo", option, path]
                if option == "--metrics-file" { arguments += ["--state-file", scratch + "/own-\(mode).state.json"] }
                let result = try Shell.capture(tunnelBinary, arguments)
                #expect(result.status == 78 && result.stderr.contains("refusing to write \(path)"), "\(file) in \(kind): \(result.stderr)")
                outcomes.append(Outcome(name: "\(file) file in \(kind)", result: result, targets: [target]))
            }
        }
        // The FIFO: a link in /tmp to a root directory, as the FIFO's directory.
        do {
            let sticky = try Self.directory(scratch, "fifo-sticky", owner: 0, mode: 0o1777)
            let rootDirectory = try Self.directory(scratch, "fifo-root", owner: 0)
            let target = try Target(rootDirectory + "/existing")
            try Self.plant(sticky + "/run", pointingAt: rootDirectory, owner: Self.nobody)
            let result = try Shell.capture(tunnelBinary, ["run"] + connectionArguments(host) +
                                           ["--sink", "fifo", "--fifo", sticky + "/run/entropy.fifo", "--state-file", scratch + "/fifo.state.json"])
            #expect(result.status == 78 && result.stderr.contains("symbolic link"), "fifo: \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: rootDirectory + "/entropy.fifo"), "a FIFO was made in the root directory")
            let clean = !FileManager.default.fileExists(atPath: rootDirectory + "/entropy.fifo")
            outcomes.append(Outcome(name: "FIFO directory (a link in /tmp to a root directory)", result: result,
                                    targets: [target] + (clean ? [] : [Target.changed])))
        }
        // In a root-owned directory only root could plant a link; one there is still not followed.
        let target = try Target(scratch + "/root-state-own")
        let ownDirectory = try Self.directory(scratch, "state-own", owner: 0)
        try Self.plant(ownDirectory + "/state.json", pointingAt: target.path, owner: 0)
        let result = try Shell.capture(tunnelBinary, ["run"] + connectionArguments(host) +
                                       ["--sink", "fifo", "--fifo", scratch + "/own.fifo", "--state-file", ownDirectory + "/state.json"])
        #expect(result.status == 78 && result.stderr.contains("symbolic link"), "state link: \(result.stderr)")
        outcomes.append(Outcome(name: "state file a link (even one in root's own directory)", result: result, targets: [target]))
        return outcomes
    }

    // MARK: - The client's own files: config, known_hosts, key, fetch output, seed

    func clientFileCases(_ scratch: String) throws -> [Outcome] {
        var outcomes: [Outcome] = []
        // install --root into a tree another user owns, config.toml a link.
        do {
            let root = try Self.directory(scratch, "install-root")
            let etc = try Self.directory(root, "etc")
            let directory = try Self.directory(etc, "entropy-tunnel")
            let target = try Target(scratch + "/root-config")
            try Self.plant(directory + "/config.toml", pointingAt: target.path, owner: Self.nobody)
            let result = try runTunnel(["install", "--root", root, "--no-start", "--host", "rng.example",
                                        "--host-key", InstallCommandTests.hostKey])
            #expect(result.status == 78 && result.stderr.contains("refusing"), "config: \(result.stderr)")
            outcomes.append(Outcome(name: "config (install --root into another user's tree)", result: result, targets: [target]))
        }
        // keys trust: known_hosts a link in another user's directory.
        do {
            let host = try LoopbackHost(forcedCommand: "true")
            defer { host.shutdown() }
            let fingerprint = try Shell.run("ssh-keygen", "-lf", host.directory + "/ssh_host_key.pub").stdout.split(separator: " ")[1]
            let directory = try Self.directory(scratch, "known-hosts")
            let target = try Target(scratch + "/root-known-hosts")
            try Self.plant(directory + "/known_hosts", pointingAt: target.path, owner: Self.nobody)
            let result = try runTunnel(["keys", "trust", host.endpoint, "--known-hosts", directory + "/known_hosts",
                                        "--fingerprint", String(fingerprint)])
            #expect(result.status == 78 && result.stderr.contains("refusing"), "known_hosts: \(result.stderr)")
            outcomes.append(Outcome(name: "known_hosts (keys trust)", result: result, targets: [target]))
            // keys untrust rewrites it too.
            let untrust = try runTunnel(["keys", "untrust", host.endpoint, "--known-hosts", directory + "/known_hosts"])
            #expect(untrust.status != 0 && untrust.signal == nil, "untrust: \(untrust.stderr)")
            outcomes.append(Outcome(name: "known_hosts (keys untrust)", result: untrust, targets: [target]))
        }
        // keys generate: the key itself, and its .pub, links in another user's directory.
        for name in ["id_ed25519", "id_ed25519.pub"] {
            let directory = try Self.directory(scratch, "key-\(name)")
            let target = try Target(scratch + "/root-\(name)")
            try Self.plant(directory + "/" + name, pointingAt: target.path, owner: Self.nobody)
            let result = try runTunnel(["keys", "generate", "--identity", directory + "/id_ed25519"])
            #expect(result.status == 78, "key \(name): \(result.stderr)")
            outcomes.append(Outcome(name: "key (\(name))", result: result, targets: [target]))
        }
        // fetch --output in /tmp-like sticky directory: a link another user planted there.
        do {
            let host = try LoopbackHost(forcedCommand: "dd if=/dev/urandom bs=512 status=none")
            defer { host.shutdown() }
            let sticky = try Self.directory(scratch, "sticky", owner: 0, mode: 0o1777)
            let target = try Target(scratch + "/root-fetch")
            try Self.plant(sticky + "/out.bin", pointingAt: target.path, owner: Self.nobody)
            let result = try runTunnel(["fetch"] + connectionArguments(host) + ["--bytes", "64", "--output", sticky + "/out.bin"])
            #expect(result.status == 78 && result.stderr.contains("symbolic link"), "fetch: \(result.stderr)")
            outcomes.append(Outcome(name: "fetch --output in a sticky directory", result: result, targets: [target]))
        }
        // The seed: a link in the state directory is removed, never read or written through.
        do {
            let state = try Self.directory(scratch, "seed", owner: 0, mode: 0o700)
            let target = try Target(scratch + "/root-seed")
            try Self.plant(state + "/seed.no-credit", pointingAt: target.path, owner: 0)
            let result = try runTunnel(["seed", "load", "--state-dir", state, "--no-credit"])
            #expect(result.status == 0 && result.stderr.contains("symbolic link"), "seed: \(result.stderr)")
            outcomes.append(Outcome(name: "seed file", result: result, targets: [target]))
        }
        return outcomes
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// `keys authorize`, on the entropy host as root: an unprivileged account whose only use is to
/// stream the RNG to one client key.
///
/// It creates the user if missing (shell /bin/sh, password field `*`: not locked, so sshd
/// without PAM accepts it, yet no password works), gives the user read access to the RNG
/// device (a udev rule for the next boot and the same group and mode right away), proves that
/// the forced command works by running it as that user, and only then writes the restricted
/// authorized_keys line, idempotently.
///
/// An account it did not create keeps its shell and password field unless `force` is set. When
/// a step fails (the proof above all), every change already made is undone, newest first: the
/// user it created, the shell and password field it changed, the udev rule it wrote, the
/// device's group and mode; authorized_keys has not been touched at that point.
public struct HostAuthorizer: Sendable {
    public var line: AuthorizedKeyLine
    public var user = "entropy"
    public var device = "/dev/hwrng"
    public var udevRule = "/etc/udev/rules.d/60-entropy-tunnel.rules"
    /// How many bytes the forced command must deliver to count as working.
    public var proofBytes = 16
    /// Change the shell and password field of an existing account when they stop sshd.
    public var force = false
    /// Install the Match block as a drop-in in `sshd_config.d/` (checked with `sshd -t`).
    public var sshdDropIn = false
    /// The main sshd configuration next to which the drop-in goes (tests use their own).
    public var sshdConfig = SSHDDropIn.defaultConfigFile
    /// Tests only: a `mknod` copy of /dev/urandom stands in for /dev/hwrng.
    public var allowSharedDeviceStandIn = false

    public init(line: AuthorizedKeyLine) { self.line = line }

    /// What `run` did, one line per step, for the administrator.
    public struct Report: Sendable {
        public var steps: [String] = []
        /// The forced command's first bytes, as run by the user.
        public var proof: [UInt8] = []
    }

    /// The account as the system knows it.
    struct Account {
        var uid: uid_t
        var gid: gid_t
        var home: String
        var shell: String
        var groupName: String

        var owner: SafeFile.Owner { SafeFile.Owner(uid: uid, gid: gid) }
    }

    /// Runs every step; the first failure throws with what to fix.
    public func run() async throws(TunnelError) -> Report {
        guard getuid() == 0 else {
            throw TunnelError(.invalidArgument, "`keys authorize` sets up a user and a device on the entropy host: run it as root there (sudo)")
        }
        try line.validate()
        if user.isEmpty || user.contains(where: { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }) {
            throw TunnelError(.invalidArgument, "--user '\(user)' is not a valid user name (letters, digits, - _ .)")
        }
        // Before any change: a shared device's permissions must never change, not even for a moment.
        if !allowSharedDeviceStandIn, let refusal = SharedDevice.refusal(device) {
            throw TunnelError(.configuration, "refusing --device \(device): \(refusal)")
        }
        var report = Report()
        var changes: [Change] = []
        do throws(TunnelError) {
            let account = try await ensureAccount(&report, &changes)
            try await grantDeviceAccess(account, &report, &changes)
            // Proven before the key goes in: a command that cannot work never reaches authorized_keys.
            report.proof = try await proveForcedCommand(account)
            report.steps.append("forced command works: `\(line.forcedCommand)` gave \(report.proof.count) bytes as user \(user)")
            if sshdDropIn {
                let dropIn = SSHDDropIn(configFile: sshdConfig, user: user)
                let previous = try? FileSystem.readBytes(dropIn.path)
                report.steps.append(try await dropIn.install(sshdMatchLines))
                if previous == nil { changes.append(.wroteFile(dropIn.path, previous: nil, mode: 0o644)) }
            }
            try writeAuthorizedKeys(account, &report, &changes)
        } catch {
            let undone = await Self.undo(changes)
            guard !undone.isEmpty else { throw error }
            throw TunnelError(error.code, error.message + ". Undone: " + undone.joined(separator: "; "), errno: error.errno)
        }
        return report
    }

    /// Where the Debian package installs entropy-tunnel: the path printed for a host's forced
    /// command when it is written by hand (`keys authorize` on the host uses its own path).
    public static let packagedBinary = "/usr/bin/entropy-tunnel"

    /// The forced command that runs `entropy-tunnel serve` on the host: `BINARY serve --device DEVICE`.
    public static func serveCommand(binary: String = packagedBinary, device: String = "/dev/hwrng") -> String {
        ShellQuote.command([binary, "serve", "--device", device])
    }

    /// The `keys authorize` command line for `key`, quoted for pasting into a shell on the host.
    /// `remoteCommand` nil (the default) installs `entropy-tunnel serve`; a command installs that
    /// plain reader instead.
    public static func commandLine(key: PublicKey, user: String = "entropy", remoteCommand: String?, from: String?) -> String {
        var words = ["entropy-tunnel", "keys", "authorize"]
        if user != "entropy" { words += ["--user", user] }
        if let remoteCommand { words += ["--remote-command", remoteCommand] }
        if let from { words += ["--from", from] }
        return ShellQuote.command(words + ["--key", key.line])
    }

    // MARK: - Steps

    func ensureAccount(_ report: inout Report, _ changes: inout [Change]) async throws(TunnelError) -> Account {
        let created = getpwnam(user) == nil
        if created {
            let home = "/var/lib/\(user)"
            let homeExisted = FileSystem.exists(home)
            try await ExternalCommand.check("useradd", ["--system", "--user-group", "--create-home",
                                                        "--home-dir", home, "--shell", "/bin/sh",
                                                        "--comment", "entropy-tunnel RNG reader", user])
            changes.append(.createdUser(user, removeHome: !homeExisted))
            report.steps.append("created system user \(user) (home \(home), shell /bin/sh)")
        } else {
            report.steps.append("user \(user) exists")
        }
        guard var account = Self.account(user) else {
            throw TunnelError(.system, "user \(user) does not exist after useradd; check /etc/passwd")
        }
        let otherUser = "or pass --user with the name of a new account, which keys authorize creates"
        // The forced command runs through the login shell: nologin or false would break it.
        if account.shell.hasSuffix("nologin") || account.shell.hasSuffix("/false") || account.shell.isEmpty {
            guard created || force else {
                throw TunnelError(.configuration,
                                  "user \(user) exists with the login shell '\(account.shell)', through which sshd cannot run the forced " +
                                  "command; keys authorize did not create \(user), so it changes its shell only with --force " +
                                  "(to /bin/sh), \(otherUser)")
            }
            try await ExternalCommand.check("usermod", ["--shell", "/bin/sh", user])
            if !created { changes.append(.changedShell(user, from: account.shell)) }
            report.steps.append("changed the shell of \(user) from \(account.shell) to /bin/sh (the forced command runs through it)")
            account.shell = "/bin/sh"
        }
        // "!" (useradd's default) is a locked account, which sshd refuses when PAM is off; "*" is not locked.
        let passwordField = Self.passwordField(user)
        if passwordField.hasPrefix("!") {
            guard created || force else {
                throw TunnelError(.configuration,
                                  "user \(user) is locked (its password field in /etc/shadow starts with '!'), which sshd refuses " +
                                  "when PAM is off; keys authorize did not create \(user), so it unlocks it only with --force " +
                                  "(password field '*': still no password works), \(otherUser)")
            }
            try await ExternalCommand.check("usermod", ["-p", "*", user])
            if !created { changes.append(.changedPasswordField(user, from: passwordField)) }
            report.steps.append("set the password field of \(user) to '*' (no password works, the account is not locked)")
        }
        // A home that is no home of the user's own: Debian's /nonexistent (adduser --system), which
        // must never be created, or a directory another user owns (/, /var/empty, /usr/sbin...):
        // ~/.ssh would be made there. Such an account gets /var/lib/USER.
        if let why = Self.notAHome(account) {
            let home = "/var/lib/\(user)"
            guard force else {
                throw TunnelError(.configuration,
                                  "user \(user) has the home '\(account.home)', \(why), where sshd would read ~/.ssh/authorized_keys; " +
                                  "keys authorize gives it the home \(home) only with --force (`usermod --home \(home) \(user)`), \(otherUser)")
            }
            var moved = account
            moved.home = home
            if let taken = Self.notAHome(moved) {
                throw TunnelError(.configuration, "user \(user) needs a home of its own, but \(home) is \(taken); give it one with `usermod --home`")
            }
            try await ExternalCommand.check("usermod", ["--home", home, user])
            changes.append(.changedHome(user, from: account.home))
            report.steps.append("changed the home of \(user) from \(account.home) to \(home) (\(why))")
            account.home = home
        }
        if !FileSystem.isDirectory(account.home) {
            // Made without following a link, and given to the account on its descriptor.
            for directory in try SafeFile.makeDirectories(account.home, mode: 0o750, owner: account.owner) {
                changes.append(.createdDirectory(directory))
            }
        }
        return account
    }

    /// Writes the key line into `~/.ssh/authorized_keys` as root without trusting anything the
    /// account controls: `.ssh` and the file are reached and read without following links
    /// (`SafeFile`, home policy), must belong to the account or root (the file with one link),
    /// and the new file is a random temporary renamed into place, given to the account on its
    /// descriptor.
    func writeAuthorizedKeys(_ account: Account, _ report: inout Report, _ changes: inout [Change]) throws(TunnelError) {
        let sshDirectory = account.home + "/.ssh"
        for directory in try SafeFile.makeDirectories(sshDirectory, mode: 0o700, owner: account.owner) {
            changes.append(.createdDirectory(directory))
        }
        let path = sshDirectory + "/authorized_keys"
        let existing = try Self.readAuthorizedKeys(path, account)
        let change = try SafeFile.writeIfChanged(path, Array(line.merged(into: existing).utf8), mode: 0o600,
                                                 owner: account.owner, policy: .home(of: account.owner))
        report.steps.append("\(path): \(change.rawValue) (\(line.key.type.rawValue) \(line.key.fingerprint) \(line.key.comment))")
    }

    /// The account's authorized_keys as text ("" when missing), read by `SafeFile`'s rules for a
    /// file another account controls.
    static func readAuthorizedKeys(_ path: String, _ account: Account) throws(TunnelError) -> String {
        let bytes = try SafeFile.read(path, owners: [account.uid], policy: .home(of: account.owner), limit: 1 << 20)
        return bytes.map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    func grantDeviceAccess(_ account: Account, _ report: inout Report, _ changes: inout [Change]) async throws(TunnelError) {
        try Self.checkDevicePath(device)
        var st = stat()
        guard stat(device, &st) == 0, (st.st_mode & S_IFMT) == S_IFCHR else {
            throw TunnelError(.configuration,
                              "\(device) is not a character device on this host; is the hardware RNG driver loaded " +
                              "(`ls -l /dev/hwrng`, `cat /sys/class/misc/hw_random/rng_current`)? Pass --device for another device")
        }
        let kernelName = device.split(separator: "/").last.map(String.init) ?? "hwrng"
        let rule = """
            # Written by `entropy-tunnel keys authorize`: lets user \(user) (group \(account.groupName)) read the RNG.
            SUBSYSTEM=="misc", KERNEL=="\(kernelName)", GROUP="\(account.groupName)", MODE="0440"

            """
        let previous = try? FileSystem.readBytes(udevRule)
        let previousMode = FileSystem.mode(udevRule)
        let change = try FileSystem.writeIfChanged(udevRule, rule, mode: 0o644)
        if change != .unchanged { changes.append(.wroteFile(udevRule, previous: previous, mode: previousMode ?? 0o644)) }
        report.steps.append("\(udevRule): \(change.rawValue) (group \(account.groupName), mode 0440 at every boot)")
        if change != .unchanged, ExternalCommand.locate("udevadm") != nil {
            _ = try? await ExternalCommand.run("udevadm", ["control", "--reload-rules"])
        }
        // The same access right away, without waiting for udev to re-apply the rule.
        if st.st_gid != account.gid || st.st_mode & 0o777 != 0o440 {
            changes.append(.changedDevice(device, gid: st.st_gid, mode: st.st_mode & 0o7777))
            guard chown(device, uid_t.max, account.gid) == 0, chmod(device, 0o440) == 0 else {
                let err = errno
                throw TunnelError(.system, "cannot give group \(account.groupName) read access to \(device): \(String(cString: strerror(err)))")
            }
            report.steps.append("\(device): group \(account.groupName), mode 0440")
        } else {
            report.steps.append("\(device): already readable by group \(account.groupName)")
        }
    }

    /// Runs the forced command as the user, like sshd would (through /bin/sh, from the home
    /// directory), and returns the first `proofBytes` bytes; fails with the command's stderr.
    func proveForcedCommand(_ account: Account) async throws(TunnelError) -> [UInt8] {
        // One request on stdin: `serve` answers it after its magic line; a plain reader ignores it.
        let magic = ServeProtocol.magicLine
        let script = "printf '%s\\n' \(proofBytes) | timeout 20 runuser -u \"$1\" -- /bin/sh -c \"$2\" | head -c \(magic.count + proofBytes)"
        let result = try await ExternalCommand.run("/bin/sh", ["-c", script, "sh", user, line.forcedCommand],
                                                   workingDirectory: account.home)
        var output = result.stdoutBytes
        output = output.starts(with: magic) ? Array(output.dropFirst(magic.count)) : Array(output.prefix(proofBytes))
        guard output.count == proofBytes else {
            let stderr = result.stderr.trimmingSpaces
            throw TunnelError(.remoteCommandFailed,
                              "the forced command `\(line.forcedCommand)` run as \(user) gave \(output.count) of \(proofBytes) bytes" +
                              (stderr.isEmpty ? "" : ": \(stderr)") +
                              "; check that \(user) can read the device (`ls -l \(ShellQuote.quote(device))`) and that the command is right")
        }
        return output
    }

    /// The device's group and mode are changed by path (`chown`, `chmod`): the path must not pass
    /// through a link another user made, nor lie in a directory others can change (/tmp), where
    /// a planted link could hand another device or file to the account.
    static func checkDevicePath(_ device: String) throws(TunnelError) {
        _ = try SafeFile.isTrustedLink(device, verb: "change the group of")
        _ = try SafeFile.openParent(of: device, policy: SafeFile.Policy(createDirectories: nil), verb: "change the group of")
    }

    // MARK: - Account lookup

    /// Why `account.home` is not a home of the account's own, or nil when it is (or is missing
    /// and may be created: `useradd` without `--create-home`).
    static func notAHome(_ account: Account) -> String? {
        let home = account.home
        if home == "/nonexistent" || home == "/" || !home.hasPrefix("/") || home.split(separator: "/").contains("..") {
            return "a placeholder that must not be a real directory"
        }
        var st = stat()
        guard lstat(home, &st) == 0 else { return nil }
        if st.st_mode & S_IFMT != S_IFDIR { return "not a directory" }
        if st.st_uid != account.uid { return "a directory owned by uid \(st.st_uid), not by the user" }
        return nil
    }

    static func account(_ name: String) -> Account? {
        guard let pw = getpwnam(name) else { return nil }
        let gid = pw.pointee.pw_gid
        let groupName = getgrgid(gid).map { String(cString: $0.pointee.gr_name) } ?? name
        return Account(uid: pw.pointee.pw_uid, gid: gid, home: String(cString: pw.pointee.pw_dir),
                       shell: String(cString: pw.pointee.pw_shell), groupName: groupName)
    }

    /// The user's password field in /etc/shadow ("" when unreadable).
    static func passwordField(_ name: String) -> String {
        guard let shadow = try? FileSystem.read("/etc/shadow") else { return "" }
        for entry in shadow.split(separator: "\n") {
            let fields = entry.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count > 1, fields[0] == name { return String(fields[1]) }
        }
        return ""
    }

    /// The `sshd_config` block recommended for the account.
    public var sshdMatchBlock: String {
        (sshdDropIn ? "# installed as \(SSHDDropIn(configFile: sshdConfig, user: user).path):\n"
                    : "# /etc/ssh/sshd_config (or a file in /etc/ssh/sshd_config.d/, which --sshd-drop-in writes), then: systemctl reload ssh\n") +
            sshdMatchLines
    }

    /// sshd's limits in the Match block: one session per connection (a client opens one), and a
    /// client that stops answering is dropped after 3 x 15 s, so a dead session does not hold
    /// one of its key's `serve --max-sessions` slots for long. `ExposeAuthInfo` tells `serve`
    /// which key logged in (SSH_USER_AUTH), since ForceCommand overrides the key line's own
    /// `--client`.
    static let maxSessionsPerConnection = 1
    static let clientAliveInterval = 15
    static let clientAliveCountMax = 3

    /// The Match block itself.
    var sshdMatchLines: String {
        """
        Match User \(user)
            AuthenticationMethods publickey
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            ForceCommand \(line.command)
            ExposeAuthInfo yes
            MaxSessions \(Self.maxSessionsPerConnection)
            ClientAliveInterval \(Self.clientAliveInterval)
            ClientAliveCountMax \(Self.clientAliveCountMax)
            PermitTTY no
            AllowTcpForwarding no
            AllowStreamLocalForwarding no
            AllowAgentForwarding no
            X11Forwarding no
            PermitTunnel no
            PermitUserRC no
        """
    }
}

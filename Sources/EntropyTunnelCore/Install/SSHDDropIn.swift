/// The sshd `Match User` block of `keys authorize --sshd-drop-in`, as a file of its own in
/// `sshd_config.d/` (Debian's sshd_config includes that directory first), checked with
/// `sshd -t` before sshd is reloaded, and removed by `keys deauthorize`.
public struct SSHDDropIn: Sendable {
    /// The main sshd configuration: `sshd -t -f` checks it with the drop-in included.
    public var configFile: String
    public var user: String

    public static let defaultConfigFile = "/etc/ssh/sshd_config"

    public init(configFile: String = SSHDDropIn.defaultConfigFile, user: String) {
        self.configFile = configFile
        self.user = user
    }

    /// `DIR/sshd_config.d/entropy-tunnel-USER.conf` next to the main configuration.
    public var path: String { FileSystem.parent(of: configFile) + "/sshd_config.d/entropy-tunnel-\(user).conf" }

    /// Writes `block` as the drop-in, checks the whole configuration with `sshd -t`, and reloads
    /// sshd when it runs. A failing check restores what was there and throws with sshd's message.
    public func install(_ block: String) async throws(TunnelError) -> String {
        let previous = try? FileSystem.readBytes(path)
        let content = "# Written by `entropy-tunnel keys authorize --sshd-drop-in`; `entropy-tunnel keys deauthorize` removes it.\n" +
            block + "\n"
        try FileSystem.makeDirectories(FileSystem.parent(of: path), mode: 0o755)
        let change = try FileSystem.writeIfChanged(path, content, mode: 0o644)
        if change == .unchanged { return "\(path): unchanged" }
        let check = try await checkConfiguration()
        guard check.succeeded else {
            if let previous { _ = try? FileSystem.writeIfChanged(path, bytes: previous, mode: 0o644) } else { _ = try? FileSystem.remove(path) }
            throw TunnelError(.configuration,
                              "`sshd -t -f \(configFile)` refused the configuration with \(path): \(check.stderr.trimmingSpaces); " +
                              "the drop-in was \(previous == nil ? "removed" : "restored") and sshd left alone. " +
                              "Add the Match block by hand instead (printed below)")
        }
        return "\(path): \(change.rawValue), `sshd -t` passed" + (await reload())
    }

    /// Removes the drop-in, if there, and reloads sshd. Returns what it did, nil when there was nothing.
    public func remove() async throws(TunnelError) -> String? {
        guard try FileSystem.remove(path) else { return nil }
        return "\(path): removed" + (await reload())
    }

    func checkConfiguration() async throws(TunnelError) -> ExternalCommand.Result {
        let sshd = ExternalCommand.locate("sshd") ?? "/usr/sbin/sshd"
        return try await ExternalCommand.run(sshd, ["-t", "-f", configFile])
    }

    /// Reloads sshd, only for the machine's own configuration and only when it runs.
    func reload() async -> String {
        guard configFile == Self.defaultConfigFile, ExternalCommand.locate("systemctl") != nil else {
            return configFile == Self.defaultConfigFile ? "; reload sshd to apply it" : ""
        }
        for unit in ["ssh.service", "sshd.service"] {
            if let active = try? await ExternalCommand.run("systemctl", ["is-active", "--quiet", unit]), active.succeeded {
                let result = try? await ExternalCommand.run("systemctl", ["reload", unit])
                return result?.succeeded == true ? "; \(unit) reloaded" : "; `systemctl reload \(unit)` failed: run it by hand"
            }
        }
        return "; sshd is not running under systemd: reload it to apply"
    }
}

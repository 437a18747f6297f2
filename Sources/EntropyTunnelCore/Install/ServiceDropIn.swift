/// `entropy-tunnel.service.d/install.conf`: what the config asks of the tunnel's unit beyond its
/// template, written by `install` from the config it writes (and removed when no longer asked).
///
/// - `fifo_group`: the daemon gives the FIFO to that group (fchown), which the kernel allows an
///   unprivileged user only for a group it belongs to, and which the template's system call
///   filter (`~@privileged`, which holds @chown) refuses: the drop-in makes the group a
///   supplementary group of the service and allows `fchown` back. No capability is added: the
///   owner cannot change, nor the group to any other.
/// - `metrics_file` outside the directories the template may write (`ProtectSystem=strict`): its
///   directory as `ReadWritePaths=`.
public struct ServiceDropIn: Sendable, Equatable {
    /// Where `install` puts it.
    public static let defaultPath = "/etc/systemd/system/entropy-tunnel.service.d/install.conf"
    /// The directories the template lets the service write (`ReadWritePaths=`, `RuntimeDirectory=`,
    /// `StateDirectory=`): a metrics file below one of them needs no drop-in.
    public static let writableByTemplate = ["/var/lib/prometheus/node-exporter", "/run/entropy-tunnel", "/var/lib/entropy-tunnel"]

    /// `fifo_group` of the config, if any.
    public var fifoGroup: String?
    /// `metrics_file` of the config, if any.
    public var metricsFile: String?

    public init(fifoGroup: String?, metricsFile: String? = nil) {
        self.fifoGroup = fifoGroup
        self.metricsFile = metricsFile
    }

    /// The metrics file's directory when the template does not already let the service write it.
    var metricsDirectory: String? {
        guard let metricsFile else { return nil }
        let directory = FileSystem.parent(of: metricsFile)
        return Self.writableByTemplate.contains { directory == $0 || directory.hasPrefix($0 + "/") } ? nil : directory
    }

    /// Refuses a metrics directory the drop-in cannot name as it is: systemd splits
    /// `ReadWritePaths=` at spaces and expands `%`, and a newline would end the line.
    public func check() throws(TunnelError) {
        guard let metricsDirectory else { return }
        if metricsDirectory.unicodeScalars.contains(where: { !ShellQuote.isSafe($0) || $0 == "%" }) {
            throw TunnelError(.invalidArgument,
                              "metrics_file \(ShellQuote.quote(metricsFile ?? "")): its directory goes into the unit's ReadWritePaths=, " +
                              "so use only letters, digits and _ @ + = : , . / - in it; nothing was written")
        }
    }

    /// The drop-in's text; nil when the config asks nothing of the unit (`check()` first).
    public var text: String? {
        var lines: [String] = []
        if let fifoGroup {
            lines += ["# fifo_group: the service may give its FIFO to that group (mode 0640: its members read, never write)",
                      "# only as a member of it, and with fchown, which the template's ~@privileged filter refuses.",
                      "SupplementaryGroups=\(fifoGroup)", "SystemCallFilter=fchown"]
        }
        if let metricsDirectory, (try? check()) != nil {
            lines += ["# metrics_file: its directory, which ProtectSystem=strict makes read-only otherwise (it must also let",
                      "# the user entropy-tunnel create files: `entropy-tunnel check` says so when it does not).",
                      "ReadWritePaths=-\(metricsDirectory)"]
        }
        guard !lines.isEmpty else { return nil }
        return (["# Written by `entropy-tunnel install` from the config: what it asks of the unit beyond its template.",
                 "[Service]"] + lines).joined(separator: "\n") + "\n"
    }
}

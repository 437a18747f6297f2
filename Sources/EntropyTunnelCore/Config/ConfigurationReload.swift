/// What a reload (SIGHUP, `systemctl reload`) does with a re-read configuration: a value, tested
/// as one.
///
/// The re-read configuration is first checked as `run` checks it at start (`check`: every host
/// listed once, the private key usable, known_hosts readable); one that fails is not applied at
/// all. Then each setting's row in `Settings` says whether a reload applies it (`Setting.Reload.live`: the
/// hosts and everything about reaching them, the backoff cap, the failback interval) or whether
/// it is fixed for the life of the process (`.restart`: the sink, its FIFO and kernel schedule,
/// the connection mode and reserve, the state and metrics files, rngd, the health tests whose
/// entropy estimate the kernel sink credits, the log level) and keeps its running value until a
/// restart. Those are named, by their config-file keys, in `needsRestart`.
public struct ConfigurationReload: Sendable {
    /// The configuration to run with from now on.
    public let applied: RunConfiguration
    /// Config-file keys whose new value differs but takes a restart to apply.
    public let needsRestart: [String]
    /// Config-file keys whose new value was applied.
    public let changed: [String]

    /// Checks a re-read configuration as `run` checks its own at start; a reload that fails
    /// this changes nothing.
    public static func check(_ reread: RunConfiguration) throws(TunnelError) {
        try reread.validateForRun()
    }

    public init(running: RunConfiguration, reread: RunConfiguration) {
        var applied = running
        var changed: [String] = []
        var fixed: [String] = []
        for setting in Settings.applyOrder where setting.binding.differs(running, reread) {
            switch setting.reload {
            case .live:
                setting.binding.copy(&applied, reread)
                changed.append(setting.key)
            case .restart:
                fixed.append(setting.key)
            }
        }
        // In the table's order, whatever order they were applied in.
        let order = Settings.commandLine.map(\.key)
        func sorted(_ keys: [String]) -> [String] { order.filter(keys.contains) }
        self.applied = applied
        self.changed = sorted(changed)
        self.needsRestart = sorted(fixed)
    }
}

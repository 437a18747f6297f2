/// `install --sink rngd` beside the distribution's own rngd service.
extension Installer {
    /// The units Debian's rng-tools5 and rng-tools-debian packages ship: their rngd would run
    /// beside the one the tunnel supervises.
    public static let distroRngdUnits = ["rngd.service", "rng-tools.service", "rng-tools5.service", "rng-tools-debian.service"]

    /// What to do about one distribution rngd unit, from `systemctl is-enabled` and `is-active`. A value.
    public enum DistroRngdAction: Equatable, Sendable {
        case none
        /// Enabled or running, and not asked to disable it: say so, with the fix.
        case warn(String)
        /// Enabled or running, and asked to disable it.
        case disable(String)
    }

    /// The decision for `unit` in the states `systemctl` reported.
    public static func distroRngdAction(unit: String, enabled: String, active: String, disable: Bool) -> DistroRngdAction {
        let on = enabled == "enabled" || enabled == "enabled-runtime" || active == "active" || active == "activating"
        guard on else { return .none }
        return disable ? .disable(unit) : .warn(unit)
    }

    /// With `--sink rngd` on a machine where systemd runs: warns about (or, with
    /// `disableDistroRngd`, disables) the distribution's own rngd units.
    func handleDistroRngd(_ report: inout Report) async throws(TunnelError) {
        guard setting("sink") == "rngd", root.isEmpty, FileSystem.isDirectory(systemdDirectory),
              ExternalCommand.locate("systemctl") != nil else { return }
        for unit in Self.distroRngdUnits {
            let enabled = try await ExternalCommand.run("systemctl", ["is-enabled", unit]).stdout.trimmingSpaces
            let active = try await ExternalCommand.run("systemctl", ["is-active", unit]).stdout.trimmingSpaces
            switch Self.distroRngdAction(unit: unit, enabled: enabled, active: active, disable: disableDistroRngd) {
            case .none:
                continue
            case .warn(let unit):
                report.steps.append("warning: \(unit), the distribution's own rngd, is \(enabled == "enabled" ? "enabled" : active): " +
                                    "it runs a second rngd beside the one entropy-tunnel supervises. Disable it: run install again " +
                                    "with --disable-distro-rngd, or `systemctl disable --now \(unit)`")
            case .disable(let unit):
                try await ExternalCommand.check("systemctl", ["disable", "--now", unit])
                report.steps.append("systemctl disable --now \(unit) (the distribution's own rngd; entropy-tunnel supervises its own)")
                report.changed = true
            }
        }
    }
}

/// `entropy-tunnel.service.d/install.conf`: what the config asks of the tunnel's unit beyond its
/// template, written by `install` from the config it writes (and removed when no longer asked).
///
/// Today one thing: `fifo_group`. The daemon gives the FIFO to that group (fchown), which an
/// unprivileged user may do only for a group it belongs to; the unit keeps no CAP_CHOWN, so the
/// service user gets the group as a supplementary group of the service instead.
public struct ServiceDropIn: Sendable, Equatable {
    /// Where `install` puts it.
    public static let defaultPath = "/etc/systemd/system/entropy-tunnel.service.d/install.conf"

    /// `fifo_group` of the config, if any.
    public var fifoGroup: String?

    public init(fifoGroup: String?) {
        self.fifoGroup = fifoGroup
    }

    /// The drop-in's text; nil when the config asks nothing of the unit.
    public var text: String? {
        guard let fifoGroup else { return nil }
        return """
            # Written by `entropy-tunnel install` from the config's fifo_group: the service may give its FIFO
            # to that group (mode 0640, readable, never writable, by its members) only as a member of it.
            [Service]
            SupplementaryGroups=\(fifoGroup)

            """
    }
}

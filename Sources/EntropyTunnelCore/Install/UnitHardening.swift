/// The systemd hardening block of both units (`entropy-tunnel.service` and
/// `entropy-tunnel-seed.service`), written once: systemd has no include, so each unit carries the
/// block, made here with the few lines that differ on purpose (the tunnel connects out over IP,
/// feeds /dev/random and needs libdispatch's nice -4 thread; the seed needs no network at all).
enum UnitHardening {
    enum Unit {
        case tunnel, seed
    }

    /// One line of the block, and the units that carry it.
    private struct Line {
        var text: String
        var units: Set<Unit> = [.tunnel, .seed]
    }

    private static let lines: [Line] = [
        Line(text: "# --- Hardening ---"),
        Line(text: "# An unprivileged system user (made by `entropy-tunnel install`; it owns the private key)."),
        Line(text: "User=entropy-tunnel"),
        Line(text: "Group=entropy-tunnel"),
        Line(text: """
            # The kernel sink (or rngd, started as a child, with sink = "rngd") feeds the kernel with
            # ioctl(RNDADDENTROPY) and RNDRESEEDCRNG, which need CAP_SYS_ADMIN: the one capability kept,
            # ambient so that it survives User= and reaches rngd.
            """, units: [.tunnel]),
        Line(text: "# ioctl(RNDADDENTROPY), which credits a seed, needs CAP_SYS_ADMIN: the one capability kept.", units: [.seed]),
        Line(text: "AmbientCapabilities=CAP_SYS_ADMIN"),
        Line(text: "CapabilityBoundingSet=CAP_SYS_ADMIN"),
        Line(text: "RemoveIPC=yes"),
        Line(text: "NoNewPrivileges=yes"),
        Line(text: """
            # The Swift runtime's libdispatch asks for nice -4 for one thread of its own (setpriority); an
            # unprivileged service may lower its nice value only as far as this limit, or the kernel refuses
            # and libdispatch logs "Failed to set thread priority for worker thread ... errno=13" at every
            # start. Nice -4 and not below; no capability is needed for it.
            LimitNICE=-4
            """, units: [.tunnel]),
        Line(text: """
            # The whole file system is read-only (the config and keys in /etc/entropy-tunnel are read),
            # except /run/entropy-tunnel, /var/lib/entropy-tunnel and node_exporter's textfile directory
            # (where the README's --metrics-file goes; skipped when it does not exist).
            """, units: [.tunnel]),
        Line(text: "# The whole file system is read-only, except /var/lib/entropy-tunnel.", units: [.seed]),
        Line(text: "ProtectSystem=strict"),
        Line(text: "ReadWritePaths=-/var/lib/prometheus/node-exporter", units: [.tunnel]),
        Line(text: "ProtectHome=yes"),
        // Not in the seed unit: PrivateTmp= orders a unit after systemd-tmpfiles-setup.service,
        // which is after local-fs.target, too late for a seed whose credit should count.
        Line(text: "PrivateTmp=yes", units: [.tunnel]),
        Line(text: "# A private /dev; of the devices only /dev/random and /dev/urandom may be opened.", units: [.tunnel]),
        Line(text: "# A private /dev; of the devices only /dev/urandom may be opened.", units: [.seed]),
        Line(text: "PrivateDevices=yes"),
        Line(text: "DevicePolicy=closed"),
        Line(text: "DeviceAllow=/dev/random rw", units: [.tunnel]),
        Line(text: "DeviceAllow=/dev/urandom rw"),
        Line(text: "PrivateIPC=yes"),
        Line(text: "PrivateMounts=yes"),
        Line(text: """
            # No network at all: the seed needs none.
            PrivateNetwork=yes
            RestrictAddressFamilies=AF_UNIX
            IPAddressDeny=any
            """, units: [.seed]),
        Line(text: "ProtectKernelTunables=yes"),
        Line(text: "ProtectKernelModules=yes"),
        Line(text: "ProtectKernelLogs=yes"),
        Line(text: "ProtectControlGroups=yes"),
        Line(text: "ProtectClock=yes"),
        Line(text: "ProtectHostname=yes"),
        Line(text: "ProtectProc=invisible"),
        Line(text: """
            # Only /proc/PID: rngd's attempt at /proc/sys/kernel/random/write_wakeup_threshold (a no-op
            # since Linux 5.19) fails with a warning, which is harmless.
            """, units: [.tunnel]),
        Line(text: "ProcSubset=pid"),
        Line(text: """
            # Outgoing SSH over IPv4/IPv6; AF_UNIX for the journal, sd_notify and name resolution.
            RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
            """, units: [.tunnel]),
        Line(text: "RestrictNamespaces=yes"),
        Line(text: "RestrictRealtime=yes"),
        Line(text: "RestrictSUIDSGID=yes"),
        Line(text: "LockPersonality=yes"),
        Line(text: "MemoryDenyWriteExecute=yes"),
        Line(text: "SystemCallArchitectures=native"),
        Line(text: "SystemCallFilter=@system-service"),
        Line(text: "SystemCallFilter=~@privileged @resources"),
        Line(text: "# ...except setpriority: the Swift runtime's worker threads set their nice value with it."),
        Line(text: "SystemCallFilter=setpriority"),
        Line(text: "SystemCallErrorNumber=EPERM"),
    ]

    /// The block for `unit`, from its heading to its last line, each line ending in a newline.
    static func block(for unit: Unit) -> String {
        lines.filter { $0.units.contains(unit) }.map { $0.text + "\n" }.joined()
    }
}

/// The systemd unit `install` writes: `install/entropy-tunnel.service.in`, embedded (a test
/// checks the two are identical), with `@BINARY@` and `@CONFIG@` filled in.
public struct ServiceUnit: Sendable {
    /// The unit's name.
    public static let name = "entropy-tunnel.service"
    /// Where `install` puts it.
    public static let defaultPath = "/etc/systemd/system/entropy-tunnel.service"
    /// The system user the service runs as (`User=` in the template); it owns the private key.
    public static let user = "entropy-tunnel"
    /// Where `install` expects the binary unless told otherwise.
    public static let defaultBinary = "/usr/local/bin/entropy-tunnel"
    /// Where the Debian package (install/package.sh) puts the binary.
    public static let packagedBinary = "/usr/bin/entropy-tunnel"

    /// The binary `install` writes into the units unless told otherwise: the packaged one when
    /// `running` (the real path of the running executable) is it, else `defaultBinary`.
    public static func defaultBinary(running: String?) -> String {
        running == packagedBinary ? packagedBinary : defaultBinary
    }

    public var binary: String
    public var configPath: String

    public init(binary: String = ServiceUnit.defaultBinary, configPath: String = ConfigFile.defaultPath) {
        self.binary = binary
        self.configPath = configPath
    }

    /// The unit file's text.
    public var text: String {
        Self.template
            .replacing("@BINARY@", with: binary)
            .replacing("@CONFIG@", with: configPath)
    }

    /// The template, byte for byte as in `install/entropy-tunnel.service.in`.
    public static let template = #"""
# entropy-tunnel.service: written by `entropy-tunnel install` from install/entropy-tunnel.service.in.
# install fills in the binary and config paths of ExecStart (the template's placeholders).
# Measured: `systemd-analyze security --offline=true` exposure 1.7 (OK); `systemd-analyze verify` clean.
[Unit]
Description=entropy-tunnel: random bytes from an entropy host's hardware RNG, over SSH, into the kernel
Wants=network-online.target
After=network-online.target

[Service]
# READY=1 once the daemon runs (sink ready; never waits for a host); STATUS= one line of state.
Type=notify
NotifyAccess=main
ExecStart=@BINARY@ run --config @CONFIG@
# The Swift runtime seeds its hash tables with a blocking getrandom() when a process starts: the
# daemon would wait for the CRNG before it could feed (and credit) anything. Fixed hash seeds are
# harmless here: the daemon keys no table by what a host sends (config, errno, method names).
Environment=SWIFT_DETERMINISTIC_HASHING=1
# `systemctl reload` (SIGHUP): the daemon re-reads the config and applies the host list and
# connection settings without dropping a healthy connection; it names settings that need a restart.
# (Type=notify with ExecReload, not notify-reload: that needs systemd 253, Debian 12 has 252.)
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=1s
# Exit status 78 (EX_CONFIG) is a bad config file: restarting cannot fix it, so stop and show it.
RestartPreventExitStatus=78
# The daemon sends WATCHDOG=1 at half this interval; a hung daemon is restarted.
WatchdogSec=30s
TimeoutStopSec=15s
# SIGTERM to the daemon only: it stops rngd itself, in order (a SIGTERM to the whole group would
# reach rngd first and read as a crash). Whatever is left after TimeoutStopSec gets SIGKILL.
KillMode=mixed
# /run/entropy-tunnel: the state file, and the FIFO between the tunnel and rngd (sinks "rngd" and "fifo").
RuntimeDirectory=entropy-tunnel
# 0751: the group entropy-tunnel may read the state file (`entropy-tunnel status`, the file is
# 0640); others may only pass through to the FIFO, which is 0600, or 0640 for --fifo-group's
# readers. Kept after a stop, so `status` can say since when it is stopped.
RuntimeDirectoryMode=0751
RuntimeDirectoryPreserve=yes
# /var/lib/entropy-tunnel: the seed for the next boot, which `run` refreshes (see entropy-tunnel-seed.service).
StateDirectory=entropy-tunnel
StateDirectoryMode=0700
UMask=0077

# --- Hardening ---
# An unprivileged system user (made by `entropy-tunnel install`; it owns the private key).
User=entropy-tunnel
Group=entropy-tunnel
# The kernel sink (or rngd, started as a child, with sink = "rngd") feeds the kernel with
# ioctl(RNDADDENTROPY) and RNDRESEEDCRNG, which need CAP_SYS_ADMIN: the one capability kept,
# ambient so that it survives User= and reaches rngd.
AmbientCapabilities=CAP_SYS_ADMIN
CapabilityBoundingSet=CAP_SYS_ADMIN
RemoveIPC=yes
NoNewPrivileges=yes
# The Swift runtime's libdispatch asks for nice -4 for one thread of its own (setpriority); an
# unprivileged service may lower its nice value only as far as this limit, or the kernel refuses
# and libdispatch logs "Failed to set thread priority for worker thread ... errno=13" at every
# start. Nice -4 and not below; no capability is needed for it.
LimitNICE=-4
# The whole file system is read-only (the config and keys in /etc/entropy-tunnel are read),
# except /run/entropy-tunnel, /var/lib/entropy-tunnel and node_exporter's textfile directory
# (where the README's --metrics-file goes; skipped when it does not exist).
ProtectSystem=strict
ReadWritePaths=-/var/lib/prometheus/node-exporter
ProtectHome=yes
PrivateTmp=yes
# A private /dev; of the devices only /dev/random and /dev/urandom may be opened.
PrivateDevices=yes
DevicePolicy=closed
DeviceAllow=/dev/random rw
DeviceAllow=/dev/urandom rw
PrivateIPC=yes
PrivateMounts=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
# Only /proc/PID: rngd's attempt at /proc/sys/kernel/random/write_wakeup_threshold (a no-op
# since Linux 5.19) fails with a warning, which is harmless.
ProcSubset=pid
# Outgoing SSH over IPv4/IPv6; AF_UNIX for the journal, sd_notify and name resolution.
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
# ...except setpriority: the Swift runtime's worker threads set their nice value with it.
SystemCallFilter=setpriority
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target

"""#
}

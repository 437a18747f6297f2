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

\#(UnitHardening.block(for: .tunnel))
[Install]
WantedBy=multi-user.target

"""#
}

/// The boot-time seed unit `install` writes: `install/entropy-tunnel-seed.service.in`, embedded
/// (a test checks the two are identical), with `@BINARY@` filled in. It runs `seed load` before
/// sysinit.target and `seed save` when stopped at shutdown.
public struct SeedServiceUnit: Sendable {
    /// The unit's name.
    public static let name = "entropy-tunnel-seed.service"
    /// Where `install` puts it.
    public static let defaultPath = "/etc/systemd/system/entropy-tunnel-seed.service"

    public var binary: String

    public init(binary: String = ServiceUnit.defaultBinary) {
        self.binary = binary
    }

    /// The unit file's text.
    public var text: String {
        Self.template.replacing("@BINARY@", with: binary)
    }

    /// The template, byte for byte as in `install/entropy-tunnel-seed.service.in`.
    public static let template = #"""
# entropy-tunnel-seed.service: written by `entropy-tunnel install` from install/entropy-tunnel-seed.service.in.
# Early at boot mixes the seed saved in /var/lib/entropy-tunnel into the kernel, asking for credit
# only when it was durably deleted first, made while the kernel's CRNG was ready, and this is not a
# first boot; then saves a new one. At shutdown (ExecStop) it saves a fresh seed for the next boot.
# Measured: `systemd-analyze security --offline=true` exposure 0.8 (SAFE); `systemd-analyze verify` clean.
[Unit]
Description=entropy-tunnel: load the seed for this boot, save one for the next
DefaultDependencies=no
# The kernel counts credit only until its CRNG is ready. systemd-random-seed.service's blocking
# read starts the kernel's own jitter collection, which makes it ready 1.4-4.7 s later (measured
# under QEMU, install/vm-test.sh): so this runs before it, as soon as the root is writable and
# the state directory mounted, not after local-fs.target (about 10 s later there, when a seed is
# only mixed). Nothing here may pull in a later unit: no PrivateTmp= (it orders after
# systemd-tmpfiles-setup.service, which is after local-fs.target).
RequiresMountsFor=/var/lib/entropy-tunnel
After=systemd-remount-fs.service systemd-sysusers.service
Before=systemd-random-seed.service sysinit.target shutdown.target entropy-tunnel.service
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=@BINARY@ seed load
ExecStop=@BINARY@ seed save
# The Swift runtime seeds its hash tables with a blocking getrandom() when a process starts, which
# would wait for the CRNG (and set off the kernel's jitter collection) before the seed is loaded:
# measured under QEMU, the CRNG was then ready before the ioctl and the seed only mixed. Fixed
# hash seeds are harmless in this short process, which hashes nothing but its own options.
Environment=SWIFT_DETERMINISTIC_HASHING=1
TimeoutSec=30s
# /var/lib/entropy-tunnel: the seed, owned by the service user, mode 0700.
StateDirectory=entropy-tunnel
StateDirectoryMode=0700
UMask=0077

\#(UnitHardening.block(for: .seed))
[Install]
WantedBy=sysinit.target

"""#
}

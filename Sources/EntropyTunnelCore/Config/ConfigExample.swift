/// `install/config.toml.example`, embedded byte for byte (a test checks the two are identical): what
/// `entropy-tunnel config example` prints, and the text a new config file starts from.
public enum ConfigExample {
    public static let text = #"""
# /etc/entropy-tunnel/config.toml: settings of `entropy-tunnel run` (the entropy-tunnel.service).
#
# Every setting is optional and shown commented out with its default. Remove the leading '#'
# to change one. Options given on the command line win over this file. An unknown key or a bad
# value stops the service with a message naming this file, the line and the key:
#   journalctl -u entropy-tunnel
# After editing: systemctl reload entropy-tunnel applies the hosts and connection settings without
# dropping a healthy connection (the journal names keys that need systemctl restart entropy-tunnel).

# --- The entropy host ---------------------------------------------------------------------

# The entropy host: "HOST", "HOST:PORT" or "[IPv6]:PORT". Required (here or with --host).
# A list names fallbacks in order of preference: ["rng1.example", "rng2.example:2222"].
#host = "rng.example"

# SSH port for hosts that name none.
#port = 22

# The unprivileged user on the entropy host (`entropy-tunnel keys authorize --user` there).
#user = "entropy"

# This machine's private key: Ed25519 or ECDSA, OpenSSH format, no passphrase, mode 0600.
# Made by `entropy-tunnel keys generate`.
#identity = "/etc/entropy-tunnel/id_ed25519"

# The host's pinned key, in OpenSSH known_hosts format. Written by `entropy-tunnel keys trust`.
# A host whose key is not pinned here is refused.
#known_hosts = "/etc/entropy-tunnel/known_hosts"

# The command that streams the host's RNG. Ignored when the host's authorized_keys line forces
# a command (as `keys authorize` sets it up); change it there instead.
#remote_command = "dd if=/dev/hwrng bs=512 status=none"

# --- The connection -----------------------------------------------------------------------

# SSH channel receive window: the most the host sends ahead of use (K, M, G suffixes; 4K-64M).
# Smaller drains the host's RNG less; 64K is far above any hardware RNG's rate.
#window = "64K"

# Seconds allowed to connect, check the host key, authenticate and start the command.
#connect_timeout = 10

# Seconds between SSH keepalives while the host is silent.
#keepalive_interval = 15

# Keepalive intervals without an answer before the host counts as dead and is reconnected
# (1-1000).
#keepalive_count = 3

# Seconds a host may answer keepalives yet deliver no bytes (while the FIFO has room for them)
# before it counts as failed: a stuck RNG reader. 1-86400.
#data_timeout = 60

# Most seconds to wait between reconnection attempts (the wait doubles up to this cap).
#backoff_cap = 60

# With several hosts: seconds after which the first (preferred) host is tried again.
#failback_interval = 300

# --- Where the bytes go -------------------------------------------------------------------

# The FIFO entropy-tunnel creates (mode 0600) and keeps filled (sinks "rngd" and "fifo"). An existing FIFO must belong to
# the service's user and not be writable by others.
#fifo = "/run/entropy-tunnel/entropy.fifo"

# FIFO capacity, 4K up to /proc/sys/fs/pipe-max-size (1M by default).
#fifo_size = "64K"

# A group whose members may read (never write) the FIFO: mode 0640 instead of 0600. The FIFO's
# directory must belong to root or the service's user and be writable by nobody else.
#fifo_group = "rngd"

# Where the bytes go:
# "kernel": feed the kernel directly. Before its CRNG is ready, every byte that arrives
#   (RNDADDENTROPY, credited health_min_entropy bits per byte); after, kernel_bytes and a forced
#   reseed (RNDRESEEDCRNG) every kernel_interval seconds, nothing in between. SIGUSR1 feeds at
#   once. Needs CAP_SYS_ADMIN (the unit keeps it); without it, bytes are written to
#   /dev/urandom: mixed in, never credited, no reseed.
# "rngd": keep the FIFO filled and start and supervise rngd reading it. Note: rngd 5 (Debian 12)
#   feeds the kernel once after boot and then waits forever on kernels since 5.18.
# "fifo": only keep the FIFO filled, for a consumer you run yourself.
#sink = "kernel"

# Kernel sink: seconds between feeds once the CRNG is ready (1 to 86400), and bytes per feed
# (16 to 4096). The kernel's own hardware-RNG driver adds about 64 bytes per 60 s.
#kernel_interval = 60
#kernel_bytes = 64

# How connections are used:
# "persistent": one session, held and streamed through (the default with sinks "rngd" and "fifo").
# "on-demand": kernel sink only, its default. A small reserve of health-tested bytes is kept in
#   memory (zeroed when used) and feeds the kernel; when it falls below a quarter it is refilled in
#   one short session, and no connection is held in between: the host gives out only what is used
#   and holds no session per idle client. Failover, backoff, host-key checks and health tests apply
#   to every session. The default below depends on the sink.
#connection = "on-demand"

# On-demand connections: bytes kept in memory (1K to 1M; fills ask for whole 512-byte windows).
#reserve = "4K"

# Kernel sink: the directory of the seed for the next boot (`entropy-tunnel seed load` at boot).
#state_dir = "/var/lib/entropy-tunnel"

# The daemon's state for `entropy-tunnel status` (current host, bytes, kernel feeds, last error),
# rewritten on every event and at least every 10 s; kept at the stop, marked "running": false.
# Mode 0640. The default lies in systemd's RuntimeDirectory=entropy-tunnel.
#state_file = "/run/entropy-tunnel/state.json"

# Prometheus metrics in the text format, for node_exporter's textfile collector
# (--collector.textfile.directory): written at most every 15 s and at the stop. Off by default.
#metrics_file = "/var/lib/prometheus/node-exporter/entropy-tunnel.prom"

# The rngd program (Debian: package rng-tools5 or rng-tools-debian). Default: the first rngd
# on PATH or in /usr/sbin.
#rngd = "/usr/sbin/rngd"

# Extra arguments for rngd, added after those chosen for the installed rngd's flavour
# (rng-tools5: -f -r FIFO -d 1 -n 1).
#rngd_args = []

# --- Health tests (NIST SP 800-90B 4.4) on the received bytes -----------------------------

# Claimed min-entropy of the host's RNG in bits per byte (0.1 to 8).
#health_min_entropy = 7.0

# False-alarm probability per test (above 0, at most 2^-8 = 0.0039); 2^-40 is about 9.09e-13.
#health_alpha = 9.094947017729282e-13

# --- Logging ------------------------------------------------------------------------------

# trace, debug, info, notice, warning, error or critical. Messages go to the journal.
#log_level = "info"

"""#
}

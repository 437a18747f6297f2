#!/usr/bin/env bash
# A fleet of N clients (real `entropy-tunnel run` processes on this machine, as root, feeding this
# machine's kernel: harmless, they only mix random bytes in) against one loopback entropy host (a
# real OpenSSH sshd from the test harness, one `sshd -i` per connection), in two modes one after
# the other:
#
#   on-demand: --connection on-demand (the kernel sink's default), the host's command
#              `entropy-tunnel serve --device FIFO`;
#   dd:        --connection persistent, the host's command `dd if=FIFO bs=512` (today's fleet).
#
# The FIFO is the host's RNG: bench/counting-device.pl keeps it full and counts what readers took.
#
#   bench/fleet.sh                     (as root; N=200 DURATION=300 INTERVAL=10 BUILD=release)
#   N=20 DURATION=30 BUILD=debug bench/fleet.sh      (a quick trial)
#   MODES="on-demand" bench/fleet.sh                 (one mode only)
#
# Per mode it prints: host RNG bytes read vs bytes given to the kernels (the ratio, raw and not
# counting bytes still held in the clients' reserves at the end), peak and mean concurrent SSH
# sessions (sampled every 0.5 s), host CPU (sshd and everything under it: serve or dd) per
# client-hour, client CPU and private memory per client, p50/p99 feed delay (a feed's time minus
# its due time: the previous feed + INTERVAL, the first one due when the sink is ready), the
# slowest client's first feed after the fleet's start, and the host CPU extrapolated to 1,000 and
# 10,000 clients at INTERVAL and at the default 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}
DURATION=${DURATION:-300}
INTERVAL=${INTERVAL:-10}
BUILD=${BUILD:-release}
MODES=${MODES:-"on-demand dd"}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need perl || ! need python3 || [ ! -e /usr/include/libssh2.h ] || [ ! -x /usr/sbin/sshd ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends perl python3 openssh-server libssh2-1-dev pkg-config >/dev/null
fi
if [ "$BUILD" = release ]; then
    echo "== building (release, static Swift runtime)"
    swift build -c release --static-swift-stdlib 2>&1 | tail -1
    BIN=$(swift build -c release --static-swift-stdlib --show-bin-path)
else
    echo "== building (debug)"
    swift build 2>&1 | tail -1
    BIN=$(swift build --show-bin-path)
fi
ET=$BIN/entropy-tunnel
ulimit -n 65536 2>/dev/null || true

WORK=$(mktemp -d /tmp/entropy-tunnel-fleet.XXXXXX)
chmod 755 "$WORK"
PIDS=()
CLIENTS=()
cleanup() {
    for pid in "${CLIENTS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

HZ=$(getconf CLK_TCK)
# CPU ticks of PID's live processes below it and of those it reaped (cutime + cstime), not its own.
subtree_ticks() {
    local root=$1 total pid
    # Fields after the ")" that ends the command name (which may hold spaces): utime is the 12th.
    total=$(sed 's/.*) //' "/proc/$root/stat" | awk '{print $14 + $15}')
    local queue=("$root") next
    while [ ${#queue[@]} -gt 0 ]; do
        next=()
        for pid in "${queue[@]}"; do
            for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
                total=$((total + $(sed 's/.*) //' "/proc/$child/stat" 2>/dev/null | awk '{print $12 + $13 + $14 + $15}' || echo 0)))
                next+=("$child")
            done
        done
        queue=("${next[@]}")
    done
    echo "$total"
}

run_mode() {  # MODE
    local mode=$1 dir="$WORK/$mode"
    mkdir -p "$dir"
    echo
    echo "== $mode: $N clients, --kernel-interval $INTERVAL, $DURATION s (build $BUILD)"
    "$BIN/entropy-tunnel-testhost" --command 'eval "$SSH_ORIGINAL_COMMAND"' --dir "$dir/host" --env "$dir/host.env" &
    local host=$!
    PIDS+=("$host")
    for _ in $(seq 100); do [ -s "$dir/host.env" ] && break; sleep 0.1; done
    # shellcheck disable=SC1090
    . "$dir/host.env"
    cp bench/counting-device.pl "$DIR/"; chmod 644 "$DIR/counting-device.pl"
    mkdir -p "$DIR/shared" && chown "$HOST_USER" "$DIR/shared"
    perl "$DIR/counting-device.pl" "$DIR/shared/device.fifo" "$DIR/shared/device.count" &
    local device=$!
    PIDS+=("$device")
    for _ in $(seq 50); do [ -p "$DIR/shared/device.fifo" ] && break; sleep 0.1; done
    local remote connection
    if [ "$mode" = on-demand ]; then
        # All clients here share one key: lift the per-key rate and session cap of serve.
        remote="$ET serve --device $DIR/shared/device.fifo --rate 1M/s --max-sessions 1000"; connection=on-demand
    else
        remote="dd if=$DIR/shared/device.fifo bs=512 status=none"; connection=persistent
    fi
    local host_start
    host_start=$(subtree_ticks "$host")
    # The session sampler: direct children of the harness are the sshd -i sessions.
    ( while :; do echo "$(date +%s.%N) $(wc -w < <(cat /proc/"$host"/task/*/children))"; sleep 0.5; done ) > "$dir/sessions.txt" &
    local sampler=$!
    PIDS+=("$sampler")
    date +%s.%N > "$dir/start"
    CLIENTS=()
    for i in $(seq "$N"); do
        mkdir -p "$dir/c$i"
        "$ET" run --host "127.0.0.1:$PORT" --user "$HOST_USER" --identity "$IDENTITY" --known-hosts "$KNOWN_HOSTS" \
            --remote-command "$remote" --connection "$connection" --sink kernel --kernel-interval "$INTERVAL" \
            --state-file "$dir/c$i/state.json" --state-dir "$dir/c$i/seed" --metrics-file "$dir/c$i/metrics.prom" \
            --log-level debug 2>"$dir/c$i/log" &
        CLIENTS+=($!)
    done
    sleep "$DURATION"
    # Client CPU and private memory, before the stop.
    : > "$dir/clients.txt"
    for pid in "${CLIENTS[@]}"; do
        echo "$(sed 's/.*) //' /proc/"$pid"/stat 2>/dev/null | awk '{print $12 + $13}' || echo -1) $(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s + 0}' /proc/"$pid"/smaps_rollup 2>/dev/null || echo -1)" >> "$dir/clients.txt"
    done
    local host_end
    host_end=$(subtree_ticks "$host")
    kill -TERM "$sampler" 2>/dev/null || true
    for pid in "${CLIENTS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${CLIENTS[@]}"; do wait "$pid" 2>/dev/null || true; done
    CLIENTS=()
    sleep 0.3  # the counting device writes its counter every 100 ms
    cat "$DIR/shared/device.count" > "$dir/host.read"
    echo $((host_end - host_start)) > "$dir/host.ticks"
    kill -TERM "$host" "$device" 2>/dev/null || true
    wait "$host" 2>/dev/null || true; wait "$device" 2>/dev/null || true
    python3 - "$dir" "$mode" "$N" "$DURATION" "$INTERVAL" "$HZ" <<'PY'
import datetime, glob, json, os, sys
d, mode, n, duration, interval, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
start = float(open(f"{d}/start").read())
def ts(line):
    t = line.split(" ", 1)[0].rstrip("Z")
    return datetime.datetime.fromisoformat(t).replace(tzinfo=datetime.timezone.utc).timestamp()
delays, firsts, feeds, reserve_left, fills, sessions_opened, missing, seeds = [], [], 0, 0, 0, 0, 0, 0
for i in range(1, n + 1):
    ready, last, first = None, None, None
    for line in open(f"{d}/c{i}/log", errors="replace"):
        if "kernel sink ready" in line: ready = ts(line)
        elif "first kernel feed" in line or " kernel feed " in line.replace("debug: kernel feed", " kernel feed "):
            if "kernel feed" not in line: continue
            t = ts(line)
            feeds += 1
            if first is None:
                first = t
                if ready is not None: delays.append(t - ready)
            elif last is not None:
                delays.append(t - (last + interval))
            last = t
    if first is None: missing += 1
    else: firsts.append(first - start); seeds += 1  # the seed refresh takes 32 stream bytes at the first feed, then hourly
    try:
        state = json.load(open(f"{d}/c{i}/state.json"))
        r = state.get("reserve") or {}
        reserve_left += r.get("level", 0); fills += r.get("fills", 0); sessions_opened += state.get("connections", 0)
    except Exception: pass
given = feeds * 64
read = int(open(f"{d}/host.read").read().strip() or 0)
samples = [int(l.split()[1]) for l in open(f"{d}/sessions.txt") if len(l.split()) == 2]
cpu = [tuple(map(int, l.split())) for l in open(f"{d}/clients.txt")]
cpu = [c for c in cpu if c[0] >= 0]
host_s = int(open(f"{d}/host.ticks").read()) / hz
per_client_hour = host_s / (n * duration / 3600)
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] if xs else float("nan")
print(f"   host RNG read {read} B, given to kernels {given} B ({feeds} feeds x 64): ratio {read / max(given, 1):.3f} raw;"
      f" {(read - reserve_left) / max(given, 1):.3f} not counting {reserve_left} B still in reserves;"
      f" {(read - reserve_left - 32 * seeds) / max(given, 1):.3f} not counting those nor the seed refreshes ({seeds} x 32 B)"
      f" (over-drain {(read - given) / n / 1024:.2f} KiB per client)")
print(f"   sessions opened {sessions_opened} ({fills} completed fills); concurrent SSH sessions: peak {max(samples, default=0)},"
      f" mean {sum(samples) / max(len(samples), 1):.2f} ({100 * sum(samples) / max(len(samples), 1) / n:.2f} % of clients)")
print(f"   host CPU (sshd + {'serve' if mode == 'on-demand' else 'dd'}): {host_s:.1f} s over {duration:.0f} s,"
      f" {per_client_hour:.2f} CPU-s per client-hour")
print(f"   client CPU {sum(c[0] for c in cpu) / hz / max(len(cpu), 1):.2f} s each over the run;"
      f" private memory {sum(c[1] for c in cpu) / max(len(cpu), 1) / 1024:.1f} MiB each")
print(f"   feed delay p50 {pct(delays, 50) * 1000:.0f} ms, p99 {pct(delays, 99) * 1000:.0f} ms ({len(delays)} feeds);"
      f" first feed after the fleet's start: slowest {max(firsts, default=float('nan')):.1f} s, {missing} clients without one")
# Extrapolation. on-demand: the host works per session (a fill); in steady state a client uses
# 64 B per interval + 32 B an hour for its seed and a fill brings about 3/4 of the reserve (3K
# with the default 4K), so fills per client-hour = (64 x 3600 / interval + 32) / 3072, and
# cores = clients x fills per client-hour x host CPU-s per session / 3600. A short run is
# dominated by the first fill of every client, so the per-session cost is what is measured.
# persistent: the host pays per session-hour: cores = clients x host CPU-s per client-hour / 3600.
if mode == "on-demand":
    per_session = host_s / max(sessions_opened, 1)
    print(f"   host CPU per session (connect + serve + close): {per_session * 1000:.1f} ms ({sessions_opened} sessions)")
    for iv in (interval, 60.0):
        fills_h = (64 * 3600 / iv + 32) / 3072
        for clients in (1000, 10000):
            print(f"   {clients} clients at --kernel-interval {iv:g}: {fills_h:.2f} fills per client-hour,"
                  f" {100 * clients * fills_h * per_session / 3600:.4f} % of one core;"
                  f" {clients * fills_h / 3600 * 1:.2f} sessions opened per second")
    print("   formula: cores = clients x ((64 x 3600 / interval + 32) / 3072) x (host CPU-s per session) / 3600")
else:
    for clients in (1000, 10000):
        print(f"   {clients} clients: {100 * clients * per_client_hour / 3600:.3f} % of one core, {clients} sessions held"
              f" (about {4 * clients} processes on the host)")
    print("   formula: cores = clients x (host CPU-s per client-hour) / 3600")
PY
}

for mode in $MODES; do run_mode "$mode"; done

#!/usr/bin/env bash
# The kernel sink against rngd 5, on this machine's real kernel, in one run:
#
#   bench/kernel-sink.sh      (as root on Debian 12; installs what it needs)
#
# Against the project's loopback entropy host (a real sshd) whose reader counts what it gives
# away (bench/counting-reader.pl), for SECONDS (default 60) each:
#   A. `run --sink kernel --kernel-interval 5` under strace: RNDADDENTROPY and RNDRESEEDCRNG
#      calls (size, credit, result);
#   B. `run --sink rngd` (rngd 5 supervised on the FIFO) under strace -f: rngd's RNDADDENTROPY calls;
#   C. `run --sink kernel` with the defaults, not traced: host over-drain (bytes the host's
#      reader produced minus bytes given to the kernel), CPU over 20 s between feeds, private
#      (anonymous) memory; and the same over-drain figure for `--sink rngd` (run B's counter).
# Release build with the static Swift runtime, as installed.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${SECONDS_EACH:-60}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need strace || ! need rngd || ! need perl || [ ! -e /usr/include/libssh2.h ] || [ ! -x /usr/sbin/sshd ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends strace rng-tools5 perl openssh-server libssh2-1-dev pkg-config >/dev/null
fi
echo "== building (release, static Swift runtime)"
swift build -c release --static-swift-stdlib 2>&1 | tail -1
BIN=$(swift build -c release --static-swift-stdlib --show-bin-path)
ET=$BIN/entropy-tunnel

WORK=$(mktemp -d /tmp/entropy-tunnel-kbench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN/entropy-tunnel-testhost" --command 'eval "$SSH_ORIGINAL_COMMAND"' --dir "$WORK/host" --env "$WORK/host.env" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/host.env" ] && break; sleep 0.1; done
# shellcheck disable=SC1091
. "$WORK/host.env"
cp bench/counting-reader.pl "$DIR/counting-reader.pl"; chmod 644 "$DIR/counting-reader.pl"
mkdir -p "$DIR/shared" && chown "$HOST_USER" "$DIR/shared"
ARGS=(--host "127.0.0.1:$PORT" --user "$HOST_USER" --identity "$IDENTITY" --known-hosts "$KNOWN_HOSTS" --state-file "$WORK/state.json")

# On-CPU nanoseconds of every thread of a process (schedstat: finer than the 10 ms of /proc/PID/stat).
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%d\n", s}'; }
# Bytes given to the kernel by successful RNDADDENTROPY calls in a trace (not the 0-byte probe).
given() { grep -o 'RNDADDENTROPY, {entropy_count=[0-9]*, buf_size=[0-9]*.*) *= 0$' "$1" | sed 's/.*buf_size=\([0-9]*\).*/\1/' | awk '{s += $1} END {print s + 0}'; }
calls() { grep -c "$2" "$1" || true; }

# A: the kernel sink, every 5 s, traced from its start.
echo "== A. run --sink kernel --kernel-interval 5, $SECONDS_EACH s, strace"
strace -f -qq -e trace=ioctl -o "$WORK/a.strace" "$ET" run "${ARGS[@]}" --remote-command "perl $DIR/counting-reader.pl $DIR/shared/a.count" \
    --sink kernel --kernel-interval 5 --state-dir "$WORK/state-a" 2>"$WORK/a.log" &
STRACE_A=$!
PIDS+=($STRACE_A)
sleep "$SECONDS_EACH"
RUN_A=$(pgrep -P "$STRACE_A" | head -1)
kill -TERM "$RUN_A"; wait "$STRACE_A" || true
A_ADD=$(grep -c 'RNDADDENTROPY, {entropy_count=0, buf_size=64,.*) *= 0$' "$WORK/a.strace" || true)
A_ADD_ALL=$(grep 'RNDADDENTROPY' "$WORK/a.strace" | grep -vc 'buf_size=0' || true)
A_RESEED=$(grep -c 'RNDRESEEDCRNG) *= 0$' "$WORK/a.strace" || true)
A_RESEED_ALL=$(grep -c 'RNDRESEEDCRNG' "$WORK/a.strace" || true)
echo "   RNDADDENTROPY of 64 bytes, credit 0, returning 0: $A_ADD (of $A_ADD_ALL with data)"
echo "   RNDRESEEDCRNG returning 0: $A_RESEED (of $A_RESEED_ALL)"

# B: rngd 5 on the FIFO, the whole process tree traced.
echo "== B. run --sink rngd (rngd 5 supervised), $SECONDS_EACH s, strace -f"
strace -f -qq -e trace=ioctl -o "$WORK/b.strace" "$ET" run "${ARGS[@]}" --remote-command "perl $DIR/counting-reader.pl $DIR/shared/b.count" \
    --sink rngd --fifo "$WORK/run/b.fifo" 2>"$WORK/b.log" &
STRACE_B=$!
PIDS+=($STRACE_B)
sleep "$SECONDS_EACH"
RUN_B=$(pgrep -P "$STRACE_B" | head -1)
B_PRODUCED=$(cat "$DIR/shared/b.count" 2>/dev/null || echo 0)
kill -TERM "$RUN_B"; wait "$STRACE_B" || true
B_ADD=$(grep 'RNDADDENTROPY' "$WORK/b.strace" | grep -vc 'buf_size=0' || true)
B_GIVEN=$(given "$WORK/b.strace")
echo "   rngd's RNDADDENTROPY calls: $B_ADD ($B_GIVEN bytes)"

# C: the kernel sink with the defaults, untraced.
echo "== C. run --sink kernel (defaults: 64 bytes every 60 s), $SECONDS_EACH s"
"$ET" run "${ARGS[@]}" --remote-command "perl $DIR/counting-reader.pl $DIR/shared/c.count" --sink kernel \
    --state-dir "$WORK/state-c" --log-level debug 2>"$WORK/c.log" &
RUN_C=$!
PIDS+=($RUN_C)
for _ in $(seq 100); do grep -q 'first kernel feed' "$WORK/c.log" && break; sleep 0.1; done
sleep 5
t0=$(cpu_ns "$RUN_C"); sleep 20; t1=$(cpu_ns "$RUN_C")
sleep $((SECONDS_EACH > 25 ? SECONDS_EACH - 25 : 0))
C_PRODUCED=$(cat "$DIR/shared/c.count" 2>/dev/null || echo 0)
C_FEEDS=$(grep -c 'kernel feed' "$WORK/c.log" || true)
C_GIVEN=$((C_FEEDS * 64))
ANON=$(awk '/^Anonymous:/ {print $2}' "/proc/$RUN_C/smaps_rollup")
RSS=$(awk '/^VmRSS:/ {print $2}' "/proc/$RUN_C/status")
kill -TERM "$RUN_C"; wait "$RUN_C" || true
echo "   feeds: $C_FEEDS ($C_GIVEN bytes to the kernel)"
C_CPU=$(awk -v t=$((t1 - t0)) 'BEGIN {printf "%.4f", t / 1e9}')
echo "   CPU over 20 s between feeds: $C_CPU s"
echo "   private (anonymous) memory: $ANON KiB (RSS $RSS KiB)"

echo
echo "== results ($SECONDS_EACH s each, this machine's kernel $(uname -r))"
printf '   %-44s %s\n' "kernel sink, interval 5: RNDADDENTROPY 64 B" "$A_ADD" \
    "kernel sink, interval 5: RNDRESEEDCRNG" "$A_RESEED" \
    "rngd 5 (same run, same time): RNDADDENTROPY" "$B_ADD" \
    "kernel sink defaults: CPU per 20 s idle (s)" "$C_CPU" \
    "kernel sink defaults: private (anonymous) memory" "$ANON KiB" \
    "over-drain, kernel sink defaults (bytes)" "$((C_PRODUCED - C_GIVEN)) (produced $C_PRODUCED, given $C_GIVEN)" \
    "over-drain, rngd sink (bytes)" "$((B_PRODUCED - B_GIVEN)) (produced $B_PRODUCED, given $B_GIVEN)" \
    "ratio kernel/rngd over-drain" "$(awk -v a=$((C_PRODUCED - C_GIVEN)) -v b=$((B_PRODUCED - B_GIVEN)) 'BEGIN {if (b) printf "%.2f", a / b; else print "n/a"}')"

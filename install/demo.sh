#!/usr/bin/env bash
# entropy-tunnel demo: the main job, end to end, on this machine alone.
#
#   install/demo.sh        (as root on Debian 12; installs what it needs)
#
# 1. builds entropy-tunnel (release);
# 2. brings up a loopback entropy host: a real OpenSSH sshd on 127.0.0.1 with its own
#    unprivileged user and a restricted key whose forced command is the host's RNG reader
#    (/dev/hwrng when this machine has one, /dev/urandom standing in otherwise);
# 3. runs `entropy-tunnel run` (the default kernel sink) under strace for a few seconds with
#    --kernel-interval 2: it feeds this machine's kernel 64 bytes with RNDADDENTROPY and forces a
#    reseed with RNDRESEEDCRNG every 2 s, and takes nothing from the host in between;
# 4. runs it with --sink rngd: the tunnel fills its FIFO, starts rngd on it, and the demo reads
#    the FIFO too to show the bytes flowing; then it shows what backpressure does when nobody reads;
# 5. cleans up everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=install/prerequisites.sh
. install/prerequisites.sh

echo "== building entropy-tunnel (release)"
swift build -c release --static-swift-stdlib 2>&1 | tail -1
BIN=$(swift build -c release --static-swift-stdlib --show-bin-path)

WORK=$(mktemp -d /tmp/entropy-tunnel-demo.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# The host's user reads the RNG. /dev/hwrng is root-only by default; on a real entropy host
# `entropy-tunnel keys authorize` grants its user access. The demo does not change this
# machine's device permissions: it uses /dev/hwrng only if anyone may read it already.
RNG=/dev/urandom
if [ -c /dev/hwrng ] && [ "$(( 0$(stat -c %a /dev/hwrng) & 4 ))" -ne 0 ]; then RNG=/dev/hwrng; fi
echo "== starting a loopback entropy host (sshd on 127.0.0.1, forced command: dd if=$RNG bs=512 status=none)"
"$BIN/entropy-tunnel-testhost" --command "dd if=$RNG bs=512 status=none" --dir "$WORK/host" --env "$WORK/host.env" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/host.env" ] && break; sleep 0.1; done
# shellcheck disable=SC1091
. "$WORK/host.env"
echo "   host 127.0.0.1:$PORT, user $HOST_USER, key $IDENTITY, pinned host key in $KNOWN_HOSTS"

echo "== entropy-tunnel run --kernel-interval 2   (sink: kernel, the default), 7 s under strace"
"$BIN/entropy-tunnel" run --host "127.0.0.1:$PORT" --user "$HOST_USER" --identity "$IDENTITY" \
    --known-hosts "$KNOWN_HOSTS" --kernel-interval 2 --state-dir "$WORK/state" --state-file "$WORK/kernel.state.json" 2> "$WORK/kernel.log" &
KPID=$!
PIDS+=("$KPID")
for _ in $(seq 100); do grep -q "kernel sink ready" "$WORK/kernel.log" && break; sleep 0.05; done
strace -f -qq -e trace=ioctl -o "$WORK/kernel.strace" -p "$KPID" &
SPID=$!
PIDS+=("$SPID")
sleep 7
kill -TERM "$SPID"; wait "$SPID" 2>/dev/null || true
kill -TERM "$KPID"; wait "$KPID" && echo "   (stopped cleanly on SIGTERM, exit 0)"
echo "   what reached the kernel (strace; 64 bytes and a reseed per interval, credit 0 once the CRNG is ready):"
grep -E 'RND(ADDENTROPY|RESEEDCRNG)' "$WORK/kernel.strace" | sed -E 's/buf="[^"]*"(\.\.\.)?/buf=.../; s/^[0-9]+ +/   /'
echo "   its log:"
sed 's/^/   /' "$WORK/kernel.log"

FIFO=$WORK/run/entropy.fifo
echo "== entropy-tunnel run --sink rngd --fifo $FIFO   (rngd started once the FIFO holds bytes)"
"$BIN/entropy-tunnel" run --host "127.0.0.1:$PORT" --user "$HOST_USER" --identity "$IDENTITY" \
    --known-hosts "$KNOWN_HOSTS" --sink rngd --fifo "$FIFO" --state-file "$WORK/run.state.json" 2> "$WORK/run.log" &
RUNPID=$!
PIDS+=("$RUNPID")
for _ in $(seq 100); do [ -p "$FIFO" ] && break; sleep 0.05; done
exec 3< "$FIFO"
for _ in $(seq 100); do grep -q "rngd started" "$WORK/run.log" && break; sleep 0.05; done
echo "   $(grep -o 'rngd started.*' "$WORK/run.log" | head -1)   (rngd reads the FIFO and feeds the kernel)"
echo "   first 32 bytes from the FIFO:"
head -c 32 <&3 | od -An -tx1 | sed 's/^/   /'
for i in 1 2 3; do
    start=$(date +%s%N)
    n=$(head -c $((4 << 20)) <&3 | wc -c)
    end=$(date +%s%N)
    echo "   read $n bytes in $(( (end - start) / 1000000 )) ms"
    if [ "$n" -ne $((4 << 20)) ]; then echo "error: the tunnel stopped; its log:" >&2; cat "$WORK/run.log" >&2; exit 1; fi
done
echo "== nobody reads now (rngd 5 takes one 2.5 KB block, then waits on the kernel): the FIFO fills,"
echo "   entropy-tunnel stops reading the channel,"
echo "   the SSH window closes and the host's reader blocks (see bench/bench.sh for the numbers)"
sleep 2
DD=$(pgrep -u "$HOST_USER" -x dd | head -1 || true)
if [ -n "$DD" ]; then
    echo "   host reader dd (pid $DD) is blocked in: $(cat "/proc/$DD/wchan" 2>/dev/null || echo '?') (a write to a full pipe)"
fi
echo "   entropy-tunnel CPU time so far: $(awk '{printf "%.2f s", ($14 + $15) / 100}' "/proc/$RUNPID/stat"), still running: $(kill -0 "$RUNPID" 2>/dev/null && echo yes || echo no)"
exec 3<&-
echo "== the tunnel's log"
sed 's/^/   /' "$WORK/run.log"
kill -TERM "$RUNPID"
wait "$RUNPID" && echo "== entropy-tunnel stopped cleanly on SIGTERM (exit 0)"

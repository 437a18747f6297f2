#!/usr/bin/env bash
# entropy-tunnel benchmarks, against the OpenSSH client in the same run, on loopback.
#
#   bench/bench.sh            (as root on Debian 12; installs what it needs)
#
# Brings up the project's loopback entropy host (a real sshd, throwaway keys) and measures:
#   1. throughput, CPU seconds and peak RSS of `entropy-tunnel fetch --window 2M` vs (interleaved runs)
#      `ssh -c aes128-ctr -m hmac-sha2-256 host 'head -c N /dev/zero'` (OpenSSH's window is 2 MiB);
#   2. time from process start to first byte, median of 10, vs OpenSSH;
#   3. over-drain of `run` with default settings vs the OpenSSH pipeline `ssh host CMD > fifo`,
#      with a consumer that reads 1 MiB and stops: bytes the host's reader produced minus bytes
#      consumed, once the producer has stalled;
#   4. idle cost of `run` with a full FIFO for IDLE_SECONDS (default 60): CPU seconds, peak RSS.
# Prints each figure and the ratios. Release build, statically linked Swift runtime, as installed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BYTES=${BENCH_BYTES:-$((512 << 20))}
RUNS=${BENCH_RUNS:-5}
IDLE_SECONDS=${IDLE_SECONDS:-60}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need sshd && [ ! -x /usr/sbin/sshd ] || ! need perl || [ ! -x /usr/bin/time ] || ! need pkg-config || [ ! -e /usr/include/libssh2.h ]; then
    apt-get update -qq && apt-get install -y -qq openssh-server openssh-client libssh2-1-dev pkg-config perl time >/dev/null
fi

echo "== building (release, static Swift runtime)"
swift build -c release --static-swift-stdlib 2>&1 | tail -1
BIN=$(swift build -c release --static-swift-stdlib --show-bin-path)
ET=$BIN/entropy-tunnel

WORK=$(mktemp -d /tmp/entropy-tunnel-bench.XXXXXX)
chmod 755 "$WORK"
HOSTPID=
cleanup() {
    for pid in ${RUNPID:-} ${SSHPID:-} $HOSTPID; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# The host runs whatever the client asks (both clients send the same command).
"$BIN/entropy-tunnel-testhost" --command 'eval "$SSH_ORIGINAL_COMMAND"' --dir "$WORK/host" --env "$WORK/host.env" &
HOSTPID=$!
for _ in $(seq 100); do [ -s "$WORK/host.env" ] && break; sleep 0.1; done
# shellcheck disable=SC1091
. "$WORK/host.env"
cp bench/counting-reader.pl "$DIR/counting-reader.pl"; chmod 644 "$DIR/counting-reader.pl"
mkdir -p "$DIR/shared" && chown "$HOST_USER" "$DIR/shared"

ETARGS=(--host "127.0.0.1:$PORT" --user "$HOST_USER" --identity "$IDENTITY" --known-hosts "$KNOWN_HOSTS")
SSHARGS=(-T -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KNOWN_HOSTS" -o IdentitiesOnly=yes
         -o ControlMaster=no -o ControlPath=none -F /dev/null -i "$IDENTITY" -p "$PORT" -c aes128-ctr -m hmac-sha2-256 "$HOST_USER@127.0.0.1")

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.6f\n", (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }

echo
echo "== 1. throughput: $((BYTES >> 20)) MiB, $RUNS runs each, interleaved; medians (wall s, user+sys CPU s, peak RSS KiB)"
run_once() {  # label, command...: appends "wall cpu rss" to $WORK/label.runs
    local label=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/time" "$@" > /dev/null
    read -r wall user sys rss < "$WORK/time"
    echo "$wall $(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}') $rss" >> "$WORK/$label.runs"
}
summarize() {  # label: prints the medians and stores them in $WORK/label.result
    local label=$1 w c r
    w=$(awk '{print $1}' "$WORK/$label.runs" | median); c=$(awk '{print $2}' "$WORK/$label.runs" | median); r=$(awk '{print $3}' "$WORK/$label.runs" | median)
    printf '%-16s wall %8.3f s  %8.1f MB/s  cpu %6.3f s  rss %7d KiB   (walls: %s)\n' "$label" "$w" "$(awk -v b="$BYTES" -v w="$w" 'BEGIN{print b/w/1e6}')" "$c" "$r" "$(awk '{printf "%s ", $1}' "$WORK/$label.runs")"
    echo "$w $c $r" > "$WORK/$label.result"
}
# Alternating the two clients spreads whatever else the machine does over both.
for _ in $(seq "$RUNS"); do
    # Zeros are not RNG output: the health tests are off for this measurement of raw transport.
    run_once entropy-tunnel "$ET" fetch "${ETARGS[@]}" --window 2M --no-health-tests --remote-command "head -c $BYTES /dev/zero" --bytes "$BYTES" --output -
    run_once openssh ssh "${SSHARGS[@]}" "head -c $BYTES /dev/zero"
done
summarize entropy-tunnel
summarize openssh
read -r ETW ETC ETR < "$WORK/entropy-tunnel.result"
read -r OSW OSC OSR < "$WORK/openssh.result"
echo "throughput ratio entropy-tunnel/openssh: $(ratio "$OSW" "$ETW")x   cpu ratio: $(ratio "$ETC" "$OSC")x   rss ratio: $(ratio "$ETR" "$OSR")x"
echo
echo "== 2. time from process start to first byte, median of 10 (one 512-byte block of /dev/urandom; entropy-tunnel health-tests it first)"
ttfb() {  # command...: prints seconds from start until the first byte has been read
    local start end
    start=$(date +%s%N)
    "$@" 2>/dev/null | { head -c 1 > /dev/null; date +%s%N > "$WORK/first"; cat > /dev/null; }
    end=$(cat "$WORK/first")
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.6f\n", (e - s) / 1e9 }'
}
BLOCK="dd if=/dev/urandom bs=512 count=1 status=none"
for _ in $(seq 10); do ttfb "$ET" fetch "${ETARGS[@]}" --remote-command "$BLOCK" --bytes 1 --output -; done > "$WORK/ttfb-et"
for _ in $(seq 10); do ttfb ssh "${SSHARGS[@]}" "$BLOCK"; done > "$WORK/ttfb-ssh"
ETT=$(median < "$WORK/ttfb-et"); OST=$(median < "$WORK/ttfb-ssh")
printf 'entropy-tunnel   %.1f ms\nopenssh          %.1f ms\n' "$(awk -v t="$ETT" 'BEGIN{print t*1000}')" "$(awk -v t="$OST" 'BEGIN{print t*1000}')"
echo "time-to-first-byte ratio entropy-tunnel/openssh: $(ratio "$ETT" "$OST")x"

echo
echo "== 3. over-drain with a consumer that reads 1 MiB and stops (defaults: --window 64K, --fifo-size 64K;"
echo "   --sink fifo so that the benchmark is the only consumer)"
wait_stall() {  # counter file: waits until it has not changed for 2 s (30 s at most)
    local last=-1 same=0
    for _ in $(seq 300); do
        local now; now=$(cat "$1" 2>/dev/null || echo 0)
        if [ "$now" = "$last" ]; then same=$((same + 1)); else same=0; last=$now; fi
        [ "$same" -ge 20 ] && break
        sleep 0.1
    done
    echo "$last"
}
overdrain() {  # label, fifo, counter
    local consumed=$((1 << 20)) produced
    exec 3< "$2"
    head -c "$consumed" <&3 > /dev/null
    produced=$(wait_stall "$3")
    exec 3<&-
    echo "$1 produced $produced consumed $consumed over-drain $((produced - consumed))"
    echo $((produced - consumed)) > "$WORK/$1.overdrain"
}
FIFO1=$WORK/et.fifo
"$ET" run "${ETARGS[@]}" --state-file "$WORK/state.json" --sink fifo --fifo "$FIFO1" --remote-command "perl $DIR/counting-reader.pl $DIR/shared/et-count" 2> "$WORK/run.log" &
RUNPID=$!
for _ in $(seq 100); do [ -p "$FIFO1" ] && break; sleep 0.05; done
overdrain entropy-tunnel "$FIFO1" "$DIR/shared/et-count"
kill "$RUNPID"; wait "$RUNPID" || true; RUNPID=

FIFO2=$WORK/ssh.fifo
mkfifo "$FIFO2"
ssh "${SSHARGS[@]}" "perl $DIR/counting-reader.pl $DIR/shared/ssh-count" > "$FIFO2" 2>/dev/null &
SSHPID=$!
overdrain openssh "$FIFO2" "$DIR/shared/ssh-count"
kill "$SSHPID" 2>/dev/null; wait "$SSHPID" 2>/dev/null || true; SSHPID=
ETO=$(cat "$WORK/entropy-tunnel.overdrain"); OSO=$(cat "$WORK/openssh.overdrain")
printf 'entropy-tunnel   %8d bytes (%.1f KiB)\nopenssh pipeline %8d bytes (%.1f KiB)\n' "$ETO" "$(awk -v b="$ETO" 'BEGIN{print b/1024}')" "$OSO" "$(awk -v b="$OSO" 'BEGIN{print b/1024}')"
echo "over-drain ratio entropy-tunnel/openssh: $(ratio "$ETO" "$OSO")"

echo
echo "== 4. idle cost of run with a full FIFO, ${IDLE_SECONDS} s (default keepalive 15 s)"
FIFO3=$WORK/idle.fifo
"$ET" run "${ETARGS[@]}" --state-file "$WORK/state.json" --sink fifo --fifo "$FIFO3" --remote-command "cat /dev/urandom" 2> "$WORK/idle.log" &
RUNPID=$!
for _ in $(seq 100); do [ -p "$FIFO3" ] && grep -q connected "$WORK/idle.log" && break; sleep 0.05; done
sleep 2   # let the FIFO and the window fill: from here on nothing is consumed
ticks() { awk '{print $14 + $15}' "/proc/$RUNPID/stat"; }
T0=$(ticks)
sleep "$IDLE_SECONDS"
T1=$(ticks)
HZ=$(getconf CLK_TCK)
IDLECPU=$(awk -v a="$T0" -v b="$T1" -v hz="$HZ" 'BEGIN{printf "%.3f", (b - a) / hz}')
HWM=$(awk '/VmHWM/ {print $2}' "/proc/$RUNPID/status")
kill "$RUNPID"; wait "$RUNPID" || true; RUNPID=
echo "idle CPU over ${IDLE_SECONDS} s: ${IDLECPU} s   peak RSS: ${HWM} KiB ($(awk -v k="$HWM" 'BEGIN{printf "%.1f", k/1024}') MiB)"

echo
echo "== summary"
echo "throughput  entropy-tunnel/openssh = $(ratio "$OSW" "$ETW")x (target >= 0.9)"
echo "first byte  entropy-tunnel/openssh = $(ratio "$ETT" "$OST")x (target <= 1.0)"
echo "over-drain  entropy-tunnel = $ETO bytes (target <= 262144), /openssh = $(ratio "$ETO" "$OSO") (target <= 0.125)"
echo "idle        cpu = ${IDLECPU} s / ${IDLE_SECONDS} s (target <= 0.1), peak RSS = ${HWM} KiB (target <= 16384)"

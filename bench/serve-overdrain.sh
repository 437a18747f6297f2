#!/usr/bin/env bash
# Over-drain per client, `entropy-tunnel serve` against a plain `dd`-like reader, kernel sink at
# the defaults (64 bytes every 60 s), persistent connection, for SECONDS_EACH (default 60) each,
# both runs at the same time against one loopback entropy host (a real sshd):
#
#   bench/serve-overdrain.sh            (as root; BUILD=debug to use the debug build)
#
#   serve: the host's forced command is `entropy-tunnel serve --device FIFO`, the FIFO fed by
#          bench/counting-device.pl, which counts what serve read from it;
#   dd:    the host's reader is bench/counting-reader.pl (512-byte writes like dd), which counts
#          what the pipe to sshd accepted.
# Over-drain = bytes the host's RNG gave up minus bytes given to the kernel (feeds x 64).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${SECONDS_EACH:-60}
BUILD=${BUILD:-release}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need perl || [ ! -e /usr/include/libssh2.h ] || [ ! -x /usr/sbin/sshd ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends perl openssh-server libssh2-1-dev pkg-config >/dev/null
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

WORK=$(mktemp -d /tmp/entropy-tunnel-sbench.XXXXXX)
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
cp bench/counting-reader.pl bench/counting-device.pl "$DIR/"; chmod 644 "$DIR"/counting-*.pl
mkdir -p "$DIR/shared" && chown "$HOST_USER" "$DIR/shared"
ARGS=(--host "127.0.0.1:$PORT" --user "$HOST_USER" --identity "$IDENTITY" --known-hosts "$KNOWN_HOSTS")

perl "$DIR/counting-device.pl" "$DIR/shared/device.fifo" "$DIR/shared/serve.count" &
PIDS+=($!)
for _ in $(seq 50); do [ -p "$DIR/shared/device.fifo" ] && break; sleep 0.1; done

echo "== kernel sink at the defaults, persistent connection, $SECONDS_EACH s: serve and dd side by side"
"$ET" run "${ARGS[@]}" --remote-command "$ET serve --device $DIR/shared/device.fifo" --sink kernel --connection persistent \
    --state-file "$WORK/serve.state.json" --state-dir "$WORK/state-serve" --log-level debug 2>"$WORK/serve.log" &
RUN_SERVE=$!
PIDS+=($RUN_SERVE)
"$ET" run "${ARGS[@]}" --remote-command "perl $DIR/counting-reader.pl $DIR/shared/dd.count" --sink kernel --connection persistent \
    --state-file "$WORK/dd.state.json" --state-dir "$WORK/state-dd" --log-level debug 2>"$WORK/dd.log" &
RUN_DD=$!
PIDS+=($RUN_DD)
sleep "$SECONDS_EACH"
sleep 0.3  # the counting device writes its counter every 100 ms
kill -TERM "$RUN_SERVE" "$RUN_DD"; wait "$RUN_SERVE" || true; wait "$RUN_DD" || true

result() {  # NAME COUNTER LOG
    local taken feeds given
    taken=$(cat "$2" 2>/dev/null || echo 0)
    feeds=$(grep -c 'kernel feed' "$3" || true)
    given=$((feeds * 64))
    printf '   %-6s host RNG gave %7d bytes, kernel got %5d (%d feeds): over-drain %7d bytes (%.1f KiB)\n' \
        "$1" "$taken" "$given" "$feeds" "$((taken - given))" "$(awk -v b=$((taken - given)) 'BEGIN {print b / 1024}')"
}
echo
echo "== results ($SECONDS_EACH s, build $BUILD)"
result serve "$DIR/shared/serve.count" "$WORK/serve.log"
result dd "$DIR/shared/dd.count" "$WORK/dd.log"

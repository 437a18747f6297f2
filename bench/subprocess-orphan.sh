#!/usr/bin/env bash
# Why rngd is not started through swift-subprocess (docs/architecture.md): on Linux,
# swift-subprocess 1.0.2 has no parent-death signal and no hook that runs in the child before
# exec, so a child outlives a parent killed with SIGKILL. This starts `sleep` through it in a
# small program, SIGKILLs that program, and reports whether the child is still alive. The same
# case for entropy-tunnel's own supervisor is the test "rngd never outlives the tunnel, even
# when the tunnel is killed with SIGKILL" (RngdDaemonTests).
set -euo pipefail
cd "$(dirname "$0")/subprocess-orphan"
swift build -c release --build-path "${BUILD_PATH:-.build}" >/dev/null
bin="$(swift build -c release --build-path "${BUILD_PATH:-.build}" --show-bin-path)/orphan"
runs="${1:-5}"
survived=0
for _ in $(seq "$runs"); do
    out="$(mktemp)"
    "$bin" >"$out" &
    parent=$!
    for _ in $(seq 100); do grep -q '^child ' "$out" && break; sleep 0.05; done
    child="$(awk '/^child /{print $2}' "$out")"
    kill -KILL "$parent"; wait "$parent" 2>/dev/null || true
    sleep 0.5   # the kernel delivers a parent-death signal at once; give it ample time
    if kill -0 "$child" 2>/dev/null; then
        survived=$((survived + 1))
        kill -KILL "$child"   # our own child: started by this script's program, ended by PID
    fi
    rm -f "$out"
done
echo "swift-subprocess 1.0.2: the child outlived its SIGKILLed parent in $survived of $runs runs"

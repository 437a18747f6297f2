#!/usr/bin/env bash
# What reading the config file costs `run`: instructions (valgrind's callgrind, which counts the
# same whatever else the machine does) and heap allocations (memcheck), with the example config
# and with every key of it set, each minus the same run without a config file. The runs end at
# the configuration check (exit 78: `--connection on-demand` with `--sink fifo`), after the file
# was read and parsed and the configuration built.
#
#   bench/config-parse.sh [BINARY] [EXAMPLE]
#
# BINARY: a static release build (default: .build-static/release/entropy-tunnel, as
# `swift build -c release --static-swift-stdlib --scratch-path .build-static` makes it; valgrind
# 3.19 cannot read the DWARF 5 of the toolchain's shared libraries, so a dynamic build does not
# run under it). It is copied and stripped for the same reason. EXAMPLE: the example config
# (default install/config.toml.example). Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY=${1:-.build-static/release/entropy-tunnel}
EXAMPLE=${2:-install/config.toml.example}
command -v valgrind >/dev/null || { echo "error: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/entropy-tunnel-config-parse.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cp "$BINARY" "$WORK/entropy-tunnel"
strip "$WORK/entropy-tunnel"
cp "$EXAMPLE" "$WORK/example.toml"
# Every key set: the example's commented-out settings with their '#' removed.
sed -E 's/^#([a-z_]+ = )/\1/' "$EXAMPLE" > "$WORK/full.toml"

measure() {  # LABEL [--config FILE]
    local label=$1; shift
    local args=(run "$@" --host h --sink fifo --connection on-demand)
    local ir allocs bytes
    # The run exits 78 on purpose: its status is not the measurement's.
    ir=$( (valgrind --tool=callgrind --callgrind-out-file=/dev/null "$WORK/entropy-tunnel" "${args[@]}" 2>&1 || true) |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    read -r allocs bytes < <( (valgrind --tool=memcheck --leak-check=no "$WORK/entropy-tunnel" "${args[@]}" 2>&1 || true) |
        sed -n 's/.*total heap usage: \([0-9,]*\) allocs, [0-9,]* frees, \([0-9,]*\) bytes allocated.*/\1 \2/p' | tr -d ,)
    echo "$label $ir $allocs $bytes"
}

read -r _ ir0 a0 b0 < <(measure none)
printf '%-28s %14s %10s %12s\n' "config" "instructions" "allocs" "bytes"
for config in example full; do
    read -r _ ir a b < <(measure "$config" --config "$WORK/$config.toml")
    printf '%-28s %14d %10d %12d\n' "$config ($(grep -c '^[a-z]' "$WORK/$config.toml") keys set)" $((ir - ir0)) $((a - a0)) $((b - b0))
done
echo "(each minus the same run without a config file: $ir0 instructions, $a0 allocations)"

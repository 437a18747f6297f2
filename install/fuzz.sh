#!/usr/bin/env bash
# Fuzzes every parser of outside input with libFuzzer + AddressSanitizer, SECONDS per target
# (default 60): config.toml, host specs, sizes, durations, health parameters, known_hosts,
# authorized_keys and public-key lines, and the serve protocol from both ends (targets:
# Fuzz/Sources/entropy-tunnel-fuzz/FuzzTarget.swift).
#
#   install/fuzz.sh [SECONDS] [TARGET...]
#
# The seed corpus in Fuzz/Corpus/TARGET is copied to a temporary directory, so a run never adds
# files to the repository. libFuzzer runs in -fork=1 mode and goes on after a crash, so one
# known bug does not end a target's run; every crashing, hanging (> 10 s) or memory-exhausting
# input is kept in .build-fuzz/artifacts/RUN/, grouped below by the error it causes, and each
# target's log is in .build-fuzz/logs/. Prints the execs/s of each target; exits 1 when any
# target found something. Run as root on Debian 12 (installs what is missing first). One
# target at a time, one fuzzing process: it keeps to one core.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PER_TARGET=${1:-60}
if [ $# -gt 0 ]; then shift; fi
case $PER_TARGET in ''|*[!0-9]*) echo "usage: install/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2;; esac

# shellcheck source=install/prerequisites.sh
. install/prerequisites.sh

SCRATCH=$ROOT/.build-fuzz
BIN=$SCRATCH/release/entropy-tunnel-fuzz
echo "== building the fuzzer (release, -sanitize=fuzzer,address)"
# Swift code gets libFuzzer's coverage and ASan from -sanitize; the C of the dependencies (swift-
# system's and CSystemShims' few C files) gets the same through -fsanitize=fuzzer-no-link.
# lld: the gold linker crashes on this link.
(cd Fuzz && swift build -c release --scratch-path "$SCRATCH" \
    -Xswiftc -sanitize=fuzzer,address \
    -Xcc -fsanitize=fuzzer-no-link,address -Xcxx -fsanitize=fuzzer-no-link,address \
    -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld)

if [ $# -gt 0 ]; then TARGETS=("$@"); else mapfile -t TARGETS < <("$BIN" --list); fi
RUN=$(date +%Y%m%d-%H%M%S)
ARTIFACTS=$SCRATCH/artifacts/$RUN
mkdir -p "$ARTIFACTS" "$SCRATCH/logs"
WORK=$(mktemp -d /tmp/entropy-tunnel-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# Leaks are not findings here: the Swift runtime's caches look like leaks to LeakSanitizer
# (install/sanitize.sh says more). Freed memory is zeroed so a use-after-free fails loudly.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:max_free_fill_size=65536:free_fill_byte=0}
# Swift's own crash backtracer reads memory that ASan flags, burying the real report; libFuzzer
# reports the crash and keeps the input anyway.
export SWIFT_BACKTRACE=enable=no

# What goes wrong when $2 is fed to target $1 again: the error, and the first frame in the
# project's own sources (Fuzz/ itself left out), e.g. "Swift runtime failure: ... at X.swift:86".
signature() {
    case $(basename "$2") in
        *timeout-*) echo "timeout (> 10 s for one input)"; return;;
        *oom-*) echo "out of memory (> 2048 MB)"; return;;
    esac
    local out what where
    out=$(timeout 60 "$BIN" "$1" "$2" 2>&1 || true)
    # The specific message first; libFuzzer's "deadly signal" line comes before it.
    what=$(grep -m1 -oE 'Assertion .* failed|Swift runtime failure: [^/]*[^/ ]|invariant violated: .*|ERROR: AddressSanitizer: [a-z-]+' <<<"$out" ||
        grep -m1 -oE 'ERROR: libFuzzer: [a-z -]+' <<<"$out" || true)
    what=$(sed "s|$ROOT/||g" <<<"$what" | cut -c1-200)
    where=$(grep -oE '/Sources/[^ ]+\.swift:[0-9]+' <<<"$out" | grep -v '/Fuzz/' | head -1 || true)
    echo "${what:-no error on replay (flaky?)}${where:+ at ${where##*/}}"
}

failed=0
summary=()
for target in "${TARGETS[@]}"; do
    corpus=$WORK/$target
    mkdir -p "$corpus"
    [ -d "Fuzz/Corpus/$target" ] && cp -R "Fuzz/Corpus/$target/." "$corpus/"
    log=$SCRATCH/logs/$target.log
    echo "== fuzzing $target for ${PER_TARGET}s (log: ${log#"$ROOT"/})"
    status=0
    "$BIN" "$target" "$corpus" \
        -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$ARTIFACTS/$target-" >"$log" 2>&1 || status=$?
    # Fork mode's progress lines: "#RUNS: cov: ... time: SECONDSs job: N".
    last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1 || true)
    runs=$(sed -n 's/^#\([0-9]*\):.*/\1/p' <<<"$last")
    seconds=$(sed -n 's/.* time: \([0-9]*\)s.*/\1/p' <<<"$last")
    execs="?"
    if [ -n "$runs" ] && [ "${seconds:-0}" -gt 0 ]; then execs=$((runs / seconds)); fi
    mapfile -t found < <(find "$ARTIFACTS" -maxdepth 1 -name "$target-*" -type f | sort)
    if [ "${#found[@]}" -eq 0 ] && [ "$status" -eq 0 ]; then
        summary+=("$(printf '%-15s %7s exec/s %9s runs  no finding' "$target" "$execs" "${runs:-?}")")
        continue
    fi
    failed=1
    summary+=("$(printf '%-15s %7s exec/s %9s runs  FINDINGS: %d input(s), libFuzzer exit %d' \
        "$target" "$execs" "${runs:-?}" "${#found[@]}" "$status")")
    # Group the inputs by the error they cause (the first 20 inputs are replayed).
    declare -A count=() example=()
    for input in "${found[@]:0:20}"; do
        sig=$(signature "$target" "$input")
        count[$sig]=$(( ${count[$sig]:-0} + 1 ))
        example[$sig]=${example[$sig]:-${input#"$ROOT"/}}
    done
    for sig in "${!count[@]}"; do
        summary+=("    ${count[$sig]}x $sig"$'\n'"       e.g. ${example[$sig]}")
    done
    unset count example
done

echo "== results (${PER_TARGET}s per target)"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
    echo "fuzzing found problems: replay one with SWIFT_BACKTRACE=enable=no $BIN TARGET FILE" >&2
    exit 1
fi

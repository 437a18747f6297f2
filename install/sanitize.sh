#!/usr/bin/env bash
# Runs the whole test suite under AddressSanitizer against the build that ships (-c release):
# Swift frees objects after their last use only with optimization, so lifetime bugs around C
# handles (libssh2 sessions) show up in release builds, not in debug ones.
#
#   install/sanitize.sh [extra `swift test` arguments, e.g. --filter TunnelRefusalTests]
#   SANITIZE_LEAKS=1 install/sanitize.sh ...   # also LeakSanitizer, see below
#
# Run as root on Debian 12 (installs what is missing first, like install/test.sh). The build
# goes to .build-asan, apart from the normal .build; the integration tests run the
# instrumented entropy-tunnel binary from there, so the child processes are checked too.
#
# ASAN_OPTIONS:
# - max_free_fill_size=65536:free_fill_byte=0 zero freed memory. libssh2 is not instrumented,
#   so ASan cannot see it touch freed memory; without the fill, the stale contents in ASan's
#   quarantine let a use-after-free inside libssh2 "work". Zeroed, it crashes at once.
# - detect_leaks=0 by default. LeakSanitizer does work on Swift programs here (checked with
#   Swift 6.3 on Debian 12), but the test process itself is reported at exit (XCTest's suite
#   objects and Foundation.Process's weak-reference side tables), and a leak report turns a
#   process's exit status into 1. SANITIZE_LEAKS=1 turns LeakSanitizer on with allocations made
#   inside libXCTest and libFoundation suppressed, to look for leaks of our own. (TOMLKit, which
#   leaked on every config parse, is gone: the config parser is the project's own.)
#
# Timing bounds that are figures of the release build (an rngd restart within 1 s, ...) are
# checked at three times their value here (`figureBound` in
# Tests/IntegrationTests/Support/Support.swift): the instrumented test process forks and runs
# several times slower, and this run looks for memory errors; install/test.sh checks the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=install/prerequisites.sh
. install/prerequisites.sh

SCRATCH=.build-asan
# shellcheck source=install/test-run.sh
. install/test-run.sh
use_run_tmpdir entropy-tunnel-asan
if [ "${SANITIZE_LEAKS:-0}" = 1 ]; then
    suppressions=$RUN_TMP/lsan-suppressions
    # Allocations made inside the XCTest runner and Foundation (Process).
    printf '%s\n' 'leak:libXCTest.so' 'leak:libFoundation.so' >"$suppressions"
    export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$suppressions:print_suppressions=0}
    leaks=1
else
    leaks=0
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-max_free_fill_size=65536:free_fill_byte=0:detect_leaks=$leaks}
# Swift's crash backtracer reads memory ASan flags; let ASan's own report stand.
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no}

# The tests use no `@testable import`, so the build is the release build as it ships, plus ASan.
FLAGS=(-c release --sanitize=address --scratch-path "$SCRATCH")
echo "== building (release, AddressSanitizer, in $SCRATCH)"
swift build --build-tests "${FLAGS[@]}"
echo "== testing (ASAN_OPTIONS=$ASAN_OPTIONS)"
run_tests "${FLAGS[@]}" --skip-build "$@"

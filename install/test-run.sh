# Sourced by install/test.sh and install/sanitize.sh: what both do around `swift test`.
# shellcheck shell=bash

# use_run_tmpdir NAME: the run's temporary files go to a directory of its own, removed at the
# end: `swift build` and `swift test` leave a few /tmp/TemporaryDirectory.* behind each time,
# and the tests' own scratch directories are removed when the test process exits. 0755: the
# harness's test users must reach into it. Sets RUN_TMP and TMPDIR.
use_run_tmpdir() {
    RUN_TMP=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 755 "$RUN_TMP"
    trap 'rm -rf "$RUN_TMP"' EXIT
    export TMPDIR=$RUN_TMP
}

# run_tests SWIFT-TEST-ARGUMENTS...: `swift test`, its whole output going by as it comes; a
# failed run repeats its failures at the end (the issues recorded, with the first lines of
# their messages), so they are not lost in the scroll. Returns swift test's status.
run_tests() {
    local log=$RUN_TMP/test.log status=0
    swift test "$@" 2>&1 | tee "$log" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "== failed (exit $status): the issues recorded, first lines of each"
        awk '/recorded an issue|✘ |Fatal error|Exited with|signal code/ { n = 12 }
             n > 0 { print; n-- }' "$log" | cut -c1-400 | head -n 80 || true
    fi
    return "$status"
}

#!/usr/bin/env bash
# Runs the whole entropy-tunnel test suite against the build that ships (-c release): unit
# tests, and integration tests against a real OpenSSH sshd, real FIFOs, a real rngd and a real
# systemd, all on loopback or in namespaces the tests create; the hostile-input suite runs the
# release binary against hostile hosts, hostile local users and careless admins. Run as root on
# Debian 12; installs what is missing first.
#
# Swift frees objects earlier with -O than in debug builds, so a suite that only ran debug
# builds would hide use-after-free crashes: this one builds and tests release only. For a quick
# loop while developing, `swift build --build-tests && swift test --skip-build` works too.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=install/prerequisites.sh
. install/prerequisites.sh
# The run's temporary files go to a directory of its own, removed at the end: `swift build`
# and `swift test` leave a few /tmp/TemporaryDirectory.* behind each time, and the tests' own
# scratch directories are removed when the test process exits. 0755: the harness's test users
# must reach into it.
RUN_TMP=$(mktemp -d /tmp/entropy-tunnel-run.XXXXXX)
chmod 755 "$RUN_TMP"
trap 'rm -rf "$RUN_TMP"' EXIT
export TMPDIR=$RUN_TMP
echo "== building (release)"
swift build -c release --build-tests
echo "== testing (release)"
# The whole output goes by as it comes; a failed run repeats its failures at the end (the
# issues recorded, with the first lines of their messages), so they are not lost in the scroll.
LOG=$RUN_TMP/test.log
status=0
swift test -c release --skip-build 2>&1 | tee "$LOG" || status=$?
if [ "$status" -ne 0 ]; then
    echo "== failed (exit $status): the issues recorded, first lines of each"
    awk '/recorded an issue|✘ |Fatal error|Exited with|signal code/ { n = 12 }
         n > 0 { print; n-- }' "$LOG" | cut -c1-400 | head -n 80
fi
exit "$status"

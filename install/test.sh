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
# shellcheck source=install/test-run.sh
. install/test-run.sh
use_run_tmpdir entropy-tunnel-run
echo "== building (release)"
swift build -c release --build-tests
echo "== testing (release)"
run_tests -c release --skip-build

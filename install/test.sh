#!/usr/bin/env bash
# Runs the whole entropy-tunnel test suite: unit tests, and integration tests against a real
# OpenSSH sshd, real FIFOs, a real rngd and a real systemd, all on loopback or in namespaces
# the tests create. Run as root on Debian 12; installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=install/prerequisites.sh
. install/prerequisites.sh
echo "== building"
swift build --build-tests
echo "== testing"
swift test 2>&1

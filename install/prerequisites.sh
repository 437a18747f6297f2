#!/usr/bin/env bash
# Installs, on Debian 12 as root, the system packages entropy-tunnel needs to build and to be
# tested: libssh2's headers, OpenSSH (the harness's sshd and the benchmark's client), rngd,
# and the tools the tests and benchmarks drive. Installs only what is missing. Sourced or run.
set -euo pipefail
PACKAGES=(libssh2-1-dev pkg-config openssh-server openssh-client rng-tools5 systemd strace perl procps iproute2 util-linux bsdutils passwd time man-db groff-base python3-prometheus-client python3-paramiko dpkg-dev binutils)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # openssh-server's maintainer scripts try to start sshd; we never use the system's sshd.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v swift >/dev/null 2>&1; then
    for d in /opt/swift/usr/bin /usr/share/swift/usr/bin; do [ -x "$d/swift" ] && export PATH="$d:$PATH"; done
fi
command -v swift >/dev/null 2>&1 || {
    echo "error: the Swift 6 toolchain is not installed (swift not on PATH); install Swift 6.x from swift.org, then rerun" >&2
    exit 1
}

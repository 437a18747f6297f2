#!/usr/bin/env bash
# The package proven on a booting VM: a fresh, minimal Debian 12 (Debian's 6.1 kernel, systemd as
# PID 1) under QEMU with software emulation (TCG; this machine's nested KVM does not start a
# guest), booted with `random.trust_cpu=off random.trust_bootloader=off` and no virtio-rng, so
# the kernel's CRNG gets ready as on a fresh VM or a small board. Run as root on Debian 12; it
# installs what it needs (qemu-system-x86, debootstrap, socat). .ci/run runs it after test.sh.
#
#   install/vm-test.sh          (ENTROPY_TUNNEL_DEB=PATH: test that .deb instead of building one;
#                                KEEP=1: keep the work directory, disks and logs, for a look)
#   install/vm-test.sh --prepare   only install the tools and make the cached Debian root (.ci/run
#                                starts this in the background while test.sh builds)
#
# The test is the entropy host: its own sshd on loopback (entropy-tunnel-testhost) whose forced
# command is the same package's `entropy-tunnel serve`, on a /dev/urandom stand-in for /dev/hwrng.
# The guest's only network path is QEMU's user-mode stack with restrict=on and one guestfwd
# (10.0.2.100:22, "rng.example" in the guest's /etc/hosts) to that sshd. The guest runs
# install/vm/guest.sh from a 9p share, writes its results there and powers off.
#
# Boots (each bounded by a deadline; QEMU is killed by PID when it passes):
#   1. install  the README's client steps: `apt install ./entropy-tunnel_*.deb` with only the
#               package's declared dependencies available, `entropy-tunnel install --host
#               rng.example --fingerprint ...`; the host authorizes the key the guest printed;
#               healthy, `check`, the journal; the options the README and docs/setup.md show,
#               under the installed unit; an upgrade.
#   2. seed     the second boot: the seed unit's credit, before "crng init done".
#   3. compare  the same image with the units masked.
#   4. clones   an image staged with `entropy-tunnel install --root DIR --per-instance-key`,
#               booted as two clones at once: each makes its own key, both healthy once the host
#               authorized them.
# Host-side, with no terminal: `install --host A --host B --fingerprint FA --fingerprint FB`.
#
# The Debian root (debootstrap, about 3 minutes) is cached under /var/tmp/entropy-tunnel-vm
# (install/vm/image.sh). A failed step prints the guest's journal. Prints the figures at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
REPOSITORY=$PWD
STARTED=$(date +%s.%N)
# shellcheck source=install/vm/image.sh
. install/vm/image.sh

BOOT_TIMEOUT=${BOOT_TIMEOUT:-480}
INSTALL_BOOT_TIMEOUT=${INSTALL_BOOT_TIMEOUT:-900}
MEMORY=${VM_MEMORY:-1024}

since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }'; }
say() { echo "== [$(since "$STARTED") s] $*"; }

PREPARE=0
case ${1:-} in
    --prepare) PREPARE=1 ;;
    "") ;;
    *) echo "usage: install/vm-test.sh [--prepare]" >&2; exit 2 ;;
esac

# --- tools ---------------------------------------------------------------------------------
missing=()
for p in qemu-system-x86 debootstrap socat e2fsprogs dpkg-dev openssh-client; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing: ${missing[*]}"
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" > /dev/null
fi

if [ "$PREPARE" = 1 ]; then
    say "the Debian 12 root (cached)"
    say "   $(vm_base_root)"
    exit 0
fi

WORK=$(mktemp -d /var/tmp/entropy-tunnel-vmtest.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ]; then echo "kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# --- the package and the host side ---------------------------------------------------------
DEB=${ENTROPY_TUNNEL_DEB:-}
if [ -z "$DEB" ]; then
    say "building the package (install/package.sh)"
    DEB=$(install/package.sh 2> "$WORK/package.log" | tail -n 1) || { tail -n 40 "$WORK/package.log"; exit 1; }
fi
[ -f "$DEB" ] || { echo "error: no package at '$DEB'" >&2; exit 1; }
say "package: $DEB"
dpkg-deb -x "$DEB" "$WORK/pkg"
BIN=$WORK/pkg/usr/bin/entropy-tunnel
mkdir -p "$WORK/share/deb" "$WORK/share/repo" "$WORK/share/out"
cp "$DEB" "$WORK/share/deb/"

TESTHOST=${ENTROPY_TUNNEL_TESTHOST:-}
for candidate in .build-static/release/entropy-tunnel-testhost .build/release/entropy-tunnel-testhost; do
    if [ -z "$TESTHOST" ] && [ -x "$candidate" ]; then TESTHOST=$REPOSITORY/$candidate; fi
done
if [ -z "$TESTHOST" ]; then
    say "building the harness's entropy host (entropy-tunnel-testhost)"
    swift build -c release --product entropy-tunnel-testhost > "$WORK/testhost-build.log" 2>&1 || { tail -n 30 "$WORK/testhost-build.log"; exit 1; }
    TESTHOST=$REPOSITORY/.build/release/entropy-tunnel-testhost
fi

# The host's RNG: a /dev/urandom stand-in readable by the harness's user (the existing tests' way).
mknod -m 0444 "$WORK/hwrng" c 1 9
start_host() { # DIR ENVFILE
    "$TESTHOST" --command "$BIN serve --device $WORK/hwrng" --dir "$1" --env "$2" > "$1.log" 2>&1 &
    PIDS+=($!)
    local i
    for i in $(seq 200); do [ -s "$2" ] && return 0; sleep 0.1; done
    echo "error: the harness's sshd did not start: $(cat "$1.log")" >&2
    return 1
}
start_host "$WORK/host" "$WORK/host.env"
# shellcheck disable=SC1091
. "$WORK/host.env"
FINGERPRINT=$(ssh-keygen -lf "$WORK/host/ssh_host_key.pub" | cut -d ' ' -f 2)
HOST_KEY=$(cut -d ' ' -f 1,2 "$WORK/host/ssh_host_key.pub")
say "entropy host: 127.0.0.1:$PORT (user $HOST_USER, $FINGERPRINT), forced command: $BIN serve"

# --- several hosts, no terminal (host side, below a scratch root) ---------------------------
say "install --host A --host B --fingerprint FA --fingerprint FB, no terminal"
start_host "$WORK/host-b" "$WORK/host-b.env"
PORT_B=$(sed -n 's/^PORT=//p' "$WORK/host-b.env")
FINGERPRINT_B=$(ssh-keygen -lf "$WORK/host-b/ssh_host_key.pub" | cut -d ' ' -f 2)
multi() { # ROOT FB
    setsid "$BIN" install --host "127.0.0.1:$PORT" --host "127.0.0.1:$PORT_B" --fingerprint "$FINGERPRINT" --fingerprint "$2" \
        --root "$1" < /dev/null > "$1.out" 2>&1
}
mkdir -p "$WORK/multi-ok" "$WORK/multi-wrong"
MULTI_OK=0; multi "$WORK/multi-ok" "$FINGERPRINT_B" || MULTI_OK=$?
MULTI_PINS=$(grep -c . "$WORK/multi-ok/etc/entropy-tunnel/known_hosts" 2>/dev/null || echo 0)
MULTI_WRONG=0; multi "$WORK/multi-wrong" "$FINGERPRINT" || MULTI_WRONG=$?
MULTI_WRONG_FILES=$(find "$WORK/multi-wrong" -mindepth 1 | wc -l)

# --- the image -----------------------------------------------------------------------------
say "the Debian 12 root (cached)"
BASE=$(vm_base_root)
KERNEL=$(ls "$BASE"/boot/vmlinuz-* | sort -V | tail -n 1)
INITRD=$(ls "$BASE"/boot/initrd.img-* | sort -V | tail -n 1)

say "the guest's apt repository: the package's dependencies as apt resolves them for this image"
# apt with the image's dpkg status instead of this machine's: it downloads exactly what the
# package's Depends pull into the image (and, for the README's step, rng-tools5).
image_apt_download() { # DIR PACKAGES...
    local dir=$1
    shift
    mkdir -p "$dir/partial"
    apt-get install -y -qq --download-only --no-install-recommends -o Debug::NoLocking=1 \
        -o Dir::State::status="$BASE/var/lib/dpkg/status" -o Dir::Cache::archives="$dir/" "$@" > "$WORK/apt-download.log" 2>&1 \
        || { tail -n 20 "$WORK/apt-download.log"; return 1; }
    rm -rf "$dir/partial" "$dir/lock"
}
image_apt_download "$WORK/debs" "$DEB"
cp "$WORK"/debs/*.deb "$WORK/share/repo/"
image_apt_download "$WORK/share/repo" rng-tools5
(cd "$WORK/share/repo" && dpkg-scanpackages --multiversion . /dev/null > Packages 2> /dev/null)
DEPENDENCY_DEBS=$(cd "$WORK/debs" && ls ./*.deb | sed 's|^\./||; s|_.*||' | tr '\n' ' ')
say "   the package's dependencies missing from the image: $DEPENDENCY_DEBS"

make_disk() { # ROOTDIR IMAGE
    rm -f "$2"
    mkfs.ext4 -q -F -L root -d "$1" "$2" 3G
}

# --- booting -------------------------------------------------------------------------------
# boot NAME DISK SHARE: QEMU in the background; its PID in QEMU_PID[NAME].
declare -A QEMU_PID=()
boot() {
    local name=$1 disk=$2 share=$3
    cp install/vm/guest.sh "$share/guest.sh"
    printf '#!/bin/sh\nexec /bin/bash /mnt/share/guest.sh\n' > "$share/step.sh"
    qemu-system-x86_64 -name "et-$name" -accel tcg -cpu max -smp 1 -m "$MEMORY" \
        -nodefaults -no-user-config -display none -no-reboot \
        -serial "file:$WORK/$name.console" \
        -kernel "$KERNEL" -initrd "$INITRD" \
        -append "root=/dev/vda rw console=ttyS0 random.trust_cpu=off random.trust_bootloader=off" \
        -drive "file=$disk,format=raw,if=virtio" \
        -netdev "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:22-cmd:socat - TCP:127.0.0.1:$PORT" \
        -device virtio-net-pci,netdev=n0 \
        -virtfs "local,path=$share,mount_tag=share,security_model=none,id=fs0" \
        > "$WORK/$name.qemu.log" 2>&1 &
    QEMU_PID[$name]=$!
    PIDS+=($!)
}

# Authorizes a key the guest handed over in SHARE/out/STEP/authorized_keys_line: the line the
# guest printed (its comment fields included, e.g. the `entropy-tunnel:keys-authorize` mark),
# with this harness's binary and device instead of /usr/bin's and /dev/hwrng; the rest of the
# forced command (serve's --client KEY-ID) is kept. A line that is not a restricted key line is
# refused once (SHARE/out/STEP/refused), not on every round of the wait.
authorize() { # OUTDIR
    local out=$1 line
    line=$(head -n 1 "$out/authorized_keys_line")
    if ! printf '%s\n' "$line" | grep -Eq '^restrict,(from="[^"]*",)?command="[^"]* serve --device [^" ]+( --client SHA256:[A-Za-z0-9+/]+)?" ssh-ed25519 [A-Za-z0-9+/=]+( [A-Za-z0-9@._:-]+)*$'; then
        echo "error: the guest handed over a line that is not a restricted key line: $line" >&2
        : > "$out/refused"
        return 1
    fi
    printf '%s\n' "$line" | sed -E "s#^restrict,(from=\"[^\"]*\",)?command=\"[^\" ]* serve --device [^\" ]+#restrict,\1command=\"$BIN serve --device $WORK/hwrng#" \
        >> "$WORK/host/authorized_keys"
    date +%s.%N > "$out/authorized"
}

# Waits until every NAME's QEMU has exited (the guest powered off), authorizing handed-over keys
# meanwhile; kills a QEMU still running after SECONDS. Fails when one was killed.
await() { # SECONDS NAME:SHARE:STEP...
    local seconds=$1 deadline spec name share step running status=0
    shift
    deadline=$(awk -v t="$(date +%s)" -v s="$seconds" 'BEGIN { print t + s }')
    while :; do
        running=0
        for spec in "$@"; do
            IFS=: read -r name share step <<< "$spec"
            local out=$share/out/$step
            if [ -f "$out/authorized_keys_line" ] && [ ! -f "$out/authorized" ] && [ ! -f "$out/refused" ]; then authorize "$out" || status=1; fi
            if kill -0 "${QEMU_PID[$name]}" 2>/dev/null; then running=1; fi
        done
        [ "$running" = 0 ] && break
        if [ "$(date +%s)" -ge "$deadline" ]; then
            for spec in "$@"; do
                IFS=: read -r name share step <<< "$spec"
                if kill -0 "${QEMU_PID[$name]}" 2>/dev/null; then
                    echo "error: VM $name still running after $seconds s: killed" >&2
                    kill -KILL "${QEMU_PID[$name]}" 2>/dev/null || true
                    status=1
                fi
            done
            break
        fi
        sleep 0.5
    done
    for spec in "$@"; do
        IFS=: read -r name share step <<< "$spec"
        wait "${QEMU_PID[$name]}" 2>/dev/null || true
    done
    return "$status"
}

# The guest's results of STEP in SHARE: key=value (last wins).
value() { # SHARE STEP KEY
    awk -F= -v k="$3" '$1 == k { v = substr($0, length(k) + 2) } END { print v }' "$1/out/$2/results" 2>/dev/null
}

FAILED=0
# Shows what went wrong in a step: its FAIL lines, the end of its journal (or the console).
check_step() { # NAME SHARE STEP
    local name=$1 share=$2 step=$3 out=$2/out/$3
    if [ -f "$out/done" ] && ! grep -q '^FAIL' "$out/results" 2>/dev/null; then return 0; fi
    FAILED=1
    echo "FAILED: VM $name, step $step"
    grep '^FAIL' "$out/results" 2>/dev/null || echo "  (no results: the step did not finish)"
    if [ -s "$out/journal.txt" ]; then
        echo "--- the guest's journal (last 120 lines; $out/journal.txt) ---"
        tail -n 120 "$out/journal.txt"
    else
        echo "--- the guest's console (last 120 lines) ---"
        tail -n 120 "$WORK/$name.console" 2>/dev/null || true
    fi
    [ -f "$out/log" ] && { echo "--- the step's log ---"; cat "$out/log"; }
    return 1
}

run_step() { # NAME DISK SHARE STEP TIMEOUT
    local name=$1 disk=$2 share=$3 step=$4 timeout=$5 started
    printf 'STEP=%s\nFINGERPRINT=%s\nHOST_USER=%s\n' "$step" "$FINGERPRINT" "$HOST_USER" > "$share/vm.env"
    started=$(date +%s.%N)
    boot "$name" "$disk" "$share"
    await "$timeout" "$name:$share:$step" || true
    say "   $step: VM $name ran $(since "$started") s"
    check_step "$name" "$share" "$step"
}

say "the main image: $(du -sh "$BASE" | cut -f 1) root, 3 GB ext4 disk"
make_disk "$BASE" "$WORK/main.img"
SHARE=$WORK/share
say "boot 1 (install): apt install ./deb, entropy-tunnel install, the host authorizes, check, options, upgrade"
run_step main "$WORK/main.img" "$SHARE" install "$INSTALL_BOOT_TIMEOUT" || true
# The next boots need only that the first got through (an option that failed is reported, not fatal).
if [ -f "$SHARE/out/install/done" ] && [ "$(value "$SHARE" install install_exit)" = 0 ]; then
    say "boot 2 (seed): the seed before the kernel's CRNG is ready"
    run_step main "$WORK/main.img" "$SHARE" seed "$BOOT_TIMEOUT" || true
    say "boot 3 (compare): the same image, the units masked"
    run_step main "$WORK/main.img" "$SHARE" compare "$BOOT_TIMEOUT" || true
fi

say "a staged image: the package in a copy of the root, then entropy-tunnel install --root --per-instance-key"
STAGE=$WORK/stage
cp -a "$BASE" "$STAGE"
mkdir -p "$STAGE/tmp/debs"
cp "$WORK"/debs/*.deb "$DEB" "$STAGE/tmp/debs/"
# dpkg in the image, with /proc mounted in a mount namespace of its own (gone when it ends).
unshare --mount --propagation private sh -c "mount -t proc proc '$STAGE/proc' && chroot '$STAGE' sh -c 'dpkg -i /tmp/debs/*.deb'" \
    > "$WORK/stage-dpkg.log" 2>&1 || { tail -n 30 "$WORK/stage-dpkg.log"; exit 1; }
rm -rf "$STAGE/tmp/debs"
STAGE_INSTALL=0
setsid "$BIN" install --root "$STAGE" --host rng.example --host-key "$HOST_KEY" --user "$HOST_USER" \
    --per-instance-key --binary /usr/bin/entropy-tunnel < /dev/null > "$WORK/stage-install.txt" 2>&1 || STAGE_INSTALL=$?
[ "$STAGE_INSTALL" = 0 ] || { echo "install --root failed ($STAGE_INSTALL):"; cat "$WORK/stage-install.txt"; exit 1; }
STAGED_KEY=$( [ -e "$STAGE/etc/entropy-tunnel/id_ed25519" ] && echo present || echo none)
# Each clone gets its own machine id at its first boot (docs/setup.md's image recipe).
: > "$STAGE/etc/machine-id"
make_disk "$STAGE" "$WORK/stage.img"
rm -rf "$STAGE"
for clone in a b; do
    cp --sparse=always "$WORK/stage.img" "$WORK/clone-$clone.img"
    mkdir -p "$WORK/share-$clone/out"
    printf 'STEP=clone\nFINGERPRINT=%s\nHOST_USER=%s\n' "$FINGERPRINT" "$HOST_USER" > "$WORK/share-$clone/vm.env"
done
rm -f "$WORK/stage.img"
say "clones a and b of the staged image, booted at once"
CLONES_STARTED=$(date +%s.%N)
boot clone-a "$WORK/clone-a.img" "$WORK/share-a"
boot clone-b "$WORK/clone-b.img" "$WORK/share-b"
await "$BOOT_TIMEOUT" "clone-a:$WORK/share-a:clone" "clone-b:$WORK/share-b:clone" || true
say "   clones: ran $(since "$CLONES_STARTED") s"
check_step clone-a "$WORK/share-a" clone || true
check_step clone-b "$WORK/share-b" clone || true

# --- figures -------------------------------------------------------------------------------
S=$SHARE
v() { value "$@"; }
crng_after_seed() { # SHARE STEP: "yes" when the seed unit started before "crng init done"
    awk -v s="$(v "$1" "$2" seed_starting_s)" -v c="$(v "$1" "$2" crng_init_done_s)" \
        'BEGIN { if (s == "" || s == "none" || c == "" || c == "none") print "unknown"; else print (s + 0 < c + 0) ? "yes" : "no" }'
}
minus() { # SHARE STEP: crng init done minus root writable
    awk -v c="$(v "$1" "$2" crng_init_done_s)" -v r="$(v "$1" "$2" root_writable_s)" \
        'BEGIN { if (c == "" || r == "") print "?"; else printf "%.2f", c - r }'
}
KEY_A=$(v "$WORK/share-a" clone key_fingerprint)
KEY_B=$(v "$WORK/share-b" clone key_fingerprint)
echo
echo "== figures (install/vm-test.sh; load: $(cut -d ' ' -f 1-3 /proc/loadavg))"
cat <<EOF
README steps in the VM (boot 1)
  dependencies the package pulled in:      $DEPENDENCY_DEBS
  in the image before: openssh-client $(v "$S" install preinstalled_openssh-client), libssh2-1 $(v "$S" install preinstalled_libssh2-1)
  apt install ./deb exit:                  $(v "$S" install apt_install_exit)   Depends: $(v "$S" install depends)
  entropy-tunnel install exit:             $(v "$S" install install_exit)   its check's unit line: $(v "$S" install install_check_unit)
  healthy after the host authorized:       $(v "$S" install healthy_after_authorization_s) s   (limit 30 s)
  check: exit $(v "$S" install check_exit), failed $(v "$S" install check_failed), warnings $(v "$S" install check_warnings)
  warning lines from the units:            $(v "$S" install warnings_after_authorization) after authorization, $(v "$S" install warnings_this_boot) in the whole boot (before it: the host refusing the key)
  options under the unit:                  sink rngd $(v "$S" install option_sink_rngd), fifo group $(v "$S" install option_fifo_group) ($(v "$S" install fifo_group_reader_bytes) B read), metrics file $(v "$S" install option_metrics_file), reload $(v "$S" install option_reload), SIGUSR1 $(v "$S" install option_sigusr1)
  upgrade (apt install --reinstall):       restarted on the new binary: $(v "$S" install upgrade_restarted)
  seed unit ordering:                      After=$(v "$S" install seed_unit_after)
Seed and the kernel's CRNG (seconds since boot, from each boot's journal; under TCG)
  boot 1 (first boot, no seed yet):        root writable $(v "$S" install root_writable_s), systemd-random-seed started $(v "$S" install random_seed_started_s), crng init done $(v "$S" install crng_init_done_s), sysinit.target $(v "$S" install sysinit_reached_s)
  boot 2 (the seed):                       root writable $(v "$S" seed root_writable_s), seed unit started $(v "$S" seed seed_starting_s), crng init done $(v "$S" seed crng_init_done_s), seed logged $(v "$S" seed seed_logged_s), systemd-random-seed started $(v "$S" seed random_seed_started_s), sysinit.target $(v "$S" seed sysinit_reached_s)
                                           seed unit started before crng init done: $(crng_after_seed "$S" seed)
                                           $(head -n 1 "$S/out/seed/seed.txt" 2>/dev/null)
  boot 3 (units masked):                   root writable $(v "$S" compare root_writable_s), systemd-random-seed started $(v "$S" compare random_seed_started_s), crng init done $(v "$S" compare crng_init_done_s), sysinit.target $(v "$S" compare sysinit_reached_s)
  crng init done after the root got writable: boot 1 $(minus "$S" install) s, boot 2 $(minus "$S" seed) s, boot 3 $(minus "$S" compare) s
  boot 2: healthy at $(v "$S" seed healthy_at_boot_s) s, check exit $(v "$S" seed check_exit), warnings $(v "$S" seed warnings_this_boot), metrics file $(v "$S" seed metrics_file)
Staged image (install --root --per-instance-key; key in the image: $STAGED_KEY), two clones
  clone a: key $KEY_A ($(v "$WORK/share-a" clone key_owner)), healthy $(v "$WORK/share-a" clone healthy_after_authorization_s) s after authorization, check exit $(v "$WORK/share-a" clone check_exit), warnings after authorization $(v "$WORK/share-a" clone warnings_after_authorization)
           before authorization the line to run on the host was in: the key unit's log $(v "$WORK/share-a" clone key_unit_logs_authorize_line), status $(v "$WORK/share-a" clone status_shows_authorize_line), check $(v "$WORK/share-a" clone check_shows_authorize_line)
  clone b: key $KEY_B ($(v "$WORK/share-b" clone key_owner)), healthy $(v "$WORK/share-b" clone healthy_after_authorization_s) s after authorization, check exit $(v "$WORK/share-b" clone check_exit), warnings after authorization $(v "$WORK/share-b" clone warnings_after_authorization)
           before authorization the line to run on the host was in: the key unit's log $(v "$WORK/share-b" clone key_unit_logs_authorize_line), status $(v "$WORK/share-b" clone status_shows_authorize_line), check $(v "$WORK/share-b" clone check_shows_authorize_line)
  machine ids:                             $(v "$WORK/share-a" clone machine_id) / $(v "$WORK/share-b" clone machine_id)
  two different keys:                      $([ -n "$KEY_A" ] && [ -n "$KEY_B" ] && [ "$KEY_A" != "$KEY_B" ] && echo yes || echo NO)
Several hosts, no terminal (host side, install --root)
  --fingerprint FA --fingerprint FB:       exit $MULTI_OK, $MULTI_PINS pins
  a wrong FB:                              exit $MULTI_WRONG, $MULTI_WRONG_FILES files written
vm-test.sh wall time:                      $(since "$STARTED") s
EOF

# --- verdict -------------------------------------------------------------------------------
expect() { # DESCRIPTION CONDITION...
    local what=$1
    shift
    if ! "$@"; then echo "FAILED: $what"; FAILED=1; fi
}
num_le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 <= b + 0) }'; }
expect "apt install ./deb exits 0" [ "$(v "$S" install apt_install_exit)" = 0 ]
expect "entropy-tunnel install exits 0 with only the declared dependencies" [ "$(v "$S" install install_exit)" = 0 ]
expect "the image had no openssh-client before the package" [ "$(v "$S" install preinstalled_openssh-client)" = no ]
expect "healthy <= 30 s after the host authorized the key" num_le "$(v "$S" install healthy_after_authorization_s)" 30
expect "check: all passed" [ "$(v "$S" install check_failed)" = 0 ]
expect "install's own check shows the unit active, not failed" [ "$(v "$S" install install_check_unit)" = active ]
expect "no warning lines from the units after authorization" [ "$(v "$S" install warnings_after_authorization)" = 0 ]
expect "boot 2: the seed unit started before crng init done" [ "$(crng_after_seed "$S" seed)" = yes ]
expect "boot 2: the seed was credited (the kernel took it)" grep -q 'credited 512 bits' "$S/out/seed/seed.txt"
expect "clone a: healthy <= 30 s after authorization" num_le "$(v "$WORK/share-a" clone healthy_after_authorization_s)" 30
expect "clone b: healthy <= 30 s after authorization" num_le "$(v "$WORK/share-b" clone healthy_after_authorization_s)" 30
DIFFERENT_KEYS=$([ -n "$KEY_A" ] && [ -n "$KEY_B" ] && [ "$KEY_A" != "$KEY_B" ] && echo yes || echo no)
expect "two clones: two different client keys" [ "$DIFFERENT_KEYS" = yes ]
for clone in a b; do
    for where in key_unit_logs status_shows check_shows; do
        key=${where}_authorize_line
        expect "clone $clone: before authorization, the line to authorize its key is in: $where" [ "$(v "$WORK/share-$clone" clone "$key")" = yes ]
    done
done
expect "boot 1: the options the README shows work under the unit" [ "$(v "$S" install option_sink_rngd)$(v "$S" install option_fifo_group)$(v "$S" install option_metrics_file)$(v "$S" install option_reload)$(v "$S" install option_sigusr1)" = okokokokok ]
expect "boot 1: an upgrade restarts the tunnel on the new binary" [ "$(v "$S" install upgrade_restarted)" = yes ]
expect "several hosts without a terminal: exit 0" [ "$MULTI_OK" = 0 ]
expect "several hosts without a terminal: both pinned" [ "$MULTI_PINS" = 2 ]
expect "a wrong second fingerprint: non-zero" [ "$MULTI_WRONG" != 0 ]
expect "a wrong second fingerprint: no file written" [ "$MULTI_WRONG_FILES" = 0 ]
if [ "$FAILED" != 0 ]; then
    echo "== install/vm-test.sh FAILED after $(since "$STARTED") s"
    exit 1
fi
echo "== install/vm-test.sh passed in $(since "$STARTED") s"

#!/bin/bash
# The guest's side of install/vm-test.sh: runs in the test VM from the 9p share (mounted at
# /mnt/share by et-vm-step.service), performs the step named in /mnt/share/vm.env, writes what it
# saw to /mnt/share/out/STEP/ (results: key=value lines and FAIL: lines; logs; the journal), and
# powers the VM off. The host reads the results after QEMU exits; it never logs in.
#
# Steps:
#   install  the README's client steps, verbatim but for the host's name, fingerprint and user:
#            `apt install ./entropy-tunnel_*.deb`, `entropy-tunnel install --host rng.example
#            --fingerprint ...`; the host authorizes the key it printed; then `entropy-tunnel check`,
#            `systemctl status`, the journal; then the options the README and docs/setup.md show,
#            under the installed unit (--sink rngd, --sink fifo --fifo-group, --metrics-file,
#            systemctl reload, SIGUSR1), and an upgrade (the package installed again).
#   seed     the second boot: the seed unit's log and the kernel's "crng init done", both from
#            this boot's journal; the service healthy again; then the units are masked for:
#   compare  the same image with the units masked: when the CRNG gets ready without them.
#   clone    a machine made from an image staged with `install --root --per-instance-key`: its
#            own key made at first boot, the line to authorize it, healthy once the host did.
set -u
SHARE=/mnt/share
authorized_at=0
# shellcheck source=/dev/null
. "$SHARE/vm.env"
OUT=$SHARE/out/$STEP
mkdir -p "$OUT"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive

now() { cut -d ' ' -f 1 /proc/uptime; }
result() { echo "$1=$2" >> "$OUT/results"; }
fail() { echo "FAIL: $*" >> "$OUT/results"; echo "FAIL: $*"; }
note() { echo "== $* (uptime $(now) s)" | tee -a "$OUT/log"; }
# Seconds between two uptime readings, with millisecond precision.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# Polls `$@` until it succeeds or SECONDS pass (every 0.2 s: a poll with a deadline).
wait_for() {
    local seconds=$1 start
    shift
    start=$(now)
    while ! "$@" > /dev/null 2>&1; do
        if awk -v s="$start" -v n="$(now)" -v l="$seconds" 'BEGIN { exit !(n - s > l) }'; then return 1; fi
        sleep 0.2
    done
}

healthy() { entropy-tunnel status > /dev/null 2>&1; }

# What the journal holds for this boot, for the host (and for a failure's report).
save_journal() {
    journalctl -b -o short-monotonic --no-pager > "$OUT/journal.txt" 2>&1 || true
    dmesg > "$OUT/dmesg.txt" 2>&1 || true
    systemctl --failed --no-pager > "$OUT/failed-units.txt" 2>&1 || true
}

# The first line of stdin matching REGEX, as its journal timestamp (seconds since boot): for
# journalctl -o short-monotonic, whose lines start "[   12.345678] ".
first_time() {
    awk -v re="$1" '$0 ~ re { sub(/^\[ */, ""); sub(/\].*/, ""); print; exit }'
}

# The kernel's "crng init done", the seed unit's start and its first line, as seconds since boot.
boot_times() {
    local journal
    journal=$(journalctl -b -o short-monotonic --no-pager)
    result crng_init_done_s "$(printf '%s\n' "$journal" | first_time 'kernel: random: crng init done')"
    result seed_starting_s "$(printf '%s\n' "$journal" | first_time 'systemd\[1\]: Starting entropy-tunnel-seed.service')"
    result seed_logged_s "$(printf '%s\n' "$journal" | first_time 'entropy-tunnel\[[0-9]+\]: .*(loaded [0-9]+ bytes|no seed to load)')"
    result random_seed_started_s "$(printf '%s\n' "$journal" | first_time 'systemd\[1\]: Starting systemd-random-seed.service')"
    result root_writable_s "$(printf '%s\n' "$journal" | first_time 'systemd\[1\]: Finished systemd-remount-fs.service')"
    result sysinit_reached_s "$(printf '%s\n' "$journal" | first_time 'systemd\[1\]: Reached target sysinit.target')"
    journalctl -b -o cat --no-pager -u entropy-tunnel-seed.service | grep -v '^Starting\|^Finished\|^Stopping\|^Stopped' | head -n 3 > "$OUT/seed.txt" || true
}

# The `restrict,command=...` line printed by install or logged by the key unit, for the host.
hand_over_key_line() {
    local line
    line=$(grep -o 'restrict,command=.*' "$1" | head -n 1)
    if [ -z "$line" ]; then fail "no restrict,command= line in $1"; return 1; fi
    echo "$line" > "$OUT/authorized_keys_line.tmp"
    mv "$OUT/authorized_keys_line.tmp" "$OUT/authorized_keys_line"
}

# Waits for the host to authorize the key (it writes $OUT/authorized), then for `status` to say
# healthy; records the seconds between the two.
await_authorization_then_healthy() {
    if ! wait_for 180 test -e "$OUT/authorized"; then fail "the host did not authorize the key within 180 s"; return 1; fi
    local healthy_at
    authorized_at=$(now)
    if wait_for 120 healthy; then
        healthy_at=$(now)
        result healthy_after_authorization_s "$(elapsed "$authorized_at" "$healthy_at")"
    else
        fail "not healthy within 120 s after the host authorized the key"
        entropy-tunnel status > "$OUT/status-unhealthy.txt" 2>&1
        return 1
    fi
}

# Warning-or-worse lines from the units logged after uptime SINCE (seconds; 0 for the whole boot).
count_warnings() {
    local since=$1 file=$2
    journalctl -b -p warning -o short-monotonic --no-pager -q \
        -u entropy-tunnel.service -u entropy-tunnel-seed.service -u entropy-tunnel-key.service 2>&1 \
        | awk -v since="$since" '{ t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t); if (t + 0 > since + 0) print }' > "$file" || true
    grep -c . "$file" || true
}

step_install() {
    boot_times
    note "the image before: what is installed"
    for p in openssh-client libssh2-1 entropy-tunnel; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && result "preinstalled_$p" yes || result "preinstalled_$p" no
    done
    # The guest's only network is the entropy host: apt sees the share's repository, which holds
    # the package and what its Depends pull in (apt-get download on the host), nothing more.
    echo "deb [trusted=yes] file:$SHARE/repo ./" > /etc/apt/sources.list.d/vm-test.list
    apt-get update -q > "$OUT/apt-update.txt" 2>&1 || fail "apt-get update of the share's repository failed"

    note "README, Installing from a .deb: apt install ./entropy-tunnel_*.deb"
    cd "$SHARE/deb" || exit 1
    apt install -y ./entropy-tunnel_*.deb > "$OUT/apt-install.txt" 2>&1
    result apt_install_exit $?
    cd / || exit 1
    for p in openssh-client libssh2-1 entropy-tunnel; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && result "installed_$p" yes || result "installed_$p" no
    done
    result depends "$(dpkg-query -W -f='${Depends}' entropy-tunnel)"
    getent passwd entropy-tunnel > /dev/null && result service_user_after_dpkg yes || result service_user_after_dpkg no

    note "README: entropy-tunnel install --host rng.example --fingerprint ..."
    entropy-tunnel install --host rng.example --fingerprint "$FINGERPRINT" --user "$HOST_USER" > "$OUT/install.txt" 2>&1
    result install_exit $?
    grep -q '^✓ service entropy-tunnel.service: enabled, active' "$OUT/install.txt" && result install_check_unit active || result install_check_unit "$(grep 'service entropy-tunnel.service' "$OUT/install.txt" | head -n 1)"
    result install_check_failures "$(grep -c '^✗' "$OUT/install.txt")"
    hand_over_key_line "$OUT/install.txt" || return
    await_authorization_then_healthy || return

    note "README: entropy-tunnel check; systemctl status entropy-tunnel"
    entropy-tunnel check > "$OUT/check.txt" 2>&1
    result check_exit $?
    result check_failed "$(grep -c '^✗' "$OUT/check.txt")"
    result check_warnings "$(grep -c '^!' "$OUT/check.txt")"
    systemctl status entropy-tunnel --no-pager > "$OUT/systemctl-status.txt" 2>&1
    entropy-tunnel status > "$OUT/status.txt" 2>&1
    result status_exit $?
    result warnings_after_authorization "$(count_warnings "$authorized_at" "$OUT/warnings-after-authorization.txt")"
    result warnings_this_boot "$(count_warnings 0 "$OUT/warnings-boot.txt")"
    result seed_unit_after "$(systemctl show -p After --value entropy-tunnel-seed.service)"
    result seed_unit_before "$(systemctl show -p Before --value entropy-tunnel-seed.service)"

    options
    upgrade

    # The seed for the next boot is saved when the seed unit stops at shutdown.
    note "powering off (the seed unit saves the seed for boot 2)"
}

# The options the README and docs/setup.md show, each under the installed (hardened) unit.
options() {
    local base=(--host rng.example --fingerprint "$FINGERPRINT" --user "$HOST_USER")

    note "option: --sink rngd (rng-tools5, as the README's step 3 installs it)"
    apt-get install -y rng-tools5 > "$OUT/apt-rng-tools5.txt" 2>&1 || fail "apt-get install rng-tools5"
    entropy-tunnel install "${base[@]}" --sink rngd --disable-distro-rngd > "$OUT/install-rngd.txt" 2>&1
    result install_rngd_exit $?
    if wait_for 60 sh -c 'entropy-tunnel status | grep -q "rngd: pid [0-9]"' && wait_for 30 healthy; then
        result option_sink_rngd ok
    else
        result option_sink_rngd failed
        fail "--sink rngd: not healthy with a running rngd"
        entropy-tunnel status > "$OUT/status-rngd.txt" 2>&1
    fi

    note "option: --sink fifo --fifo-group (a reader in that group reads the FIFO)"
    groupadd --system et-readers && useradd --system --no-create-home --gid et-readers et-reader
    entropy-tunnel install "${base[@]}" --sink fifo --fifo-group et-readers > "$OUT/install-fifo.txt" 2>&1
    result install_fifo_exit $?
    local got=0
    if wait_for 60 test -p /run/entropy-tunnel/entropy.fifo; then
        got=$(timeout 30 runuser -u et-reader -- head -c 4096 /run/entropy-tunnel/entropy.fifo | wc -c)
    fi
    ls -la /run/entropy-tunnel >> "$OUT/log" 2>&1
    result fifo_group_reader_bytes "$got"
    [ "$got" = 4096 ] && result option_fifo_group ok || { result option_fifo_group failed; fail "--fifo-group: a member read $got of 4096 bytes"; }

    note "option: --metrics-file at node_exporter's textfile directory (the README's example)"
    # As Debian's prometheus-node-exporter leaves it (root's, 0755), then the README's grant.
    mkdir -p /var/lib/prometheus/node-exporter
    chgrp entropy-tunnel /var/lib/prometheus/node-exporter && chmod g+w /var/lib/prometheus/node-exporter
    entropy-tunnel install "${base[@]}" --sink kernel --metrics-file /var/lib/prometheus/node-exporter/entropy-tunnel.prom \
        > "$OUT/install-metrics.txt" 2>&1
    result install_metrics_exit $?
    if wait_for 60 grep -q '^entropy_tunnel_bytes_delivered_total' /var/lib/prometheus/node-exporter/entropy-tunnel.prom && wait_for 60 healthy; then
        result option_metrics_file ok
    else
        result option_metrics_file failed
        fail "--metrics-file: no metrics in /var/lib/prometheus/node-exporter/entropy-tunnel.prom"
    fi

    note "systemctl reload entropy-tunnel; systemctl kill -s USR1 entropy-tunnel (README)"
    local pid
    pid=$(systemctl show -p MainPID --value entropy-tunnel)
    systemctl reload entropy-tunnel && [ "$(systemctl show -p MainPID --value entropy-tunnel)" = "$pid" ] \
        && result option_reload ok || { result option_reload failed; fail "systemctl reload"; }
    systemctl kill -s USR1 entropy-tunnel
    if wait_for 20 sh -c 'journalctl -b -u entropy-tunnel -o cat | grep -q "feed requested (SIGUSR1)"'; then
        result option_sigusr1 ok
    else
        result option_sigusr1 failed
        fail "SIGUSR1: no 'feed requested' in the journal"
    fi
    wait_for 30 healthy || fail "not healthy after the options"
}

# An upgrade (the package installed again): the running tunnel must run the new binary.
upgrade() {
    note "upgrade: apt install --reinstall ./entropy-tunnel_*.deb"
    local before after
    before=$(systemctl show -p MainPID --value entropy-tunnel)
    (cd "$SHARE/deb" && apt install -y --reinstall ./entropy-tunnel_*.deb) > "$OUT/apt-reinstall.txt" 2>&1
    result reinstall_exit $?
    wait_for 30 sh -c '[ "$(systemctl show -p MainPID --value entropy-tunnel)" != 0 ]'
    after=$(systemctl show -p MainPID --value entropy-tunnel)
    local exe
    exe=$(readlink "/proc/$after/exe")
    result upgrade_exe "$exe"
    if [ "$before" != "$after" ] && [ "$exe" = /usr/bin/entropy-tunnel ]; then
        result upgrade_restarted yes
    else
        result upgrade_restarted "no (pid $before -> $after, exe $exe)"
        fail "after the reinstall the tunnel runs $exe (pid $before -> $after)"
    fi
    wait_for 60 healthy || fail "not healthy after the upgrade"
}

step_seed() {
    note "second boot: the seed and the kernel's readiness"
    boot_times
    result healthy_at_boot_s "$(wait_for 120 healthy && now || echo never)"
    entropy-tunnel check > "$OUT/check.txt" 2>&1
    result check_exit $?
    entropy-tunnel status > "$OUT/status.txt" 2>&1
    result status_exit $?
    result warnings_this_boot "$(count_warnings 0 "$OUT/warnings-boot.txt")"
    result metrics_file "$(test -s /var/lib/prometheus/node-exporter/entropy-tunnel.prom && echo present || echo missing)"
    systemd-analyze > "$OUT/systemd-analyze.txt" 2>&1 || true
    systemd-analyze critical-chain entropy-tunnel-seed.service > "$OUT/critical-chain.txt" 2>&1 || true
    note "masking the units for the comparison boot"
    systemctl mask entropy-tunnel.service entropy-tunnel-seed.service > /dev/null 2>&1
}

step_compare() {
    note "comparison boot: the same image, the units masked"
    boot_times
    result tunnel_state "$(systemctl is-active entropy-tunnel.service)"
}

step_clone() {
    note "a machine made from the staged image: its own key from the first boot"
    if ! wait_for 120 sh -c 'systemctl show -p ActiveState --value entropy-tunnel-key.service | grep -qx active'; then
        fail "entropy-tunnel-key.service did not finish"
    fi
    journalctl -b -o cat --no-pager -u entropy-tunnel-key.service > "$OUT/key-unit.txt" 2>&1
    result machine_id "$(cat /etc/machine-id)"
    result key_fingerprint "$(ssh-keygen -lf /etc/entropy-tunnel/id_ed25519.pub | cut -d ' ' -f 2)"
    result key_owner "$(stat -c '%U %a' /etc/entropy-tunnel/id_ed25519)"
    grep -q 'keys authorize --user' "$OUT/key-unit.txt" && result key_unit_logs_authorize_line yes || result key_unit_logs_authorize_line no
    # Before the host accepts the key, status (its last error) and check name it with the line
    # to run there.
    if wait_for 60 sh -c "entropy-tunnel status | grep -q \"keys authorize --user $HOST_USER --key 'ssh-ed25519\""; then
        result status_shows_authorize_line yes
    else
        result status_shows_authorize_line no
    fi
    entropy-tunnel status > "$OUT/status-before.txt" 2>&1
    entropy-tunnel check > "$OUT/check-before.txt" 2>&1
    grep -q "keys authorize --user $HOST_USER --key 'ssh-ed25519" "$OUT/check-before.txt" \
        && result check_shows_authorize_line yes || result check_shows_authorize_line no
    hand_over_key_line "$OUT/key-unit.txt" || return
    await_authorization_then_healthy || return
    entropy-tunnel check > "$OUT/check.txt" 2>&1
    result check_exit $?
    result warnings_after_authorization "$(count_warnings "$authorized_at" "$OUT/warnings-after-authorization.txt")"
    result warnings_this_boot "$(count_warnings 0 "$OUT/warnings-boot.txt")"
}

note "step $STEP"
case $STEP in
    install) step_install ;;
    seed) step_seed ;;
    compare) step_compare ;;
    clone) step_clone ;;
    *) fail "unknown step $STEP" ;;
esac
save_journal
echo done > "$OUT/done"
sync
systemctl poweroff

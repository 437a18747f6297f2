# Sourced by install/vm-test.sh: the Debian 12 root the VMs boot, made once and cached.
# shellcheck shell=bash
#
# vm_base_root: prints the path of a minimal Debian 12 root (debootstrap --variant=minbase with
# the distribution kernel), made if missing, under /var/tmp/entropy-tunnel-vm/root-KEY, KEY
# being a hash of the suite, the package list, the mirror and VM_IMAGE_VERSION (bump it when
# the setup below changes), so reruns skip the 3 minutes of debootstrap.
#
# The root gets only what a test VM needs besides what Debian installs: systemd-networkd with
# DHCP on en* (the guest's one network path is QEMU's user-mode stack), the serial console kept
# for the kernel's and systemd's messages (no getty on ttyS0), /etc/hosts naming the entropy
# host rng.example (10.0.2.100, QEMU's guestfwd), and et-vm-step.service, which mounts the 9p
# share and runs the share's step.sh. Nothing of entropy-tunnel is in it, nor libssh2, nor
# openssh-client: the package must bring what it needs.

VM_SUITE=bookworm
VM_INCLUDE=systemd-sysv,udev,kmod,iproute2,linux-image-amd64,initramfs-tools,procps
VM_IMAGE_VERSION=3
VM_CACHE=${VM_CACHE:-/var/tmp/entropy-tunnel-vm}

# The machine's own Debian mirror: the first URIs line of its deb822 sources (else sources.list).
vm_mirror() {
    local uri=""
    if [ -r /etc/apt/sources.list.d/debian.sources ]; then
        uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

vm_base_root() {
    local mirror key root
    mirror=$(vm_mirror)
    key=$(printf '%s\n' "$VM_SUITE" "$VM_INCLUDE" "$mirror" "$VM_IMAGE_VERSION" | sha256sum | cut -c1-12)
    root=$VM_CACHE/root-$key
    if [ -f "$root.done" ] && [ -d "$root" ]; then echo "$root"; return 0; fi
    mkdir -p "$VM_CACHE"
    rm -rf "$root" "$root.done"
    echo "   debootstrap $VM_SUITE from $mirror into $root (once; cached)" >&2
    local log=$VM_CACHE/debootstrap-$key.log
    if ! debootstrap --variant=minbase --include="$VM_INCLUDE" "$VM_SUITE" "$root" "$mirror" > "$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "error: debootstrap failed (log: $log)" >&2
        return 1
    fi
    vm_setup_root "$root"
    touch "$root.done"
    echo "$root"
}

vm_setup_root() {
    local root=$1
    echo et-vm > "$root/etc/hostname"
    cat > "$root/etc/hosts" <<'HOSTS'
127.0.0.1 localhost
127.0.1.1 et-vm
# The entropy host: QEMU's guestfwd to the test's sshd on the machine's loopback.
10.0.2.100 rng.example
HOSTS
    echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' > "$root/etc/fstab"
    mkdir -p "$root/etc/systemd/network" "$root/etc/systemd/system/multi-user.target.wants" \
        "$root/etc/systemd/system/sockets.target.wants" "$root/etc/systemd/system/network-online.target.wants"
    printf '[Match]\nName=en*\n\n[Network]\nDHCP=yes\n' > "$root/etc/systemd/network/20-wired.network"
    ln -sf /lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
    ln -sf /lib/systemd/system/systemd-networkd.socket "$root/etc/systemd/system/sockets.target.wants/systemd-networkd.socket"
    ln -sf /lib/systemd/system/systemd-networkd-wait-online.service \
        "$root/etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service"
    # The serial console keeps the kernel's and systemd's messages: no login prompt on it.
    ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
    ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
    # No timers doing apt or man-db work in the middle of a measured boot.
    for unit in apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer; do
        ln -sf /dev/null "$root/etc/systemd/system/$unit"
    done
    printf '9p\n9pnet_virtio\n' > "$root/etc/modules-load.d/et-vm.conf"
    cat > "$root/etc/systemd/system/et-vm-step.service" <<'UNIT'
[Unit]
Description=entropy-tunnel VM test: the step the host asked for (step.sh on the 9p share)
Wants=network-online.target
After=network-online.target multi-user.target

[Service]
Type=oneshot
ExecStartPre=/bin/mkdir -p /mnt/share
ExecStartPre=/bin/mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share /mnt/share
ExecStart=/bin/sh /mnt/share/step.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
UNIT
    ln -sf /etc/systemd/system/et-vm-step.service "$root/etc/systemd/system/multi-user.target.wants/et-vm-step.service"
    # apt in the guest sees only the share's repository (no network beyond the entropy host).
    rm -f "$root/etc/apt/sources.list"
    rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/archives/"*.deb
}

#!/usr/bin/env bash
# Builds the Debian package entropy-tunnel_VERSION_amd64.deb and prints its path as the last line.
#
#   install/package.sh [--binary PATH] [--output DIR] [--no-lintian] [--allow-unpackaged-libs]
#
# The package holds the release binary built with the Swift runtime linked in statically
# (`swift build -c release --static-swift-stdlib`, stripped) as /usr/bin/entropy-tunnel; the
# systemd units (entropy-tunnel.service and entropy-tunnel-seed.service, filled in from
# install/*.service.in as `install` fills them, for /usr/bin/entropy-tunnel and
# /etc/entropy-tunnel/config.toml) in /lib/systemd/system, neither enabled nor started: only
# `entropy-tunnel install` does that; the man pages (entropy-tunnel(1) and one per subcommand
# from swift-argument-parser's generate-manual, and entropy-tunnel.toml(5), which the binary writes
# from its table of settings);
# bash, zsh and fish completions from the binary; the service user's sysusers.d file
# (install/entropy-tunnel.sysusers, as /usr/lib/sysusers.d/entropy-tunnel.conf); the example
# config, the copyright file and the changelog. Depends is computed by dpkg-shlibdeps from the
# libraries the binary needs, plus openssh-client (`install` and `keys generate` make the
# client key with its ssh-keygen).
#
# Maintainer scripts: postinst creates the service user (systemd-sysusers), reloads systemd and,
# on an upgrade, restarts a running tunnel so that it runs the new binary; prerm stops the units
# and, on a removal, disables the ones `entropy-tunnel install` enabled (they would run a binary
# that is gone); postrm purge removes those units too while they still hold what install wrote.
# The config, keys and seed stay: `entropy-tunnel uninstall --purge` removes them.
#
# Every man page must render with 0 warnings (`man --warnings`); lintian must report 0 errors.
#
#   --binary PATH             package this binary instead of building one (the systemd test
#                             passes the release binary it runs; its version comes from it)
#   --output DIR              where the .deb goes (default: .build-package/)
#   --no-lintian              skip lintian (the systemd test: a test build is not for shipping)
#   --allow-unpackaged-libs   a needed library that no Debian package owns (the toolchain's
#                             libswiftCore.so of a binary built without --static-swift-stdlib)
#                             is a warning, not an error; such a package runs only where the
#                             toolchain is installed
#
# Run as root on Debian 12 (installs what is missing first). Builds in .build-static (the
# binary) and .build-package (the man page generator), never in .build, so it can run while
# `swift test` holds .build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BINARY=""
OUTPUT=$ROOT/.build-package
LINTIAN=1
ALLOW_UNPACKAGED=0
while [ $# -gt 0 ]; do
    case $1 in
        --binary) BINARY=$(realpath "$2"); shift 2;;
        --output) mkdir -p "$2"; OUTPUT=$(realpath "$2"); shift 2;;
        --no-lintian) LINTIAN=0; shift;;
        --allow-unpackaged-libs) ALLOW_UNPACKAGED=1; shift;;
        *) echo "usage: install/package.sh [--binary PATH] [--output DIR] [--no-lintian] [--allow-unpackaged-libs]" >&2; exit 2;;
    esac
done

# shellcheck source=install/prerequisites.sh
. install/prerequisites.sh >&2
TOOLS=(dpkg-dev binutils man-db groff-base)
[ "$LINTIAN" = 1 ] && TOOLS+=(lintian)
missing=()
for p in "${TOOLS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >&2
fi

# Every file of the package is made the same way from the same sources: dates from the last
# commit, gzip without names or times.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
DATE=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
umask 022

if [ -z "$BINARY" ]; then
    echo "== building entropy-tunnel (release, Swift runtime linked statically)" >&2
    swift build -c release --static-swift-stdlib --scratch-path .build-static --product entropy-tunnel >&2
    BINARY=$(swift build -c release --static-swift-stdlib --scratch-path .build-static --show-bin-path)/entropy-tunnel
fi
[ -x "$BINARY" ] || { echo "error: $BINARY is not an executable: build it or pass --binary PATH" >&2; exit 1; }
UPSTREAM=$("$BINARY" --version)
case $UPSTREAM in [0-9]*.[0-9]*) ;; *) echo "error: '$BINARY --version' printed '$UPSTREAM', not a version" >&2; exit 1;; esac
VERSION=$UPSTREAM-1
ARCH=$(dpkg --print-architecture)
MAINTAINER=${DEB_MAINTAINER:-"entropy-tunnel maintainers <maintainers@entropy-tunnel.example>"}

echo "== the man page generator (swift-argument-parser's generate-manual)" >&2
# The plugin (`swift package plugin generate-manual`) would build entropy-tunnel again in its
# own configuration; its tool is built here from the resolved checkout and run on $BINARY.
swift package --scratch-path .build-package/tools resolve >&2
PARSER=.build-package/tools/checkouts/swift-argument-parser
swift build --package-path "$PARSER" --scratch-path .build-package/generate-manual --product generate-manual >&2
GENERATE_MANUAL=$(swift build --package-path "$PARSER" --scratch-path .build-package/generate-manual --show-bin-path)/generate-manual

WORK=$(mktemp -d /tmp/entropy-tunnel-package.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PKG=$WORK/root
DOC=$PKG/usr/share/doc/entropy-tunnel
mkdir -p "$PKG/DEBIAN" "$PKG/usr/bin" "$PKG/lib/systemd/system" "$PKG/usr/lib/sysusers.d" "$PKG/usr/share/man/man1" "$PKG/usr/share/man/man5" \
    "$PKG/usr/share/bash-completion/completions" "$PKG/usr/share/zsh/vendor-completions" \
    "$PKG/usr/share/fish/vendor_completions.d" "$DOC/examples"

echo "== files" >&2
# The binary, stripped as dh_strip does it.
install -m 0755 "$BINARY" "$PKG/usr/bin/entropy-tunnel"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$PKG/usr/bin/entropy-tunnel"

# The units, filled in as `entropy-tunnel install --binary /usr/bin/entropy-tunnel` fills them
# (ServiceUnit and SeedServiceUnit embed these templates byte for byte; a test checks that).
for unit in entropy-tunnel.service entropy-tunnel-seed.service; do
    sed -e 's|@BINARY@|/usr/bin/entropy-tunnel|g' -e 's|@CONFIG@|/etc/entropy-tunnel/config.toml|g' \
        "install/$unit.in" > "$PKG/lib/systemd/system/$unit"
    if grep -q @ "$PKG/lib/systemd/system/$unit" && grep -n '@[A-Z_]*@' "$PKG/lib/systemd/system/$unit" >&2; then
        echo "error: install/$unit.in has a placeholder that package.sh does not fill" >&2; exit 1
    fi
done

# The service user, created by postinst (and at boot, should it be missing) from this file.
install -m 0644 install/entropy-tunnel.sysusers "$PKG/usr/lib/sysusers.d/entropy-tunnel.conf"

# Man pages: entropy-tunnel(1), one page per subcommand, and the config file's page.
mkdir -p "$WORK/man1"
"$GENERATE_MANUAL" "$BINARY" --multi-page --date "$DATE" --output-directory "$WORK/man1" >&2
# Two fixes to the generated pages. A blank line in a command's discussion (a paragraph break
# in --help) comes out as an empty line, which mdoc warns about: it is a paragraph, `.Pp`. A
# subcommand's NAME is `.Nm "entropy-tunnel run"`, which whatis/apropos cannot parse (lintian's
# bad-whatis-entry): NAME gets the page's name (entropy-tunnel.run, as `man` finds it) and the
# SYNOPSIS's bare `.Nm` keeps the command as typed.
for page in "$WORK"/man1/*.1; do
    name=$(basename "$page" .1)
    awk -v name="$name" '
        /^$/ { print ".Pp"; next }
        /^\.Nm "/ && !named { command = substr($0, 5); print ".Nm " name; named = 1; next }
        /^\.Nm$/ && command != "" { print ".Nm " command; next }
        { print }' "$page" > "$PKG/usr/share/man/man1/$name.1"
done
# The config file's page is written from the table of settings the reader and the flags use.
"$BINARY" generate-config-manual --date "$DATE" > "$PKG/usr/share/man/man5/entropy-tunnel.toml.5"
warnings=0
for page in "$PKG"/usr/share/man/man*/*; do
    # Rendered as man(1) does on an 80-column terminal, with groff's warnings on.
    out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$page" 2>&1 >/dev/null || true)
    if [ -n "$out" ]; then
        n=$(printf '%s\n' "$out" | wc -l)
        warnings=$((warnings + n))
        printf '%s: %s\n' "${page#"$PKG"}" "$out" >&2
    fi
    gzip -9n "$page"
done
pages=$(find "$PKG/usr/share/man" -name '*.gz' | wc -l)
echo "   man pages: $pages, warnings: $warnings" >&2
if [ "$warnings" -ne 0 ]; then echo "error: $warnings man warnings (above)" >&2; exit 1; fi

# Completions, from the binary itself.
# bash-completion sources the file: no #! line (lintian's bash-completion-with-hashbang).
"$BINARY" --generate-completion-script bash | sed -e '1{/^#!/d}' > "$PKG/usr/share/bash-completion/completions/entropy-tunnel"
"$BINARY" --generate-completion-script zsh > "$PKG/usr/share/zsh/vendor-completions/_entropy-tunnel"
"$BINARY" --generate-completion-script fish > "$PKG/usr/share/fish/vendor_completions.d/entropy-tunnel.fish"

# Documentation.
install -m 0644 install/config.toml.example "$DOC/examples/config.toml"
{
    cat <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: entropy-tunnel
Comment: /usr/bin/entropy-tunnel is built with the Swift runtime (standard library, Concurrency,
 Synchronization, Foundation's FoundationEssentials) and its Swift package dependencies linked
 in statically; their licenses follow the project's own. The Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.

Files: *
Copyright: 2026 The entropy-tunnel authors
License: MIT

Files: statically-linked/swift-runtime
Copyright: 2014-2026 Apple Inc. and the Swift project authors
License: Apache-2.0 with Runtime Library Exception

Files: statically-linked/swift-argument-parser
 statically-linked/swift-log
 statically-linked/swift-system
 statically-linked/swift-service-lifecycle
 statically-linked/swift-subprocess
 statically-linked/swift-async-algorithms
 statically-linked/swift-collections
 statically-linked/swift-foundation
Copyright: 2019-2026 Apple Inc. and the Swift project authors
 2019-2026 the Swift Server Workgroup project authors
License: Apache-2.0 with Runtime Library Exception

License: MIT
EOF
    # The text of LICENSE, as a DEP-5 paragraph: every line indented, empty lines as " .".
    awk 'NR > 4 { if ($0 == "") print " ."; else print " " $0 }' LICENSE
    cat <<'EOF'

License: Apache-2.0 with Runtime Library Exception
 Licensed under the Apache License, Version 2.0 (the "License"); you may not use
 this file except in compliance with the License. You may obtain a copy of the
 License at https://www.apache.org/licenses/LICENSE-2.0
 .
 Unless required by applicable law or agreed to in writing, software distributed
 under the License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR
 CONDITIONS OF ANY KIND, either express or implied. See the License for the
 specific language governing permissions and limitations under the License.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0 can be
 found in "/usr/share/common-licenses/Apache-2.0".
 .
 Runtime Library Exception to the Apache 2.0 License:
 .
 As an exception, if you use this Software to compile your source code and
 portions of this Software are embedded into the binary product as a result,
 you may redistribute such product without providing attribution as would
 otherwise be required by Sections 4(a), 4(b) and 4(d) of the License.

License: Unicode-DFS-2016
 Permission is hereby granted, free of charge, to any person obtaining
 a copy of the Unicode data files and any associated documentation
 (the "Data Files") or Unicode software and any associated documentation
 (the "Software") to deal in the Data Files or Software
 without restriction, including without limitation the rights to use,
 copy, modify, merge, publish, distribute, and/or sell copies of
 the Data Files or Software, and to permit persons to whom the Data Files
 or Software are furnished to do so, provided that either
 (a) this copyright and permission notice appear with all copies
 of the Data Files or Software, or
 (b) this copyright and permission notice appear in associated
 Documentation.
 .
 THE DATA FILES AND SOFTWARE ARE PROVIDED "AS IS", WITHOUT WARRANTY OF
 ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE
 WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
 NONINFRINGEMENT OF THIRD PARTY RIGHTS.
 IN NO EVENT SHALL THE COPYRIGHT HOLDER OR HOLDERS INCLUDED IN THIS
 NOTICE BE LIABLE FOR ANY CLAIM, OR ANY SPECIAL INDIRECT OR CONSEQUENTIAL
 DAMAGES, OR ANY DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE,
 DATA OR PROFITS, WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR OTHER
 TORTIOUS ACTION, ARISING OUT OF OR IN CONNECTION WITH THE USE OR
 PERFORMANCE OF THE DATA FILES OR SOFTWARE.
 .
 Except as contained in this notice, the name of a copyright holder
 shall not be used in advertising or otherwise to promote the sale,
 use or other dealings in these Data Files or Software without prior
 written authorization of the copyright holder.
EOF
} > "$DOC/copyright"
{
    printf 'entropy-tunnel (%s) unstable; urgency=medium\n\n' "$VERSION"
    printf '  * Built by install/package.sh from entropy-tunnel %s.\n\n' "$UPSTREAM"
    printf ' -- %s  %s\n' "$MAINTAINER" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$DOC/changelog.Debian.gz"

# lintian overrides, each with its reason.
mkdir -p "$PKG/usr/share/lintian/overrides"
cat > "$PKG/usr/share/lintian/overrides/entropy-tunnel" <<'EOF'
# Built from the upstream sources by install/package.sh, not uploaded to Debian: no ITP bug.
entropy-tunnel: initial-upload-closes-no-bugs
# The units the maintainer scripts act on are the ones `entropy-tunnel install` wrote to
# /etc/systemd/system (not shipped by the package, so not deb-systemd-helper's): prerm disables
# them on removal, postrm removes them on purge; postinst try-restarts a running tunnel on upgrade.
entropy-tunnel: maintainer-script-calls-systemctl *
EOF

# Maintainer scripts: the package never enables or starts a unit (`entropy-tunnel install`
# does). The units install writes, by name: the tunnel, the seed, the first-boot key.
UNITS="entropy-tunnel.service entropy-tunnel-seed.service entropy-tunnel-key.service"
cat > "$PKG/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    # The service user, from /usr/lib/sysusers.d/entropy-tunnel.conf (as dh_installsysusers does).
    if command -v systemd-sysusers >/dev/null 2>&1; then
        systemd-sysusers ${DPKG_ROOT:+--root="$DPKG_ROOT"} entropy-tunnel.conf
    elif ! getent passwd entropy-tunnel >/dev/null; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
            --comment "entropy-tunnel service" entropy-tunnel
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        # An upgrade (or a reinstall): a running tunnel restarts on the new binary; a stopped
        # one stays stopped (try-restart). The seed unit runs the binary only at boot and shutdown.
        if [ -n "$2" ]; then
            if command -v deb-systemd-invoke >/dev/null 2>&1; then
                deb-systemd-invoke try-restart entropy-tunnel.service >/dev/null || true
            else
                systemctl try-restart entropy-tunnel.service >/dev/null || true
            fi
        fi
    fi
fi
exit 0
EOF
cat > "$PKG/DEBIAN/prerm" <<EOF
#!/bin/sh
set -e
UNITS="$UNITS"
EOF
cat >> "$PKG/DEBIAN/prerm" <<'EOF'
if [ "$1" = remove ]; then
    if [ -d /run/systemd/system ]; then
        # deb-systemd-invoke (init-system-helpers), as debhelper's scripts stop units; the seed
        # unit's stop saves a last seed while the binary is still there.
        if command -v deb-systemd-invoke >/dev/null 2>&1; then
            deb-systemd-invoke stop $UNITS >/dev/null || true
        else
            systemctl stop $UNITS >/dev/null 2>&1 || true
        fi
    fi
    # Nothing enabled may run the binary once it is gone: the units `entropy-tunnel install`
    # enabled for it are disabled (their files stay until purge; install enables them again).
    for unit in $UNITS; do
        if [ -f "/etc/systemd/system/$unit" ] && grep -q '^ExecStart=/usr/bin/entropy-tunnel ' "/etc/systemd/system/$unit"; then
            systemctl disable --quiet "$unit" >/dev/null 2>&1 || true
        fi
    done
fi
exit 0
EOF
cat > "$PKG/DEBIAN/postrm" <<EOF
#!/bin/sh
set -e
UNITS="$UNITS"
EOF
cat >> "$PKG/DEBIAN/postrm" <<'EOF'
# The config, keys and seed that `entropy-tunnel install` and the service made are the
# administrator's: `entropy-tunnel uninstall --purge` removes them, not dpkg. The units install
# wrote for /usr/bin/entropy-tunnel run nothing without it: a purge disables them and removes
# each that still holds what install wrote (its SHA-256 in /etc/entropy-tunnel/install-manifest).
if [ "$1" = purge ]; then
    for unit in $UNITS; do
        file=/etc/systemd/system/$unit
        if ! [ -f "$file" ] || ! grep -q '^ExecStart=/usr/bin/entropy-tunnel ' "$file"; then continue; fi
        systemctl disable --quiet "$unit" >/dev/null 2>&1 || true
        sum=$(sha256sum < "$file" | cut -d ' ' -f 1)
        if grep -qx "file [a-z]* $sum $file" /etc/entropy-tunnel/install-manifest 2>/dev/null; then
            rm -f "$file"
        else
            echo "entropy-tunnel: kept $file (edited after entropy-tunnel install wrote it; disabled, as it runs /usr/bin/entropy-tunnel, which is gone)" >&2
        fi
    done
fi
if [ "$1" = remove ] || [ "$1" = purge ]; then
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null 2>&1 || true
    fi
fi
exit 0
EOF
chmod 0755 "$PKG/DEBIAN/postinst" "$PKG/DEBIAN/prerm" "$PKG/DEBIAN/postrm"
for script in postinst prerm postrm; do
    sh -n "$PKG/DEBIAN/$script" || { echo "error: DEBIAN/$script is not valid sh" >&2; exit 1; }
done

# Depends: from the libraries the binary needs (ELF NEEDED), through dpkg's shlibs/symbols
# files, as dh_shlibdeps computes it. dpkg-shlibdeps wants a debian/control beside it.
mkdir -p "$WORK/src/debian"
printf 'Source: entropy-tunnel\n\nPackage: entropy-tunnel\nArchitecture: any\n' > "$WORK/src/debian/control"
SHLIBDEPS_FLAGS=()
if [ "$ALLOW_UNPACKAGED" = 1 ]; then SHLIBDEPS_FLAGS+=(--ignore-missing-info); fi
for lib in $(objdump -p "$PKG/usr/bin/entropy-tunnel" | awk '$1 == "NEEDED" { print $2 }'); do
    path=$(ldd "$PKG/usr/bin/entropy-tunnel" | awk -v l="$lib" '$1 == l { print $3 } $1 ~ "/" l "$" { print $1 }')
    owned=0
    # /lib is a link to /usr/lib on Debian 12: dpkg knows a library by one of the two names.
    if [ -n "$path" ]; then
        for candidate in "$path" "$(realpath "$path")" "${path#/usr}" "/usr${path}"; do
            dpkg -S "$candidate" >/dev/null 2>&1 && owned=1 && break
        done
    fi
    if [ "$owned" = 0 ]; then
        if [ "$ALLOW_UNPACKAGED" = 1 ]; then
            echo "warning: $lib ($path) is in no Debian package: this package runs only where it is installed" >&2
        else
            echo "error: /usr/bin/entropy-tunnel needs $lib (${path:-not found}), which no Debian package provides;" \
                 "build with --static-swift-stdlib (package.sh without --binary does)" >&2
            exit 1
        fi
    fi
done
DEPENDS=$(cd "$WORK/src" && dpkg-shlibdeps -O "${SHLIBDEPS_FLAGS[@]}" -l"$(dirname "$BINARY")" "$PKG/usr/bin/entropy-tunnel" 2>/dev/null \
    | sed -n 's/^shlibs:Depends=//p')
case $DEPENDS in *libssh2-1*) ;; *) echo "error: Depends '$DEPENDS' lacks libssh2-1" >&2; exit 1;; esac
# Not a library: `install` and `keys generate` run ssh-keygen to make the client key.
DEPENDS="$DEPENDS, openssh-client"

INSTALLED_SIZE=$(du -sk --apparent-size --exclude=DEBIAN "$PKG" | cut -f1)
cat > "$PKG/DEBIAN/control" <<EOF
Package: entropy-tunnel
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $INSTALLED_SIZE
Depends: $DEPENDS
Suggests: rng-tools5
Section: admin
Priority: optional
Homepage: https://github.com/entropy-tunnel/entropy-tunnel
Description: feeds the kernel random bytes from a remote hardware RNG over SSH
 entropy-tunnel connects over SSH (libssh2) to an entropy host: a machine
 with a hardware random number generator (a TPM, a ChaosKey, a Raspberry
 Pi's RNG), as an unprivileged user whose key may only run the host's RNG
 reader. It checks the host's pinned key, runs the SP 800-90B health tests
 on the bytes it receives, and feeds this machine's kernel directly
 (RNDADDENTROPY and a forced reseed), or keeps a FIFO filled for rngd. It
 takes from the host only what the kernel consumes, reconnects with
 backoff, fails over between hosts, and keeps a seed for the next boot.
 .
 The package installs the program, its man pages, shell completions, the
 service user (sysusers.d) and two systemd units, neither of them enabled.
 "entropy-tunnel install" writes the configuration, the key pair and the
 host-key pin, and enables and starts the service; "entropy-tunnel keys
 authorize" sets up the entropy host.
EOF
(cd "$PKG" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$PKG/DEBIAN/md5sums"
find "$PKG" -type d -exec chmod 0755 {} +
find "$PKG" -type f ! -path "$PKG/usr/bin/*" ! -path "$PKG/DEBIAN/p*" -exec chmod 0644 {} +
find "$PKG" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$OUTPUT"
DEB=$OUTPUT/entropy-tunnel_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Zxz --build "$PKG" "$DEB" >&2
echo "   Depends: $DEPENDS" >&2
echo "   size: $(stat -c %s "$DEB") bytes (.deb), installed $INSTALLED_SIZE KiB" >&2

if [ "$LINTIAN" = 1 ]; then
    echo "== lintian" >&2
    report=$(lintian --info --no-tag-display-limit "$DEB" 2>&1 || true)
    printf '%s\n' "$report" | grep -E '^[EWIP]:' >&2 || true
    errors=$(printf '%s\n' "$report" | grep -c '^E:' || true)
    lwarnings=$(printf '%s\n' "$report" | grep -c '^W:' || true)
    echo "   lintian: $errors errors, $lwarnings warnings" >&2
    if [ "$errors" -ne 0 ]; then echo "error: lintian reports $errors errors" >&2; exit 1; fi
fi
echo "$DEB"

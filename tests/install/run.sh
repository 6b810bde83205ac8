#!/usr/bin/env bash
# `make install` / `make uninstall` (scripts/install.sh) against THE LIST of
# scripts/build-release.sh, into temporary roots (DESTDIR): no root needed,
# nothing outside the temp dirs is touched.
#
#   tests/install/run.sh     (CNM_DIST=DIR: install binaries from DIR with
#                             `make install-files` instead of building with `make install`)
#
# Tests:
# - the list covers the workspace: every binary target is on THE LIST or in
#   NOT_INSTALLED, every line names a real binary of its package, a known
#   place, and units / settings files that exist;
# - a fresh root, native mode, every directory variable moved: exactly the
#   files the list implies (binaries byte-identical to the build, units with
#   Exec*= pointing at SBIN_DIR, settings files, the example config), then
#   uninstall leaves the root empty;
# - a fresh root, drop-in mode: the same plus the drop-in links, then empty;
# - a root that already holds the reference plugins, older copies of our
#   binaries and unit, the user's settings and CNI config: native, drop-in,
#   drop-in again, native again (each checked), then uninstall gives back the
#   tree exactly (paths, types, modes, link targets, contents);
# - a settings file edited after install is kept by uninstall, everything
#   else goes;
# - a bad MODE or a missing binary is refused before anything changes;
#   uninstall twice is a no-op.
# Prints "N passed, M failed"; exits non-zero on failure.
set -uo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"
TMP="$(mktemp -d /tmp/cnm-install-test.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT

DIST="${CNM_DIST:-$REPO/target/dist}"
LIST="$(bash scripts/build-release.sh --list)" || { echo "build-release.sh --list failed"; echo "0 passed, 1 failed"; exit 1; }
NOT_INSTALLED="$(bash scripts/build-release.sh --not-installed)"

fail() {
    echo "    FAIL: $*" >&2
    exit 1
}

# mk VARS... TARGET: make with everything on the command line (nothing from the
# caller's environment), quiet; output in $TMP/make.log.
mk() {
    make -s -C "$REPO" "$@" >"$TMP/make.log" 2>&1
}
# install_into ROOT MODE [VAR=VALUE...]: the first install of a test goes through
# `make install` (build included) unless CNM_DIST is set.
install_into() {
    local root=$1 mode=$2 target=install
    shift 2
    [ -n "${CNM_DIST:-}" ] && target=install-files
    mk DESTDIR="$root" MODE="$mode" DIST="$DIST" "$@" "$target" ||
        fail "make $target MODE=$mode: $(tail -5 "$TMP/make.log")"
}
install_files() {
    local root=$1 mode=$2
    shift 2
    mk DESTDIR="$root" MODE="$mode" DIST="$DIST" "$@" install-files ||
        fail "make install-files MODE=$mode: $(tail -5 "$TMP/make.log")"
}
uninstall_from() {
    local root=$1
    shift
    mk DESTDIR="$root" "$@" uninstall || fail "make uninstall: $(tail -5 "$TMP/make.log")"
}

# snapshot ROOT: every path with its type, mode and link target, and every file's hash.
snapshot() {
    (cd "$1" && find . -mindepth 1 -printf '%p %y %m %l\n' | LC_ALL=C sort)
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# The directories of a layout: set by layout VAR=VALUE... (defaults of the Makefile).
layout() {
    PREFIX=/usr/local BIN_DIR="" SBIN_DIR="" CNI_BIN_DIR=/opt/cni/bin CNI_CONF_DIR=/etc/cni/net.d
    SYSTEMD_DIR=/etc/systemd/system NETAVARK_PLUGIN_DIR=""
    local kv
    for kv in "$@"; do
        case "$kv" in
            PREFIX=* | BIN_DIR=* | SBIN_DIR=* | CNI_BIN_DIR=* | CNI_CONF_DIR=* | SYSTEMD_DIR=* | NETAVARK_PLUGIN_DIR=*)
                printf -v "${kv%%=*}" '%s' "${kv#*=}" ;;
            *) fail "layout: $kv" ;;
        esac
    done
    : "${BIN_DIR:=$PREFIX/bin}" "${SBIN_DIR:=$PREFIX/sbin}" "${NETAVARK_PLUGIN_DIR:=$PREFIX/libexec/netavark}"
}
where_dir() {
    case "$1" in
        cni) echo "$CNI_BIN_DIR" ;;
        bin) echo "$BIN_DIR" ;;
        sbin) echo "$SBIN_DIR" ;;
        netavark) echo "$NETAVARK_PLUGIN_DIR" ;;
        *) fail "THE LIST: unknown place '$1'" ;;
    esac
}

# expect_installed ROOT MODE PREEXISTING_FILE: every file the list implies is
# there, as it should be; nothing else was added (PREEXISTING_FILE lists the
# paths that were there before, which may be left or replaced).
expect_installed() {
    local root=$1 mode=$2 before=$3 bin pkg where unit config dropin dir f expected="$TMP/expected"
    : >"$expected"
    while read -r bin pkg where unit config dropin; do
        dir="$(where_dir "$where")"
        f="$root$dir/$bin"
        [ -f "$f" ] && [ ! -L "$f" ] || fail "$dir/$bin is not installed"
        [ "$(stat -c %a "$f")" = 755 ] || fail "$dir/$bin has mode $(stat -c %a "$f")"
        cmp -s "$f" "$DIST/$bin" || fail "$dir/$bin differs from $DIST/$bin"
        echo "./${dir#/}/$bin" >>"$expected"
        if [ "$unit" != - ]; then
            f="$root$SYSTEMD_DIR/$(basename "$unit")"
            [ -f "$f" ] || fail "unit $SYSTEMD_DIR/$(basename "$unit") of $bin is not installed"
            [ "$(stat -c %a "$f")" = 644 ] || fail "unit $f has mode $(stat -c %a "$f")"
            grep -q "^ExecStart=$dir/$bin\\( \\|\$\\)" "$f" ||
                fail "unit $(basename "$unit") does not start $dir/$bin: $(grep '^ExecStart' "$f")"
            # Apart from the rewritten program paths, the unit is the repository's.
            diff <(grep -v '^Exec' "$unit") <(grep -v '^Exec' "$f") >/dev/null ||
                fail "unit $(basename "$unit") differs from $unit beyond its Exec lines"
            echo "./${SYSTEMD_DIR#/}/$(basename "$unit")" >>"$expected"
        fi
        if [ "$config" != - ]; then
            f="$root${config#*=}"
            [ -f "$f" ] || fail "settings file ${config#*=} of $bin is not installed"
            grep -qxF "./${config#*=/}" "$before" || cmp -s "$f" "${config%%=*}" ||
                fail "${config#*=} is not ${config%%=*}"
            echo "./${config#*=/}" >>"$expected"
        fi
        if [ "$dropin" != - ]; then
            f="$root$CNI_BIN_DIR/$dropin"
            if [ "$mode" = dropin ]; then
                [ "$(readlink "$f")" = "$bin" ] || fail "drop-in $dropin is not a link to $bin: $(ls -l "$f" 2>&1)"
                echo "./${CNI_BIN_DIR#/}/$dropin" >>"$expected"
            elif [ -L "$f" ]; then
                fail "native mode left the drop-in link $dropin"
            fi
        fi
    done <<<"$LIST"
    if [ "$mode" = native ]; then
        f="$root$CNI_CONF_DIR/10-simplebridge.conflist"
        [ -f "$f" ] || fail "native mode did not install the example config"
        echo "./${CNI_CONF_DIR#/}/10-simplebridge.conflist" >>"$expected"
    fi
    [ "$(cat "$root$CNI_BIN_DIR/.cnm-mode")" = "$mode" ] || fail ".cnm-mode is not $mode"
    # Nothing else: files and links now in the root, minus the expected ones, the
    # bookkeeping and what was there before.
    local extra
    extra="$(cd "$root" && find . \( -type f -o -type l \) | LC_ALL=C sort |
        grep -vxF -f "$expected" -f "$before" |
        grep -v -e "^./${CNI_BIN_DIR#/}/\\.cnm-installed\$" -e "^./${CNI_BIN_DIR#/}/\\.cnm-mode\$" \
            -e "^./${CNI_BIN_DIR#/}/\\.cnm-backup/" || true)"
    [ -z "$extra" ] || fail "installed but not on THE LIST: $extra"
    return 0
}
files_of() { (cd "$1" && find . \( -type f -o -type l \) | LC_ALL=C sort); }

# --- the tests ------------------------------------------------------------------------------------
t_list_covers_workspace() {
    local meta
    meta="$(cargo metadata --no-deps --format-version 1 2>/dev/null)" || fail "cargo metadata failed"
    python3 - "$meta" "$LIST" "$NOT_INSTALLED" <<'EOF' || exit 1
import json, os, sys
meta, listing, not_installed = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3].split()
bins = {t["name"]: p["name"] for p in meta["packages"] for t in p["targets"] if "bin" in t["kind"]}
bad = []
listed = {}
for line in listing.splitlines():
    f = line.split()
    if len(f) != 6:
        bad.append(f"THE LIST: not six columns: {line!r}")
        continue
    b, pkg, where, unit, conf, dropin = f
    listed[b] = pkg
    if bins.get(b) != pkg:
        bad.append(f"THE LIST: {b} is not a binary of package {pkg} (workspace: {bins.get(b)})")
    if where not in ("cni", "bin", "sbin", "netavark"):
        bad.append(f"THE LIST: {b}: unknown place {where}")
    if unit != "-" and not os.path.isfile(unit):
        bad.append(f"THE LIST: {b}: no unit {unit}")
    if conf != "-" and (conf.count("=") != 1 or not os.path.isfile(conf.split("=")[0]) or not conf.split("=")[1].startswith("/")):
        bad.append(f"THE LIST: {b}: bad settings file {conf}")
    if dropin != "-" and where != "cni":
        bad.append(f"THE LIST: {b}: a drop-in name for a binary that is not a CNI plugin")
for b in sorted(bins):
    if b not in listed and b not in not_installed:
        bad.append(f"binary {b} (package {bins[b]}) is neither on THE LIST nor in NOT_INSTALLED of scripts/build-release.sh")
for b in not_installed:
    if b in listed:
        bad.append(f"{b} is both on THE LIST and in NOT_INSTALLED")
for m in bad:
    print("    FAIL:", m, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
}

t_fresh_native_moved_dirs_then_empty() {
    local root="$TMP/fresh-native" vars
    mkdir -p "$root"
    vars=(PREFIX=/opt/cnmt SBIN_DIR=/opt/cnmt/daemons CNI_BIN_DIR=/usr/libexec/cni
        CNI_CONF_DIR=/etc/cni/alt.d SYSTEMD_DIR=/usr/lib/systemd/system NETAVARK_PLUGIN_DIR=/usr/libexec/nv)
    layout "${vars[@]}"
    : >"$TMP/none"
    install_into "$root" native "${vars[@]}"
    expect_installed "$root" native "$TMP/none"
    [ ! -e "$root/usr/local" ] || fail "something went to /usr/local despite PREFIX=/opt/cnmt"
    uninstall_from "$root" "${vars[@]}"
    [ -z "$(ls -A "$root")" ] || fail "uninstall left: $(cd "$root" && find . -mindepth 1 | head)"
}

t_fresh_dropin_then_empty() {
    local root="$TMP/fresh-dropin"
    mkdir -p "$root"
    layout
    : >"$TMP/none"
    install_into "$root" dropin
    expect_installed "$root" dropin "$TMP/none"
    [ ! -e "$root/etc/cni/net.d/10-simplebridge.conflist" ] || fail "drop-in mode installed the example config"
    uninstall_from "$root"
    [ -z "$(ls -A "$root")" ] || fail "uninstall left: $(cd "$root" && find . -mindepth 1 | head)"
}

# A node that ran the reference plugins, older copies of ours, the user's settings.
populate_reference() {
    local root=$1 f
    mkdir -p "$root/opt/cni/bin" "$root/usr/local/bin" "$root/usr/local/sbin" "$root/etc/systemd/system" \
        "$root/etc/default" "$root/etc/cni/net.d"
    if [ -d /usr/lib/cni ] && [ -x /usr/lib/cni/bridge ]; then
        cp -a /usr/lib/cni/. "$root/opt/cni/bin/"
    fi
    for f in bridge host-local portmap loopback dnsname; do
        [ -e "$root/opt/cni/bin/$f" ] || printf '#!/bin/sh\necho reference %s\n' "$f" >"$root/opt/cni/bin/$f"
        chmod 0755 "$root/opt/cni/bin/$f"
    done
    printf '#!/bin/sh\necho old cnm\n' >"$root/usr/local/bin/cnm"
    printf '#!/bin/sh\necho a tool of the user\n' >"$root/usr/local/bin/other-tool"
    printf '#!/bin/sh\necho old cnmd\n' >"$root/usr/local/sbin/cnmd"
    chmod 0755 "$root/usr/local/bin/cnm" "$root/usr/local/bin/other-tool" "$root/usr/local/sbin/cnmd"
    printf '[Service]\nExecStart=/usr/bin/old-plugin\n' >"$root/etc/systemd/system/cnm-docker-plugin.service"
    printf 'CNMD_HOST=node-7\n' >"$root/etc/default/cnmd"
    chmod 0600 "$root/etc/default/cnmd"
    printf '{"cniVersion": "1.0.0", "name": "users-own"}\n' >"$root/etc/cni/net.d/10-simplebridge.conflist"
    ln -s loopback "$root/opt/cni/bin/lo-link"
}

t_reference_root_restored_exactly() {
    local root="$TMP/reference" before after
    populate_reference "$root"
    layout
    before="$(snapshot "$root")"
    files_of "$root" >"$TMP/before-files"
    local ref_bridge ref_portmap
    ref_bridge="$(sha256sum <"$root/opt/cni/bin/bridge")"
    ref_portmap="$(sha256sum <"$root/opt/cni/bin/portmap")"

    install_into "$root" native
    expect_installed "$root" native "$TMP/before-files"
    [ "$(sha256sum <"$root/opt/cni/bin/bridge")" = "$ref_bridge" ] || fail "native mode touched the reference bridge"
    [ "$(sha256sum <"$root/opt/cni/bin/.cnm-backup/portmap")" = "$ref_portmap" ] || fail "no backup of the reference portmap"
    grep -q "old cnm" "$root/opt/cni/bin/.cnm-backup/.files/usr/local/bin/cnm" || fail "no backup of the old cnm"
    grep -q "old-plugin" "$root/opt/cni/bin/.cnm-backup/.files/etc/systemd/system/cnm-docker-plugin.service" ||
        fail "no backup of the old unit"
    [ "$(cat "$root/etc/default/cnmd")" = "CNMD_HOST=node-7" ] || fail "the user's /etc/default/cnmd was changed"
    grep -q users-own "$root/etc/cni/net.d/10-simplebridge.conflist" || fail "the user's conflist was replaced"

    install_files "$root" dropin
    expect_installed "$root" dropin "$TMP/before-files"
    [ "$(sha256sum <"$root/opt/cni/bin/.cnm-backup/bridge")" = "$ref_bridge" ] || fail "no backup of the reference bridge"
    install_files "$root" dropin
    expect_installed "$root" dropin "$TMP/before-files"
    [ "$(sha256sum <"$root/opt/cni/bin/.cnm-backup/bridge")" = "$ref_bridge" ] ||
        fail "a second drop-in install replaced the backup of the reference bridge"

    install_files "$root" native
    expect_installed "$root" native "$TMP/before-files"
    [ "$(sha256sum <"$root/opt/cni/bin/bridge")" = "$ref_bridge" ] || fail "native after drop-in did not restore the reference bridge"
    [ ! -L "$root/opt/cni/bin/host-local" ] || fail "native after drop-in left host-local a link"

    uninstall_from "$root"
    after="$(snapshot "$root")"
    [ "$before" = "$after" ] || fail "the tree differs after uninstall: $(diff <(echo "$before") <(echo "$after") | head -20)"
}

t_edited_settings_kept() {
    local root="$TMP/edited"
    mkdir -p "$root"
    layout
    install_files "$root" native
    echo "CNMD_HOST=edited" >>"$root/etc/default/cnmd"
    uninstall_from "$root"
    local left
    left="$(cd "$root" && find . \( -type f -o -type l \))"
    [ "$left" = "./etc/default/cnmd" ] || fail "after uninstall, want only ./etc/default/cnmd, have: $left"
    grep -q "CNMD_HOST=edited" "$root/etc/default/cnmd" || fail "the edited settings were not kept"
}

t_refusals_change_nothing() {
    local root="$TMP/refusals" before
    populate_reference "$root"
    layout
    before="$(snapshot "$root")"
    mk DESTDIR="$root" MODE=sideways DIST="$DIST" install-files && fail "MODE=sideways was accepted"
    grep -q "MODE must be native or dropin" "$TMP/make.log" || fail "no clear error for a bad MODE: $(cat "$TMP/make.log")"
    mkdir -p "$TMP/partial-dist"
    cp "$DIST/simplebridge" "$TMP/partial-dist/"
    mk DESTDIR="$root" MODE=native DIST="$TMP/partial-dist" install-files && fail "an install with binaries missing was accepted"
    grep -q "missing in" "$TMP/make.log" || fail "no clear error for missing binaries: $(cat "$TMP/make.log")"
    uninstall_from "$root"
    [ "$(snapshot "$root")" = "$before" ] || fail "a refused install or an empty uninstall changed the tree"
    install_files "$root" native
    uninstall_from "$root"
    uninstall_from "$root"
    [ "$(snapshot "$root")" = "$before" ] || fail "uninstall twice changed the tree"
}

passed=0 failed=0
for t in t_list_covers_workspace t_fresh_native_moved_dirs_then_empty t_fresh_dropin_then_empty \
    t_reference_root_restored_exactly t_edited_settings_kept t_refusals_change_nothing; do
    t0=$SECONDS
    if (set -uo pipefail; "$t"); then
        echo "ok   ${t#t_} ($((SECONDS - t0))s)"
        passed=$((passed + 1))
    else
        echo "FAIL ${t#t_} ($((SECONDS - t0))s)"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

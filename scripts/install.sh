#!/usr/bin/env bash
# Install or uninstall everything users run. Used by `make install` /
# `make uninstall`; docs/install.md says what to enable for which front-end.
#
#   scripts/install.sh install     (MODE=native or MODE=dropin)
#   scripts/install.sh uninstall
#
# What is installed is THE LIST of scripts/build-release.sh (`--list`): each
# binary where its line says (CNI_BIN_DIR, PREFIX/bin, SBIN_DIR,
# NETAVARK_PLUGIN_DIR), its systemd unit in SYSTEMD_DIR (never enabled or
# started; the program of its Exec*= lines rewritten to where the binary
# went) and the settings file its unit reads (only when absent). A binary
# missing from DIST is an error: build first.
#
# Variables: MODE (native), DIST (target/dist: the built binaries), DESTDIR
# (empty), PREFIX (/usr/local), BIN_DIR (PREFIX/bin), SBIN_DIR (PREFIX/sbin),
# CNI_BIN_DIR (/opt/cni/bin), CNI_CONF_DIR (/etc/cni/net.d), SYSTEMD_DIR
# (/etc/systemd/system), NETAVARK_PLUGIN_DIR (PREFIX/libexec/netavark).
#
# MODE=native: configs must say "simplebridge" / "ipam-host-local" to use
#   ours; `portmap` has only the reference's name, so it replaces the
#   reference portmap. Also conf-examples/10-simplebridge.conflist in
#   CNI_CONF_DIR unless one is there.
# MODE=dropin: everything of native mode except the example config, plus
#   each binary's drop-in name (`bridge` -> simplebridge, `host-local` ->
#   ipam-host-local: symlinks), so existing configs of type
#   bridge/host-local/portmap run ours unchanged.
#
# Every file replaced is first copied aside (CNI_BIN_DIR/.cnm-backup/<name>
# for CNI plugins, CNI_BIN_DIR/.cnm-backup/.files/<path> for anything else;
# once: a later install never overwrites a backup), then ours is renamed over
# it, so a name never disappears, not even for an instant.
# CNI_BIN_DIR/.cnm-installed lists what was installed: `bin NAME` (in
# CNI_BIN_DIR), `file PATH`, `conf PATH SHA256` (a settings file: uninstall
# keeps it when it was edited) and `dir PATH` (a directory the install
# created). `uninstall` removes exactly that, moves the backups back and
# removes the directories it created when empty, so the tree is what it was.
# Installing in native mode after drop-in restores the reference's bridge and
# host-local.
#
# Without DESTDIR on a systemd host, install and uninstall run `systemctl
# daemon-reload`, and uninstall refuses while one of our units is active or
# enabled (stop and disable it first).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE="${MODE:-native}"
DIST="${DIST:-target/dist}"
DESTDIR="${DESTDIR:-}"
PREFIX="${PREFIX:-/usr/local}"
BIN_DIR="${BIN_DIR:-$PREFIX/bin}"
SBIN_DIR="${SBIN_DIR:-$PREFIX/sbin}"
CNI_BIN_DIR="${CNI_BIN_DIR:-/opt/cni/bin}"
CNI_CONF_DIR="${CNI_CONF_DIR:-/etc/cni/net.d}"
SYSTEMD_DIR="${SYSTEMD_DIR:-/etc/systemd/system}"
NETAVARK_PLUGIN_DIR="${NETAVARK_PLUGIN_DIR:-$PREFIX/libexec/netavark}"

BIN="$DESTDIR$CNI_BIN_DIR"
BACKUP="$BIN/.cnm-backup"
MANIFEST="$BIN/.cnm-installed"
EXAMPLE_CONF=conf-examples/10-simplebridge.conflist

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

for v in PREFIX BIN_DIR SBIN_DIR CNI_BIN_DIR CNI_CONF_DIR SYSTEMD_DIR NETAVARK_PLUGIN_DIR; do
    case "${!v}" in /*) ;; *) die "$v must be an absolute path, not '${!v}'" ;; esac
done

# THE LIST, one line per binary: binary package where unit config dropin.
LIST="$(bash scripts/build-release.sh --list)" || die "scripts/build-release.sh --list failed"

dir_of() {
    case "$1" in
        cni) echo "$CNI_BIN_DIR" ;;
        bin) echo "$BIN_DIR" ;;
        sbin) echo "$SBIN_DIR" ;;
        netavark) echo "$NETAVARK_PLUGIN_DIR" ;;
        *) return 1 ;;
    esac
}

in_manifest() { [ -f "$MANIFEST" ] && grep -qxF "$1" "$MANIFEST"; }
record() { in_manifest "$1" || echo "$1" >>"$MANIFEST"; }
unrecord_prefix() {
    # Remove every manifest line starting with "$1" followed by end or a space.
    [ -f "$MANIFEST" ] || return 0
    awk -v p="$1" '$0 != p && substr($0, 1, length(p) + 1) != p " "' "$MANIFEST" >"$MANIFEST.tmp" || true
    mv -f "$MANIFEST.tmp" "$MANIFEST"
}
exists() { [ -e "$1" ] || [ -L "$1" ]; }

# ensure_dir PATH (without DESTDIR): create it and each missing parent, recording
# each one created (parents first, so uninstall removes children first). Until the
# manifest's own directory exists, the records wait in PENDING_DIRS.
PENDING_DIRS=()
ensure_dir() {
    local path="$1" missing=() p
    p="$path"
    while [ -n "$p" ] && [ "$p" != / ] && ! [ -d "$DESTDIR$p" ]; do
        missing=("$p" "${missing[@]}")
        p="$(dirname "$p")"
    done
    [ -z "$DESTDIR" ] || install -d -m 0755 "$DESTDIR"
    for p in "${missing[@]}"; do
        install -d -m 0755 "$DESTDIR$p"
        PENDING_DIRS+=("$p")
    done
    if [ -d "$BIN" ]; then
        for p in "${PENDING_DIRS[@]}"; do record "dir $p"; done
        PENDING_DIRS=()
    fi
}

# backup_to SRC DEST: keep a foreign SRC as DEST, once (a copy: the original stays in
# place until ours is renamed over it).
backup_to() {
    local src="$1" dst="$2"
    exists "$src" || return 0
    exists "$dst" && return 0
    install -d -m 0755 "$(dirname "$dst")"
    cp -a "$src" "$dst.new"
    mv -f "$dst.new" "$dst"
    say "kept $src as $dst"
}

# put SRC DEST [MODE]: install SRC as DEST by one rename.
put() {
    local src="$1" dst="$2" mode="${3:-0755}" tmp
    tmp="$(dirname "$dst")/.$(basename "$dst").cnm-new"
    install -m "$mode" "$src" "$tmp"
    mv -f "$tmp" "$dst"
}

# --- CNI_BIN_DIR names ---------------------------------------------------------------------
install_cni() { # NAME SRC
    local name="$1" src="$2"
    in_manifest "bin $name" || backup_to "$BIN/$name" "$BACKUP/$name"
    put "$src" "$BIN/$name"
    record "bin $name"
}
install_link() { # NAME TARGET
    local name="$1" target="$2"
    in_manifest "bin $name" || backup_to "$BIN/$name" "$BACKUP/$name"
    ln -sfn "$target" "$BIN/.$name.cnm-new"
    mv -Tf "$BIN/.$name.cnm-new" "$BIN/$name"
    record "bin $name"
}
# Put the backup of CNI_BIN_DIR/<name> back over ours (one rename), or
# remove ours when there was none.
restore_cni() {
    local name="$1"
    if exists "$BACKUP/$name"; then
        mv -Tf "$BACKUP/$name" "$BIN/$name"
        say "restored $BIN/$name"
    else
        rm -f "$BIN/$name"
    fi
    unrecord_prefix "bin $name"
}

# --- other files ------------------------------------------------------------------------------
install_file() { # PATH SRC MODE
    local path="$1" src="$2" mode="$3"
    ensure_dir "$(dirname "$path")"
    in_manifest "file $path" || backup_to "$DESTDIR$path" "$BACKUP/.files$path"
    put "$src" "$DESTDIR$path" "$mode"
    record "file $path"
}
restore_file() {
    local path="$1"
    if exists "$BACKUP/.files$path"; then
        mv -Tf "$BACKUP/.files$path" "$DESTDIR$path"
        say "restored $DESTDIR$path"
    else
        rm -f "$DESTDIR$path"
    fi
    unrecord_prefix "file $path"
}
# A settings file: installed only when absent, never replaced.
install_conf() { # PATH SRC
    local path="$1" src="$2" sum
    awk -v p="conf $path " 'index($0, p) == 1 {f = 1} END {exit !f}' "$MANIFEST" 2>/dev/null && return 0
    if exists "$DESTDIR$path"; then
        say "keeping existing $DESTDIR$path"
        return 0
    fi
    ensure_dir "$(dirname "$path")"
    put "$src" "$DESTDIR$path" 0644
    sum="$(sha256sum <"$DESTDIR$path" | cut -d' ' -f1)"
    record "conf $path $sum"
}
remove_conf() { # PATH SUM
    local path="$1" sum="$2"
    if [ -f "$DESTDIR$path" ] && [ "$(sha256sum <"$DESTDIR$path" | cut -d' ' -f1)" != "$sum" ]; then
        say "kept $DESTDIR$path: changed since it was installed"
    else
        rm -f "$DESTDIR$path"
    fi
    unrecord_prefix "conf $path"
}

# unit_text UNIT: the unit with the program of each Exec*= line that is one of ours
# pointed at where it is installed.
unit_text() {
    local sed_args=() bin where dir
    while read -r bin _ where _; do
        dir="$(dir_of "$where")"
        sed_args+=(-e "s#^\\(Exec[A-Za-z]*=[-@:+!]*\\)/[^ ]*/$bin\\( \\|\$\\)#\\1$dir/$bin\\2#")
    done <<<"$LIST"
    sed "${sed_args[@]}" "$1"
}

systemd_live() { [ -z "$DESTDIR" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

do_install() {
    case "$MODE" in native | dropin) ;; *) die "MODE must be native or dropin, not '$MODE'" ;; esac
    local bin pkg where unit config dropin missing=() dir
    while read -r bin pkg where unit config dropin; do
        dir_of "$where" >/dev/null || die "THE LIST: '$where' (of $bin) is not cni, bin, sbin or netavark"
        [ -x "$DIST/$bin" ] || missing+=("$bin")
        [ "$unit" = - ] || [ -f "$unit" ] || die "THE LIST: unit $unit of $bin is missing"
        [ "$config" = - ] || [ -f "${config%%=*}" ] || die "THE LIST: config ${config%%=*} of $bin is missing"
    done <<<"$LIST"
    [ "${#missing[@]}" = 0 ] ||
        die "missing in $DIST: ${missing[*]}; build first (make build, or DIST=target/debug after cargo build --workspace --bins)"

    ensure_dir "$CNI_BIN_DIR"
    # What this install puts in CNI_BIN_DIR and elsewhere.
    local -A want_bin=() want_file=()
    while read -r bin pkg where unit config dropin; do
        if [ "$where" = cni ]; then want_bin[$bin]=1; else want_file["$(dir_of "$where")/$bin"]=1; fi
        [ "$MODE" = dropin ] && [ "$dropin" != - ] && want_bin[$dropin]=1
        [ "$unit" = - ] || want_file["$SYSTEMD_DIR/$(basename "$unit")"]=1
    done <<<"$LIST"
    # Names of an earlier install that this one does not want: restore them.
    local old
    for old in $(sed -n 's/^bin //p' "$MANIFEST"); do
        [ -n "${want_bin[$old]:-}" ] || restore_cni "$old"
    done
    for old in $(sed -n 's/^file //p' "$MANIFEST"); do
        [ -n "${want_file[$old]:-}" ] || restore_file "$old"
    done

    local active=()
    while read -r bin pkg where unit config dropin; do
        if [ "$where" = cni ]; then
            install_cni "$bin" "$DIST/$bin"
        else
            install_file "$(dir_of "$where")/$bin" "$DIST/$bin" 0755
        fi
        if [ "$MODE" = dropin ] && [ "$dropin" != - ]; then
            [ "$where" = cni ] || die "THE LIST: $bin has a drop-in name but is not a CNI plugin"
            install_link "$dropin" "$bin"
        fi
        if [ "$unit" != - ]; then
            unit_text "$unit" >"$BIN/.unit.cnm-tmp"
            install_file "$SYSTEMD_DIR/$(basename "$unit")" "$BIN/.unit.cnm-tmp" 0644
            rm -f "$BIN/.unit.cnm-tmp"
            if systemd_live && systemctl is-active -q "$(basename "$unit")"; then active+=("$(basename "$unit")"); fi
        fi
        if [ "$config" != - ]; then
            install_conf "${config#*=}" "${config%%=*}"
        fi
    done <<<"$LIST"
    echo "$MODE" >"$BIN/.cnm-mode"
    if [ "$MODE" = native ]; then
        install_conf "$CNI_CONF_DIR/10-simplebridge.conflist" "$EXAMPLE_CONF"
    fi
    if systemd_live; then
        systemctl daemon-reload || say "systemctl daemon-reload failed"
    fi
    [ "${#active[@]}" = 0 ] || say "running with the old binaries until restarted: ${active[*]} (systemctl restart ...)"
    say "installed ($MODE) into ${DESTDIR:-/}: $(awk '$1 == "bin" || $1 == "file" {print $2}' "$MANIFEST" | tr '\n' ' ')"
}

do_uninstall() {
    [ -f "$MANIFEST" ] || { say "nothing installed in $BIN"; return 0; }
    local line unit busy=()
    if systemd_live; then
        for unit in $(sed -n "s#^file $SYSTEMD_DIR/##p" "$MANIFEST"); do
            if systemctl is-active -q "$unit" || systemctl is-enabled -q "$unit" 2>/dev/null; then busy+=("$unit"); fi
        done
        [ "${#busy[@]}" = 0 ] || die "active or enabled: ${busy[*]}; first: systemctl disable --now ${busy[*]}"
    fi
    local dirs=()
    while IFS= read -r line; do
        case "$line" in
            "bin "*) restore_cni "${line#bin }" ;;
            "file "*) restore_file "${line#file }" ;;
            "conf "*) line="${line#conf }"; remove_conf "${line% *}" "${line##* }" ;;
            "dir "*) dirs=("${line#dir }" "${dirs[@]}") ;;
        esac
    done < <(cat "$MANIFEST")
    rm -f "$MANIFEST" "$BIN/.cnm-mode"
    # Empty backup directories, then the directories the install created (children first).
    if [ -d "$BACKUP" ]; then find "$BACKUP" -depth -type d -empty -delete; fi
    local d
    for d in "${dirs[@]}"; do
        rmdir "$DESTDIR$d" 2>/dev/null || true
    done
    if systemd_live; then
        systemctl daemon-reload || say "systemctl daemon-reload failed"
    fi
    say "uninstalled from ${DESTDIR:-/}"
}

case "${1:-}" in
    install) do_install ;;
    uninstall) do_uninstall ;;
    *) die "usage: $0 install|uninstall" ;;
esac

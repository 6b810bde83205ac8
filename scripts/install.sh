#!/usr/bin/env bash
# Install or uninstall the plugins. Used by `make install` / `make uninstall`.
#
#   scripts/install.sh install     (MODE=native or MODE=dropin)
#   scripts/install.sh uninstall
#
# Variables: MODE (native), DIST (target/dist: where the built binaries are),
# DESTDIR (empty), PREFIX (/usr/local), CNI_BIN_DIR (/opt/cni/bin),
# CNI_CONF_DIR (/etc/cni/net.d).
#
# MODE=native: simplebridge, ipam-host-local and portmap in CNI_BIN_DIR, the
#   `cnm` CLI in PREFIX/bin, and conf-examples/10-simplebridge.conflist in
#   CNI_CONF_DIR unless one is there. Configs must say "simplebridge" /
#   "ipam-host-local" to use ours; `portmap` has only the reference's name, so
#   it replaces the reference portmap.
# MODE=dropin: everything of native mode except the example config, plus
#   `bridge` -> simplebridge and `host-local` -> ipam-host-local (symlinks),
#   so existing configs of type bridge/host-local/portmap run ours unchanged.
#
# Every file replaced is first copied to CNI_BIN_DIR/.cnm-backup/ (once: a
# later install never overwrites a backup), then ours is renamed over it, so
# a plugin name never disappears, not even for an instant; CNI_BIN_DIR/.cnm-installed lists
# what was installed. `uninstall` removes exactly that and moves the backups
# back. Installing in native mode after drop-in restores the reference's
# bridge and host-local.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE="${MODE:-native}"
DIST="${DIST:-target/dist}"
DESTDIR="${DESTDIR:-}"
PREFIX="${PREFIX:-/usr/local}"
CNI_BIN_DIR="${CNI_BIN_DIR:-/opt/cni/bin}"
CNI_CONF_DIR="${CNI_CONF_DIR:-/etc/cni/net.d}"
SBIN_DIR="${SBIN_DIR:-$PREFIX/sbin}"

BIN="$DESTDIR$CNI_BIN_DIR"
BACKUP="$BIN/.cnm-backup"
MANIFEST="$BIN/.cnm-installed"
NATIVE=(simplebridge ipam-host-local portmap)
# Installed when built (scripts/build-release.sh builds them): more plugins
# (CNI_BIN_DIR) and the long-running daemons (SBIN_DIR).
OPTIONAL_PLUGINS=(simpleoverlay)
DAEMONS=(cnm-docker-plugin cnm-firewall)
# drop-in name -> our binary
declare -A LINKS=([bridge]=simplebridge [host-local]=ipam-host-local)

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

in_manifest() { [ -f "$MANIFEST" ] && grep -qxF "$1" "$MANIFEST"; }
record() { in_manifest "$1" || echo "$1" >> "$MANIFEST"; }
unrecord() {
    [ -f "$MANIFEST" ] || return 0
    grep -vxF "$1" "$MANIFEST" > "$MANIFEST.tmp" || true
    mv -f "$MANIFEST.tmp" "$MANIFEST"
}

# Move a foreign CNI_BIN_DIR/<name> aside, once.
backup() {
    local name="$1"
    if { [ -e "$BIN/$name" ] || [ -L "$BIN/$name" ]; } \
        && ! in_manifest "bin $name" && [ ! -e "$BACKUP/$name" ] && [ ! -L "$BACKUP/$name" ]; then
        install -d -m 0755 "$BACKUP"
        # A copy: the original stays in place until ours is renamed over it.
        cp -a "$BIN/$name" "$BACKUP/.$name.new"
        mv -f "$BACKUP/.$name.new" "$BACKUP/$name"
        say "kept $BIN/$name as $BACKUP/$name"
    fi
}

# Put the backup of CNI_BIN_DIR/<name> back over ours (one rename), or
# remove ours when there was none.
restore() {
    local name="$1"
    if [ -e "$BACKUP/$name" ] || [ -L "$BACKUP/$name" ]; then
        mv -Tf "$BACKUP/$name" "$BIN/$name"
        say "restored $BIN/$name"
    else
        rm -f "$BIN/$name"
    fi
    unrecord "bin $name"
}

do_install() {
    case "$MODE" in native|dropin) ;; *) die "MODE must be native or dropin, not '$MODE'" ;; esac
    for p in "${NATIVE[@]}" cnm; do
        [ -x "$DIST/$p" ] || die "$DIST/$p is missing: build first (make build, or DIST=target/debug after cargo build --workspace)"
    done
    install -d -m 0755 "$BIN" "$DESTDIR$PREFIX/bin"
    local want=("${NATIVE[@]}")
    if [ "$MODE" = dropin ]; then want+=("${!LINKS[@]}"); fi
    # Names of an earlier install that this mode does not want: restore them.
    if [ -f "$MANIFEST" ]; then
        local old name keep
        for old in $(sed -n 's/^bin //p' "$MANIFEST"); do
            keep=0
            for name in "${want[@]}"; do [ "$name" = "$old" ] && keep=1; done
            [ "$keep" = 1 ] || restore "$old"
        done
    fi
    for p in "${NATIVE[@]}"; do
        backup "$p"
        install -m 0755 "$DIST/$p" "$BIN/.$p.new"
        mv -f "$BIN/.$p.new" "$BIN/$p"
        record "bin $p"
    done
    if [ "$MODE" = dropin ]; then
        for name in "${!LINKS[@]}"; do
            backup "$name"
            ln -sfn "${LINKS[$name]}" "$BIN/.$name.new"
            mv -Tf "$BIN/.$name.new" "$BIN/$name"
            record "bin $name"
        done
    fi
    for p in "${OPTIONAL_PLUGINS[@]}"; do
        [ -x "$DIST/$p" ] || continue
        backup "$p"
        install -m 0755 "$DIST/$p" "$BIN/.$p.new"
        mv -f "$BIN/.$p.new" "$BIN/$p"
        record "bin $p"
    done
    install -m 0755 "$DIST/cnm" "$DESTDIR$PREFIX/bin/cnm"
    record "file $PREFIX/bin/cnm"
    for d in "${DAEMONS[@]}"; do
        [ -x "$DIST/$d" ] || continue
        install -d -m 0755 "$DESTDIR$SBIN_DIR"
        install -m 0755 "$DIST/$d" "$DESTDIR$SBIN_DIR/$d"
        record "file $SBIN_DIR/$d"
    done
    echo "$MODE" > "$BIN/.cnm-mode"
    if [ "$MODE" = native ]; then
        local conf="$CNI_CONF_DIR/10-simplebridge.conflist"
        if [ -e "$DESTDIR$conf" ]; then
            say "keeping existing $DESTDIR$conf"
        else
            install -d -m 0755 "$DESTDIR$CNI_CONF_DIR"
            install -m 0644 conf-examples/10-simplebridge.conflist "$DESTDIR$conf"
            record "file $conf"
        fi
    fi
    say "installed ($MODE) into $BIN"
}

do_uninstall() {
    [ -f "$MANIFEST" ] || { say "nothing installed in $BIN"; return 0; }
    local line
    while IFS= read -r line; do
        case "$line" in
            "bin "*) restore "${line#bin }" ;;
            "file "*) rm -f "$DESTDIR${line#file }" ;;
        esac
    done < <(cat "$MANIFEST")
    rm -f "$MANIFEST" "$BIN/.cnm-mode"
    rmdir "$BACKUP" 2>/dev/null || true
    say "uninstalled from $BIN"
}

case "${1:-}" in
    install) do_install ;;
    uninstall) do_uninstall ;;
    *) die "usage: $0 install|uninstall" ;;
esac

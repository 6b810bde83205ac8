#!/usr/bin/env bash
# Builds the Docker managed plugin of cnm-docker-plugin: a directory with
# config.json and rootfs/ for
#
#   docker plugin create cnm target/docker-plugin
#   docker plugin enable cnm
#   docker network create -d cnm:latest --ipam-driver cnm:latest --subnet 10.50.0.0/24 net1
#
# (`make docker-plugin` runs this after `make build`; `make docker-plugin-create`
# also creates and enables it.) docs/docker.md says how to use it,
# docs/adr/0017-docker-managed-plugin.md why it is built this way.
#
#   scripts/docker-managed-plugin.sh [--bin PATH] [--nft PATH] [--out DIR]
#
#   --bin PATH  the cnm-docker-plugin to ship (default target/dist/cnm-docker-plugin,
#               the static build of scripts/build-release.sh; a dynamically linked one,
#               e.g. target/debug, works too: its libraries are copied with it)
#   --nft PATH  the nft program to ship (default: nft from PATH); the plugin runs it for
#               every nftables change, so it is copied with every shared library it
#               loads (ldd) and the dynamic loader
#   --out DIR   where to write config.json and rootfs/ (default target/docker-plugin);
#               an existing DIR/rootfs is replaced
#
# The rootfs holds nothing else: /usr/sbin/cnm-docker-plugin, /usr/sbin/nft, their
# libraries, /etc/cnm-docker-plugin.version and empty mount points. Debug symbols
# are stripped from the copies (the rootfs of a debug build would be ~80 MB).
# When run as root, nft is started once inside the rootfs (chroot) to prove it
# is complete.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=target/dist/cnm-docker-plugin
NFT=""
OUT=target/docker-plugin
die() { echo "docker-managed-plugin.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) [ $# -ge 2 ] || die "--bin needs a value"; BIN=$2; shift 2 ;;
        --nft) [ $# -ge 2 ] || die "--nft needs a value"; NFT=$2; shift 2 ;;
        --out) [ $# -ge 2 ] || die "--out needs a value"; OUT=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[ -n "$NFT" ] || NFT="$(command -v nft || true)"
[ -n "$NFT" ] || die "nft is not on PATH (Debian package nftables); or give --nft PATH"
[ -x "$BIN" ] || die "$BIN is missing: run 'make build' (or scripts/build-release.sh) first, or give --bin PATH"
[ -x "$NFT" ] || die "$NFT is not an executable"
command -v ldd >/dev/null || die "ldd is missing (Debian package libc-bin)"
CONFIG=services/docker-plugin/managed/config.json
[ -f "$CONFIG" ] || die "$CONFIG is missing"

ROOTFS="$OUT/rootfs"
mkdir -p "$OUT"
rm -rf "$ROOTFS" "$OUT/.rootfs.new"
NEW="$OUT/.rootfs.new"
mkdir -p "$NEW/usr/sbin" "$NEW/etc" "$NEW/tmp" "$NEW/run" "$NEW/var/lib" "$NEW/proc" "$NEW/sys" "$NEW/dev"
chmod 1777 "$NEW/tmp"

# copy_stripped SRC DEST: the file's content (symlinks followed), debug symbols removed
# when strip is available.
copy_stripped() {
    install -D -m 0755 "$1" "$2"
    if command -v strip >/dev/null; then
        strip --strip-debug "$2" 2>/dev/null || true
    fi
}

# copy_libs ELF: every library the dynamic loader maps for ELF, at the path ldd shows
# (the soname path, which is where the loader of the rootfs looks for it).
copy_libs() {
    local out line lib
    # ldd exits non-zero for a static executable ("not a dynamic executable").
    out="$(ldd "$1" 2>&1)" || {
        grep -q 'not a dynamic executable\|statically linked' <<<"$out" && return 0
        die "ldd $1: $out"
    }
    while IFS= read -r line; do
        line="${line#"${line%%[![:space:]]*}"}"
        case "$line" in
            *"=> not found"*) die "$1 needs a library that is not installed: $line" ;;
            *"=> /"*) lib="${line#*=> }"; lib="${lib%% (*}" ;;
            /*) lib="${line%% (*}" ;;
            *) continue ;;
        esac
        [ -e "$NEW$lib" ] || copy_stripped "$lib" "$NEW$lib"
    done <<<"$out"
}

copy_stripped "$BIN" "$NEW/usr/sbin/cnm-docker-plugin"
copy_stripped "$NFT" "$NEW/usr/sbin/nft"
copy_libs "$BIN"
copy_libs "$NFT"

{
    echo "cnm-docker-plugin: $("$BIN" --version 2>/dev/null || echo unknown)"
    echo "nft: $("$NFT" --version 2>/dev/null || echo unknown) (from $NFT)"
    echo "source: $(git describe --always --dirty 2>/dev/null || echo unknown)"
} >"$NEW/etc/cnm-docker-plugin.version"

if [ "$(id -u)" -eq 0 ] && command -v chroot >/dev/null; then
    chroot "$NEW" /usr/sbin/nft --version >/dev/null 2>&1 ||
        die "nft does not start inside the rootfs: $(chroot "$NEW" /usr/sbin/nft --version 2>&1 | head -3)"
    chroot "$NEW" /usr/sbin/cnm-docker-plugin --version >/dev/null 2>&1 ||
        die "cnm-docker-plugin does not start inside the rootfs"
fi

mv -T "$NEW" "$ROOTFS"
install -m 0644 "$CONFIG" "$OUT/config.json"
echo "docker-managed-plugin.sh: $OUT (config.json, rootfs/: $(du -sh "$ROOTFS" | cut -f1))"
echo "  docker plugin create <name> $OUT && docker plugin enable <name>"

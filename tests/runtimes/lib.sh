# shellcheck shell=bash
# Shared helpers for the real-runtime tests (Podman 4.3 with the CNI backend,
# containerd 1.6 `ctr run --cni`). Sourced by podman.sh and containerd.sh.
#
# Rules these helpers enforce:
# - everything network-related happens in a throwaway "host" namespace
#   (ip netns add cnmrt-host-<pid>), entered with nsenter --net (ip netns exec
#   would remount /sys and hide the cgroup mounts the runtimes need);
# - every step is bounded by `timeout`;
# - every file or directory the test creates outside its temp dir is recorded
#   when it did not exist before and removed (rmdir for directories, so
#   nothing that appeared meanwhile is lost) by a cleanup stack that runs on
#   EXIT, INT and TERM, whatever happened.

RT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RT_REPO="$(cd "$RT_DIR/../.." && pwd)"
RT_BIN_DIR="${CNM_BIN_DIR:-$RT_REPO/target/debug}"
RT_IMAGE="localhost/cnm-busybox:latest"
RT_PACKAGES=(podman runc containerd busybox-static iproute2)
RT_CLEANUPS=()
RT_TMP=""
RT_HOSTNS=""

rt_log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
rt_fail() {
    rt_log "FAIL: $*"
    exit 1
}

# rt_defer CMD ARGS...: push a cleanup command (run in reverse order at exit).
rt_defer() {
    local q
    q="$(printf '%q ' "$@")"
    RT_CLEANUPS+=("$q")
}

rt_cleanup() {
    local rc=$? i
    # Finish the cleanup even when interrupted again: every step is bounded.
    trap - EXIT
    trap '' INT TERM
    set +e
    for ((i = ${#RT_CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${RT_CLEANUPS[i]}" || rt_log "cleanup step failed: ${RT_CLEANUPS[i]}"
    done
    RT_CLEANUPS=()
    exit "$rc"
}

rt_install_traps() {
    trap rt_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# rt_run SECS CMD ARGS...: run CMD bounded by SECS seconds; say which command
# failed or timed out.
rt_run() {
    local secs=$1 rc=0
    shift
    timeout -k 5 "$secs" "$@" || rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        rt_log "timed out after ${secs}s: $*"
    elif [ "$rc" -ne 0 ]; then
        rt_log "exit code $rc: $*"
    fi
    return "$rc"
}

rt_require_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "skipped: needs root"
        exit 77
    fi
}

# Install the Debian packages the runtime tests use, only when missing
# (apt-get update only then).
rt_ensure_packages() {
    local p missing=()
    for p in "${RT_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    rt_log "installing missing packages: ${missing[*]}"
    rt_run 600 env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 ||
        rt_fail "apt-get update failed"
    rt_run 900 env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}" >&2 ||
        rt_fail "apt-get install ${missing[*]} failed"
}

rt_require_binaries() {
    local b
    for b in simplebridge ipam-host-local; do
        [ -x "$RT_BIN_DIR/$b" ] ||
            rt_fail "$RT_BIN_DIR/$b is missing: run 'cargo build --workspace --bins' first"
    done
    [ -x /usr/lib/cni/loopback ] ||
        rt_fail "/usr/lib/cni/loopback is missing (Debian package containernetworking-plugins)"
}

# Temp dir for everything the test owns; removed at exit (after unmounting
# anything a runtime left mounted under it).
rt_make_tmp() {
    RT_TMP="$(mktemp -d /tmp/cnmrt.XXXXXX)"
    rt_defer rt_remove_tmp "$RT_TMP"
}

rt_remove_tmp() {
    local dir=$1 m
    [ -d "$dir" ] || return 0
    while read -r m; do
        [ -n "$m" ] && umount -l "$m"
    done < <(findmnt -rn -o TARGET | grep -F "$dir/" | sort -r)
    rm -rf -- "$dir"
}

# rt_track_new PATH...: PATHs that do not exist now are removed at exit
# (files with rm -f, directories with rmdir, so only if empty). List parents
# before children: cleanup runs in reverse.
rt_track_new() {
    local p
    for p in "$@"; do
        if [ ! -e "$p" ] && [ ! -L "$p" ]; then
            rt_defer rt_remove_created "$p"
        fi
    done
}

rt_remove_created() {
    local p=$1
    if [ -L "$p" ] || [ -f "$p" ] || [ -S "$p" ]; then
        rm -f -- "$p"
    elif [ -d "$p" ]; then
        local try=1
        # A cgroup is busy until its last task has exited: retry briefly.
        until rmdir -- "$p" 2>/dev/null; do
            if [ "${p#/sys/fs/cgroup/}" = "$p" ] || [ "$try" -ge 40 ]; then
                rt_log "left in place (not empty or busy): $p"
                break
            fi
            try=$((try + 1))
            sleep 0.25
        done
    fi
}

# Cgroup directories a runtime creates under every mounted hierarchy (v1 and
# v2): rt_track_cgroups NAME... (NAME relative to the hierarchy root, parents
# first).
rt_track_cgroups() {
    local h n
    for h in /sys/fs/cgroup /sys/fs/cgroup/*/; do
        h="${h%/}"
        [ -e "$h/cgroup.procs" ] || continue
        for n in "$@"; do
            rt_track_new "$h/$n"
        done
    done
}

# rt_rmdir_cgroups NAME...: remove the (empty) cgroup NAME in every hierarchy;
# retried briefly because the kernel frees a cgroup only after its killed
# tasks are gone.
rt_rmdir_cgroups() {
    local h n try
    for h in /sys/fs/cgroup /sys/fs/cgroup/*/; do
        h="${h%/}"
        for n in "$@"; do
            [ -d "$h/$n" ] || continue
            for try in 1 2 3 4 5 6 7 8 9 10; do
                rmdir -- "$h/$n" 2>/dev/null && break
                sleep 0.3
            done
            [ -d "$h/$n" ] && rt_log "left in place (busy): $h/$n"
        done
    done
    return 0
}

# The throwaway host namespace; rt_in_host runs a command inside it.
rt_make_host_ns() {
    RT_HOSTNS="cnmrt-host-$$"
    rt_run 10 ip netns add "$RT_HOSTNS" || rt_fail "cannot create netns $RT_HOSTNS"
    rt_defer rt_run 20 ip netns del "$RT_HOSTNS"
    rt_run 10 ip -n "$RT_HOSTNS" link set lo up || rt_fail "cannot set lo up in $RT_HOSTNS"
    # Our plugins' nftables state of this namespace lives in
    # /run/cnm/nft/<inode>-<cookie>/. Inode numbers are unique among live
    # namespaces, so what carries this inode now belongs to dead ones: gone
    # first, and this namespace's own goes with it at exit.
    RT_HOSTNS_INODE="$(stat -L -c %i "/run/netns/$RT_HOSTNS")"
    rm -rf "/run/cnm/nft/$RT_HOSTNS_INODE" "/run/cnm/nft/$RT_HOSTNS_INODE"-*
    rt_defer rt_forget_nft_state "$RT_HOSTNS_INODE"
}

# rt_forget_nft_state INODE: remove our plugins' state of that namespace.
rt_forget_nft_state() {
    rm -rf "/run/cnm/nft/$1" "/run/cnm/nft/$1"-*
}

# rt_nft_state_dir: the state directory of the host namespace (empty when none yet).
rt_nft_state_dir() {
    local d
    for d in "/run/cnm/nft/$RT_HOSTNS_INODE"-*; do
        [ -d "$d" ] && { echo "$d"; return 0; }
    done
    return 0
}

# rt_in_host SECS CMD ARGS...: CMD inside the host namespace, bounded.
rt_in_host() {
    local secs=$1
    shift
    rt_run "$secs" nsenter --net="/run/netns/$RT_HOSTNS" "$@"
}

# rt_plugin_dir DIR: DIR gets symlinks to our plugins and the reference loopback.
rt_plugin_dir() {
    local dir=$1
    mkdir -p "$dir"
    ln -sf "$RT_BIN_DIR/simplebridge" "$dir/simplebridge"
    ln -sf "$RT_BIN_DIR/ipam-host-local" "$dir/ipam-host-local"
    ln -sf /usr/lib/cni/loopback "$dir/loopback"
}

# rt_write_conflist FILE NAME BRIDGE SUBNET DATADIR [loopback]
rt_write_conflist() {
    local file=$1 name=$2 bridge=$3 subnet=$4 datadir=$5 lo=${6:-}
    local extra=""
    [ "$lo" = loopback ] && extra=', {"type": "loopback"}'
    cat >"$file" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$name",
  "plugins": [
    {
      "type": "simplebridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipam": {
        "type": "ipam-host-local",
        "ranges": [[{"subnet": "$subnet"}]],
        "dataDir": "$datadir"
      }
    }$extra
  ]
}
EOF
}

# Reservation files of host-local in DIR: everything but the lock and the
# last_reserved_ip.* markers.
rt_reservations() {
    local dir=$1
    [ -d "$dir" ] || return 0
    find "$dir" -maxdepth 1 -type f ! -name lock ! -name 'last_reserved_ip.*' -printf '%f\n'
}

# Host-side ports of BRIDGE in the host namespace.
rt_bridge_ports() {
    timeout 10 ip -n "$RT_HOSTNS" -o link show master "$1" 2>/dev/null |
        awk -F': ' '{print $2}' | sed 's/@.*//'
}

# --- Podman with the CNI backend, all state in $RT_TMP/podman ----------------
RT_PODMAN=()

rt_podman_setup() {
    local d="$RT_TMP/podman"
    mkdir -p "$d/root" "$d/runroot" "$d/tmp" "$d/net" "$d/plugins"
    rt_plugin_dir "$d/plugins"
    cat >"$d/containers.conf" <<EOF
[network]
network_backend = "cni"
cni_plugin_dirs = ["$d/plugins"]
network_config_dir = "$d/net"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "none"
lock_type = "file"
runtime = "runc"
EOF
    export CONTAINERS_CONF="$d/containers.conf"
    RT_PODMAN=(podman --network-backend cni --cni-config-dir "$d/net"
        --root "$d/root" --runroot "$d/runroot" --tmpdir "$d/tmp"
        --storage-driver vfs --runtime runc --runtime-flag "root=$d/runc"
        --cgroup-manager cgroupfs --events-backend none)
    # What Podman 4.3 / libcni create outside our temp dir anyway.
    rt_track_new /var/lib/containers /var/lib/containers/cache \
        /var/lib/containers/cache/blob-info-cache-v1.boltdb \
        /var/lib/cni /var/lib/cni/results /run/runc
    rt_track_cgroups libpod_parent libpod_parent/conmon
}

# rt_podman SECS ARGS...: podman inside the host namespace, bounded.
rt_podman() {
    local secs=$1
    shift
    rt_in_host "$secs" "${RT_PODMAN[@]}" "$@"
}

# Remove every container of our private Podman store, then the cgroups the
# runtime may have failed to remove (cgroup v1 removal races with SIGKILL).
rt_podman_remove_all() {
    local ids id
    ids="$(rt_podman 30 ps -a -q --no-trunc)" || return 0
    [ -n "$ids" ] || return 0
    # shellcheck disable=SC2086
    rt_podman 60 rm -f -t 0 $ids >/dev/null
    for id in $ids; do
        rt_rmdir_cgroups "libpod_parent/libpod-$id"
    done
}

# Build the tiny image from busybox-static: no registry involved.
rt_build_image() {
    local rootfs="$RT_TMP/rootfs" a
    mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/etc"
    cp /bin/busybox "$rootfs/bin/busybox"
    for a in sh ping httpd wget ip sleep cat ifconfig ls; do
        ln -s busybox "$rootfs/bin/$a"
    done
    tar -C "$rootfs" -c . | rt_podman 120 import - "$RT_IMAGE" >/dev/null ||
        rt_fail "podman import of the busybox rootfs failed"
}

# Fail when SUBNET (a.b.c.0/24) does not contain ADDR.
rt_assert_in_subnet24() {
    local addr=$1 subnet=$2
    case "$addr" in
    "${subnet%.0/24}".*) ;;
    *) rt_fail "address '$addr' is not in $subnet" ;;
    esac
}

#!/usr/bin/env bash
# containerd 1.6 `ctr run --cni --rm` runs a container on our plugins inside a
# throwaway host namespace: the container gets an address from our subnet (and
# reaches the bridge gateway), the reservation exists while it runs and is
# released afterwards. containerd runs with root, state and socket in a temp
# dir; ctr only reads /etc/cni/net.d and /opt/cni/bin, so the conflist and
# plugin symlinks are put there for the test only and removed afterwards
# (pre-existing files are never touched). Needs root; exits 77 when not root.
set -Eeuo pipefail
# shellcheck source=tests/runtimes/lib.sh
source "$(dirname "$0")/lib.sh"

rt_require_root
rt_install_traps
rt_ensure_packages
rt_require_binaries

SLOT=$(($$ % 120 + 128))
NET="cnmrt-ctr-$$"
BRIDGE="cnmrtc$$"
SUBNET="10.231.$SLOT.0/24"
GATEWAY="10.231.$SLOT.1"
CID="cnmrt-$$"
NS="cnm-test"
CONF_DIR=/etc/cni/net.d
CONFLIST="$CONF_DIR/00-cnm-test.conflist"
BIN_DIR=/opt/cni/bin

# simplebridge runs our host-local in-process by default (the podman suite
# covers that); here it executes the ipam-host-local binary from CNI_PATH.
export CNM_IPAM_EXEC=1

rt_make_tmp
rt_make_host_ns
rt_podman_setup
DATADIR="$RT_TMP/ipam"
STORE="$DATADIR/$NET"
CD="$RT_TMP/containerd"
SOCK="$CD/containerd.sock"
mkdir -p "$CD/root" "$CD/state" "$CD/opt" "$CD/fifo" "$CD/runc" "$STORE"
rt_log "containerd: network $NET, bridge $BRIDGE, subnet $SUBNET, host netns $RT_HOSTNS, tmp $RT_TMP"

# The image: busybox rootfs -> podman import -> docker-archive -> ctr import.
rt_build_image
rt_podman 120 save --format docker-archive -o "$RT_TMP/image.tar" "$RT_IMAGE" >/dev/null ||
    rt_fail "podman save failed"

# containerd by hand; the shim puts its sockets under /run/containerd/s.
rt_track_new /run/containerd /run/containerd/s
rt_track_cgroups "$NS"
cat >"$CD/config.toml" <<EOF
version = 2
root = "$CD/root"
state = "$CD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$SOCK.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$CD/opt"
EOF
nsenter --net="/run/netns/$RT_HOSTNS" containerd --config "$CD/config.toml" \
    --root "$CD/root" --state "$CD/state" --address "$SOCK" >"$CD/containerd.log" 2>&1 &
CONTAINERD_PID=$!

stop_containerd() {
    local pid=$1 deadline=$((SECONDS + 15))
    kill -TERM "$pid" 2>/dev/null || return 0
    # Bash reaps its background child; until then the PID still answers.
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        rt_log "containerd $pid still running 15s after TERM: killing it"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}
rt_defer stop_containerd "$CONTAINERD_PID"

CTR=(ctr -a "$SOCK" -n "$NS")
for i in $(seq 1 60); do
    timeout 5 "${CTR[@]}" version >/dev/null 2>&1 && break
    kill -0 "$CONTAINERD_PID" 2>/dev/null ||
        rt_fail "containerd exited at start: $(tail -5 "$CD/containerd.log")"
    [ "$i" -eq 60 ] && rt_fail "containerd did not answer on $SOCK within 30s"
    sleep 0.5
done
rt_log "containerd: running as pid $CONTAINERD_PID"

rt_run 120 "${CTR[@]}" images import "$RT_TMP/image.tar" >/dev/null ||
    rt_fail "ctr images import failed"

# CNI files where ctr looks, for the duration of the test only.
[ -e "$CONFLIST" ] && rt_fail "$CONFLIST already exists: not ours, refusing to touch it"
rt_track_new /etc/cni "$CONF_DIR" "$CONFLIST" /opt/cni "$BIN_DIR"
mkdir -p "$CONF_DIR" "$BIN_DIR"
rt_write_conflist "$CONFLIST" "$NET" "$BRIDGE" "$SUBNET" "$DATADIR" loopback
for pair in "simplebridge:$RT_BIN_DIR/simplebridge" "ipam-host-local:$RT_BIN_DIR/ipam-host-local" \
    "loopback:/usr/lib/cni/loopback"; do
    name="${pair%%:*}" target="${pair#*:}"
    if [ -e "$BIN_DIR/$name" ] || [ -L "$BIN_DIR/$name" ]; then
        cmp -s "$BIN_DIR/$name" "$target" ||
            rt_fail "$BIN_DIR/$name exists and is not $target: refusing to replace it"
        rt_log "containerd: using the identical pre-existing $BIN_DIR/$name"
    else
        rt_track_new "$BIN_DIR/$name"
        ln -s "$target" "$BIN_DIR/$name"
    fi
done
FIRST="$(find "$CONF_DIR" -maxdepth 1 \( -name '*.conf' -o -name '*.conflist' -o -name '*.json' \) \
    -printf '%f\n' | LC_ALL=C sort | head -n 1)"
[ "$FIRST" = "$(basename "$CONFLIST")" ] ||
    rt_fail "ctr would load $CONF_DIR/$FIRST, which sorts before $(basename "$CONFLIST")"

remove_container() {
    timeout 20 "${CTR[@]}" tasks kill -s SIGKILL "$1" >/dev/null 2>&1
    timeout 20 "${CTR[@]}" tasks delete -f "$1" >/dev/null 2>&1
    timeout 20 "${CTR[@]}" containers delete "$1" >/dev/null 2>&1
    rt_rmdir_cgroups "$NS/$1"
}
rt_defer remove_container "$CID"

# The container shows its address, the reservation (dataDir mounted
# read-only) and pings the bridge's gateway address.
OUT="$(rt_in_host 120 "${CTR[@]}" run --cni --rm --fifo-dir "$CD/fifo" --runc-root "$CD/runc" \
    --mount "type=bind,src=$DATADIR,dst=/ipam,options=rbind:ro" \
    "$RT_IMAGE" "$CID" sh -c \
    "ip -4 addr show eth0; echo RESERVED; ls /ipam/$NET; echo PING; ping -c 1 -W 2 $GATEWAY" \
    </dev/null 2>&1)" || rt_fail "ctr run --cni failed: $OUT"
printf '%s\n' "$OUT" | sed 's/^/  | /' >&2

IP="$(printf '%s\n' "$OUT" | sed -n 's/^ *inet \([0-9.]*\)\/24 .*eth0$/\1/p' | head -n 1)"
[ -n "$IP" ] || rt_fail "no IPv4 /24 address on eth0 in the container's output"
rt_assert_in_subnet24 "$IP" "$SUBNET"
rt_log "containerd: container $CID got $IP"
printf '%s\n' "$OUT" | sed -n '/^RESERVED$/,/^PING$/p' | grep -qx "$IP" ||
    rt_fail "no reservation file for $IP in $STORE while the container ran"
printf '%s\n' "$OUT" | grep -q '1 packets received' ||
    rt_fail "the container could not ping the gateway $GATEWAY"

timeout 10 ip -n "$RT_HOSTNS" link show "$BRIDGE" >/dev/null ||
    rt_fail "bridge $BRIDGE was not created in $RT_HOSTNS"

# After --rm: released, no veth on the bridge, no container, no cache entry.
LEFT="$(rt_reservations "$STORE")"
[ -z "$LEFT" ] || rt_fail "reservations left in $STORE after ctr run --rm: $LEFT"
[ -z "$(rt_bridge_ports "$BRIDGE")" ] || rt_fail "$BRIDGE still has ports after ctr run --rm"
if rt_run 20 "${CTR[@]}" containers ls -q | grep -qx "$CID"; then
    rt_fail "container $CID still exists after ctr run --rm"
fi
if compgen -G "/var/lib/cni/results/$NET-*" >/dev/null; then
    rt_fail "libcni result cache left for $NET: $(echo /var/lib/cni/results/"$NET"-*)"
fi
rt_log "containerd: address released, veth gone"
echo "PASS containerd"

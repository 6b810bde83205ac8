#!/usr/bin/env bash
# Podman 4.3 (CNI backend) runs two containers on a simplebridge network made
# of our plugins, inside a throwaway host namespace: they get addresses from
# ipam-host-local, ping each other, and `podman rm -f` releases the addresses
# and removes the host-side veths. Needs root; exits 77 when not root.
set -Eeuo pipefail
# shellcheck source=tests/runtimes/lib.sh
source "$(dirname "$0")/lib.sh"

rt_require_root
rt_install_traps
rt_ensure_packages
rt_require_binaries

SLOT=$(($$ % 120 + 1))
NET="cnmrt-podman-$$"
BRIDGE="cnmrtp$$"
SUBNET="10.231.$SLOT.0/24"
C1="cnmrt-$$-a"
C2="cnmrt-$$-b"

rt_make_tmp
rt_make_host_ns
rt_podman_setup
DATADIR="$RT_TMP/ipam"
STORE="$DATADIR/$NET"
rt_write_conflist "$RT_TMP/podman/net/$NET.conflist" "$NET" "$BRIDGE" "$SUBNET" "$DATADIR"
rt_log "podman: network $NET, bridge $BRIDGE, subnet $SUBNET, host netns $RT_HOSTNS, tmp $RT_TMP"

rt_build_image
rt_podman 30 network ls --format '{{.Name}}' | grep -qx "$NET" ||
    rt_fail "podman does not list the network $NET from its cni-config-dir"

# Containers are removed at exit even if a check below fails.
rt_defer rt_podman_remove_all
for c in "$C1" "$C2"; do
    rt_podman 120 run -d --name "$c" --network "$NET" \
        --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 --cap-add NET_RAW \
        "$RT_IMAGE" sleep 600 >/dev/null || rt_fail "podman run $c failed"
done

ip_of() {
    rt_podman 30 inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$1"
}
IP1="$(ip_of "$C1")" || rt_fail "podman inspect $C1 failed"
IP2="$(ip_of "$C2")" || rt_fail "podman inspect $C2 failed"
rt_log "podman: $C1 has $IP1, $C2 has $IP2"
rt_assert_in_subnet24 "$IP1" "$SUBNET"
rt_assert_in_subnet24 "$IP2" "$SUBNET"
[ "$IP1" != "$IP2" ] || rt_fail "both containers got $IP1"

# The container's own view agrees with podman's.
rt_podman 30 exec "$C1" ip -4 addr show eth0 | grep -q "inet $IP1/24" ||
    rt_fail "$C1's eth0 does not carry $IP1/24"

# host-local reserved both addresses, each in a file holding the container ID.
for pair in "$C1:$IP1" "$C2:$IP2"; do
    c="${pair%%:*}" ip="${pair#*:}"
    id="$(rt_podman 30 inspect -f '{{.Id}}' "$c")" || rt_fail "podman inspect $c failed"
    [ -f "$STORE/$ip" ] || rt_fail "no reservation file $STORE/$ip for $c"
    grep -q "$id" "$STORE/$ip" || rt_fail "$STORE/$ip does not name $c ($id)"
done

mapfile -t VETHS < <(rt_bridge_ports "$BRIDGE")
[ "${#VETHS[@]}" -eq 2 ] ||
    rt_fail "expected 2 host veths on $BRIDGE, found ${#VETHS[@]}: ${VETHS[*]:-none}"
rt_log "podman: host veths on $BRIDGE: ${VETHS[*]}"

rt_podman 30 exec "$C1" ping -c 2 -W 2 "$IP2" >/dev/null || rt_fail "$C1 cannot ping $C2 ($IP2)"
rt_podman 30 exec "$C2" ping -c 2 -W 2 "$IP1" >/dev/null || rt_fail "$C2 cannot ping $C1 ($IP1)"
rt_log "podman: $C1 <-> $C2 ping ok"

ID1="$(rt_podman 30 inspect -f '{{.Id}}' "$C1")" || rt_fail "podman inspect $C1 failed"
ID2="$(rt_podman 30 inspect -f '{{.Id}}' "$C2")" || rt_fail "podman inspect $C2 failed"
rt_podman 60 rm -f -t 0 "$C1" "$C2" >/dev/null || rt_fail "podman rm -f failed"
rt_rmdir_cgroups "libpod_parent/libpod-$ID1" "libpod_parent/libpod-$ID2"

LEFT="$(rt_reservations "$STORE")"
[ -z "$LEFT" ] || rt_fail "reservations left in $STORE after podman rm: $LEFT"
for v in "${VETHS[@]}"; do
    if timeout 10 ip -n "$RT_HOSTNS" link show "$v" >/dev/null 2>&1; then
        rt_fail "host veth $v still exists after podman rm"
    fi
done
[ -z "$(rt_bridge_ports "$BRIDGE")" ] || rt_fail "$BRIDGE still has ports after podman rm"
if compgen -G "/var/lib/cni/results/$NET-*" >/dev/null; then
    rt_fail "libcni result cache left for $NET: $(echo /var/lib/cni/results/"$NET"-*)"
fi
rt_log "podman: addresses released, veths gone"
echo "PASS podman"

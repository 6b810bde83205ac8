#!/usr/bin/env bash
# What a neighbour container receives while another container is added: for
# each binaries directory given (default target/dist), R ADDs into one
# bridge, counting the frames a neighbour's eth0 receives within 0.2 s and
# 3 s of each ADD, and how many of them are ARP (nft counter on the arp input
# hook). Shows the IPv6 chatter of an interface with IPv6 on and whether the
# gratuitous ARP (arp_notify) reached the neighbours.
# Run by hand as root; throwaway namespaces, removed at the end.
# Usage: bench/neighbour-traffic.sh [R] [bin-dir...]
set -euo pipefail
cd "$(dirname "$0")/.."
R="${1:-3}"
shift || true
DIRS=("$@")
[ ${#DIRS[@]} -gt 0 ] || DIRS=("$PWD/target/dist")
F="$PWD/target/dist/cnm-floor"
[ -x "$F" ] || { echo "build first: bash scripts/build-release.sh" >&2; exit 1; }
tag="cnmnt$$"
H="$tag-h"
D="$(mktemp -d /tmp/cnm-neighbour.XXXXXX)"
cleanup() {
    set +e
    for ns in $(ip netns list | awk '{print $1}' | grep "^$tag-"); do ip netns del "$ns"; done
    rm -rf "$D"
}
trap cleanup EXIT INT TERM
ip netns add "$H"
CONF='{"cniVersion":"1.0.0","name":"nt","type":"simplebridge","bridge":"brnt","isGateway":true,"ipam":{"type":"ipam-host-local","dataDir":"'"$D"'","ranges":[[{"subnet":"10.73.0.0/16","rangeStart":"10.73.8.1"}]]}}'
add() { # bin-dir container-id
    ip netns add "$tag-$2"
    echo "$CONF" | nsenter --net="/run/netns/$H" env -i CNI_COMMAND=ADD CNI_CONTAINERID="$2" \
        CNI_NETNS="/run/netns/$tag-$2" CNI_IFNAME=eth0 CNI_PATH="$1" "$1/simplebridge" >/dev/null
}
add "${DIRS[0]}" warm # creates the bridge
N="$tag-n"
ip netns add "$N"
nsenter --net="/run/netns/$H" "$F" brnt vnt0 "/run/netns/$N" 10.73.0.2/16 10.73.0.1
ip netns exec "$N" nft add table arp cnt
ip netns exec "$N" nft add chain arp cnt in '{ type filter hook input priority 0; }'
ip netns exec "$N" nft add rule arp cnt in counter
rx() { ip -n "$N" -s -j link show eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }
arp() { ip netns exec "$N" nft list chain arp cnt in | grep -o 'packets [0-9]*' | awk '{print $2}'; }
sleep 2
for k in $(seq 1 "$R"); do
    for d in "${DIRS[@]}"; do
        r0=$(rx); a0=$(arp)
        add "$d" "c$k-$(basename "$d")"
        sleep 0.2; r1=$(rx); a1=$(arp)
        sleep 3; r2=$(rx); a2=$(arp)
        echo "$d: frames within 0.2 s $((r1 - r0)) (ARP $((a1 - a0))), within 3 s $((r2 - r0)) (ARP $((a2 - a0)))"
    done
done

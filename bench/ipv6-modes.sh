#!/usr/bin/env bash
# IPv6 on the container interface, three ways, with the floor program
# (bench/cnm-floor): address generation mode none (simplebridge's default for
# IPv4-only endpoints), disable_ipv6 (what libnetwork writes) and the
# kernel's default. Times N ADDs of each, alternating, into one bridge, then
# counts the IPv6 packets the last interface of each kind sent.
# Run by hand as root after scripts/build-release.sh; everything happens in
# throwaway namespaces removed at the end.  Usage: bench/ipv6-modes.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
F="$PWD/target/dist/cnm-floor"
[ -x "$F" ] || { echo "build first: bash scripts/build-release.sh" >&2; exit 1; }
N="${1:-40}"
tag="cnm6m$$"
H="$tag-h"
OUT="$(mktemp /tmp/cnm-ipv6-modes.XXXXXX)"
cleanup() {
    set +e
    for ns in $(ip netns list | awk '{print $1}' | grep "^$tag-"); do ip netns del "$ns"; done
    rm -f "$OUT"
}
trap cleanup EXIT INT TERM
ip netns add "$H"
ip -n "$H" link add br6m type bridge
ip -n "$H" addr add 10.66.0.1/16 dev br6m
ip -n "$H" link set br6m up
k=0
for i in $(seq 1 "$N"); do
    for m in off disable on; do
        k=$((k + 1))
        c="$tag-$m-$i"
        ip netns add "$c"
        t0=$(date +%s%N)
        nsenter --net="/run/netns/$H" "$F" br6m "v$m$i" "/run/netns/$c" \
            "10.66.$((k / 250)).$((k % 250 + 2))/16" 10.66.0.1 "$m"
        t1=$(date +%s%N)
        echo "$m $(((t1 - t0) / 1000))" >>"$OUT"
    done
done
for m in off disable on; do
    grep "^$m " "$OUT" | awk '{print $2}' | sort -n |
        awk -v m="$m" '{a[NR]=$1} END {print m ": median " a[int((NR+1)/2)] " us over " NR " ADDs"}'
done
sleep 3 # DAD, router solicitation and MLD reports go out within about 1 s
for m in off disable on; do
    c="$tag-$m-$N"
    sent=$(ip netns exec "$c" awk '$1=="Ip6OutRequests"{print $2}' /proc/net/dev_snmp6/eth0 2>/dev/null || echo 0)
    echo "$m: IPv6 addresses on eth0: $(ip -n "$c" -6 -o addr show dev eth0 | wc -l), IPv6 packets sent: $sent"
done

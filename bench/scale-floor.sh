#!/usr/bin/env bash
# Where does ADD time go when N containers are already on the bridge?
# Times one ADD of target/dist/simplebridge (under strace -T, per syscall) and
# the same kernel work done with `ip` commands, first with 0 then with N
# containers attached. Run by hand as root; everything happens in throwaway
# namespaces that are removed at the end.  Usage: bench/scale-floor.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000}"
BIN="$PWD/target/dist"
[ -x "$BIN/simplebridge" ] || { echo "build first: bash scripts/build-release.sh" >&2; exit 1; }
tag="cnmsf$$"
H="$tag-host"
WORK="$(mktemp -d /tmp/cnm-scale.XXXXXX)"
cleanup() {
    set +e
    for ns in $(ip netns list | awk '{print $1}' | grep "^$tag-"); do ip netns del "$ns"; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
mkdir -p "$WORK/bin"
ln -s "$BIN/simplebridge" "$BIN/ipam-host-local" "$WORK/bin/"
ip netns add "$H"; ip -n "$H" link set lo up
CONF='{"cniVersion":"1.0.0","name":"scalenet","type":"simplebridge","bridge":"br-scale","isGateway":true,"ipam":{"type":"ipam-host-local","subnet":"10.213.0.0/16","dataDir":"'"$WORK/ipam"'"}}'
add() { # container-id netns [strace-output]
    local pre=()
    [ $# -ge 3 ] && pre=(strace -f -T -o "$3")
    echo "$CONF" | nsenter --net="/run/netns/$H" env -i CNI_COMMAND=ADD CNI_CONTAINERID="$1" \
        CNI_NETNS="/run/netns/$2" CNI_IFNAME=eth0 CNI_PATH="$WORK/bin" "${pre[@]}" "$BIN/simplebridge" >/dev/null
}
floor() { # label
    ip netns add "$tag-f$1"
    local t0 t1
    t0=$(date +%s%N)
    ip -n "$H" link add "vf$1" type veth peer name eth0 netns "$tag-f$1"
    ip -n "$H" link set "vf$1" master br-scale up
    t1=$(date +%s%N)
    echo "ip floor (veth add + master + up), $2 attached: $(( (t1 - t0) / 1000 )) us"
}
slowest() { # strace file
    # "<seconds> <message type> seq <n>" of the three slowest netlink sends.
    grep -E 'sendto|sendmsg' "$1" |
        sed -E 's/.*nlmsg_type=([^,]+),.*nlmsg_seq=([0-9]+).*<([0-9.]+)>$/\3 \1 seq \2/' |
        sort -rn | head -3
}
ip netns add "$tag-c0"; add warm "$tag-c0"
ip netns add "$tag-a"; add first "$tag-a" "$WORK/first.strace"
floor 0 1
for i in $(seq 1 "$N"); do ip netns add "$tag-c$i"; add "c$i" "$tag-c$i"; done
ip netns add "$tag-b"; add last "$tag-b" "$WORK/last.strace"
floor 1 "$N"
echo "slowest netlink requests of one ADD with 1 attached:"; slowest "$WORK/first.strace"
echo "slowest netlink requests of one ADD with $N attached:"; slowest "$WORK/last.strace"
echo "IPAM file opens: $(grep -c 'openat(' "$WORK/first.strace") at 1, $(grep -c 'openat(' "$WORK/last.strace") at $N"

#!/usr/bin/env bash
# Does taking over the reference's attachments (issue 10) slow down DEL of
# our own? Paired runs, as root, in throwaway namespaces: per cycle an ADD +
# timed DEL (ipMasq, host-local IPAM) with a baseline build of ours, with the
# current build, and with the reference bridge + host-local (the yardstick),
# in an order that rotates every cycle. Prints medians and ratios.
#
# Usage: BASE=/path/to/old/simplebridge bench/del-takeover.sh [CYCLES]
#   BASE: simplebridge built from the commit before the change (e.g.
#         `git archive <commit> | tar -x -C /tmp/base && cd /tmp/base &&
#         cargo build --release -p simplebridge -p ipam-host-local`), with
#         ipam-host-local beside it. NEW defaults to target/release/simplebridge.
set -euo pipefail
cd "$(dirname "$0")/.."
CYCLES="${1:-60}"
NEW="${NEW:-$PWD/target/release/simplebridge}"
BASE="${BASE:?set BASE to a baseline simplebridge}"
REF="${REF:-/usr/lib/cni}"
[ "$(id -u)" -eq 0 ] || { echo "skipped: needs root"; exit 77; }
for b in "$NEW" "$BASE" "$REF/bridge"; do [ -x "$b" ] || { echo "missing $b" >&2; exit 1; }; done
tag="cnmdt$$"
WORK="$(mktemp -d /tmp/cnm-deltake.XXXXXX)"
cleanup() {
    set +e
    for ns in "$tag-h" "$tag-c"; do [ -e "/run/netns/$ns" ] && ip netns del "$ns"; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
ip netns add "$tag-h"; ip netns add "$tag-c"; ip -n "$tag-h" link set lo up
# One CNI_PATH per side, each with its own IPAM under the name the config uses.
for side in base new ref; do mkdir -p "$WORK/$side"; done
ln -s "$BASE" "$WORK/base/simplebridge"; ln -s "$(dirname "$BASE")/ipam-host-local" "$WORK/base/ipam-host-local"
ln -s "$NEW" "$WORK/new/simplebridge"; ln -s "$(dirname "$NEW")/ipam-host-local" "$WORK/new/ipam-host-local"
ln -s "$REF/bridge" "$WORK/ref/bridge"; ln -s "$REF/host-local" "$WORK/ref/host-local"
conf() { # side
    local type=simplebridge ipam=ipam-host-local
    [ "$1" = ref ] && { type=bridge; ipam=host-local; }
    echo '{"cniVersion":"1.0.0","name":"dtnet","type":"'$type'","bridge":"dtbr0","isGateway":true,"ipMasq":true,"ipam":{"type":"'$ipam'","dataDir":"'$WORK'/ipam","ranges":[[{"subnet":"10.252.1.0/24"}]]}}'
}
run() { # command id side
    conf "$3" | nsenter --net="/run/netns/$tag-h" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND="$1" \
        CNI_CONTAINERID="$2" CNI_NETNS="/run/netns/$tag-c" CNI_IFNAME=eth0 CNI_PATH="$WORK/$3" \
        "$WORK/$3/$( [ "$3" = ref ] && echo bridge || echo simplebridge )" >/dev/null
}
declare -A times=([base]="" [new]="" [ref]="")
orders=("base new ref" "new ref base" "ref base new")
for i in $(seq "$CYCLES"); do
    for side in ${orders[$((i % 3))]}; do
        run ADD "c$i-$side" "$side"
        t0=$EPOCHREALTIME; run DEL "c$i-$side" "$side"; t1=$EPOCHREALTIME
        times[$side]+="$(echo "($t1 - $t0) * 1000" | bc -l) "
    done
done
med() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'; }
mb=$(med <<<"${times[base]}"); mn=$(med <<<"${times[new]}"); mr=$(med <<<"${times[ref]}")
echo "| DEL, own attachment, ipMasq ($CYCLES cycles) | median ms |"
echo "|---|---|"
echo "| baseline ours | $mb |"
echo "| current ours | $mn |"
echo "| reference bridge + host-local | $mr |"
echo "ratio current/baseline: $(echo "$mn / $mb" | bc -l | cut -c1-5); current/reference: $(echo "$mn / $mr" | bc -l | cut -c1-5)"

#!/usr/bin/env bash
# Node agents on three hosts: each registers, claims a block and programs a
# route, a neighbour and an FDB entry per other host; hand-made containers
# on the blocks ping across hosts; a stopped agent's routes disappear from
# the others. Last line: `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/multihost/lib.sh
mh_init
for n in 1 2 3; do mh_add_host "$n"; done
mh_etcd_start 1 2 3 || { mh_check "etcd cluster healthy" false; mh_summary; exit 1; }
for n in 1 2 3; do mh_agent_start "$n"; done

routes_are() { [ "$(mh_vx_routes "$1")" = "$2" ]; }
all_meshed() { routes_are 1 2 && routes_are 2 2 && routes_are 3 2; }
mh_check "every host routes to the two others' blocks" mh_wait 15 all_meshed
one_neigh_fdb() {
    [ "$(mh_run 1 ip neigh show dev cnmx4214 nud permanent | wc -l)" = 2 ] &&
        [ "$(mh_run 1 bridge fdb show dev cnmx4214 | grep -c 'dst 10.213.0.1[23]')" = 2 ]
}
mh_check "one neighbour and one FDB entry per other host" one_neigh_fdb

# A hand-made container on host N at the 10th address of its first block.
first_block() { python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["blocks"][0])' "$MH_DIR/h$1/state/ov1.json"; }
container() {
    local n="$1" ns="${MH_P}c$1" block net gw ip
    block="$(first_block "$n")"
    net="${block%/*}"
    gw="${net%.*}.$(( ${net##*.} + 1 ))"
    ip="${net%.*}.$(( ${net##*.} + 10 ))"
    ip netns add "$ns"
    MH_NS+=("$ns")
    mh_run "$n" ip link add "c$n" mtu 1450 type veth peer name eth0 netns "$ns"
    mh_run "$n" ip link set "c$n" master cnmb4214 up
    ip -n "$ns" addr add "$ip/${block#*/}" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$gw"
    eval "C_IP_$n=$ip"
}
for n in 1 2 3; do container "$n"; done
cping() { ip netns exec "${MH_P}c$1" ping -c1 -W2 "$2" >/dev/null; }
mh_check "container 1 -> container 2" cping 1 "$C_IP_2"
mh_check "container 2 -> container 3" cping 2 "$C_IP_3"
mh_check "container 3 -> container 1" cping 3 "$C_IP_1"

mh_stop "$MH_AGENT_PID_3"
gone3() { routes_are 1 1 && routes_are 2 1; }
mh_check "a stopped agent's routes leave the others" mh_wait 10 gone3
mh_check "the others still reach each other" cping 1 "$C_IP_2"
mh_summary

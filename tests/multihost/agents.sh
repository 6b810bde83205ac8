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

for n in 1 2 3; do
    mh_check "simpleoverlay ADD on host $n" mh_container "$n" "c$n"
    eval "C_IP_$n=$MH_CIP"
done
cping() { mh_ping "$1" "$2"; }
mh_check "container 1 -> container 2" cping c1 "$C_IP_2"
mh_check "container 2 -> container 3" cping c2 "$C_IP_3"
mh_check "container 3 -> container 1" cping c3 "$C_IP_1"
mtu_matches() { [ "$(ip netns exec "${MH_P}cc1" cat /sys/class/net/eth0/mtu)" = 1450 ]; }
mh_check "container MTU is the underlay's minus 50" mtu_matches

sigterm_clean() {
    local rc
    kill -TERM "$MH_AGENT_PID_3"
    wait "$MH_AGENT_PID_3"
    rc=$?
    [ "$rc" = 0 ] && tail -n 1 "$MH_DIR/agent3.log" | grep -q "info: stopped"
}
mh_check "SIGTERM: the agent exits 0 and says so" sigterm_clean
gone3() { routes_are 1 1 && routes_are 2 1; }
mh_check "a stopped agent's routes leave the others (lease revoked)" mh_wait 10 gone3
kept3() { mh_run 3 ip link show cnmx4214 >/dev/null && [ "$(mh_vx_routes 3)" = 2 ]; }
mh_check "its own kernel state is left in place" kept3
mh_check "the others still reach each other" cping c1 "$C_IP_2"
mh_summary

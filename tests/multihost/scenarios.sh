#!/usr/bin/env bash
# Failure scenarios of the overlay (issue 13), on one etcd cluster of three
# members and up to five hosts:
#   join      a fourth host joins; all others route to it (time printed)
#   lease     an agent killed (SIGKILL): its lease expires, the others drop
#             its routes; restarted, it gets its blocks back
#   member    one etcd member killed: a fifth host still claims and joins
#   outage    all etcd members stopped: ADD and DEL within held blocks work,
#             traffic flows; etcd back: the agents converge (a host killed
#             during the outage is dropped, the others re-register)
#   burst     3 x 100 concurrent ADDs on three hosts: no address twice
#   config    bad configs refused before anything is created
# Last line: `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/multihost/lib.sh
mh_init
cargo build -q -p simpleoverlay -p cnm-node-agent || exit 1
for n in 1 2 3; do mh_add_host "$n"; done
mh_etcd_start 1 2 3 || { mh_check "etcd cluster healthy" false; mh_summary; exit 1; }
# Each agent holds two blocks from the start (the burst needs 100 free).
AGENT_FLAGS=(--min-free 110)
for n in 1 2 3; do mh_agent_start "$n" "${AGENT_FLAGS[@]}"; done

routes_are() { [ "$(mh_vx_routes "$1")" = "$2" ]; }
# Host N routes to every block of host M (from M's state file).
routes_to() {
    local n="$1" m="$2" b
    for b in $(python3 -c 'import json,sys;print(" ".join(json.load(open(sys.argv[1]))["blocks"]))' "$MH_DIR/h$m/state/ov1.json"); do
        mh_run "$n" ip -4 route show "$b" dev cnmx4214 | grep -q "via $(mh_ip "$m")" || return 1
    done
}
no_routes_to() { ! mh_run "$1" ip -4 route show dev cnmx4214 | grep -q "via $(mh_ip "$2")"; }
meshed() {
    local n m
    for n in "$@"; do for m in "$@"; do
        [ "$n" = "$m" ] || routes_to "$n" "$m" || return 1
    done; done
}
mh_check "three hosts meshed" mh_wait 15 meshed 1 2 3
for n in 1 2 3; do
    mh_check "ADD c$n" mh_container "$n" "c$n"
    eval "IP_$n=$MH_CIP"
done

echo "== join: a fourth host"
mh_add_host 4
t0=$(date +%s.%N)
mh_agent_start 4 "${AGENT_FLAGS[@]}"
joined4() { [ -f "$MH_DIR/h4/state/ov1.json" ] && routes_to 1 4 && routes_to 2 4 && routes_to 3 4 && meshed 4 1 2 3; }
if mh_check "hosts 1-3 route to host 4 and back" mh_wait 15 joined4; then
    # From the agents' own log stamps: when the last of hosts 1-3 programmed
    # its route to host 4 (the polling above is slower than the agents).
    echo "figure: host 4 routed by all others $(python3 - "$t0" "$MH_DIR"/agent[123].log <<'PY'
import re, sys
t0 = float(sys.argv[1])
last = 0.0
for f in sys.argv[2:]:
    for line in open(f):
        m = re.match(r"cnmd: ([0-9.]+) info: .*kernel change.*; 3 remote host", line)
        if m and float(m.group(1)) >= t0:
            last = max(last, float(m.group(1)))
            break
print(round(last - t0, 3) if last else "?")
PY
) s after its agent was started (debug build)"
fi
mh_check "ADD c4 on host 4" mh_container 4 c4
IP_4=$MH_CIP
for n in 1 2 3; do mh_check "c$n -> c4" mh_ping "c$n" "$IP_4"; done
mh_check "c4 -> c1" mh_ping c4 "$IP_1"

echo "== lease: agent 2 killed"
kill -KILL "$MH_AGENT_PID_2"
gone2() { no_routes_to 1 2 && no_routes_to 3 2 && no_routes_to 4 2; }
mh_check "its lease expires and the others drop its routes" mh_wait 15 gone2
one_nbr() {
    ! mh_run 1 ip neigh show dev cnmx4214 | grep -q "$(mh_ip 2) " &&
        ! mh_run 1 bridge fdb show dev cnmx4214 | grep -q "dst $(mh_ip 2) "
}
mh_check "and its neighbour and FDB entries" mh_wait 5 one_nbr
blocks2_before="$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["blocks"])' "$MH_DIR/h2/state/ov1.json")"
mh_agent_start 2 "${AGENT_FLAGS[@]}"
mh_check "restarted, it is routed again" mh_wait 15 meshed 1 2 3 4
same_blocks() { [ "$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["blocks"])' "$MH_DIR/h2/state/ov1.json")" = "$blocks2_before" ]; }
mh_check "with the same blocks" same_blocks
mh_check "c1 -> c2 again" mh_ping c1 "$IP_2"

echo "== member: etcd member 3 killed"
kill -KILL "$MH_ETCD_PID_3"
mh_add_host 5
export MH_ENDPOINTS
MH_ENDPOINTS="$(mh_etcd_endpoints 1 2 3)"
mh_agent_start 5 "${AGENT_FLAGS[@]}"
joined5() { [ -f "$MH_DIR/h5/state/ov1.json" ] && meshed 5 1 2 3 4; }
mh_check "a fifth host claims blocks and joins with one member down" mh_wait 20 joined5
mh_check "ADD c5 on host 5" mh_container 5 c5
IP_5=$MH_CIP
mh_check "c5 -> c3" mh_ping c5 "$IP_3"
unset MH_ENDPOINTS
# Member 3 back (its data directory is kept).
mh_etcd_member 3 "e1=http://$(mh_ip 1):2380,e2=http://$(mh_ip 2):2380,e3=http://$(mh_ip 3):2380" new
mh_check "member 3 rejoins" mh_etcd_wait_healthy 1 2 3

echo "== outage: every etcd member stopped"
for n in 1 2 3; do mh_stop "$(eval echo "\$MH_ETCD_PID_$n")"; done
out_add() { mh_container 1 c1x; }
mh_check "ADD within held blocks without etcd" out_add
IP_1x=$MH_CIP
mh_check "the new container reaches host 3's" mh_ping c1x "$IP_3"
mh_check "traffic keeps flowing (c2 -> c4)" mh_ping c2 "$IP_4"
out_del() { mh_cni 1 DEL c1x "/run/netns/${MH_P}cc1x" >/dev/null; }
mh_check "DEL without etcd" out_del
mh_check "DEL again without etcd" out_del
kill -KILL "$MH_AGENT_PID_5"
for n in 1 2 3; do
    mh_etcd_member "$n" "e1=http://$(mh_ip 1):2380,e2=http://$(mh_ip 2):2380,e3=http://$(mh_ip 3):2380" new
done
mh_check "etcd back" mh_etcd_wait_healthy 1 2 3
converged() { meshed 1 2 3 4 && no_routes_to 1 5 && no_routes_to 2 5 && no_routes_to 3 5 && no_routes_to 4 5; }
mh_check "agents converge: 1-4 meshed, host 5 (killed in the outage) dropped" mh_wait 30 converged
hosts_registered() { [ "$(mh_etcdctl 1 get --prefix --keys-only /cnm/v1/hosts/ | grep -c .)" = 4 ]; }
mh_check "four host records" mh_wait 10 hosts_registered

echo "== burst: 3 x 100 concurrent ADDs"
burst_dir="$MH_DIR/burst"
mkdir -p "$burst_dir"
for n in 1 2 4; do
    for i in $(seq 1 100); do
        ip netns add "${MH_P}b$n-$i"
        MH_NS+=("${MH_P}b$n-$i")
    done
done
pids=()
for n in 1 2 4; do
    for i in $(seq 1 100); do
        (mh_cni "$n" ADD "b$n-$i" "/run/netns/${MH_P}b$n-$i" >"$burst_dir/$n-$i.json" 2>/dev/null
            echo $? >"$burst_dir/$n-$i.rc") &
        pids+=($!)
    done
done
# Only the ADDs: a bare `wait` would also wait for the daemons.
wait "${pids[@]}"
all_ok() { [ "$(cat "$burst_dir"/*.rc | grep -cx 0)" = 300 ]; }
mh_check "300 ADDs succeeded" all_ok
burst_ips() { cat "$burst_dir"/*.json | python3 -c '
import json,sys
dec=json.JSONDecoder(); s=sys.stdin.read(); i=0
while i < len(s):
    s2=s[i:].lstrip()
    if not s2: break
    o,n=dec.raw_decode(s2); i=len(s)-len(s2)+n
    for ip in o.get("ips",[]): print(ip["address"].split("/")[0])
'; }
no_dupes() {
    local all uniq
    all="$( (burst_ips; echo "$IP_1"; echo "$IP_2"; echo "$IP_3"; echo "$IP_4") | sort)"
    uniq="$(sort -u <<<"$all")"
    [ "$(wc -l <<<"$all")" = 304 ] && [ "$all" = "$uniq" ]
}
mh_check "no address used twice anywhere (300 + 4)" no_dupes
burst_ping() { mh_ping c3 "$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["ips"][0]["address"].split("/")[0])' "$burst_dir/4-100.json")"; }
mh_check "c3 reaches the last burst container on host 4" burst_ping
pids=()
for n in 1 2 4; do
    for i in $(seq 1 100); do
        mh_cni "$n" DEL "b$n-$i" "/run/netns/${MH_P}b$n-$i" >/dev/null 2>&1 &
        pids+=($!)
    done
done
wait "${pids[@]}"
released() {
    local n
    for n in 1 2 4; do
        [ "$(ls "$MH_DIR/h$n/store/ov1" | grep -c '^10\.')" = 1 ] || return 1
    done
}
mh_check "300 DELs release every burst address" released

echo "== config: bad configs refused before anything is created"
links_of() { mh_run "$1" ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort; }
refused() {
    local want="$1" n=3 before after out rc
    shift
    before="$(links_of $n)"
    out="$(mh_run $n timeout 20 "${CNMD:-target/debug/cnmd}" run --host h3 --underlay-ip "$(mh_ip 3)" \
        --etcd-endpoints "$(mh_etcd_endpoints 1 2 3)" --state-dir "$MH_DIR/bad/state" \
        --data-dir "$MH_DIR/bad/store" "$@" 2>&1)"
    rc=$?
    after="$(links_of $n)"
    [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q -- "$want" <<<"$out" && [ "$before" = "$after" ] &&
        [ ! -e "$MH_DIR/bad/state" ] || { echo "   rc=$rc out=$out" >&2; return 1; }
}
mh_check "vni out of range" refused "vni 0 is out of range" --network name=bad,subnet=10.220.0.0/16,vni=0,block=26
mh_check "block larger than the subnet" refused "larger than the subnet" --network name=bad,subnet=10.220.0.0/24,vni=77,block=20
mh_check "subnet overlapping the cluster's ov1" refused "overlaps 10.214.0.0/16" --network name=bad,subnet=10.214.128.0/17,vni=77,block=26
mh_check "vni taken by the cluster's ov1" refused "vni 4214 is used" --network name=bad,subnet=10.220.0.0/16,vni=4214,block=26
mh_check "ov1 redefined differently" refused "defined differently" --network name=ov1,subnet=10.214.0.0/16,vni=4214,block=25
cni_refused() {
    local out before after
    before="$(links_of 1)"
    out="$(MH_CONF_EXTRA=',"vni":99' mh_cni 1 ADD cbad "/run/netns/${MH_P}cc1")"
    after="$(links_of 1)"
    grep -q '"code": 7' <<<"$out" && grep -q 'has vni 4214' <<<"$out" && [ "$before" = "$after" ]
}
mh_check "simpleoverlay refuses a config contradicting the cluster" cni_refused
mh_summary

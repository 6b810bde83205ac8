#!/usr/bin/env bash
# Container names across hosts (issue 20): three hosts with etcd and cnmd,
# containers joined to the overlay by simpleoverlay chained with dnsname
# (domain ov.test). The agents publish their hosts' names in etcd under
# their leases and feed the other hosts' to the local resolver.
#   - a container on host 1 resolves one on host 3 (name, alias, PTR) within
#     1 s of the ADD returning, and host 3's resolves host 1's;
#   - the same container id on two hosts: both answer, each leaves alone;
#   - a removed container's name is gone within 1 s of its DEL returning;
#   - the etcd leader killed (SIGKILL): no name of a live host stops
#     resolving (sampled every 0.2 s), a container added meanwhile resolves
#     on the other hosts, no agent loses its session;
#   - host 3's agent killed (SIGKILL): its names resolve until its lease
#     expires (not before the lease TTL, minus one keep-alive interval) and
#     are gone after it.
# The measured times are printed (`figure:` lines). Last line: `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/multihost/lib.sh
export MH_LEASE_TTL="${MH_LEASE_TTL:-4}"
mh_init
cargo build -q -p simpleoverlay -p cnm-node-agent -p cnm-dnsname -p cnm-resolver || exit 1
WAIT="$PWD/tests/multihost/names-wait.py"
DOMAIN=ov.test
for n in 1 2 3; do mh_add_host "$n"; done
mh_etcd_start 1 2 3 || { mh_check "etcd cluster healthy" false; mh_summary; exit 1; }
for n in 1 2 3; do mh_agent_start "$n"; done
CLUSTER="e1=http://$(mh_ip 1):2380,e2=http://$(mh_ip 2):2380,e3=http://$(mh_ip 3):2380"
routed() { [ "$(mh_vx_routes 1)" -ge 2 ] && [ "$(mh_vx_routes 2)" -ge 2 ] && [ "$(mh_vx_routes 3)" -ge 2 ]; }
mh_check "three hosts routed" mh_wait 20 routed

# dnsname after simpleoverlay, as a conflist would chain them.
dns_conf() {
    printf '{"cniVersion":"1.0.0","name":"ov1","type":"dnsname","domainName":"%s","capabilities":{"aliases":true},"runtimeConfig":{"aliases":{"ov1":[%s]}},"prevResult":%s}' \
        "$DOMAIN" "$2" "$1"
}
# Plugins get no descriptor of ours beyond stdio: the resolver dnsname
# starts would hold whatever it inherits (the heavy-suite lock of flock(1)).
nofds() { "$@" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; }
# dnsname N CMD CID NAME PREV ALIASES: the dnsname plugin on host N.
dnsname() {
    local n="$1" cmd="$2" cid="$3" name="$4" prev="$5" aliases="$6" netns="${7:-}"
    dns_conf "$prev" "$aliases" | nofds mh_run "$n" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND="$cmd" \
        CNI_CONTAINERID="$cid" CNI_NETNS="$netns" CNI_IFNAME=eth0 CNI_PATH="$PWD/target/debug" \
        CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=$name" target/debug/cnm-dnsname
}
# named_add N CID NAME [ALIASES_JSON_ITEMS]: a container namespace on host N
# joined by simpleoverlay + dnsname. Leaves its address in MH_CIP, its
# name server (the resolver on its gateway) in NS_<CID>, IP_<CID>, and the
# time the ADD returned (date +%s.%N) in ADD_DONE.
named_add() {
    local n="$1" cid="$2" name="$3" aliases="${4:-}" ns="${MH_P}c$2" out res
    ip netns add "$ns"
    MH_NS+=("$ns")
    ip -n "$ns" link set lo up
    out="$(nofds mh_cni "$n" ADD "$cid" "/run/netns/$ns")" || { mh_log "ADD $cid on host $n: $out"; return 1; }
    res="$(dnsname "$n" ADD "$cid" "$name" "$out" "$aliases" "/run/netns/$ns")" || { mh_log "dnsname ADD $cid on host $n: $res"; return 1; }
    ADD_DONE=$(date +%s.%N)
    MH_CIP="$(python3 -c 'import json,sys;print(json.load(sys.stdin)["ips"][0]["address"].split("/")[0])' <<<"$res")"
    printf -v "IP_$cid" '%s' "$MH_CIP"
    printf -v "NS_$cid" '%s' "$(python3 -c 'import json,sys;print(json.load(sys.stdin)["dns"]["nameservers"][0])' <<<"$res")"
    printf -v "RES_$cid" '%s' "$res"
}
# named_del N CID NAME: dnsname DEL then simpleoverlay DEL (the namespace stays).
named_del() {
    local n="$1" cid="$2" name="$3" ns="${MH_P}c$2" res="RES_$2"
    dnsname "$n" DEL "$cid" "$name" "${!res}" "" "/run/netns/$ns" >/dev/null || return 1
    DEL_DONE=$(date +%s.%N)
    nofds mh_cni "$n" DEL "$cid" "/run/netns/$ns" >/dev/null
}
# ask CID ...: names-wait.py inside container CID's namespace, asking its name server.
ask() {
    local cid="$1" server="NS_$1"
    shift
    nsenter --net="/run/netns/${MH_P}c$cid" python3 "$WAIT" "$1" "${!server}" "${@:2}"
}
# timed_start CID NAME present any|absent: polls (names-wait.py, every 10 ms)
# from container CID, started before the change it times; timed_end T0
# tells it when the change returned and leaves its line in TIMED_OUT.
timed_start() {
    local cid="$1" name="$2"
    shift 2
    rm -f "$MH_DIR/t0"
    ask "$cid" wait "$name" "$@" "@$MH_DIR/t0" "${TIMED_TIMEOUT:-10}" >"$MH_DIR/timed" 2>&1 &
    TIMED=$!
    sleep 0.3
}
timed_end() {
    echo "$1" >"$MH_DIR/t0"
    wait "$TIMED"
    TIMED_OUT="$(cat "$MH_DIR/timed")"
}
ms_of() { sed -n 's/^ms=\([0-9]*\) .*/\1/p' <<<"$1"; }
within() { [ -n "$1" ] && [ "$1" -le "$2" ]; }

# --- a container on host 1 resolves one on host 3 ----------------------------------
mh_check "ADD web1 on host 1 (simpleoverlay + dnsname)" named_add 1 c1 web1
mh_check "ADD web2 on host 2" named_add 2 c2 web2
# The agents' own containers must be published before the timing starts.
sleep 0.5
timed_start c1 "db3.$DOMAIN" present any
mh_check "ADD db3 on host 3 with alias database" named_add 3 c3 db3 '"database"'
timed_end "$ADD_DONE"
out="$TIMED_OUT"
ms="$(ms_of "$out")"
echo "figure: host 1 resolves db3 (host 3) ${ms:-never} ms after its ADD returned ($out)"
mh_check "host 1 resolves a container of host 3 within 1 s of its ADD" within "$ms" 1000
mh_check "with its address" grep -q "NOERROR:$IP_c3\$" <<<"$out"
answers() {
    local server="NS_$1"
    nsenter --net="/run/netns/${MH_P}c$1" python3 tests/runtimes/dnsq.py "${!server}" "${@:2}"
}
a_has() { grep -q "rcode=NOERROR answers=.*$2" <<<"$(answers c1 "$1")"; }
mh_check "the alias and the bare name answer too" eval 'a_has "database.$DOMAIN" "$IP_c3" && a_has db3 "$IP_c3" && a_has DATABASE "$IP_c3"'
ptr_ok() { grep -q "answers=db3.$DOMAIN" <<<"$(answers c1 "$IP_c3" PTR)"; }
mh_check "PTR of host 3's container from host 1" ptr_ok
out="$(ask c3 wait "web1.$DOMAIN" present "$IP_c1" "$(date +%s.%N)" 5)"
mh_check "and host 3 resolves host 1's ($out)" [ -n "$(ms_of "$out")" ]
out="$(ask c2 wait "db3.$DOMAIN" present "$IP_c3" "$(date +%s.%N)" 5)"
mh_check "and host 2 resolves host 3's ($out)" [ -n "$(ms_of "$out")" ]

# --- the same container id on two hosts -------------------------------------------
# Container ids are unique per runtime, not across hosts: the keys name the host.
mh_check "ADD container id 'same' on host 2" named_add 2 same twin
IP_SAME2=$MH_CIP
same3() {
    local ns="${MH_P}csame3" out res
    ip netns add "$ns" && MH_NS+=("$ns")
    out="$(nofds mh_cni 3 ADD same "/run/netns/$ns")" || return 1
    res="$(dnsname 3 ADD same twin "$out" "" "/run/netns/$ns")" || return 1
    IP_SAME3="$(python3 -c 'import json,sys;print(json.load(sys.stdin)["ips"][0]["address"].split("/")[0])' <<<"$res")"
    RES_SAME3="$res"
}
mh_check "ADD the same container id on host 3" same3
both() { ask c1 wait "twin.$DOMAIN" present "$IP_SAME3" "$(date +%s.%N)" 3 >/dev/null && answers c1 "twin.$DOMAIN" | grep -q "$IP_SAME2" && answers c1 "twin.$DOMAIN" | grep -q "$IP_SAME3"; }
mh_check "host 1 answers both hosts' containers of the same id" both
dnsname 2 DEL same twin "$RES_same" "" "/run/netns/${MH_P}csame" >/dev/null
only3() { local a; a="$(answers c1 "twin.$DOMAIN")"; grep -q "$IP_SAME3" <<<"$a" && ! grep -q "$IP_SAME2" <<<"$a"; }
mh_check "host 2's leaving removes only its own" mh_wait 3 only3
dnsname 3 DEL same twin "$RES_SAME3" "" "/run/netns/${MH_P}csame3" >/dev/null
nofds mh_cni 2 DEL same "/run/netns/${MH_P}csame" >/dev/null
nofds mh_cni 3 DEL same "/run/netns/${MH_P}csame3" >/dev/null

# --- a removed container is gone within 1 s ----------------------------------------
mh_check "ADD tmp3 on host 3" named_add 3 t3 tmp3
ask c1 wait "tmp3.$DOMAIN" present "$IP_t3" "$(date +%s.%N)" 5 >/dev/null
timed_start c1 "tmp3.$DOMAIN" absent
mh_check "DEL tmp3 on host 3" named_del 3 t3 tmp3
timed_end "$DEL_DONE"
out="$TIMED_OUT"
ms="$(ms_of "$out")"
echo "figure: host 1 answers NXDOMAIN for tmp3 ${ms:-never} ms after its DEL returned on host 3 ($out)"
mh_check "a container removed on host 3 is gone on host 1 within 1 s" within "$ms" 1000

# --- the etcd leader killed: no name of a live host is lost ------------------------
leases() {
    local n
    for n in 1 2 3; do
        mh_etcdctl 1 get "/cnm/v1/hosts/h$n" -w json | python3 -c 'import json,sys;d=json.load(sys.stdin);print(d["kvs"][0].get("lease",0))'
    done | tr '\n' ' '
}
LEASES0="$(leases)"
touch "$MH_DIR/watching"
nsenter --net="/run/netns/${MH_P}cc1" python3 "$WAIT" watch "$NS_c1" "$MH_DIR/watching" \
    "web2.$DOMAIN=$IP_c2" "db3.$DOMAIN=$IP_c3" "database.$DOMAIN=$IP_c3" >"$MH_DIR/watch1" 2>&1 &
W1=$!
MH_PIDS+=("$W1")
nsenter --net="/run/netns/${MH_P}cc3" python3 "$WAIT" watch "$NS_c3" "$MH_DIR/watching" \
    "web1.$DOMAIN=$IP_c1" "web2.$DOMAIN=$IP_c2" >"$MH_DIR/watch3" 2>&1 &
W3=$!
MH_PIDS+=("$W3")
sleep 1
L="$(mh_etcd_leader)" || L=""
mh_check "an etcd leader" [ -n "$L" ]
echo "== the etcd leader (member $L) killed with SIGKILL"
T_KILL=$(date +%s.%N)
pid="MH_ETCD_PID_$L"
kill -KILL "${!pid}"
wait "${!pid}" 2>/dev/null
sleep 0.5
# A container added while etcd elects a new leader.
timed_start c1 "late2.$DOMAIN" present any
mh_check "ADD late2 on host 2 during the failure" named_add 2 l2 late2
timed_end "$ADD_DONE"
out="$TIMED_OUT"
ms="$(ms_of "$out")"
echo "figure: during the leader kill, host 1 resolves late2 (host 2) ${ms:-never} ms after its ADD returned ($out)"
mh_check "a container added during the failure resolves on host 1" [ -n "$ms" ]
while python3 -c "import sys,time;sys.exit(0 if time.time() < $T_KILL+8 else 1)"; do sleep 0.2; done
mh_etcd_member "$L" "$CLUSTER" new
mh_check "member $L back" mh_etcd_wait_healthy 1 2 3
sleep 1
rm -f "$MH_DIR/watching"
wait "$W1" "$W3" 2>/dev/null
cat "$MH_DIR/watch1" "$MH_DIR/watch3" | grep miss | head -n 5
echo "figure: name samples across the leader kill (every 0.2 s, 5 names): host 1 $(tail -n 1 "$MH_DIR/watch1"), host 3 $(tail -n 1 "$MH_DIR/watch3")"
no_miss() { grep -q "misses=0$" "$MH_DIR/watch1" && grep -q "misses=0$" "$MH_DIR/watch3" && ! grep -q "rounds=0 " "$MH_DIR/watch1"; }
mh_check "no name of a live host stopped resolving across the leader kill" no_miss
mh_check "no agent lost its lease" [ "$LEASES0" = "$(leases)" ]
mh_check "no 'session lost' in the agents' logs" eval '! grep -h "session lost" "$MH_DIR"/agent[1-3].log'

# --- host 3's agent killed: its names go with its lease -----------------------------
echo "== host 3's agent killed with SIGKILL (lease TTL ${MH_LEASE_TTL} s)"
LEASE3="$(mh_etcdctl 1 get /cnm/v1/names/ov1/h3 -w json | python3 -c 'import json,sys;print("%x" % json.load(sys.stdin)["kvs"][0]["lease"])')"
TIMED_TIMEOUT=$((MH_LEASE_TTL + 10)) timed_start c1 "db3.$DOMAIN" absent
T_DEAD=$(date +%s.%N)
kill -KILL "$MH_AGENT_PID_3"
wait "$MH_AGENT_PID_3" 2>/dev/null
echo "figure: host 3's names are under lease $LEASE3: $(mh_etcdctl 1 lease timetolive "$LEASE3" 2>&1) (read right after the kill)"
timed_end "$T_DEAD"
out="$TIMED_OUT"
ms="$(ms_of "$out")"
echo "figure: host 3's names gone on host 1 ${ms:-never} ms after its agent was killed (lease TTL ${MH_LEASE_TTL} s; keep-alives every 0.5 s) ($out)"
min=$((MH_LEASE_TTL * 1000 - 600))
max=$((MH_LEASE_TTL * 1000 + 3000))
mh_check "host 3's names stop resolving once its lease expired" within "$ms" "$max"
mh_check "and not before the lease TTL (>= $min ms)" [ -n "$ms" -a "${ms:-0}" -ge "$min" ]
still() { grep -q "answers=$IP_c2" <<<"$(answers c1 "web2.$DOMAIN")"; }
mh_check "host 2's names still resolve" still
gone3() { grep -q "NXDOMAIN" <<<"$(answers c1 "database.$DOMAIN")" && grep -q NXDOMAIN <<<"$(answers c2 "db3.$DOMAIN")"; }
mh_check "every name of host 3 is gone on hosts 1 and 2" gone3

# --- DEL of every container: each resolver stops ------------------------------------
mh_check "DEL web1, web2, late2" eval 'named_del 1 c1 web1 && named_del 2 c2 web2 && named_del 2 l2 late2'
no_resolver() { [ -z "$(ip netns pids "$(mh_ns 1)" | xargs -r ps -o comm= -p | grep cnm-resolver)" ]; }
mh_check "host 1's resolver stopped after its last container left" mh_wait 5 no_resolver
mh_summary

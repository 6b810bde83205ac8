#!/usr/bin/env bash
# Overlay figures (issue 13), run by hand as root after scripts/setup.sh:
#   1. ADD + DEL: simpleoverlay with a held block against simplebridge in the
#      same run (same host namespace, alternating order, both started as
#      `nsenter --net=<host> <plugin>`, in-process host-local, ipMasq on);
#   2. join: from starting a host's agent to the last other host having
#      programmed its route (from the agents' own log stamps);
#   3. scale: an agent that programs 500 remote hosts (simulated host records
#      in etcd): time to converge and its peak memory (VmHWM);
#   4. data path: ping RTT and TCP throughput (iperf3) between containers on
#      two hosts over the overlay, against a plain veth pair.
# Everything runs in throwaway namespaces (tests/multihost/lib.sh); nothing is
# changed in the caller's namespace.
# Usage: bench/overlay-bench.sh [CYCLES]   (default 100)
# Env:   PROFILE=release (default) or debug.
set -uo pipefail
cd "$(dirname "$0")/.."
CYCLES="${1:-100}"
if [ "${PROFILE:-release}" = release ]; then
    cargo build -q --release -p simpleoverlay -p simplebridge -p cnm-node-agent || exit 1
    BIN="$PWD/target/release"
else
    cargo build -q -p simpleoverlay -p simplebridge -p cnm-node-agent || exit 1
    BIN="$PWD/target/debug"
fi
export CNMD="$BIN/cnmd" SIMPLEOVERLAY="$BIN/simpleoverlay"
command -v iperf3 >/dev/null || { echo "overlay-bench: iperf3 missing (scripts/setup.sh)" >&2; exit 1; }
source tests/multihost/lib.sh
mh_init
for n in 1 2 3; do mh_add_host "$n"; done
export MH_ENDPOINTS
MH_ENDPOINTS="$(mh_etcd_endpoints 1)"
mh_etcd_start 1 || exit 1
mh_agent_start 1 --min-free 16
mh_agent_start 2 --min-free 16
state_ready() { [ -f "$MH_DIR/h$1/state/ov1.json" ]; }
mh_wait 15 state_ready 1 && mh_wait 15 state_ready 2 || { echo "agents did not start" >&2; exit 1; }

ms() { python3 -c "import sys;print('%.3f' % (float(sys.argv[1]) / 1e6))" "$1"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p95() { sort -n | awk '{a[NR]=$1} END {i=int(NR*0.95); if (i<1) i=1; print a[i]}'; }

echo "== 1. ADD + DEL, $CYCLES cycles each"
SB_CONF="$(printf '{"cniVersion":"1.0.0","name":"sbbench","type":"simplebridge","bridge":"sbbench0","isGateway":true,"isDefaultGateway":true,"ipMasq":true,"ipam":{"type":"ipam-host-local","ranges":[[{"subnet":"10.231.0.0/16"}]],"dataDir":"%s"}}' "$MH_DIR/sbstore")"
OV_CONF="$(mh_conf 1)"
run_plugin() { # conf plugin cmd cid netns -> elapsed ns on stdout
    local t0 t1
    t0=$(date +%s%N)
    printf '%s' "$1" | nsenter --net="/run/netns/$(mh_ns 1)" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        CNI_COMMAND="$3" CNI_CONTAINERID="$4" CNI_NETNS="$5" CNI_IFNAME=eth0 CNI_PATH="$BIN" "$2" >"$MH_DIR/out.json" ||
        { cat "$MH_DIR/out.json" >&2; return 1; }
    t1=$(date +%s%N)
    echo $((t1 - t0))
}
floor() { local t0 t1; t0=$(date +%s%N); nsenter --net="/run/netns/$(mh_ns 1)" true; t1=$(date +%s%N); echo $((t1 - t0)); }
ip netns add "${MH_P}bench"
MH_NS+=("${MH_P}bench")
: >"$MH_DIR/ov.add"; : >"$MH_DIR/sb.add"; : >"$MH_DIR/ov.del"; : >"$MH_DIR/sb.del"; : >"$MH_DIR/floor"
# One warm-up each (bridge, masquerade, store created).
run_plugin "$OV_CONF" "$BIN/simpleoverlay" ADD w "/run/netns/${MH_P}bench" >/dev/null &&
    run_plugin "$OV_CONF" "$BIN/simpleoverlay" DEL w "/run/netns/${MH_P}bench" >/dev/null &&
    run_plugin "$SB_CONF" "$BIN/simplebridge" ADD w "/run/netns/${MH_P}bench" >/dev/null &&
    run_plugin "$SB_CONF" "$BIN/simplebridge" DEL w "/run/netns/${MH_P}bench" >/dev/null || exit 1
for i in $(seq 1 "$CYCLES"); do
    if [ $((i % 2)) = 0 ]; then order="ov sb"; else order="sb ov"; fi
    for who in $order; do
        if [ "$who" = ov ]; then conf="$OV_CONF" plugin="$BIN/simpleoverlay"; else conf="$SB_CONF" plugin="$BIN/simplebridge"; fi
        run_plugin "$conf" "$plugin" ADD "c$i" "/run/netns/${MH_P}bench" >>"$MH_DIR/$who.add" || exit 1
        run_plugin "$conf" "$plugin" DEL "c$i" "/run/netns/${MH_P}bench" >>"$MH_DIR/$who.del" || exit 1
    done
    floor >>"$MH_DIR/floor"
done
ov_add=$(median <"$MH_DIR/ov.add"); sb_add=$(median <"$MH_DIR/sb.add")
ov_del=$(median <"$MH_DIR/ov.del"); sb_del=$(median <"$MH_DIR/sb.del")
echo "| step | simpleoverlay median (p95) ms | simplebridge median (p95) ms | ratio |"
echo "|---|---|---|---|"
echo "| ADD | $(ms "$ov_add") ($(ms "$(p95 <"$MH_DIR/ov.add")")) | $(ms "$sb_add") ($(ms "$(p95 <"$MH_DIR/sb.add")")) | $(python3 -c "print('%.2fx' % ($ov_add/$sb_add))") |"
echo "| DEL | $(ms "$ov_del") ($(ms "$(p95 <"$MH_DIR/ov.del")")) | $(ms "$sb_del") ($(ms "$(p95 <"$MH_DIR/sb.del")")) | $(python3 -c "print('%.2fx' % ($ov_del/$sb_del))") |"
echo "| floor (nsenter true) | $(ms "$(median <"$MH_DIR/floor")") | | |"

echo "== 2. join: host 3's agent started, 5 times"
: >"$MH_DIR/join"
for i in 1 2 3 4 5; do
    t0=$(date +%s.%N)
    mh_agent_start 3 --min-free 16
    pid=$MH_LAST_PID
    seen() { grep -q "2 remote host" "$MH_DIR/agent1.log" && grep -q "2 remote host" "$MH_DIR/agent2.log" &&
        [ "$(python3 - "$t0" "$MH_DIR/agent1.log" "$MH_DIR/agent2.log" <<'PY'
import re, sys
t0 = float(sys.argv[1]); n = 0
for f in sys.argv[2:]:
    if any(float(m.group(1)) >= t0 for m in (re.match(r"cnmd: ([0-9.]+) info: .*kernel change.*; 2 remote host", l) for l in open(f)) if m):
        n += 1
print(n)
PY
)" = 2 ]; }
    mh_wait 15 seen || { echo "host 3 not routed" >&2; exit 1; }
    python3 - "$t0" "$MH_DIR/agent1.log" "$MH_DIR/agent2.log" >>"$MH_DIR/join" <<'PY'
import re, sys
t0 = float(sys.argv[1]); last = 0.0
for f in sys.argv[2:]:
    for l in open(f):
        m = re.match(r"cnmd: ([0-9.]+) info: .*kernel change.*; 2 remote host", l)
        if m and float(m.group(1)) >= t0:
            last = max(last, float(m.group(1))); break
print("%.3f" % (last - t0))
PY
    mh_stop "$pid"
    sleep 0.5
done
echo "join (agent start -> all others routed), s: $(tr '\n' ' ' <"$MH_DIR/join") median $(median <"$MH_DIR/join")"

echo "== 3. scale: an agent programming 500 remote hosts"
python3 - >"$MH_DIR/sim.txt" <<'PY'
import json
for i in range(500):
    block = "10.214.%d.%d/26" % (128 + i // 4, (i % 4) * 64)
    rec = {"host": "sim-%d" % i, "underlay": "10.241.%d.%d" % (i // 250, i % 250 + 1),
           "networks": {"ov1": {"vtepMac": "02:00:00:00:%02x:%02x" % (i // 256, i % 256), "blocks": [block]}}}
    print("/cnm/v1/hosts/sim-%d\t%s" % (i, json.dumps(rec, separators=(",", ":"))))
PY
lease=$(mh_etcdctl 1 lease grant 600 | awk '{print $2}')
while IFS=$'\t' read -r key val; do
    mh_etcdctl 1 put --lease="$lease" "$key" "$val" >/dev/null || exit 1
done <"$MH_DIR/sim.txt"
t0=$(date +%s.%N)
mh_agent_start 3 --min-free 16
pid=$MH_LAST_PID
routes500() { [ "$(mh_vx_routes 3)" -ge 502 ]; }
mh_wait 60 routes500 || { echo "500 hosts not programmed" >&2; exit 1; }
t1=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status")
rss=$(awk '/VmRSS/ {print $2, $3}' "/proc/$pid/status")
echo "routes $(mh_vx_routes 3), neighbours $(mh_run 3 ip neigh show dev cnmx4214 nud permanent | wc -l), fdb $(mh_run 3 bridge fdb show dev cnmx4214 | grep -c dst)"
echo "500 remote hosts: programmed $(python3 -c "print('%.2f' % ($t1-$t0))") s after the agent started (polling every 0.1 s); agent VmHWM $hwm, VmRSS $rss"
mh_etcdctl 1 lease revoke "$lease" >/dev/null
gone500() { [ "$(mh_vx_routes 3)" -le 4 ]; }
t0=$(date +%s.%N)
mh_wait 60 gone500 && echo "500 hosts gone (lease revoked): removed in $(python3 -c "print('%.2f' % ($(date +%s.%N)-$t0))") s"
mh_stop "$pid"

echo "== 4. data path: overlay vs a plain veth pair"
mh_container 1 p1; IP_P1=$MH_CIP
mh_container 2 p2; IP_P2=$MH_CIP
ip netns add "${MH_P}va"; MH_NS+=("${MH_P}va")
ip netns add "${MH_P}vb"; MH_NS+=("${MH_P}vb")
ip -n "${MH_P}va" link add eth0 type veth peer name eth0 netns "${MH_P}vb"
ip -n "${MH_P}va" addr add 10.232.0.1/24 dev eth0; ip -n "${MH_P}va" link set eth0 up; ip -n "${MH_P}va" link set lo up
ip -n "${MH_P}vb" addr add 10.232.0.2/24 dev eth0; ip -n "${MH_P}vb" link set eth0 up; ip -n "${MH_P}vb" link set lo up
rtt() { ip netns exec "$1" ping -q -c 50 -i 0.01 "$2" | awk -F/ '/rtt/ {print $5}'; }
tput() {
    local srv="$1" cli="$2" ip="$3" pid g
    ip netns exec "$srv" iperf3 -s -1 -B "$ip" >/dev/null 2>&1 &
    pid=$!
    sleep 0.5
    g=$(ip netns exec "$cli" iperf3 -c "$ip" -t 3 -J 2>/dev/null | python3 -c 'import json,sys;print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))')
    wait "$pid" 2>/dev/null
    echo "$g"
}
o_rtt=$(rtt "${MH_P}cp1" "$IP_P2"); v_rtt=$(rtt "${MH_P}va" 10.232.0.2)
o_bw=$(tput "${MH_P}cp2" "${MH_P}cp1" "$IP_P2"); v_bw=$(tput "${MH_P}vb" "${MH_P}va" 10.232.0.2)
echo "| path | ping RTT avg ms | TCP Gbit/s |"
echo "|---|---|---|"
echo "| overlay (host 1 -> host 2, VXLAN, MTU 1450) | $o_rtt | $o_bw |"
echo "| plain veth pair (MTU 1500) | $v_rtt | $v_bw |"
echo "| ratio overlay/veth | $(python3 -c "print('%.2fx' % ($o_rtt/$v_rtt))") | $(python3 -c "print('%.2fx' % ($o_bw/$v_bw))") |"

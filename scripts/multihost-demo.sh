#!/usr/bin/env bash
# The multi-host demo: three hosts (network namespaces on an underlay
# bridge of their own), three etcd members inside them, a node agent (cnmd)
# per host, a dual-stack overlay network (IPv4 and IPv6 blocks), containers
# joined by simpleoverlay pinging each other across hosts in both
# directions by both families, then clean removal of everything. Never touches
# the machine's own network namespace. Needs root; run after scripts/setup.sh.
# Last line: `N passed, M failed`; exits non-zero on failure.
#   PROFILE=release|debug (default debug)
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: needs root"
    exit 0
fi
if [ "${PROFILE:-debug}" = release ]; then
    cargo build --release -p simpleoverlay -p cnm-node-agent || exit 1
    export CNMD="$PWD/target/release/cnmd" SIMPLEOVERLAY="$PWD/target/release/simpleoverlay"
else
    cargo build -p simpleoverlay -p cnm-node-agent || exit 1
fi
source tests/multihost/lib.sh
MH_NETWORK="name=ov1,subnet=10.214.0.0/16,vni=4214,block=26,subnet6=fd00:214::/48,block6=64"
mh_init
for n in 1 2 3; do mh_add_host "$n"; done

echo "== etcd: three members on 10.213.0.11-13"
mh_etcd_start 1 2 3 || { mh_check "etcd cluster healthy" false; mh_summary; exit 1; }
mh_check "etcd cluster healthy" true

echo "== node agents"
for n in 1 2 3; do mh_agent_start "$n"; done
routes_are() { [ "$(mh_vx_routes "$1")" = "$2" ]; }
all_meshed() { routes_are 1 2 && routes_are 2 2 && routes_are 3 2; }
mh_check "every host routes to the blocks of the two others" mh_wait 15 all_meshed
for n in 1 2 3; do
    echo "   host $n: $(python3 -c 'import json,sys;s=json.load(open(sys.argv[1]));print("blocks", s["blocks"], "mtu", s["mtu"])' "$MH_DIR/h$n/state/ov1.json")"
done

echo "== containers (simpleoverlay ADD)"
for n in 1 2 3; do
    for k in a b; do
        if mh_check "ADD c$n$k on host $n" mh_container "$n" "c$n$k"; then
            eval "IP_$n$k=$MH_CIP; IP6_$n$k=$MH_CIP6"
            echo "   c$n$k on host $n: $MH_CIP $MH_CIP6"
        fi
    done
done

echo "== pings across hosts, both directions"
for from in 1 2 3; do
    for to in 1 2 3; do
        [ "$from" = "$to" ] && continue
        ip="$(eval echo "\${IP_${to}a:-}")"
        [ -n "$ip" ] && mh_check "c${from}a -> c${to}a ($ip)" mh_ping "c${from}a" "$ip"
    done
done
ping6() { ip netns exec "${MH_P}c$1" ping -6 -c1 -W2 "$2" >/dev/null; }
for from in 1 2 3; do
    to=$((from % 3 + 1))
    ip6="$(eval echo "\${IP6_${to}a:-}")"
    [ -n "$ip6" ] && mh_check "IPv6 c${from}a -> c${to}a ($ip6)" mh_wait 5 ping6 "c${from}a" "$ip6"
done
same_host() { mh_ping c1a "${IP_1b:-}"; }
mh_check "c1a -> c1b on the same host" same_host

echo "== removal"
for n in 1 2 3; do
    for k in a b; do
        mh_check "DEL c$n$k" mh_cni "$n" DEL "c$n$k" "/run/netns/${MH_P}cc$n$k"
        ip netns del "${MH_P}cc$n$k" 2>/dev/null || true
    done
done
store_empty() {
    local n
    for n in 1 2 3; do
        ! ls "$MH_DIR/h$n/store/ov1" 2>/dev/null | grep -q '^10\.'
    done
}
mh_check "every address released" store_empty
del_again() { mh_cni 1 DEL c1a "/run/netns/${MH_P}cc1a" >/dev/null; }
mh_check "DEL again (namespace gone) succeeds" del_again
for n in 1 2 3; do mh_stop "$(eval echo "\$MH_AGENT_PID_$n")"; done
no_host_left() {
    local keys
    keys="$(mh_etcdctl 1 get --prefix --keys-only /cnm/v1/)" || return 1
    grep -q /cnm/v1/networks/ov1 <<<"$keys" && ! grep -q /cnm/v1/hosts/ <<<"$keys"
}
mh_check "stopped agents leave no host record" no_host_left
for n in 1 2 3; do mh_stop "$(eval echo "\$MH_ETCD_PID_$n")"; done
mh_summary
rc=$?
# mh_cleanup (EXIT trap) removes the namespaces and the temp directory.
exit "$rc"

#!/usr/bin/env bash
# Dual stack across hosts and masquerade out of the cluster (issue 22), on
# one etcd member and up to eight hosts:
#   ipv6      a dual-stack overlay (IPv4 /16 in /26 blocks, IPv6 /48 in /64
#             blocks) on three hosts over the IPv4 underlay: containers get
#             an address of each family; ping and TCP across the hosts by
#             both families
#   race      five more agents started at once: no block (of either family)
#             held twice
#   masq      an "outside" namespace reachable only through host 1's uplink:
#             containers on hosts 1 and 2 reach it with their host's address
#             as the source (IPv4; and IPv6 from host 1, the underlay being
#             IPv4 only); traffic between containers keeps its source
# Last line: `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/multihost/lib.sh
mh_init
cargo build -q -p simpleoverlay -p cnm-node-agent || exit 1
MH_NETWORK="name=ov1,subnet=10.214.0.0/16,vni=4214,block=26,subnet6=fd00:214::/48,block6=64"
for n in 1 2 3; do mh_add_host "$n"; done
mh_etcd_start 1 || { mh_check "etcd healthy" false; mh_summary; exit 1; }
export MH_ENDPOINTS
MH_ENDPOINTS="$(mh_etcd_endpoints 1)"
for n in 1 2 3; do mh_agent_start "$n"; done

blocks_of() { python3 -c 'import json,sys;print(" ".join(json.load(open(sys.argv[1]))["blocks"]))' "$MH_DIR/h$1/state/ov1.json" 2>/dev/null; }
# Host N routes every block of host M: IPv4 via M's underlay address,
# IPv6 via its IPv4-mapped form.
routes_to() {
    local n="$1" m="$2" b
    [ -n "$(blocks_of "$m")" ] || return 1
    for b in $(blocks_of "$m"); do
        case "$b" in
        *:*) ip -n "$(mh_ns "$n")" -6 route show "$b" dev cnmx4214 | grep -q "via ::ffff:$(mh_ip "$m")" || return 1 ;;
        *) ip -n "$(mh_ns "$n")" -4 route show "$b" dev cnmx4214 | grep -q "via $(mh_ip "$m")" || return 1 ;;
        esac
    done
}
meshed() {
    local n m
    for n in "$@"; do for m in "$@"; do
        [ "$n" = "$m" ] || routes_to "$n" "$m" || return 1
    done; done
}
mh_check "three dual-stack hosts meshed (IPv6 blocks via ::ffff:<underlay>)" mh_wait 20 meshed 1 2 3
has_v6_block() { blocks_of "$1" | grep -q "fd00:214:"; }
mh_check "each host holds an IPv6 /64 block" eval 'has_v6_block 1 && has_v6_block 2 && has_v6_block 3'

# mh_container with both addresses: MH_CIP (IPv4) and MH_CIP6.
container_ds() {
    local n="$1" name="$2" ns="${MH_P}c$2" out
    ip netns add "$ns"
    MH_NS+=("$ns")
    ip -n "$ns" link set lo up
    out="$(mh_cni "$n" ADD "$name" "/run/netns/$ns")" || { mh_log "ADD $name on host $n: $out"; return 1; }
    MH_CIP="$(python3 -c 'import json,sys;print([i["address"].split("/")[0] for i in json.load(sys.stdin)["ips"] if "." in i["address"]][0])' <<<"$out")" || return 1
    MH_CIP6="$(python3 -c 'import json,sys;print([i["address"].split("/")[0] for i in json.load(sys.stdin)["ips"] if ":" in i["address"]][0])' <<<"$out")" || return 1
}
for n in 1 2 3; do
    mh_check "dual-stack ADD c$n on host $n" container_ds "$n" "c$n"
    eval "IP_$n=$MH_CIP; IP6_$n=$MH_CIP6"
done
echo "   c1 $IP_1 $IP6_1, c2 $IP_2 $IP6_2, c3 $IP_3 $IP6_3"
ping6() { ip netns exec "${MH_P}c$1" ping -6 -c1 -W2 "$2" >/dev/null; }
# The first IPv6 ping may wait for the container's neighbour discovery.
ping6_soon() { mh_wait 5 ping6 "$1" "$2"; }
mh_check "IPv6 ping c1 -> c2 (host 1 -> host 2)" ping6_soon c1 "$IP6_2"
mh_check "IPv6 ping c2 -> c3 (host 2 -> host 3)" ping6_soon c2 "$IP6_3"
mh_check "IPv6 ping c3 -> c1 (host 3 -> host 1)" ping6_soon c3 "$IP6_1"
mh_check "IPv4 ping c1 -> c3" mh_ping c1 "$IP_3"
mh_check "IPv4 ping c2 -> c1" mh_ping c2 "$IP_1"

# A TCP server in container NAME on PORT answering each connection with the
# address it came from (bounded: 60 s).
PEER_SERVER='
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(8)
s.settimeout(60)
while True:
    try:
        c, a = s.accept()
    except socket.timeout:
        break
    c.sendall((a[0] + "\n").encode())
    c.close()
'
PEER_CLIENT='
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print(c.recv(200).decode().strip())
'
server() {
    local ns="$1" addr="$2" port="$3"
    ip netns exec "$ns" python3 -c "$PEER_SERVER" "$addr" "$port" &
    MH_PIDS+=($!)
}
# peer_of NS ADDR PORT: what the server at ADDR:PORT saw as our address.
peer_of() { ip netns exec "$1" python3 -c "$PEER_CLIENT" "$2" "$3" 2>/dev/null; }
server "${MH_P}cc2" "::" 7000
server "${MH_P}cc3" "0.0.0.0" 7001
sleep 0.5
tcp6() { [ "$(peer_of "${MH_P}cc1" "$IP6_2" 7000)" = "$IP6_1" ]; }
mh_check "IPv6 TCP c1 -> c2 across hosts, source kept (not masqueraded)" mh_wait 5 tcp6
tcp6b() { [ "$(peer_of "${MH_P}cc3" "$IP6_2" 7000)" = "$IP6_3" ]; }
mh_check "IPv6 TCP c3 -> c2 across hosts" mh_wait 5 tcp6b
tcp4() { [ "$(peer_of "${MH_P}cc1" "$IP_3" 7001)" = "$IP_1" ]; }
mh_check "IPv4 TCP c1 -> c3 across hosts, source kept (not masqueraded)" mh_wait 5 tcp4

echo "== race: five agents started at once"
for n in 4 5 6 7 8; do mh_add_host "$n"; done
for n in 4 5 6 7 8; do mh_agent_start "$n"; done
all_claimed() { local n; for n in 4 5 6 7 8; do [ "$(blocks_of "$n" | wc -w)" = 2 ] || return 1; done; }
mh_check "five more hosts hold an IPv4 and an IPv6 block each" mh_wait 20 all_claimed
unique_blocks() {
    local all
    all="$(mh_etcdctl 1 get --prefix --keys-only /cnm/v1/blocks/ov1/ | grep . | sort)"
    # Eight hosts, two families: 16 keys, each naming a distinct block, and
    # every host's state file lists blocks no other host lists.
    [ "$(wc -l <<<"$all")" = 16 ] || return 1
    [ "$(for n in 1 2 3 4 5 6 7 8; do blocks_of "$n" | tr ' ' '\n'; done | sort | uniq -d | wc -l)" = 0 ]
}
mh_check "no block of either family held twice (16 claims for 8 hosts)" unique_blocks
mh_check "host 8 routes to host 1's IPv6 block" mh_wait 10 routes_to 8 1
for n in 4 5 6 7 8; do mh_stop "$(eval echo "\$MH_AGENT_PID_$n")"; done

echo "== masq: an outside namespace behind host 1's uplink"
OUT="${MH_P}o"
ip netns add "$OUT"
MH_NS+=("$OUT")
ip -n "$OUT" link set lo up
ip -n "$(mh_ns 1)" link add up0 type veth peer name eth0 netns "$OUT"
ip -n "$(mh_ns 1)" addr add 198.51.100.1/24 dev up0
ip -n "$(mh_ns 1)" link set up0 up
ip -n "$OUT" addr add 198.51.100.2/24 dev eth0
ip -n "$(mh_ns 1)" addr add 2001:db8:ff::1/64 dev up0 nodad
ip -n "$OUT" addr add 2001:db8:ff::2/64 dev eth0 nodad
ip -n "$OUT" link set eth0 up
# The outside knows the hosts (their underlay) through host 1, nothing of
# the cluster's subnets; host 2 reaches the outside through host 1.
ip -n "$OUT" route add 10.213.0.0/24 via 198.51.100.1
ip -n "$(mh_ns 2)" route add 198.51.100.0/24 via "$(mh_ip 1)"
server "$OUT" "0.0.0.0" 7002
server "$OUT" "::" 7003
sleep 0.5
no_cluster_route() { ! ip -n "$OUT" route get "$IP_1" >/dev/null 2>&1; }
mh_check "the outside has no route to the cluster subnet" no_cluster_route
src1="$(peer_of "${MH_P}cc1" 198.51.100.2 7002)"
echo "   the outside saw c1 (on host 1) as ${src1:-nothing}"
mh_check "c1 reaches the outside with host 1's uplink address as the source" [ "$src1" = 198.51.100.1 ]
src2="$(peer_of "${MH_P}cc2" 198.51.100.2 7002)"
echo "   the outside saw c2 (on host 2) as ${src2:-nothing}"
mh_check "c2 reaches the outside with host 2's address as the source" [ "$src2" = "$(mh_ip 2)" ]
src6=""
out6() { src6="$(peer_of "${MH_P}cc1" 2001:db8:ff::2 7003)" && [ -n "$src6" ]; }
mh_wait 5 out6
echo "   the outside saw c1's IPv6 as ${src6:-nothing}"
mh_check "c1 reaches the outside by IPv6 with host 1's uplink address as the source" [ "$src6" = 2001:db8:ff::1 ]
mh_check "between containers still not masqueraded (c1 -> c3)" tcp4
mh_check "between containers still not masqueraded (IPv6 c1 -> c2)" tcp6
mh_summary

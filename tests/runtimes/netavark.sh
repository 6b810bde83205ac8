#!/usr/bin/env bash
# Podman 5's network stack on our drivers: the real netavark 2.1.0 runs our
# plugin (driver `cnm-netavark`, as `make install` installs it), invoked exactly as Podman
# 5 invokes it (netavark --config <dir> --rootless false --plugin-directory
# <dir> setup|teardown <netns>, NetworkOptions JSON on stdin). Podman 5 is
# not packaged for Debian 12: the suite plays Podman's part (it runs the
# plugin's `create` as Podman does, and also through `netavark create`).
#
# Everything happens in a throwaway host namespace (nsenter --net) with
# throwaway container namespaces; netavark runs in a private mount namespace
# with /run/sysctl.d on a tmpfs. Scenarios: two containers on a dual-stack
# network ping each other and the gateway (IPv6 usable at once); static IP
# and MAC; a static IP in use is refused and nothing changes; TCP, UDP and
# range port mappings and a host_ip mapping, reached from a client namespace
# and from the host (its address and 127.0.0.1); names on dns_enabled
# networks (two containers resolve each other by name and alias, with and
# without dns.podman, A and AAAA, over the resolver on the gateways that the
# status block lists; other names forwarded to the network's
# network_dns_servers, an upstream of the test's own in the host namespace;
# a torn down container's name is NXDOMAIN right after; the internal network
# answers its names and forwards nothing); an internal network; two
# networks on one container in one call; teardown twice and after the
# namespace is gone; 20 parallel setups get distinct addresses; bad input
# (malformed JSON, unknown option, interface name over 15 characters,
# missing netns, a bad alias on a dns_enabled network) gives {"error"} and a
# non-zero exit and changes nothing. At the end: no link, address, nftables
# element or chain, state file, reservation, name record or resolver
# process left, and the machine's own namespace unchanged.
# The last line is "N passed, 0 failed" (the first failure stops the suite).
set -uo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/runtimes/lib.sh
source "$DIR/lib.sh"
# shellcheck source=tests/runtimes/netavark-lib.sh
source "$DIR/netavark-lib.sh"

rt_require_root
rt_install_traps
command -v python3 >/dev/null || rt_fail "python3 is missing (scripts/setup.sh installs it)"
nv_find_netavark

PASSED=0
ok() {
    PASSED=$((PASSED + 1))
    rt_log "ok $PASSED: $*"
}

root_snapshot() {
    ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
    ip -o addr show | awk '{print $2, $4}' | sort
}
ROOT_BEFORE="$(root_snapshot)"

rt_make_tmp
rt_make_host_ns
nv_setup
# The name resolver of dns_enabled networks runs in the host namespace, its
# record store in /run/cnm/dns/<its inode>-<cookie>: both go at exit, also
# after a failure (processes in our namespaces are ours).
rt_track_new /run/cnm/dns
rt_defer rm -rf "/run/cnm/dns/$RT_HOSTNS_INODE" "/run/cnm/dns/$RT_HOSTNS_INODE"-*
rt_defer kill_in_ns "$RT_HOSTNS"
DNSQ="$DIR/dnsq.py"

# Subnets, names and ids derived from the PID.
P2=$((100 + $$ % 100))
P3=$(((($$ / 100) % 50) * 5))
SUB_A="10.$P2.$P3.0/24" GW_A="10.$P2.$P3.1" A4="10.$P2.$P3"
SUB_A6="fd00:$P2:$P3::/64" GW_A6="fd00:$P2:$P3::1" A6="fd00:$P2:$P3:"
SUB_B="10.$P2.$((P3 + 1)).0/24" GW_B="10.$P2.$((P3 + 1)).1" B4="10.$P2.$((P3 + 1))"
SUB_I="10.$P2.$((P3 + 2)).0/24" I4="10.$P2.$((P3 + 2))"
SUB_P="10.$P2.$((P3 + 3)).0/24" P4="10.$P2.$((P3 + 3))"
EXT_HOST="10.$P2.$((P3 + 4)).1" EXT_CLIENT="10.$P2.$((P3 + 4)).2"
NET_A="nva$$" NET_B="nvb$$" NET_I="nvi$$" NET_P="nvp$$"
ID_A="$(nv_id "a$$")" ID_B="$(nv_id "b$$")" ID_I="$(nv_id "i$$")" ID_P="$(nv_id "p$$")"

# Container namespaces: ctr_ns NAME sets CTR_NS to the new namespace's path.
CTR_NS=""
ctr_ns() {
    local ns="nvk-$$-$1"
    rt_run 10 ip netns add "$ns" || rt_fail "cannot create netns $ns"
    rt_defer rt_run_quiet_del "$ns"
    CTR_NS="/run/netns/$ns"
}
# Remove a container namespace: first every process still in it (a server
# the suite started), then the namespace. One the test deleted itself is
# gone by then: no complaint.
rt_run_quiet_del() {
    [ -e "/run/netns/$1" ] || return 0
    kill_in_ns "$1"
    rt_run 20 ip netns del "$1"
}
# kill_in_ns NS: TERM, then KILL, every process in namespace NS (bounded).
kill_in_ns() {
    local pids i
    pids="$(ip netns pids "$1" 2>/dev/null)"
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null
    for i in 1 2 3 4 5 6 7 8 9 10; do
        [ -z "$(ip netns pids "$1" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $(ip netns pids "$1" 2>/dev/null) 2>/dev/null
    return 0
}
in_ctr() {
    local c=$1
    shift
    nsenter --net="/run/netns/nvk-$$-$c" "$@"
}

# A server inside a container: answers "<proto>:<port>" on each TCP port
# and "<proto>:<port>:<data>" on each UDP port given (tcp/80 udp/53 ...).
cat >"$RT_TMP/srv.py" <<'EOF'
import selectors, socket, sys
sel = selectors.DefaultSelector()
for spec in sys.argv[1:]:
    proto, port = spec.split("/")
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", int(port)))
    if proto == "tcp":
        s.listen(16)
    sel.register(s, selectors.EVENT_READ, (proto, port))
while True:
    for key, _ in sel.select():
        proto, port = key.data
        s = key.fileobj
        if proto == "tcp":
            c, _ = s.accept()
            c.sendall(("tcp:%s\n" % port).encode())
            c.close()
        else:
            data, addr = s.recvfrom(512)
            s.sendto(("udp:%s:" % port).encode() + data, addr)
EOF
cat >"$RT_TMP/cli.py" <<'EOF'
import socket, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
if proto == "tcp":
    s = socket.create_connection((host, port), timeout=2)
    print(s.recv(100).decode().strip())
else:
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(b"hi", (host, port))
    print(s.recv(100).decode().strip())
EOF
SERVER_PIDS=()
kill_servers() {
    local p
    for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    SERVER_PIDS=()
}
rt_defer kill_servers
serve() {
    local c=$1
    shift
    # nsenter itself in the background (not a shell function): $! is the
    # server's PID, as nsenter execs python3.
    nsenter --net="/run/netns/nvk-$$-$c" python3 "$RT_TMP/srv.py" "$@" </dev/null >/dev/null 2>&1 &
    SERVER_PIDS+=($!)
}
# reach NS PROTO HOST PORT WANT: bounded retries until the answer is WANT.
reach() {
    local ns=$1 proto=$2 host=$3 port=$4 want=$5 i out=""
    for i in 1 2 3 4 5 6 7 8 9 10; do
        out="$(nsenter --net="/run/netns/$ns" timeout 5 python3 "$RT_TMP/cli.py" "$proto" "$host" "$port" 2>/dev/null)"
        [ "$out" = "$want" ] && return 0
        sleep 0.2
    done
    rt_fail "$proto $host:$port from $ns answered '$out', want '$want'"
}
unreachable() {
    local ns=$1 proto=$2 host=$3 port=$4
    nsenter --net="/run/netns/$ns" timeout 5 python3 "$RT_TMP/cli.py" "$proto" "$host" "$port" >/dev/null 2>&1 &&
        rt_fail "$proto $host:$port is reachable from $ns"
    return 0
}
ping_ok() {
    local c=$1 addr=$2 i
    for i in 1 2 3 4 5; do
        in_ctr "$c" ping -c 1 -W 1 "$addr" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    rt_fail "$c cannot ping $addr"
}

host_links() { ip -n "$RT_HOSTNS" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort; }
nft_cnm() { ip netns exec "$RT_HOSTNS" nft list table inet cnm 2>/dev/null; }
state_files() { (cd "$NV_STATE" && find . | sort); }
snapshot() {
    host_links
    ip -n "$RT_HOSTNS" -o addr show | awk '{print $2, $4}' | sort
    nft_cnm
    state_files
}

# no_names_left WHEN: no cnm-resolver in the host namespace and no record store of it.
no_names_left() {
    local procs dirs
    procs="$(ip netns pids "$RT_HOSTNS" | xargs -r ps -o pid=,comm= -p | awk '$2 == "cnm-resolver"')"
    [ -z "$procs" ] || rt_fail "$1: a resolver is still running: $procs"
    dirs="$(ls -d "/run/cnm/dns/$RT_HOSTNS_INODE"-* 2>/dev/null || true)"
    [ -z "$dirs" ] || rt_fail "$1: the name record store is left: $(find $dirs | head -20)"
}

# Run netavark; keep stdout in $RT_TMP/out, the exit code in RC.
RC=0
run_nv() {
    local cmd=$1 ns=$2 input=$3
    RC=0
    nv 60 "$cmd" "$ns" <"$input" >"$RT_TMP/out" 2>"$RT_TMP/err" || RC=$?
}
expect_ok() {
    [ "$RC" = 0 ] || rt_fail "$1: netavark exited $RC: $(cat "$RT_TMP/out" "$RT_TMP/err")"
}
# expect_error WHAT WANT: non-zero exit and {"error"} containing WANT.
expect_error() {
    [ "$RC" != 0 ] || rt_fail "$1: exit code 0, want an error: $(cat "$RT_TMP/out")"
    local msg
    msg="$(nv_json_get "$RT_TMP/out" 'j["error"]' 2>/dev/null)" ||
        rt_fail "$1: no {\"error\"} object on stdout: $(cat "$RT_TMP/out") $(cat "$RT_TMP/err")"
    grep -qF -- "$2" <<<"$msg" || rt_fail "$1: error '$msg' does not say '$2'"
}

# --- info and create (Podman runs the plugin's create itself) --------------------------
out="$(nv_plugin 10 info)" || rt_fail "info failed: $out"
grep -q '"api_version":"1.0.0"' <<<"$out" || rt_fail "info: $out"
ok "info: $out"

# plugin_create NAME ID SUBNETS_JSON [INTERNAL] [OPTIONS_JSON] [DNS_SERVERS_JSON]:
# the network as Podman 5 hands it to the plugin (dns enabled, empty maps),
# completed by the plugin; the result in $RT_TMP/<NAME>.json.
plugin_create() {
    local name=$1 id=$2 subnets=$3 internal=${4:-false} options=${5:-\{\}} servers=${6:-null}
    cat >"$RT_TMP/$name.in" <<EOF
{"name": "$name", "id": "$id", "driver": "$NV_DRIVER",
 "subnets": $subnets, "ipv6_enabled": false, "internal": $internal, "dns_enabled": true,
 "network_dns_servers": $servers, "labels": {}, "options": $options, "ipam_options": {}}
EOF
    nv_plugin 10 create <"$RT_TMP/$name.in" >"$RT_TMP/$name.json" ||
        rt_fail "create $name failed: $(cat "$RT_TMP/$name.json")"
}
# The upstream of NET_A's name server (podman network create --dns): a
# resolver of the test's own on 127.0.0.1 in the host namespace.
plugin_create "$NET_A" "$ID_A" "[{\"subnet\": \"$SUB_A\"}, {\"subnet\": \"$SUB_A6\"}]" false '{}' '["127.0.0.1"]'
BR_A="$(nv_json_get "$RT_TMP/$NET_A.json" 'j["network_interface"]')"
[ "$BR_A" = "cnm-${ID_A:0:11}" ] || rt_fail "create named the bridge '$BR_A', want cnm-${ID_A:0:11}"
[ "$(nv_json_get "$RT_TMP/$NET_A.json" 'j["subnets"][0]["gateway"]')" = "$GW_A" ] || rt_fail "no gateway $GW_A filled in"
[ "$(nv_json_get "$RT_TMP/$NET_A.json" 'j["subnets"][1]["gateway"]')" = "$GW_A6" ] || rt_fail "no gateway $GW_A6 filled in"
[ "$(nv_json_get "$RT_TMP/$NET_A.json" 'j["ipv6_enabled"]')" = True ] || rt_fail "ipv6_enabled not set"
[ "$(nv_json_get "$RT_TMP/$NET_A.json" 'j["dns_enabled"]')" = True ] || rt_fail "dns_enabled turned off"
plugin_create "$NET_I" "$ID_I" "[{\"subnet\": \"$SUB_I\"}]" true
GW_I="$(nv_json_get "$RT_TMP/$NET_I.json" 'j["subnets"][0]["gateway"]')"
[ "$GW_I" = "$I4.1" ] || rt_fail "an internal network with DNS got gateway '$GW_I', want $I4.1 (its name server's address)"
plugin_create "$NET_P" "$ID_P" "[{\"subnet\": \"$SUB_P\"}]"
ok "create fills the bridge name, gateways (also of an internal network with DNS), ipv6_enabled; DNS stays on"

# The same through netavark's own create (what newer Podman 5 releases run).
cat >"$RT_TMP/create-b.in" <<EOF
{"network": {"name": "$NET_B", "id": "$ID_B", "driver": "$NV_DRIVER",
   "subnets": [{"subnet": "$SUB_B"}], "ipv6_enabled": false, "internal": false,
   "dns_enabled": false, "options": {"mtu": "1400"}, "ipam_options": {"driver": "host-local"}},
 "used": {"interfaces": [], "names": {}, "subnets": []},
 "options": {"subnet_pools": [], "default_interface_name": null, "check_used_subnets": false}}
EOF
nv_exec "$NETAVARK" --plugin-directory "$NV_PLUGINS" create <"$RT_TMP/create-b.in" >"$RT_TMP/$NET_B.json" ||
    rt_fail "netavark create failed: $(cat "$RT_TMP/$NET_B.json")"
BR_B="$(nv_json_get "$RT_TMP/$NET_B.json" 'j["network_interface"]')"
[ "$BR_B" = "cnm-${ID_B:0:11}" ] || rt_fail "netavark create: bridge '$BR_B'"
[ "$(nv_json_get "$RT_TMP/$NET_B.json" 'j["subnets"][0]["gateway"]')" = "$GW_B" ] || rt_fail "netavark create: no gateway"
ok "netavark create runs the plugin's create"

# --- two containers on a dual-stack network; static IP and MAC --------------------------
ctr_ns c1; NS1=$CTR_NS
ctr_ns c2; NS2=$CTR_NS
MAC1="aa:bb:cc:$(printf '%02x:%02x' $((P2)) $((P3))):01"
nv_opts c1$$ "$NET_A" "$RT_TMP/$NET_A.json" eth0 "[\"$A4.2\", \"${A6}:2\"]" "$MAC1" >"$RT_TMP/c1.json"
nv_opts c2$$ "$NET_A" "$RT_TMP/$NET_A.json" eth0 "[\"$A4.3\", \"${A6}:3\"]" >"$RT_TMP/c2.json"
# A descriptor of ours without close-on-exec (as flock(1) leaves its lock):
# the resolver the first setup starts must not inherit it.
exec 8>"$RT_TMP/inherit-marker"
run_nv setup "$NS1" "$RT_TMP/c1.json"
expect_ok "setup c1"
exec 8>&-
cp "$RT_TMP/out" "$RT_TMP/c1.status"
# IPv6 is usable at once: no tentative address right after setup.
tentative="$(in_ctr c1 ip -6 addr show dev eth0 tentative)"
[ -z "$tentative" ] || rt_fail "c1 has tentative IPv6 addresses right after setup: $tentative"
run_nv setup "$NS2" "$RT_TMP/c2.json"
expect_ok "setup c2"
[ "$(nv_json_get "$RT_TMP/c1.status" "j['$NET_A']['interfaces']['eth0']['mac_address']")" = "$MAC1" ] ||
    rt_fail "status block MAC: $(cat "$RT_TMP/c1.status")"
[ "$(nv_json_get "$RT_TMP/c1.status" "j['$NET_A']['interfaces']['eth0']['subnets'][0]")" = \
    "{'gateway': '$GW_A', 'ipnet': '$A4.2/24'}" ] || rt_fail "status block subnets: $(cat "$RT_TMP/c1.status")"
[ "$(nv_json_get "$RT_TMP/c1.status" "j['$NET_A']['interfaces']['eth0']['subnets'][1]['ipnet']")" = "${A6}:2/64" ] ||
    rt_fail "status block IPv6: $(cat "$RT_TMP/c1.status")"
grep -q "link/ether $MAC1" <<<"$(in_ctr c1 ip -o link show eth0)" || rt_fail "c1's eth0 does not have MAC $MAC1"
grep -q " $A4.2/24" <<<"$(in_ctr c1 ip -o addr show eth0)" || rt_fail "c1 lacks $A4.2/24"
# The first IPv6 ping succeeds (no DAD wait).
in_ctr c1 ping -c 1 -W 2 "${A6}:3" >/dev/null || rt_fail "c1 cannot ping ${A6}:3 at once"
ping_ok c1 "$A4.3"
ping_ok c2 "$A4.2"
ping_ok c1 "$GW_A"
ping_ok c2 "$GW_A6"
grep -q "default via $GW_A dev eth0 metric 100" <<<"$(in_ctr c1 ip route)" || rt_fail "c1's default route: $(in_ctr c1 ip route)"
ok "two containers ping each other and the gateway (IPv4, IPv6 at once); static IP and MAC; status block"

# --- names on a dns_enabled network ------------------------------------------------------
# NET_A's upstream: answers every A query with 192.0.2.7 (127.0.0.1:53 in the host namespace).
cat >"$RT_TMP/upstream.py" <<'EOF'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
while True:
    q, addr = s.recvfrom(4096)
    if len(q) < 17:
        continue
    off = 12
    while off < len(q) and q[off] != 0:
        off += 1 + q[off]
    if off + 5 > len(q):
        continue
    qtype = struct.unpack(">H", q[off + 1 : off + 3])[0]
    an = 1 if qtype == 1 else 0
    r = struct.pack(">HHHHHH", struct.unpack(">H", q[:2])[0], 0x8180, 1, an, 0, 0) + q[12 : off + 5]
    if an:
        r += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("192.0.2.7")
    s.sendto(r, addr)
EOF
nsenter --net="/run/netns/$RT_HOSTNS" python3 "$RT_TMP/upstream.py" </dev/null >/dev/null 2>&1 &
SERVER_PIDS+=($!)
# lookup CTR SERVER NAME [TYPE]: one query from a container (dnsq.py's line).
lookup() {
    local c=$1
    shift
    in_ctr "$c" timeout 10 python3 "$DNSQ" "$@" 2>&1
}
# want CTR SERVER NAME TYPE WANT: the answer line contains WANT (bounded
# retries: the upstream starts in the background).
want() {
    local c=$1 server=$2 name=$3 type=$4 w=$5 out i
    for i in 1 2 3 4 5; do
        out="$(lookup "$c" "$server" "$name" "$type")"
        grep -qF -- "$w" <<<"$out" && return 0
        sleep 0.2
    done
    rt_fail "$c asked $server for $name $type: '$out', want '$w'"
}
st="$RT_TMP/c1.status"
[ "$(nv_json_get "$st" "j['$NET_A']['dns_server_ips']")" = "['$GW_A', '$GW_A6']" ] ||
    rt_fail "status block dns_server_ips: $(cat "$st")"
[ "$(nv_json_get "$st" "j['$NET_A']['dns_search_domains']")" = "['dns.podman']" ] ||
    rt_fail "status block dns_search_domains: $(cat "$st")"
C1N="ctr-c1$$" C2N="ctr-c2$$"
want c1 "$GW_A" "$C2N" A "rcode=NOERROR answers=$A4.3 "
want c1 "$GW_A" "$C2N.dns.podman" A "rcode=NOERROR answers=$A4.3 "
want c1 "$GW_A6" "$C2N.dns.podman" AAAA "rcode=NOERROR answers=${A6}:3 "
want c1 "$GW_A" "c2$$" A "rcode=NOERROR answers=$A4.3 "
want c2 "$GW_A" "$C1N.DNS.PODMAN" A "rcode=NOERROR answers=$A4.2 "
want c2 "$GW_A6" "C1$$" A "rcode=NOERROR answers=$A4.2 "
want c2 "$GW_A" "$A4.2" PTR "answers=$C1N.dns.podman "
want c1 "$GW_A" "nosuch.dns.podman" A "rcode=NXDOMAIN"
want c1 "$GW_A" "ext.example" A "rcode=NOERROR answers=192.0.2.7 "
RESOLVER="$(ip netns pids "$RT_HOSTNS" | xargs -r ps -o pid=,comm= -p | awk '$2 == "cnm-resolver" {print $1}')"
[ "$(wc -w <<<"$RESOLVER")" = 1 ] || rt_fail "want one cnm-resolver in the host namespace, found '$RESOLVER'"
ls -l "/proc/$RESOLVER/fd" | grep -q inherit-marker && rt_fail "the resolver inherited a descriptor of the runtime"
ok "dns_enabled: the status block lists the gateways and dns.podman; name, alias, any case, A/AAAA/PTR, NXDOMAIN, forwarding to network_dns_servers; one resolver, no inherited descriptor"

# --- a static IP in use ----------------------------------------------------------------
ctr_ns c3; NS3=$CTR_NS
nv_opts c3$$ "$NET_A" "$RT_TMP/$NET_A.json" eth0 "[\"$A4.2\"]" >"$RT_TMP/c3.json"
before="$(snapshot)"
run_nv setup "$NS3" "$RT_TMP/c3.json"
expect_error "static IP in use" "static IP $A4.2"
[ "$(snapshot)" = "$before" ] || rt_fail "the refused setup changed something: $(diff <(echo "$before") <(snapshot))"
[ -z "$(in_ctr c3 ip -o link show | grep -v ' lo:')" ] || rt_fail "c3 got an interface"
ping_ok c2 "$A4.2"
ok "a static IP in use is refused, nothing changes"

# --- published ports: TCP, UDP, a range, a host_ip --------------------------------------
CLI_NS="nvk-$$-cli"
rt_run 10 ip netns add "$CLI_NS" || rt_fail "cannot create $CLI_NS"
rt_defer rt_run 20 ip netns del "$CLI_NS"
rt_run 10 ip link add "nvext$$" netns "$RT_HOSTNS" type veth peer name eth0 netns "$CLI_NS" ||
    rt_fail "cannot create the outside veth"
ip -n "$RT_HOSTNS" addr add "$EXT_HOST/24" dev "nvext$$"
ip -n "$RT_HOSTNS" link set "nvext$$" up
ip -n "$CLI_NS" addr add "$EXT_CLIENT/24" dev eth0
ip -n "$CLI_NS" link set eth0 up
ip -n "$CLI_NS" link set lo up
ctr_ns c4; NS4=$CTR_NS
PORTS="[{\"container_port\": 80, \"host_ip\": \"\", \"host_port\": 8080, \"protocol\": \"tcp\", \"range\": 1},
 {\"container_port\": 53, \"host_ip\": \"\", \"host_port\": 5353, \"protocol\": \"udp\", \"range\": 1},
 {\"container_port\": 9000, \"host_ip\": \"\", \"host_port\": 19000, \"protocol\": \"tcp,udp\", \"range\": 3},
 {\"container_port\": 80, \"host_ip\": \"$EXT_HOST\", \"host_port\": 8081, \"protocol\": \"tcp\", \"range\": 1}]"
nv_opts c4$$ "$NET_A" "$RT_TMP/$NET_A.json" eth0 "[\"$A4.4\", \"${A6}:4\"]" "" "$PORTS" >"$RT_TMP/c4.json"
run_nv setup "$NS4" "$RT_TMP/c4.json"
expect_ok "setup c4 with ports"
serve c4 tcp/80 udp/53 tcp/9000 tcp/9001 tcp/9002 udp/9001
reach "$CLI_NS" tcp "$EXT_HOST" 8080 tcp:80
reach "$CLI_NS" udp "$EXT_HOST" 5353 udp:53:hi
reach "$CLI_NS" tcp "$EXT_HOST" 19000 tcp:9000
reach "$CLI_NS" tcp "$EXT_HOST" 19002 tcp:9002
reach "$CLI_NS" udp "$EXT_HOST" 19001 udp:9001:hi
reach "$CLI_NS" tcp "$EXT_HOST" 8081 tcp:80
reach "$RT_HOSTNS" tcp "$EXT_HOST" 8080 tcp:80
reach "$RT_HOSTNS" tcp 127.0.0.1 8080 tcp:80
reach "$RT_HOSTNS" udp 127.0.0.1 5353 udp:53:hi
reach "$RT_HOSTNS" tcp 127.0.0.1 19001 tcp:9001
unreachable "$RT_HOSTNS" tcp 127.0.0.1 8081
# A container reaches another's published port through the host address (hairpin).
reach "nvk-$$-c1" tcp "$EXT_HOST" 8080 tcp:80
grep -q "19002" <<<"$(nft_cnm)" || rt_fail "no range element in table inet cnm"
ok "TCP, UDP and range mappings from a client namespace and from the host (address, 127.0.0.1); host_ip honoured"

# --- internal network --------------------------------------------------------------------
ctr_ns c5; NS5=$CTR_NS
ctr_ns c5b; NS5B=$CTR_NS
nv_opts c5$$ "$NET_I" "$RT_TMP/$NET_I.json" eth0 "[\"$I4.5\"]" "" "$PORTS" >"$RT_TMP/c5.json"
nv_opts c5b$$ "$NET_I" "$RT_TMP/$NET_I.json" eth0 "[\"$I4.6\"]" >"$RT_TMP/c5b.json"
run_nv setup "$NS5" "$RT_TMP/c5.json"
expect_ok "setup c5 (internal)"
run_nv setup "$NS5B" "$RT_TMP/c5b.json"
expect_ok "setup c5b (internal)"
routes="$(in_ctr c5 ip route)"
grep -q '^default' <<<"$routes" && rt_fail "c5 on an internal network has a default route: $routes"
grep -q "cnm:$NET_I" <<<"$(nft_cnm)" && rt_fail "an internal network is masqueraded"
grep -q "$I4.5" <<<"$(nft_cnm)" && rt_fail "ports published to a container on an internal network"
ping_ok c5 "$I4.6"
in_ctr c5 ping -c 1 -W 1 "$EXT_CLIENT" >/dev/null 2>&1 && rt_fail "c5 reaches the outside from an internal network"
want c5 "$GW_I" "ctr-c5b$$.dns.podman" A "rcode=NOERROR answers=$I4.6 "
want c5 "$GW_I" "ext.example" A "rcode=REFUSED"
want c5 "$GW_I" "$C2N.dns.podman" A "rcode=NXDOMAIN"
ok "internal: no default route, no masquerade, no published port; peers reach each other and resolve each other's names; nothing forwarded; another network's names invisible"

# --- two networks on one container in one call --------------------------------------------
ctr_ns c6; NS6=$CTR_NS
cat >"$RT_TMP/c6.json" <<EOF
{"container_id": "c6$$", "container_name": "ctr-c6",
 "networks": {"$NET_A": {"interface_name": "eth0", "static_ips": ["$A4.6"]},
              "$NET_B": {"interface_name": "eth1", "static_ips": ["$B4.6"]}},
 "network_info": {"$NET_A": $(cat "$RT_TMP/$NET_A.json"), "$NET_B": $(cat "$RT_TMP/$NET_B.json")}}
EOF
run_nv setup "$NS6" "$RT_TMP/c6.json"
expect_ok "setup c6 on two networks"
cp "$RT_TMP/out" "$RT_TMP/c6.status"
[ "$(nv_json_get "$RT_TMP/c6.status" "sorted(j)")" = "$(python3 -c "print(sorted(['$NET_A', '$NET_B']))")" ] ||
    rt_fail "status of two networks: $(cat "$RT_TMP/c6.status")"
[ "$(nv_json_get "$RT_TMP/c6.status" "j['$NET_B']['interfaces']['eth1']['subnets'][0]['ipnet']")" = "$B4.6/24" ] ||
    rt_fail "eth1 in the status: $(cat "$RT_TMP/c6.status")"
ping_ok c6 "$GW_A"
ping_ok c6 "$GW_B"
ping_ok c6 "$A4.3"
grep -q "mtu 1400" <<<"$(in_ctr c6 ip -o link show eth1)" || rt_fail "eth1 does not have the network's mtu 1400"
ok "two networks on one container in one call (mtu option on the second)"

# --- teardown: twice, and after the namespace is gone --------------------------------------
for c in c6 c5 c5b c4 c2; do
    run_nv teardown "/run/netns/nvk-$$-$c" "$RT_TMP/$c.json"
    expect_ok "teardown $c"
done
# The name is gone right after its teardown returned (a bare name that is
# none of ours any more goes to the upstream, like any other name).
[ -n "$(lookup c1 "$GW_A" "$C2N.dns.podman" A | grep -F "rcode=NXDOMAIN")" ] ||
    rt_fail "c2's name still answers after its teardown: $(lookup c1 "$GW_A" "$C2N.dns.podman" A)"
want c1 "$GW_A" "c2$$" A "rcode=NOERROR answers=192.0.2.7 "
unreachable "$CLI_NS" tcp "$EXT_HOST" 8080
run_nv teardown "$NS4" "$RT_TMP/c4.json"
expect_ok "second teardown of c4"
# c1's namespace disappears before its teardown (a killed container).
rt_run 10 ip netns del "nvk-$$-c1"
run_nv teardown "$NS1" "$RT_TMP/c1.json"
expect_ok "teardown of c1 after its namespace is gone"
run_nv teardown "$NS1" "$RT_TMP/c1.json"
expect_ok "teardown of c1 again"
ok "teardown twice and after the namespace is gone succeed"

left="$(host_links | grep -v -e '^lo$' -e "^nvext$$\$" || true)"
[ -z "$left" ] || rt_fail "links left in the host namespace: $left"
addrs="$(ip -n "$RT_HOSTNS" -o addr show | awk '{print $2, $4}' | grep -v -e '^lo ' -e "^nvext$$ " || true)"
[ -z "$addrs" ] || rt_fail "addresses left in the host namespace: $addrs"
grep -q 'masq-' <<<"$(nft_cnm)" && rt_fail "masquerade chains left: $(nft_cnm)"
elems="$(ip netns exec "$RT_HOSTNS" nft -j list table inet cnm 2>/dev/null | grep -o '"elem"' || true)"
[ -z "$elems" ] || rt_fail "nftables elements left in table inet cnm: $(nft_cnm)"
[ "$(state_files)" = "$(printf '.\n./networks')" ] || rt_fail "plugin state left: $(state_files)"
NFT_STATE="$(rt_nft_state_dir)"
left="$( (ls -A "$NFT_STATE" 2>/dev/null || true) | grep -v '\.lock$' || true)"
[ -z "$left" ] || rt_fail "cnm-nft state left in $NFT_STATE: $left"
no_names_left "after the last teardown"
ok "teardown left no link, address, nftables chain or element, state file, reservation, name record or resolver"

# --- 20 parallel setups: the plugin allocates (no static_ips) ------------------------------
pids=()
for i in $(seq 1 20); do
    ctr_ns "p$i"
    ns=$CTR_NS
    nv_opts "p$i$$" "$NET_P" "$RT_TMP/$NET_P.json" eth0 null >"$RT_TMP/p$i.json"
    nv 120 setup "$ns" <"$RT_TMP/p$i.json" >"$RT_TMP/p$i.status" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || rt_fail "a parallel setup failed: $(cat "$RT_TMP"/p*.status | grep error | head -3)"; done
addrs="$(for i in $(seq 1 20); do nv_json_get "$RT_TMP/p$i.status" "j['$NET_P']['interfaces']['eth0']['subnets'][0]['ipnet']"; done | sort)"
[ "$(sort -u <<<"$addrs" | grep -c "^$P4\.")" = 20 ] || rt_fail "20 parallel setups got: $addrs"
ping_ok p1 "$(nv_json_get "$RT_TMP/p20.status" "j['$NET_P']['interfaces']['eth0']['subnets'][0]['ipnet'].split('/')[0]")"
BR_P="$(nv_json_get "$RT_TMP/$NET_P.json" 'j["network_interface"]')"
[ "$(rt_bridge_ports "$BR_P" | wc -l)" = 20 ] || rt_fail "want 20 ports on $BR_P"
pids=()
for i in $(seq 1 20); do
    nv 120 teardown "/run/netns/nvk-$$-p$i" <"$RT_TMP/p$i.json" >"$RT_TMP/p$i.down" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || rt_fail "a parallel teardown failed: $(cat "$RT_TMP"/p*.down | head -3)"; done
[ -z "$(host_links | grep -v -e '^lo$' -e "^nvext$$\$")" ] || rt_fail "links left after parallel teardowns: $(host_links)"
[ "$(state_files)" = "$(printf '.\n./networks')" ] || rt_fail "plugin state left: $(state_files)"
no_names_left "after 20 parallel teardowns"
ok "20 parallel setups got 20 distinct addresses; 20 parallel teardowns left nothing"

# --- the overlay driver: addresses from the node agent's blocks ----------------------------
# The node agent's state as cnmd writes it (tests/multihost runs cnmd itself):
# the cluster network, this host's two blocks, its bridge with the blocks'
# gateways. The plugin never talks to etcd; it reads this file.
VNI=$((1000 + $$ % 10000))
OV_SUB="172.$((16 + $$ % 16)).$((($$ / 16) % 250)).0/24" OV4="172.$((16 + $$ % 16)).$((($$ / 16) % 250))"
OV_BR="cnmb$VNI" NET_O="nvo$$"
mkdir -p "$RT_TMP/agent"
cat >"$RT_TMP/agent/$NET_O.json" <<EOF
{"version": 1, "network": {"name": "$NET_O", "subnet": "$OV_SUB", "vni": $VNI, "blockPrefix": 29},
 "host": "h1", "blocks": ["$OV4.8/29", "$OV4.16/29"], "mtu": 1450,
 "dataDir": "$RT_TMP/agent-store", "bridge": "$OV_BR", "vxlan": "cnmx$VNI"}
EOF
ip -n "$RT_HOSTNS" link add "$OV_BR" type bridge || rt_fail "cannot create the agent's bridge"
ip -n "$RT_HOSTNS" addr add "$OV4.9/29" dev "$OV_BR"
ip -n "$RT_HOSTNS" addr add "$OV4.17/29" dev "$OV_BR"
ip -n "$RT_HOSTNS" link set "$OV_BR" mtu 1450 up
plugin_create "$NET_O" "$(nv_id "o$$")" "[]" false \
    "{\"driver\": \"overlay\", \"overlay_state_dir\": \"$RT_TMP/agent\"}"
[ "$(nv_json_get "$RT_TMP/$NET_O.json" 'j["network_interface"]')" = "$OV_BR" ] || rt_fail "overlay create: $(cat "$RT_TMP/$NET_O.json")"
[ "$(nv_json_get "$RT_TMP/$NET_O.json" 'j["ipam_options"]["driver"]')" = cnm ] || rt_fail "overlay create: ipam driver"
ctr_ns o1; NSO1=$CTR_NS
ctr_ns o2; NSO2=$CTR_NS
nv_opts o1$$ "$NET_O" "$RT_TMP/$NET_O.json" eth0 null >"$RT_TMP/o1.json"
nv_opts o2$$ "$NET_O" "$RT_TMP/$NET_O.json" eth0 null >"$RT_TMP/o2.json"
run_nv setup "$NSO1" "$RT_TMP/o1.json"
expect_ok "setup o1 (overlay)"
[ "$(nv_json_get "$RT_TMP/out" "j['$NET_O']['interfaces']['eth0']['subnets'][0]['ipnet']")" = "$OV4.10/29" ] ||
    rt_fail "o1's overlay address: $(cat "$RT_TMP/out")"
run_nv setup "$NSO2" "$RT_TMP/o2.json"
expect_ok "setup o2 (overlay)"
grep -q "mtu 1450" <<<"$(in_ctr o1 ip -o link show eth0)" || rt_fail "o1's eth0 does not have the agent's mtu"
ping_ok o1 "$OV4.11"
ping_ok o1 "$OV4.9"
# Names on the overlay: the resolver listens on this host's blocks' gateways.
[ "$(nv_json_get "$RT_TMP/out" "j['$NET_O']['dns_server_ips']")" = "['$OV4.9', '$OV4.17']" ] ||
    rt_fail "overlay status block dns_server_ips: $(cat "$RT_TMP/out")"
want o1 "$OV4.9" "ctr-o2$$.dns.podman" A "rcode=NOERROR answers=$OV4.11 "
[ -e "$RT_TMP/agent-store/$NET_O/$OV4.11" ] || rt_fail "no reservation of $OV4.11 in the agent's store"
run_nv teardown "$NSO1" "$RT_TMP/o1.json"
expect_ok "teardown o1"
run_nv teardown "$NSO2" "$RT_TMP/o2.json"
expect_ok "teardown o2"
[ -z "$(rt_reservations "$RT_TMP/agent-store/$NET_O")" ] || rt_fail "overlay reservations left: $(rt_reservations "$RT_TMP/agent-store/$NET_O")"
[ -z "$(rt_bridge_ports "$OV_BR")" ] || rt_fail "ports left on the agent's bridge"
ip -n "$RT_HOSTNS" link show "$OV_BR" >/dev/null 2>&1 || rt_fail "the agent's bridge was deleted"
grep -q "cnm:$NET_O" <<<"$(nft_cnm)" && rt_fail "the overlay's masquerade is left"
ip -n "$RT_HOSTNS" link del "$OV_BR"
[ "$(state_files)" = "$(printf '.\n./networks')" ] || rt_fail "plugin state left: $(state_files)"
no_names_left "after the overlay's teardown"
ok "overlay (-o driver=overlay): create takes the agent's bridge and subnet; setup allocates in its blocks; names on its gateways; teardown releases"

# --- bad input: {"error"}, non-zero exit, nothing changes ----------------------------------
ctr_ns c8; NS8=$CTR_NS
before="$(snapshot)"
echo '{"container_id": "c8", "networks": ' >"$RT_TMP/bad1.json"
run_nv setup "$NS8" "$RT_TMP/bad1.json"
expect_error "malformed JSON (netavark)" "EOF"
RC=0
nv_plugin 10 setup "$NS8" <"$RT_TMP/bad1.json" >"$RT_TMP/out" 2>"$RT_TMP/err" || RC=$?
expect_error "malformed JSON (plugin)" "invalid setup/teardown JSON on stdin"
python3 -c 'import json,sys; n=json.load(open(sys.argv[1])); n.setdefault("options", {})["nosuch"]="1"; print(json.dumps(n))' \
    "$RT_TMP/$NET_B.json" >"$RT_TMP/bad-net.json"
nv_opts c8$$ "$NET_B" "$RT_TMP/bad-net.json" eth0 "[\"$B4.8\"]" >"$RT_TMP/bad2.json"
run_nv setup "$NS8" "$RT_TMP/bad2.json"
expect_error "unknown option" 'unknown option "nosuch"'
nv_opts c8$$ "$NET_B" "$RT_TMP/$NET_B.json" eth0-is-far-too-long "[\"$B4.8\"]" >"$RT_TMP/bad3.json"
run_nv setup "$NS8" "$RT_TMP/bad3.json"
expect_error "interface name over 15 characters" "longer than 15"
nv_opts c8$$ "$NET_B" "$RT_TMP/$NET_B.json" eth0 "[\"$B4.8\"]" >"$RT_TMP/c8.json"
run_nv setup "/run/netns/nvk-$$-nosuch" "$RT_TMP/c8.json"
expect_error "missing netns (netavark)" "namespace"
RC=0
nv_plugin_input "$RT_TMP/c8.json" >"$RT_TMP/c8.plugin.json"
nv_plugin 10 setup "/run/netns/nvk-$$-nosuch" <"$RT_TMP/c8.plugin.json" >"$RT_TMP/out" 2>"$RT_TMP/err" || RC=$?
expect_error "missing netns (plugin)" "does not exist"
RC=0
nv_plugin 10 create <"$RT_TMP/bad-net.json" >"$RT_TMP/out" 2>"$RT_TMP/err" || RC=$?
expect_error "create with an unknown option" 'unknown option "nosuch"'
nv_opts c8$$ "$NET_A" "$RT_TMP/$NET_A.json" eth0 "[\"$A4.8\"]" >"$RT_TMP/bad4.json"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); j["networks"][sys.argv[2]]["aliases"]=["bad name"]; print(json.dumps(j))' \
    "$RT_TMP/bad4.json" "$NET_A" >"$RT_TMP/bad5.json"
run_nv setup "$NS8" "$RT_TMP/bad5.json"
expect_error "an alias that is not a DNS name" 'alias "bad name"'
[ "$(snapshot)" = "$before" ] || rt_fail "bad input changed something: $(diff <(echo "$before") <(snapshot))"
[ -z "$(in_ctr c8 ip -o link show | grep -v ' lo:')" ] || rt_fail "c8 got an interface from bad input"
no_names_left "after bad input"
ok "bad input: malformed JSON, unknown option, long interface name, missing netns, a bad alias give {\"error\"} and change nothing"

kill_servers
no_names_left "at the end"
left="$(for ns in $(ip netns list | awk '{print $1}' | grep "^nvk-$$-"); do ip netns pids "$ns"; done)"
[ -z "$left" ] || rt_fail "processes left in the suite's namespaces: $(ps -o pid=,args= -p "$(tr '\n' ',' <<<"$left" | sed 's/,$//')")"
ROOT_AFTER="$(root_snapshot)"
[ "$ROOT_BEFORE" = "$ROOT_AFTER" ] || rt_fail "the machine's own namespace changed: $(diff <(echo "$ROOT_BEFORE") <(echo "$ROOT_AFTER"))"
ok "the machine's own namespace is unchanged"
echo "$PASSED passed, 0 failed"

#!/usr/bin/env bash
# Docker (Debian docker.io, dockerd 20.10) running containers on
# cnm-docker-plugin as remote network driver and remote IPAM driver.
#
# Everything happens in a throwaway "host" namespace: the plugin and dockerd
# are started there with nsenter --net (dockerd with --bridge=none
# --iptables=false --ip6tables=false --ip-masq=false, its own data root, exec
# root, pidfile, API socket, cgroup parent and its own containerd under its
# exec root). Docker finds the plugin through /etc/docker/plugins/<name>.spec
# (a name unique to this run, removed at exit) pointing at a socket in the
# test's temp dir. The image is imported from busybox-static (no registry).
#
# Scenarios: a dual-stack network on the plugin's driver and IPAM; two
# containers ping each other and the gateway (v4 and v6); connect and
# disconnect of a running container to a second network; -p 8080:80 reached
# from another namespace through the host's address and from the host itself
# (its address and 127.0.0.1); the plugin killed and restarted while
# containers run, then the containers stopped; dockerd restarted; docker
# network rm; bad input on the plugin socket; SIGTERM. At the end: no link,
# address, nftables element, state record or IPAM reservation left, and the
# machine's own namespace unchanged.
set -uo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/runtimes/lib.sh
source "$DIR/lib.sh"
# shellcheck source=tests/runtimes/docker-lib.sh
source "$DIR/docker-lib.sh"

rt_require_root
rt_install_traps

PLUGIN_BIN="$RT_BIN_DIR/cnm-docker-plugin"
[ -x "$PLUGIN_BIN" ] || rt_fail "$PLUGIN_BIN is missing: run 'cargo build -p cnm-docker-plugin' first"
dk_ensure_docker
command -v dockerd >/dev/null || rt_fail "dockerd is missing (Debian package docker.io; scripts/setup.sh installs it)"
command -v docker >/dev/null || rt_fail "the docker client is missing (Debian package docker.io)"
command -v curl >/dev/null || rt_fail "curl is missing"
[ -x /bin/busybox ] || rt_fail "/bin/busybox is missing (Debian package busybox-static)"

DK_NAME="cnmdk$$"
# CNM_DOCKER_IPAM=default runs the scenarios with Docker's built-in IPAM instead of ours.
IPAM_ARGS=(--ipam-driver "$DK_NAME")
[ "${CNM_DOCKER_IPAM:-cnm}" = default ] && IPAM_ARGS=()
DK_CGROUP="cnmdk-$$"
NET1=dknet1
NET2=dknet2
SUB1=10.213.1.0/24
SUB1_6=fd42:213:1::/64
GW1=10.213.1.1
GW1_6=fd42:213:1::1
SUB2=10.213.2.0/24
GW2=10.213.2.1
EXT_HOST=10.213.9.1
EXT_CLIENT=10.213.9.2

# The machine's own namespace, to compare at the end.
root_snapshot() {
    ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
    ip -o addr show | awk '{print $2, $4}' | sort
}
ROOT_BEFORE="$(root_snapshot)"

# cnm-nft's state of our throwaway namespace (/run/cnm/nft/<inode>-<cookie>):
# its records must be gone after network rm (checked below).
dk_setup

# ip -o of the host namespace.
host_links() { ip -n "$RT_HOSTNS" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//'; }

# ping from a container, bounded retries (IPv6 DAD can delay the first answer).
ping_from() {
    local c=$1 addr=$2 i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        if timeout 5 "${DOCKER[@]}" exec "$c" ping -c 1 -W 1 "$addr" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.3
    done
    rt_fail "$c cannot ping $addr"
}

container_ip() { "${DOCKER[@]}" inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"; }
container_ip6() { "${DOCKER[@]}" inspect -f "{{(index .NetworkSettings.Networks \"$2\").GlobalIPv6Address}}" "$1"; }
endpoint_id() { "${DOCKER[@]}" inspect -f "{{(index .NetworkSettings.Networks \"$2\").EndpointID}}" "$1"; }

plugin_call() {
    # plugin_call PATH BODY: POST BODY to the plugin; prints "<status> <body>".
    timeout 10 curl -s --unix-socket "$SOCK" -o "$RT_TMP/reply" -w '%{http_code}' \
        -H 'Content-Type: application/vnd.docker.plugins.v1.2+json' \
        -X POST --data-binary "$2" "http://plugin$1"
    printf ' %s\n' "$(cat "$RT_TMP/reply")"
}

records() { find "$STATE/$1" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l; }

# --- start ----------------------------------------------------------------------
start_plugin
start_dockerd
rt_log "dockerd $(dk 10 version -f '{{.Server.Version}}') and the plugin ($DK_NAME) are up"

dk_build_image cnm-busybox:test

[ "$(stat -c '%a %U' "$SOCK")" = "600 root" ] || rt_fail "socket mode/owner is $(stat -c '%a %U' "$SOCK"), want 600 root"
# Protocol errors answered before anything exists.
r="$(plugin_call /Plugin.Activate '')"
case "$r" in *'"Implements":["NetworkDriver","IpamDriver"]'*) ;; *) rt_fail "Activate answered $r" ;; esac

# --- dual-stack network, two containers ----------------------------------------------
dk 60 network create -d "$DK_NAME" "${IPAM_ARGS[@]}" --ipv6 \
    --subnet "$SUB1" --gateway "$GW1" --subnet "$SUB1_6" --gateway "$GW1_6" \
    -o mtu=1400 "$NET1" >/dev/null || rt_fail "network create $NET1 failed: $(tail -5 "$RT_TMP/plugin.log")"
[ "$(records networks)" = 1 ] || rt_fail "the plugin recorded $(records networks) networks, want 1"
NID1="$(dk 10 network inspect -f '{{.Id}}' "$NET1")"
BR1="cnm-${NID1:0:11}"

dk 60 run -d --stop-timeout 1 --name c1 --network "$NET1" cnm-busybox:test sleep 600 >/dev/null || rt_fail "run c1 failed"
dk 60 run -d --stop-timeout 1 --name c2 --network "$NET1" --ip 10.213.1.50 cnm-busybox:test sleep 600 >/dev/null || rt_fail "run c2 failed"
grep -q " $GW1/24" <<<"$(ip -n "$RT_HOSTNS" -o addr show dev "$BR1")" || rt_fail "bridge $BR1 lacks $GW1/24"
grep -q "mtu 1400" <<<"$(ip -n "$RT_HOSTNS" -o link show dev "$BR1")" || rt_fail "bridge $BR1 is not mtu 1400"
IP1="$(container_ip c1 "$NET1")"
IP2="$(container_ip c2 "$NET1")"
[ "$IP2" = 10.213.1.50 ] || rt_fail "c2 asked for --ip 10.213.1.50 and got $IP2"
IP2_6="$(container_ip6 c2 "$NET1")"
rt_assert_in_subnet24 "$IP1" "$SUB1"
rt_assert_in_subnet24 "$IP2" "$SUB1"
case "$IP2_6" in fd42:213:1:*) ;; *) rt_fail "c2 has no IPv6 address in $SUB1_6 (got '$IP2_6')" ;; esac
ping_from c1 "$IP2"
ping_from c1 "$GW1"
ping_from c1 "$IP2_6"
ping_from c2 "$GW1_6"
grep -q "mtu 1400" <<<"$("${DOCKER[@]}" exec c1 ip -o link show eth0)" || rt_fail "c1's eth0 is not mtu 1400"
rt_log "ok: dual stack, c1 <-> c2 and the gateways"

# --- concurrent requests: five containers started at once ----------------------------------
pids=()
for i in 1 2 3 4 5; do
    timeout 120 "${DOCKER[@]}" run -d --name "p$i" --network "$NET1" cnm-busybox:test sleep 600 >/dev/null &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || rt_fail "a concurrent docker run failed: $(tail -5 "$RT_TMP/plugin.log")"; done
ips="$(for i in 1 2 3 4 5; do container_ip "p$i" "$NET1"; done | sort)"
[ "$(sort -u <<<"$ips" | grep -c .)" = 5 ] || rt_fail "five concurrent containers got $(sort -u <<<"$ips" | grep -c .) distinct addresses: $ips"
ping_from p1 "$(container_ip p5 "$NET1")"
pids=()
for i in 1 2 3 4 5; do
    timeout 120 "${DOCKER[@]}" rm -f "p$i" >/dev/null &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || rt_fail "a concurrent docker rm -f failed"; done
[ "$(rt_bridge_ports "$BR1" | wc -l)" = 2 ] || rt_fail "ports left on $BR1 after the concurrent removals"
rt_log "ok: five containers started and removed concurrently"

# --- connect / disconnect to a second network -----------------------------------------
dk 60 network create -d "$DK_NAME" "${IPAM_ARGS[@]}" --subnet "$SUB2" "$NET2" >/dev/null ||
    rt_fail "network create $NET2 failed"
dk 30 network connect "$NET2" c1 || rt_fail "network connect $NET2 c1 failed"
IP1B="$(container_ip c1 "$NET2")"
rt_assert_in_subnet24 "$IP1B" "$SUB2"
grep -q " $IP1B/24" <<<"$("${DOCKER[@]}" exec c1 ip -o addr show)" || rt_fail "c1 lacks $IP1B after connect"
ping_from c1 "$GW2"
EP1B="$(endpoint_id c1 "$NET2")"
NID2="$(dk 10 network inspect -f '{{.Id}}' "$NET2")"
BR2="cnm-${NID2:0:11}"
[ -n "$(rt_bridge_ports "$BR2")" ] || rt_fail "no port on $BR2 after connect"
dk 30 network disconnect "$NET2" c1 || rt_fail "network disconnect failed"
grep -q " $IP1B/" <<<"$("${DOCKER[@]}" exec c1 ip -o addr show)" && rt_fail "c1 still has $IP1B after disconnect"
[ -z "$(rt_bridge_ports "$BR2")" ] || rt_fail "ports left on $BR2 after disconnect: $(rt_bridge_ports "$BR2")"
[ -e "$STATE/endpoints/$EP1B.json" ] && rt_fail "endpoint record $EP1B left after disconnect"
ping_from c1 "$IP2"
rt_log "ok: connect / disconnect"

# --- Docker's own IPAM with our driver; our IPAM without --subnet -----------------------------
dk 60 network create -d "$DK_NAME" --subnet 10.213.3.0/24 dknet3 >/dev/null ||
    rt_fail "network create with Docker's default IPAM failed: $(tail -5 "$RT_TMP/plugin.log")"
dk 60 run -d --name c3 --network dknet3 cnm-busybox:test sleep 600 >/dev/null || rt_fail "run c3 failed"
rt_assert_in_subnet24 "$(container_ip c3 dknet3)" 10.213.3.0/24
ping_from c3 10.213.3.1
dk 60 network create -d "$DK_NAME" --ipam-driver "$DK_NAME" dknet4 >/dev/null ||
    rt_fail "network create without --subnet failed: $(tail -5 "$RT_TMP/plugin.log")"
dk 30 network connect dknet4 c3 || rt_fail "network connect dknet4 c3 failed"
rt_assert_in_subnet24 "$(container_ip c3 dknet4)" 10.200.0.0/24
ping_from c3 10.200.0.1
dk 30 rm -f c3 >/dev/null
dk 30 network rm dknet3 dknet4 >/dev/null || rt_fail "network rm dknet3 dknet4 failed"
out="$("${DOCKER[@]}" network create -d "$DK_NAME" "${IPAM_ARGS[@]}" --subnet 10.213.5.0/24 -o nosuch=1 dkbad 2>&1)" &&
    rt_fail "a network with an unknown option was created"
grep -q 'unknown network option "nosuch"' <<<"$out" || rt_fail "unknown option error not shown to the user: $out"
dk 60 network create -d "$DK_NAME" "${IPAM_ARGS[@]}" --internal --subnet 10.213.6.0/24 dkint >/dev/null ||
    rt_fail "network create --internal failed"
dk 60 run -d --name c4 --network dkint cnm-busybox:test sleep 600 >/dev/null || rt_fail "run c4 failed"
routes="$("${DOCKER[@]}" exec c4 ip route)"
grep -q '^default' <<<"$routes" && rt_fail "a container of an internal network has a default route: $routes"
dk 30 rm -f c4 >/dev/null
dk 30 network rm dkint >/dev/null || rt_fail "network rm dkint failed"
rt_log "ok: Docker's default IPAM with our driver; our IPAM's default pool; --internal; a bad option refused"

# --- published port ----------------------------------------------------------------
# An "outside" namespace linked to the host namespace: the client of the published port.
CLI_NS="cnmrt-cli-$$"
rt_run 10 ip netns add "$CLI_NS" || rt_fail "cannot create $CLI_NS"
rt_defer rt_run 20 ip netns del "$CLI_NS"
rt_run 10 ip link add dkext$$ netns "$RT_HOSTNS" type veth peer name eth0 netns "$CLI_NS" ||
    rt_fail "cannot create the outside veth"
ip -n "$RT_HOSTNS" addr add "$EXT_HOST/24" dev "dkext$$"
ip -n "$RT_HOSTNS" link set "dkext$$" up
ip -n "$CLI_NS" addr add "$EXT_CLIENT/24" dev eth0
ip -n "$CLI_NS" link set eth0 up
ip -n "$CLI_NS" link set lo up
# No route back to the container subnets: a container reaches the outside only masqueraded.
ip netns exec "$RT_HOSTNS" sysctl -qw net.ipv4.ip_forward=1

dk 60 run -d --name web --network "$NET1" -p 8080:80 cnm-busybox:test httpd -f -p 80 -h /www >/dev/null ||
    rt_fail "run -p 8080:80 failed: $(tail -5 "$RT_TMP/plugin.log")"
fetch() {
    # fetch NS URL: bounded retries until the page arrives.
    local ns=$1 url=$2 i out
    for i in 1 2 3 4 5 6 7 8 9 10; do
        out="$(nsenter --net="/run/netns/$ns" timeout 3 curl -s "$url" 2>/dev/null)"
        [ "$out" = "hello from cnm" ] && return 0
        sleep 0.3
    done
    rt_fail "no page from $url in $ns (got '$out')"
}
fetch "$CLI_NS" "http://$EXT_HOST:8080/index.html"
fetch "$RT_HOSTNS" "http://$EXT_HOST:8080/index.html"
fetch "$RT_HOSTNS" "http://127.0.0.1:8080/index.html"
nft_out="$(ip netns exec "$RT_HOSTNS" nft -nn list table inet cnm 2>&1)"
grep -q 8080 <<<"$nft_out" || rt_fail "no 8080 element in table inet cnm: $nft_out"
grep -q "cnm:docker-${NID1:0:12}" <<<"$nft_out" || rt_fail "no masquerade for $NET1 in table inet cnm"
ping_from web "$EXT_CLIENT"
rt_log "ok: -p 8080:80 from outside, from the host address and from 127.0.0.1; masquerade out"

# --- bad input on the socket -----------------------------------------------------------
links_before="$(host_links | sort)"
nets_before="$(records networks)"
r="$(plugin_call /NetworkDriver.CreateNetwork '{"NetworkID": "abc", "IPv4Data": [{"Pool": "10.9')"
case "$r" in 400*) ;; *) rt_fail "truncated JSON answered $r" ;; esac
r="$(plugin_call /NetworkDriver.CreateEndpoint '{"NetworkID": "nosuchnetwork", "EndpointID": "e1", "Interface": {"Address": "10.213.7.2/24"}}')"
case "$r" in 200*'"Err":'*'not found'*) ;; *) rt_fail "unknown network answered $r" ;; esac
r="$(plugin_call /NetworkDriver.Join "{\"NetworkID\": \"$NID1\", \"EndpointID\": \"nosuchendpoint\", \"SandboxKey\": \"/var/run/docker/netns/x\"}")"
case "$r" in 200*'"Err":'*'not found'*) ;; *) rt_fail "unknown endpoint answered $r" ;; esac
r="$(plugin_call /NetworkDriver.CreateNetwork "{\"NetworkID\": \"$NID1\", \"IPv4Data\": [{\"AddressSpace\": \"x\", \"Pool\": \"10.213.8.0/24\", \"Gateway\": \"10.213.8.1/24\"}]}")"
case "$r" in 200*'"Err":'*) ;; *) rt_fail "duplicate CreateNetwork answered $r" ;; esac
r="$(plugin_call /IpamDriver.RequestAddress '{"PoolID": "nosuchpool"}')"
case "$r" in 200*'"Error":'*) ;; *) rt_fail "unknown pool answered $r" ;; esac
head -c 3000000 /dev/zero | tr '\0' ' ' >"$RT_TMP/huge"
r="$(timeout 10 curl -s --unix-socket "$SOCK" -o /dev/null -w '%{http_code}' -X POST \
    --data-binary @"$RT_TMP/huge" http://plugin/NetworkDriver.CreateNetwork)"
[ "$r" = 413 ] || rt_fail "a 3 MB body answered $r"
r="$(plugin_call /NetworkDriver.NoSuchCall '{}')"
case "$r" in 404*) ;; *) rt_fail "unknown path answered $r" ;; esac
[ "$(host_links | sort)" = "$links_before" ] || rt_fail "bad input changed the host's links"
[ "$(records networks)" = "$nets_before" ] || rt_fail "bad input changed the network records"
kill -0 "$PLUGIN_PID" || rt_fail "the plugin died on bad input"
rt_log "ok: bad input answered with errors, nothing created"

# --- plugin killed and restarted while containers run ----------------------------------------
kill -KILL "$PLUGIN_PID"
wait "$PLUGIN_PID" 2>/dev/null
PLUGIN_PID=""
start_plugin
ping_from c1 "$IP2"
fetch "$CLI_NS" "http://$EXT_HOST:8080/index.html"
C1_VETHS="$(rt_bridge_ports "$BR1" | wc -l)"
[ "$C1_VETHS" = 3 ] || rt_fail "want 3 ports on $BR1, got $C1_VETHS"
dk 60 stop -t 1 c1 c2 web >/dev/null || rt_fail "stopping the containers after the plugin restart failed"
[ -z "$(rt_bridge_ports "$BR1")" ] || rt_fail "ports left on $BR1: $(rt_bridge_ports "$BR1")"
[ "$(records endpoints)" = 0 ] || rt_fail "$(records endpoints) endpoint records left after stop"
grep -q 8080 <<<"$(ip netns exec "$RT_HOSTNS" nft -nn list table inet cnm 2>/dev/null)" &&
    rt_fail "the 8080 element is left after web stopped"
# cnm-nft's detached socket closers are reaped by the plugin (every 2 s).
for i in $(seq 20); do
    zombies="$(ps -o pid=,stat=,comm= --ppid "$PLUGIN_PID" | awk '$2 ~ /^Z/')"
    [ -z "$zombies" ] && break
    sleep 0.5
done
[ -z "$zombies" ] || rt_fail "the plugin has zombie children: $zombies"
rt_log "ok: plugin killed and restarted, containers stopped cleanly"

# --- dockerd restarted ------------------------------------------------------------------
dk 60 start c1 c2 >/dev/null || rt_fail "restarting c1 c2 failed"
t0=$SECONDS
stop_dockerd
rt_log "dockerd stopped in $((SECONDS - t0))s"
start_dockerd
rt_log "dockerd restarted in $((SECONDS - t0))s"
dk 10 network inspect "$NET1" >/dev/null || rt_fail "$NET1 is gone after the dockerd restart"
dk 60 start c1 c2 >/dev/null || rt_fail "starting c1 c2 after the dockerd restart failed"
ping_from c1 "$(container_ip c2 "$NET1")"
ping_from c2 "$GW1_6"
rt_log "ok: dockerd restarted, containers back on the network"

# --- remove everything -------------------------------------------------------------------
remove_all_containers
dk 30 network rm "$NET1" "$NET2" >/dev/null || rt_fail "network rm failed: $(tail -5 "$RT_TMP/plugin.log")"
left="$(host_links | grep -E '^(cnm-|veth|cnm)' || true)"
[ -z "$left" ] || rt_fail "links left in the host namespace: $left"
grep -Eq '10\.213\.[123]\.|10\.200\.|fd42:213:1:' <<<"$(ip -n "$RT_HOSTNS" -o addr show)" && rt_fail "addresses left in the host namespace"
for k in networks endpoints pools; do
    [ "$(records $k)" = 0 ] || rt_fail "$(records $k) $k records left"
done
left="$(find "$STATE/ipam" -path "$STATE/ipam/.cnm-index" -prune -o -type f ! -name lock ! -name 'last_reserved_ip.*' -print 2>/dev/null || true)"
[ -z "$left" ] || rt_fail "IPAM reservations left: $left"
nft_left="$(ip netns exec "$RT_HOSTNS" nft -j list table inet cnm 2>/dev/null | grep -o '"elem"' || true)"
[ -z "$nft_left" ] || rt_fail "nftables elements left in table inet cnm"
grep -q 'masq-' <<<"$(ip netns exec "$RT_HOSTNS" nft list table inet cnm 2>/dev/null)" && rt_fail "masquerade chains left"
NFT_STATE="$(rt_nft_state_dir)"
[ -n "$NFT_STATE" ] || rt_fail "no cnm-nft state directory for $RT_HOSTNS (port publishing ran: one is expected)"
left="$( (ls -A "$NFT_STATE" 2>/dev/null || true) | grep -v '\.lock$' || true)"
[ -z "$left" ] || rt_fail "cnm-nft state left in $NFT_STATE: $left"
rt_log "ok: network rm left no link, address, record, reservation or nftables element"

# --- SIGTERM -----------------------------------------------------------------------------
kill -TERM "$PLUGIN_PID"
rc=0
wait "$PLUGIN_PID" || rc=$?
PLUGIN_PID=""
[ "$rc" = 0 ] || rt_fail "the plugin exited $rc on SIGTERM"
[ -e "$SOCK" ] && rt_fail "the socket is left after SIGTERM"
stop_dockerd
ROOT_AFTER="$(root_snapshot)"
[ "$ROOT_BEFORE" = "$ROOT_AFTER" ] || rt_fail "the machine's own namespace changed: $(diff <(echo "$ROOT_BEFORE") <(echo "$ROOT_AFTER"))"
rt_log "PASS docker"

#!/usr/bin/env bash
# Kubernetes pods through containerd 1.6's CRI on our plugins (issue 14).
# tests/cri-client plays the kubelet: UpdateRuntimeConfig with the node's pod
# CIDR (containerd renders its conf_template: our bridge + host-local +
# portmap installed under the drop-in names, chained with the reference
# bandwidth and firewall), RunPodSandbox with metadata, hostname, hostPorts,
# DNS and annotations, PodSandboxStatus, ListPodSandbox, StopPodSandbox,
# RemovePodSandbox. containerd runs in a throwaway host namespace with its own
# root, state, socket and config (tests/runtimes/cri-lib.sh).
#
# Scenarios: two pods ping each other and the gateway; a hostPort reaches its
# pod from another namespace and is free again once the pod stopped; the
# bandwidth annotations reach the host veth (tc); a pod whose network
# namespace vanished is still stopped and removed; containerd restarted while
# pods run; 110 pods created and removed; dual-stack pod CIDRs. After every
# scenario: no link, address, reservation, nftables/iptables rule or file of
# the pods is left, and the machine's own namespace is as it was.
# Needs root; exits 77 when not root.
set -Eeuo pipefail
# shellcheck source=tests/runtimes/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/runtimes/cri-lib.sh
source "$(dirname "$0")/cri-lib.sh"

RT_PACKAGES+=(containernetworking-plugins nftables iptables iputils-ping)
rt_require_root
rt_install_traps
rt_ensure_packages
rt_require_binaries

SLOT=$(($$ % 200 + 16))
NET="cnmcri-$$"
BRIDGE="cnmcri$$"
POD_CIDR="10.237.$SLOT.0/24"
GATEWAY="10.237.$SLOT.1"
POD_CIDR6="fd00:cc:$SLOT::/64"
GATEWAY6="fd00:cc:$SLOT::1"
CLIENT_NS="cnmrt-cli-$$"
LINK_HOST="crih$$"
LINK_CLIENT="cric$$"
HOST_ADDR="10.238.$SLOT.1"
CLIENT_ADDR="10.238.$SLOT.2"
HOST_PORT=$((30000 + SLOT))
NS="cnm-test"
LABEL="cnm-suite=cri-$$"
MANY=${CNM_CRI_PODS:-110}

rt_make_tmp
rt_make_host_ns
cri_init "$NET" "$BRIDGE"
STORE="$CRI_DATADIR/$NET"
rt_log "cri: network $NET, bridge $BRIDGE, pod CIDRs $POD_CIDR $POD_CIDR6, host netns $RT_HOSTNS, tmp $RT_TMP"

# --- the machine's own namespace: a snapshot to compare against ------------
root_snapshot() {
    ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
    ip -o addr show | awk '{print $2, $3, $4}' | sort
    ip route show table all
    ip -6 route show table all | sed 's/ expires [0-9]*sec//'
    nft list ruleset 2>/dev/null | md5sum
    sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding
}
ROOT_BEFORE="$(root_snapshot)"
assert_root_untouched() {
    local now
    now="$(root_snapshot)"
    [ "$now" = "$ROOT_BEFORE" ] ||
        rt_fail "$1: the machine's own namespace changed: $(diff <(echo "$ROOT_BEFORE") <(echo "$now") | head -20)"
}

cri_setup ours
rt_log "cri: $(cri 20 version), pause image imported"
[ "$(cri 10 network-ready)" = false ] ||
    rt_fail "NetworkReady before any CNI config was rendered"
cri 20 runtime-config --pod-cidr "$POD_CIDR"
cri_wait_network_ready true
CONFLIST="$CRI_DIR/net.d/10-containerd-net.conflist"
[ -f "$CONFLIST" ] || rt_fail "containerd did not render $CONFLIST from the template"
grep -q "\"subnet\": \"$POD_CIDR\"" "$CONFLIST" ||
    rt_fail "the rendered conflist does not carry the pod CIDR: $(cat "$CONFLIST")"

# --- helpers ----------------------------------------------------------------
# pod NAME [FLAGS...]: RunPodSandbox as the kubelet does; prints the ID.
pod() {
    local name=$1
    shift
    cri 120 run --name "$name" --namespace "$NS" --uid "uid-$name-$$" --hostname "$name" \
        --label "$LABEL" --cgroup-parent "/$CRI_CGROUP" \
        --dns-server 10.96.0.10 --dns-search "$NS.svc.cluster.local" --dns-option ndots:5 "$@"
}

# PodSandboxStatus as one line of JSON (flat, as the client prints it);
# json_field JSON KEY: a string or number field; json_list JSON KEY: the
# items of a list of strings, space-separated (no jq on the machine).
status_json() { cri 30 status "$1"; }
json_field() {
    printf '%s\n' "$1" | sed -n "s/.*\"$2\":\"\\{0,1\\}\\([^\",]*\\)\"\\{0,1\\}[,}].*/\\1/p"
}
json_list() {
    printf '%s\n' "$1" | sed -n "s/.*\"$2\":\\[\\([^]]*\\)\\].*/\\1/p" | tr -d '"' | tr ',' ' '
}

# The pod's host-side veth: the peer ifindex of eth0 in the pod's namespace.
host_veth_of() {
    local netns=$1 idx
    idx="$(nsenter --net="$netns" ip -o link show eth0 | sed -n 's/^[0-9]*: eth0@if\([0-9]*\):.*/\1/p')"
    [ -n "$idx" ] || rt_fail "no veth eth0 in $netns"
    ip -n "$RT_HOSTNS" -o link show 2>/dev/null | awk -F': ' -v i="$idx" '$1 == i {print $2}' | sed 's/@.*//'
}

in_pod() {
    local netns=$1 secs=$2
    shift 2
    rt_run "$secs" nsenter --net="$netns" "$@"
}

declare -A POD_IP POD_IP6 POD_NETNS POD_VETH POD_PID
# inspect ID: READY, an IPv4 address in the pod CIDR, a live netns; records
# what the cleanup checks later need.
inspect() {
    local id=$1 js ip
    js="$(status_json "$id")" || rt_fail "PodSandboxStatus $id failed"
    [ "$(json_field "$js" state)" = READY ] || rt_fail "pod $id is not READY: $js"
    ip="$(json_field "$js" ip)"
    rt_assert_in_subnet24 "$ip" "$POD_CIDR"
    POD_IP[$id]=$ip
    POD_IP6[$id]="$(json_list "$js" additionalIps)"
    POD_NETNS[$id]="$(json_field "$js" netns)"
    POD_PID[$id]="$(json_field "$js" pid)"
    [ -e "${POD_NETNS[$id]}" ] || rt_fail "pod $id: netns '${POD_NETNS[$id]}' does not exist"
    POD_VETH[$id]="$(host_veth_of "${POD_NETNS[$id]}")"
    [ -n "${POD_VETH[$id]}" ] || rt_fail "pod $id: no host veth for its eth0"
    # host-local's reservation names the sandbox (CNI_CONTAINERID), then
    # the interface, separated by CRLF as in the reference.
    [ -f "$STORE/$ip" ] || rt_fail "pod $id: no reservation $STORE/$ip"
    [ "$(head -n 1 "$STORE/$ip" | tr -d '\r')" = "$id" ] ||
        rt_fail "pod $id: reservation $STORE/$ip belongs to '$(head -n 1 "$STORE/$ip")'"
}

stop_pid() {
    kill "$1" 2>/dev/null || return 0
    wait "$1" 2>/dev/null || true
}

# stop_rm ID...: StopPodSandbox then RemovePodSandbox, as the kubelet does.
stop_rm() {
    local id
    for id in "$@"; do
        cri 120 stop "$id" || rt_fail "StopPodSandbox $id failed"
        cri 120 rm "$id" || rt_fail "RemovePodSandbox $id failed"
    done
}

# What may exist in the host namespace between scenarios.
expected_links() {
    {
        echo lo
        echo "$BRIDGE"
        [ ! -e "/run/netns/$CLIENT_NS" ] || echo "$LINK_HOST"
    } | sort
}

# pod_gone ID: nothing of the pod is left (its addresses, veth, rules, files).
pod_gone() {
    local id=$1 what=$2 ip rules
    for ip in ${POD_IP[$id]:-} ${POD_IP6[$id]:-}; do
        [ ! -e "$STORE/$ip" ] || rt_fail "$what: reservation of $ip ($id) left"
    done
    if [ -n "${POD_VETH[$id]:-}" ] && ip -n "$RT_HOSTNS" link show "${POD_VETH[$id]}" >/dev/null 2>&1; then
        rt_fail "$what: host veth ${POD_VETH[$id]} of $id left"
    fi
    rules="$(nsenter --net="/run/netns/$RT_HOSTNS" nft list ruleset 2>&1)"
    for ip in ${POD_IP[$id]:-} ${POD_IP6[$id]:-}; do
        if printf '%s\n' "$rules" | grep -qwF -- "$ip"; then
            rt_fail "$what: a rule for $ip ($id) left: $(printf '%s\n' "$rules" | grep -wF -- "$ip" | head -3)"
        fi
    done
    if compgen -G "$CRI_RESULTS/*-$id-*" >/dev/null; then
        rt_fail "$what: libcni result cache left for $id: $(echo "$CRI_RESULTS"/*-"$id"-*)"
    fi
    if grep -rlsF -- "$id" "$CRI_DATADIR" /run/cnm 2>/dev/null | grep -q .; then
        rt_fail "$what: files naming $id left: $(grep -rlsF -- "$id" "$CRI_DATADIR" /run/cnm | head -3)"
    fi
    [ -z "${POD_NETNS[$id]:-}" ] || [ ! -e "${POD_NETNS[$id]}" ] ||
        rt_fail "$what: netns ${POD_NETNS[$id]} of $id left"
    if findmnt -rn -o TARGET | grep -qF -- "$id"; then
        rt_fail "$what: mounts of $id left: $(findmnt -rn -o TARGET | grep -F -- "$id" | head -3)"
    fi
    local h
    for h in /sys/fs/cgroup /sys/fs/cgroup/*/; do
        [ ! -d "${h%/}/$CRI_CGROUP/$id" ] || rt_fail "$what: cgroup ${h%/}/$CRI_CGROUP/$id left"
    done
}

# assert_clean WHAT ID...: after a scenario, nothing of these pods is left,
# the host namespace holds only what it held before, the machine's own
# namespace is untouched.
assert_clean() {
    local what=$1 id left links addrs
    shift
    [ -z "$(cri 30 list --label "$LABEL")" ] || rt_fail "$what: pods still listed: $(cri 30 list --label "$LABEL")"
    for id in "$@"; do
        pod_gone "$id" "$what"
        [ ! -e "$CRI_DIR/state/io.containerd.grpc.v1.cri/sandboxes/$id" ] &&
            [ ! -e "$CRI_DIR/root/io.containerd.grpc.v1.cri/sandboxes/$id" ] ||
            rt_fail "$what: sandbox files of $id left"
    done
    left="$(rt_reservations "$STORE")"
    [ -z "$left" ] || rt_fail "$what: reservations left: $left"
    [ -z "$(rt_bridge_ports "$BRIDGE")" ] || rt_fail "$what: $BRIDGE still has ports: $(rt_bridge_ports "$BRIDGE")"
    # (stderr: ip resolves peer namespaces through /run/netns, where other
    # tests' namespaces come and go: "Peer netns reference is invalid")
    links="$(ip -n "$RT_HOSTNS" -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | sort)"
    [ "$links" = "$(expected_links)" ] || rt_fail "$what: unexpected links in the host namespace: $links"
    addrs="$(ip -n "$RT_HOSTNS" -o addr show | awk '$2 != "lo" && $4 !~ /^fe80:/ {print $2, $4}' | sort)"
    while read -r link addr; do
        [ -z "$link" ] && continue
        case "$link $addr" in
        "$BRIDGE $GATEWAY/24" | "$BRIDGE $GATEWAY6/64" | "$LINK_HOST $HOST_ADDR/30") ;;
        *) rt_fail "$what: unexpected address in the host namespace: $link $addr" ;;
        esac
    done <<<"$addrs"
    [ -z "$(cri_shim_pids)" ] || rt_fail "$what: runc shims still running: $(cri_shim_pids)"
    assert_root_untouched "$what"
    rt_log "cri: $what: clean"
}

# --- scenario 1: two pods ping each other and the gateway -------------------
A="$(pod web-a)" || rt_fail "RunPodSandbox web-a failed"
B="$(pod web-b)" || rt_fail "RunPodSandbox web-b failed"
inspect "$A"
inspect "$B"
[ "${POD_IP[$A]}" != "${POD_IP[$B]}" ] || rt_fail "both pods got ${POD_IP[$A]}"
rt_log "cri: web-a $A -> ${POD_IP[$A]}, web-b $B -> ${POD_IP[$B]}"
LIST="$(cri 30 list --label "$LABEL")"
for id in "$A" "$B"; do
    printf '%s\n' "$LIST" | grep -q "^$id READY $NS/web-" || rt_fail "ListPodSandbox lacks $id: $LIST"
done
RESOLV="$CRI_DIR/root/io.containerd.grpc.v1.cri/sandboxes/$A/resolv.conf"
grep -qx 'nameserver 10.96.0.10' "$RESOLV" && grep -qx "search $NS.svc.cluster.local" "$RESOLV" ||
    rt_fail "the pod's DNS config did not reach $RESOLV: $(cat "$RESOLV" 2>&1)"
in_pod "${POD_NETNS[$A]}" 15 ping -c 1 -W 3 "${POD_IP[$B]}" >/dev/null || rt_fail "web-a cannot ping web-b"
in_pod "${POD_NETNS[$B]}" 15 ping -c 1 -W 3 "${POD_IP[$A]}" >/dev/null || rt_fail "web-b cannot ping web-a"
in_pod "${POD_NETNS[$A]}" 15 ping -c 1 -W 3 "$GATEWAY" >/dev/null || rt_fail "web-a cannot ping the gateway"
# Stopping web-a releases its address, veth and rules while web-b runs on.
cri 120 stop "$A" || rt_fail "StopPodSandbox $A failed"
pod_gone "$A" "stopped web-a" # (its sandbox dir stays until RemovePodSandbox)
in_pod "${POD_NETNS[$B]}" 15 ping -c 1 -W 3 "$GATEWAY" >/dev/null || rt_fail "web-b lost the gateway"
cri 120 rm "$A" || rt_fail "RemovePodSandbox $A failed"
stop_rm "$B"
assert_clean "two pods" "$A" "$B"

# --- scenario 2: a hostPort reaches its pod from another namespace ----------
rt_run 10 ip netns add "$CLIENT_NS" || rt_fail "cannot create $CLIENT_NS"
rt_defer rt_run 20 ip netns del "$CLIENT_NS"
rt_run 10 ip -n "$RT_HOSTNS" link add "$LINK_HOST" type veth peer name "$LINK_CLIENT" ||
    rt_fail "cannot create the client link"
rt_run 10 ip -n "$RT_HOSTNS" link set "$LINK_CLIENT" netns "$CLIENT_NS" ||
    rt_fail "cannot move $LINK_CLIENT into $CLIENT_NS"
ip -n "$RT_HOSTNS" addr add "$HOST_ADDR/30" dev "$LINK_HOST"
ip -n "$RT_HOSTNS" link set "$LINK_HOST" up
ip -n "$CLIENT_NS" addr add "$CLIENT_ADDR/30" dev "$LINK_CLIENT"
ip -n "$CLIENT_NS" link set "$LINK_CLIENT" up
ip -n "$CLIENT_NS" link set lo up
ip -n "$CLIENT_NS" route add default via "$HOST_ADDR"
WWW="$RT_TMP/www"
mkdir -p "$WWW"
echo "hello from pod $$" >"$WWW/index.html"

C="$(pod web-port --port "$HOST_PORT:8080")" || rt_fail "RunPodSandbox with a hostPort failed"
inspect "$C"
nsenter --net="${POD_NETNS[$C]}" busybox httpd -f -p 8080 -h "$WWW" &
HTTPD=$!
rt_defer stop_pid "$HTTPD"
GOT=""
for _ in $(seq 1 25); do
    # (no -T: it crashes Debian's busybox-static 1.35 wget; timeout bounds it)
    GOT="$(timeout 5 nsenter --net="/run/netns/$CLIENT_NS" busybox wget -q -O - \
        "http://$HOST_ADDR:$HOST_PORT/index.html" 2>/dev/null)" && break
    sleep 0.2
done
[ "$GOT" = "hello from pod $$" ] ||
    rt_fail "hostPort $HOST_PORT on $HOST_ADDR did not reach the pod from $CLIENT_NS (got '$GOT')"
rt_log "cri: hostPort $HOST_PORT -> ${POD_IP[$C]}:8080 answered from $CLIENT_NS"
stop_pid "$HTTPD"
cri 120 stop "$C" || rt_fail "StopPodSandbox $C failed"
pod_gone "$C" "stopped web-port"
if nsenter --net="/run/netns/$RT_HOSTNS" nft list ruleset 2>/dev/null | grep -qw "$HOST_PORT"; then
    rt_fail "hostPort $HOST_PORT still in the host's rules after StopPodSandbox"
fi
cri 120 rm "$C" || rt_fail "RemovePodSandbox $C failed"
# The port is free again: our portmap refuses a host port published by another pod.
D="$(pod web-port2 --port "$HOST_PORT:8080")" || rt_fail "hostPort $HOST_PORT not free after the pod was removed"
inspect "$D"
stop_rm "$D"
assert_clean "hostPort" "$C" "$D"

# --- scenario 3: bandwidth annotations reach the host veth ------------------
E="$(pod shaped --annotation kubernetes.io/ingress-bandwidth=1M \
    --annotation kubernetes.io/egress-bandwidth=2M)" || rt_fail "RunPodSandbox with bandwidth annotations failed"
inspect "$E"
TC="$(nsenter --net="/run/netns/$RT_HOSTNS" tc qdisc show dev "${POD_VETH[$E]}")"
printf '%s\n' "$TC" | grep -q 'tbf .*rate 1Mbit' ||
    rt_fail "no 1Mbit tbf (ingress-bandwidth) on ${POD_VETH[$E]}: $TC"
printf '%s\n' "$TC" | grep -q 'ingress' || rt_fail "no ingress qdisc (egress-bandwidth) on ${POD_VETH[$E]}: $TC"
IFB="$(nsenter --net="/run/netns/$RT_HOSTNS" ip -o link show type ifb | awk -F': ' '{print $2}' | sed 's/@.*//')"
[ -n "$IFB" ] || rt_fail "the reference bandwidth plugin made no ifb device for the egress limit"
nsenter --net="/run/netns/$RT_HOSTNS" tc qdisc show dev "$IFB" | grep -q 'tbf .*rate 2Mbit' ||
    rt_fail "no 2Mbit tbf (egress-bandwidth) on $IFB: $(nsenter --net="/run/netns/$RT_HOSTNS" tc qdisc show dev "$IFB")"
rt_log "cri: bandwidth: ${POD_VETH[$E]} tbf 1Mbit, $IFB tbf 2Mbit"
stop_rm "$E"
assert_clean "bandwidth" "$E"

# --- scenario 4: a pod whose network namespace vanished ---------------------
G="$(pod orphan)" || rt_fail "RunPodSandbox orphan failed"
inspect "$G"
[ -n "${POD_PID[$G]}" ] || rt_fail "no sandbox PID for $G"
# The pause process dies and the pinned namespace is unmounted and removed:
# the kernel destroys the namespace and the veth pair with it.
kill -KILL "${POD_PID[$G]}"
umount "${POD_NETNS[$G]}" || rt_fail "cannot unmount ${POD_NETNS[$G]}"
rm -f "${POD_NETNS[$G]}"
for _ in $(seq 1 50); do
    ip -n "$RT_HOSTNS" link show "${POD_VETH[$G]}" >/dev/null 2>&1 || break
    sleep 0.1
done
# As the kubelet's PLEG does, wait until containerd has seen the sandbox exit
# (NOTREADY); a stop racing containerd's exit handling fails inside
# containerd ("ttrpc: closed") before CNI is reached, and the kubelet retries.
for i in $(seq 1 100); do
    [ "$(json_field "$(status_json "$G")" state)" = NOTREADY ] && break
    [ "$i" -eq 100 ] && rt_fail "pod $G still READY 10s after its pause process was killed"
    sleep 0.1
done
stop_rm "$G"
assert_clean "vanished netns" "$G"

# --- scenario 5: containerd restarted while pods run ------------------------
R1="$(pod keep-1)" || rt_fail "RunPodSandbox keep-1 failed"
R2="$(pod keep-2)" || rt_fail "RunPodSandbox keep-2 failed"
inspect "$R1"
inspect "$R2"
cri_stop
kill -0 "${POD_PID[$R1]}" && kill -0 "${POD_PID[$R2]}" ||
    rt_fail "the pods' pause processes did not survive containerd's stop"
in_pod "${POD_NETNS[$R1]}" 15 ping -c 1 -W 3 "${POD_IP[$R2]}" >/dev/null ||
    rt_fail "pods cannot ping each other while containerd is down"
cri_start
LIST="$(cri 30 list --label "$LABEL")"
for id in "$R1" "$R2"; do
    printf '%s\n' "$LIST" | grep -q "^$id READY " || rt_fail "after the restart $id is not READY: $LIST"
done
rt_log "cri: containerd restarted, both pods READY"
stop_rm "$R1" "$R2"
assert_clean "containerd restart" "$R1" "$R2"

# --- scenario 6: 110 pods (the kubelet's default maximum per node) ----------
t0=$SECONDS
OUT="$(cri 600 run-many --count "$MANY" --prefix many --namespace "$NS" --label "$LABEL" \
    --cgroup-parent "/$CRI_CGROUP")" || rt_fail "creating $MANY pods failed"
MANY_IDS=()
while read -r id ip; do
    MANY_IDS+=("$id")
    POD_IP[$id]=$ip
    rt_assert_in_subnet24 "$ip" "$POD_CIDR"
done <<<"$OUT"
[ "${#MANY_IDS[@]}" -eq "$MANY" ] || rt_fail "run-many returned ${#MANY_IDS[@]} pods, not $MANY"
DISTINCT="$(printf '%s\n' "$OUT" | awk '{print $2}' | sort -u | wc -l)"
[ "$DISTINCT" -eq "$MANY" ] || rt_fail "$MANY pods got only $DISTINCT distinct addresses"
PORTS="$(rt_bridge_ports "$BRIDGE" | wc -l)"
[ "$PORTS" -eq "$MANY" ] || rt_fail "$BRIDGE has $PORTS ports with $MANY pods"
RES="$(rt_reservations "$STORE" | wc -l)"
[ "$RES" -eq "$MANY" ] || rt_fail "$RES reservations with $MANY pods"
t1=$SECONDS
REMOVED="$(cri 600 remove-all --label "$LABEL")" || rt_fail "removing $MANY pods failed"
[ "$REMOVED" -eq "$MANY" ] || rt_fail "removed $REMOVED pods, not $MANY"
rt_log "cri: $MANY pods: created in $((t1 - t0))s, removed in $((SECONDS - t1))s"
assert_clean "$MANY pods" "${MANY_IDS[@]}"

# --- scenario 7: dual-stack pod CIDRs ---------------------------------------
# The operator's node gets a second pod CIDR: the rendered config is removed,
# containerd notices (NetworkReady false), the kubelet sends both CIDRs.
rm -f "$CONFLIST"
cri_wait_network_ready false
cri 20 runtime-config --pod-cidr "$POD_CIDR,$POD_CIDR6"
cri_wait_network_ready true
grep -q "\"subnet\": \"$POD_CIDR6\"" "$CONFLIST" ||
    rt_fail "the rendered conflist lacks $POD_CIDR6: $(cat "$CONFLIST")"
H1="$(pod dual-1)" || rt_fail "RunPodSandbox dual-1 failed"
H2="$(pod dual-2)" || rt_fail "RunPodSandbox dual-2 failed"
inspect "$H1"
inspect "$H2"
for id in "$H1" "$H2"; do
    case "${POD_IP6[$id]}" in
    "${GATEWAY6%::1}"::*) ;;
    *) rt_fail "pod $id has no IPv6 address in $POD_CIDR6 (additionalIps '${POD_IP6[$id]}')" ;;
    esac
    [ -f "$STORE/${POD_IP6[$id]}" ] || rt_fail "no reservation for ${POD_IP6[$id]}"
done
rt_log "cri: dual-stack: ${POD_IP[$H1]} ${POD_IP6[$H1]}, ${POD_IP[$H2]} ${POD_IP6[$H2]}"
in_pod "${POD_NETNS[$H1]}" 15 ping -6 -c 1 -W 3 "${POD_IP6[$H2]}" >/dev/null ||
    rt_fail "dual-1 cannot ping dual-2 over IPv6"
in_pod "${POD_NETNS[$H1]}" 15 ping -6 -c 1 -W 3 "$GATEWAY6" >/dev/null ||
    rt_fail "dual-1 cannot ping the IPv6 gateway"
in_pod "${POD_NETNS[$H2]}" 15 ping -c 1 -W 3 "${POD_IP[$H1]}" >/dev/null ||
    rt_fail "dual-2 cannot ping dual-1 over IPv4"
stop_rm "$H1" "$H2"
assert_clean "dual-stack" "$H1" "$H2"

echo "PASS cri"

#!/usr/bin/env bash
# Multi-host test harness (sourced): hosts are network namespaces joined by an
# underlay bridge living in a namespace of its own; etcd members run inside the
# host namespaces (nsenter --net, never `ip netns exec`, which remounts /sys)
# and listen only on underlay addresses. Everything is named after this
# process's PID and removed by mh_cleanup (installed as an EXIT trap), also on
# failure. Nothing touches the machine's own namespace.
#
# Use:  source tests/multihost/lib.sh; mh_init; mh_add_host 1; ...; mh_etcd_start 1 2 3
#
# Variables after mh_init:
#   MH_P       name prefix (namespaces, temp dirs)
#   MH_DIR     a temp directory for data, logs and certificates
#   MH_NET     the underlay /24 prefix (10.213.0)

MH_NET="${MH_NET:-10.213.0}"
MH_PIDS=()
MH_NS=()
MH_PASSED=0
MH_FAILED=0

mh_log() { echo "[multihost] $*" >&2; }

# Host N's namespace name and underlay address.
mh_ns() { echo "${MH_P}h$1"; }
mh_ip() { echo "${MH_NET}.$((10 + $1))"; }

mh_init() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "skipped: needs root"
        exit 0
    fi
    for cmd in ip nsenter etcd etcdctl; do
        command -v "$cmd" >/dev/null || { echo "multihost: $cmd not found (run scripts/setup.sh)" >&2; exit 1; }
    done
    MH_P="cmh$$"
    MH_DIR="$(mktemp -d "/tmp/cnm-multihost.$$.XXXXXX")"
    trap mh_cleanup EXIT
    trap 'exit 130' INT TERM
    ip netns add "${MH_P}u"
    MH_NS+=("${MH_P}u")
    ip -n "${MH_P}u" link set lo up
    ip -n "${MH_P}u" link add ub0 type bridge
    ip -n "${MH_P}u" link set ub0 up
}

# mh_add_host N: namespace with eth0 (underlay address .10+N/24) on the underlay bridge.
mh_add_host() {
    local n="$1" ns
    ns="$(mh_ns "$n")"
    ip netns add "$ns"
    MH_NS+=("$ns")
    ip -n "$ns" link set lo up
    ip -n "$ns" link add eth0 type veth peer name "uh$n" netns "${MH_P}u"
    ip -n "${MH_P}u" link set "uh$n" master ub0 up
    ip -n "$ns" addr add "$(mh_ip "$n")/24" dev eth0
    ip -n "$ns" link set eth0 up
}

# mh_run N cmd...: run a command in host N's namespace (network only).
mh_run() {
    local n="$1"
    shift
    nsenter --net="/run/netns/$(mh_ns "$n")" "$@"
}

# mh_bg N logfile cmd...: start a daemon in host N's namespace; its PID is
# recorded for mh_cleanup and left in MH_LAST_PID (not printed: a command
# substitution would run this in a subshell and lose the record).
mh_bg() {
    local n="$1" log="$2"
    shift 2
    nsenter --net="/run/netns/$(mh_ns "$n")" "$@" >"$log" 2>&1 &
    local pid=$!
    MH_PIDS+=("$pid")
    MH_LAST_PID=$pid
}

# mh_stop PID: SIGTERM, wait up to 5 s, then SIGKILL. Only our own PIDs.
mh_stop() {
    local pid="$1" i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# mh_kill_in_ns NS: TERM, then KILL, every process in our namespace NS (bounded).
mh_kill_in_ns() {
    local pids i
    pids="$(ip netns pids "$1" 2>/dev/null)"
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null
    for i in $(seq 1 20); do
        [ -z "$(ip netns pids "$1" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $(ip netns pids "$1" 2>/dev/null) 2>/dev/null
    return 0
}

# mh_etcd_leader: the number of the host whose etcd member leads (hosts 1-3).
mh_etcd_leader() {
    local n
    for n in 1 2 3; do
        MH_ENDPOINTS="$(mh_etcd_endpoints "$n")" mh_etcdctl "$n" endpoint status -w json 2>/dev/null |
            python3 -c 'import json,sys
d=json.load(sys.stdin)[0]["Status"]
print("yes" if d["header"]["member_id"]==d["leader"] else "no")' | grep -q yes && { echo "$n"; return 0; }
    done
    return 1
}

# Client URLs of the etcd members on hosts "$@".
mh_etcd_endpoints() {
    local n out=""
    for n in "$@"; do out="${out:+$out,}${MH_ETCD_SCHEME:-http}://$(mh_ip "$n"):2379"; done
    echo "$out"
}

# mh_etcd_start N...: one etcd member on each listed host, one cluster.
# Sets MH_ETCD_PID_<N>. With MH_ETCD_TLS=1, client TLS with certificates from
# mh_certs (client certificates required).
mh_etcd_start() {
    local n cluster="" tls=() scheme=http
    if [ "${MH_ETCD_TLS:-0}" = 1 ]; then
        scheme=https
        tls=(--cert-file "$MH_DIR/pki/server.pem" --key-file "$MH_DIR/pki/server-key.pem"
            --client-cert-auth --trusted-ca-file "$MH_DIR/pki/ca.pem")
    fi
    MH_ETCD_SCHEME=$scheme
    for n in "$@"; do cluster="${cluster:+$cluster,}e$n=http://$(mh_ip "$n"):2380"; done
    for n in "$@"; do
        mh_etcd_member "$n" "$cluster" new "${tls[@]}"
    done
    mh_etcd_wait_healthy "$@"
}

# mh_etcd_member N CLUSTER STATE [tls flags]: start (or restart) host N's member.
mh_etcd_member() {
    local n="$1" cluster="$2" state="$3" ip
    shift 3
    ip="$(mh_ip "$n")"
    mkdir -p "$MH_DIR/etcd$n"
    mh_bg "$n" "$MH_DIR/etcd$n.log" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ETCD_UNSUPPORTED_ARCH="${ETCD_UNSUPPORTED_ARCH:-}" \
        etcd --name "e$n" --data-dir "$MH_DIR/etcd$n/data" \
        --listen-client-urls "${MH_ETCD_SCHEME:-http}://$ip:2379" \
        --advertise-client-urls "${MH_ETCD_SCHEME:-http}://$ip:2379" \
        --listen-peer-urls "http://$ip:2380" --initial-advertise-peer-urls "http://$ip:2380" \
        --initial-cluster "$cluster" --initial-cluster-state "$state" \
        --initial-cluster-token "$MH_P" --heartbeat-interval 50 --election-timeout 500 \
        "$@"
    eval "MH_ETCD_PID_$n=$MH_LAST_PID"
}

# mh_etcdctl N args...: etcdctl (v3) from host N against the members on hosts 1..3.
mh_etcdctl() {
    local n="$1"
    shift
    local tls=()
    if [ "${MH_ETCD_TLS:-0}" = 1 ]; then
        tls=(--cacert "$MH_DIR/pki/ca.pem" --cert "$MH_DIR/pki/client.pem" --key "$MH_DIR/pki/client-key.pem")
    fi
    mh_run "$n" env ETCDCTL_API=3 etcdctl --dial-timeout=2s --command-timeout=5s \
        --endpoints "${MH_ENDPOINTS:-$(mh_etcd_endpoints 1 2 3)}" "${tls[@]}" "$@"
}

# Wait (bounded: 20 s) until every listed member reports healthy.
mh_etcd_wait_healthy() {
    local n i ok
    for i in $(seq 1 100); do
        ok=1
        for n in "$@"; do
            MH_ENDPOINTS="$(mh_etcd_endpoints "$n")" mh_etcdctl "$n" endpoint health >/dev/null 2>&1 || { ok=0; break; }
        done
        [ "$ok" = 1 ] && return 0
        sleep 0.2
    done
    mh_log "etcd did not become healthy; logs:"
    for n in "$@"; do tail -n 20 "$MH_DIR/etcd$n.log" >&2 || true; done
    return 1
}

# mh_check NAME cmd...: one counted assertion.
mh_check() {
    local name="$1"
    shift
    if "$@"; then
        MH_PASSED=$((MH_PASSED + 1))
        echo "ok - $name"
    else
        MH_FAILED=$((MH_FAILED + 1))
        echo "FAILED - $name"
    fi
}

# Print the summary line and return non-zero on failure.
mh_summary() {
    echo "$MH_PASSED passed, $MH_FAILED failed"
    [ "$MH_FAILED" -eq 0 ]
}

mh_cleanup() {
    local rc=$? pid ns ino
    for pid in "${MH_PIDS[@]}"; do mh_stop "$pid"; done
    for ns in "${MH_NS[@]}"; do
        # What is still running in our namespaces is ours (a name resolver
        # the dnsname plugin started): stopped before the namespace goes.
        mh_kill_in_ns "$ns"
        # The masquerade state of cnm-nft and the name record store are
        # keyed by the namespace's inode.
        ino="$(stat -L -c %i "/run/netns/$ns" 2>/dev/null)" &&
            rm -rf "/run/cnm/nft/$ino" "/run/cnm/nft/$ino"-* "/run/cnm/dns/$ino" "/run/cnm/dns/$ino"-*
        ip netns del "$ns" 2>/dev/null || true
    done
    if [ -n "${MH_DIR:-}" ] && [ -d "$MH_DIR" ]; then
        if [ "$rc" -ne 0 ] && [ "${MH_KEEP_LOGS:-0}" = 1 ]; then
            mh_log "logs kept in $MH_DIR"
        else
            rm -rf "$MH_DIR"
        fi
    fi
    exit "$rc"
}

# mh_agent_start N [extra cnmd flags]: cnmd on host N (network ov1 unless
# MH_NETWORK is set), state and store under MH_DIR/hN. Sets MH_AGENT_PID_<N>.
MH_NETWORK="${MH_NETWORK:-name=ov1,subnet=10.214.0.0/16,vni=4214,block=26}"
mh_agent_start() {
    local n="$1"
    shift
    local tls=()
    if [ "${MH_ETCD_TLS:-0}" = 1 ]; then
        tls=(--etcd-cacert "$MH_DIR/pki/ca.pem" --etcd-cert "$MH_DIR/pki/client.pem" --etcd-key "$MH_DIR/pki/client-key.pem")
    fi
    mkdir -p "$MH_DIR/h$n"
    mh_bg "$n" "$MH_DIR/agent$n.log" "${CNMD:-target/debug/cnmd}" run --host "h$n" --underlay-ip "$(mh_ip "$n")" \
        --etcd-endpoints "${MH_ENDPOINTS:-$(mh_etcd_endpoints 1 2 3)}" "${tls[@]}" \
        --network "$MH_NETWORK" --state-dir "$MH_DIR/h$n/state" --data-dir "$MH_DIR/h$n/store" \
        --lease-ttl "${MH_LEASE_TTL:-3}" --tick-ms "${MH_TICK_MS:-200}" "$@"
    eval "MH_AGENT_PID_$n=$MH_LAST_PID"
}

# mh_wait SECONDS cmd...: poll (every 0.1 s) until cmd succeeds; bounded.
mh_wait() {
    local secs="$1" i
    shift
    for i in $(seq 1 $((secs * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# Number of routes through host N's VXLAN device (network ov1: cnmx4214).
mh_vx_routes() { mh_run "$1" ip -4 route show dev "${MH_VXLAN:-cnmx4214}" 2>/dev/null | grep -c via; }

# mh_conf N: the overlay conflist entry (a single config) for host N.
mh_conf() {
    printf '{"cniVersion":"1.0.0","name":"ov1","type":"simpleoverlay","stateDir":"%s"%s}' \
        "$MH_DIR/h$1/state" "${MH_CONF_EXTRA:-}"
}

# mh_cni N CMD CID [NETNS]: run simpleoverlay on host N; stdout is the result.
mh_cni() {
    local n="$1" cmd="$2" cid="$3" netns="${4:-}"
    mh_conf "$n" | mh_run "$n" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" \
        CNI_NETNS="$netns" CNI_IFNAME=eth0 CNI_PATH="$PWD/target/debug" "${SIMPLEOVERLAY:-target/debug/simpleoverlay}"
}

# mh_container N NAME: a container namespace on host N joined by simpleoverlay;
# its (first) address is left in MH_CIP, its IPv6 address (dual stack) in
# MH_CIP6 (empty without one).
mh_container() {
    local n="$1" name="$2" ns="${MH_P}c$2" out
    ip netns add "$ns"
    MH_NS+=("$ns")
    ip -n "$ns" link set lo up
    out="$(mh_cni "$n" ADD "$name" "/run/netns/$ns")" || { mh_log "ADD $name on host $n: $out"; return 1; }
    MH_CIP="$(python3 -c 'import json,sys;print(json.load(sys.stdin)["ips"][0]["address"].split("/")[0])' <<<"$out")"
    MH_CIP6="$(python3 -c 'import json,sys;print(" ".join(i["address"].split("/")[0] for i in json.load(sys.stdin)["ips"] if ":" in i["address"]))' <<<"$out")"
}

# mh_ping NAME IP: one ping from container NAME.
mh_ping() { ip netns exec "${MH_P}c$1" ping -c1 -W2 "$2" >/dev/null; }

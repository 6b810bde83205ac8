#!/usr/bin/env bash
# Rules that come back by themselves (issue 21): containers on a simplebridge + portmap
# network (ipMasq, macspoofchk, TCP and UDP published) made by our plugins through the `cnm`
# CLI inside a throwaway host namespace; `cnm-firewall watch` runs for that namespace. While a
# client namespace and the host keep opening new connections to the published ports, a
# container keeps opening connections out through masquerade, and long-lived connections run
# both ways, the host namespace's rules are removed by
#   1. nft flush ruleset
#   2. nft delete table inet cnm + nft delete table bridge cnm
#   3. iptables-nft-restore of an empty rule set (filter and nat)
# After each: the rules are back within 1 s with no runtime call (time printed), new
# connections work again within 1 s (gap from the first failed to the first successful new
# connection printed, per probe), existing connections never break, the MAC spoof check drops
# spoofed frames again, `cnm check` (CHECK of simplebridge and portmap) passes, and a table of
# someone else is untouched (or, flushed by the operator, stays gone).
# Then, with the watcher stopped: a flush, a container deleted while the rules are gone, and
# `cnm-firewall reload`: everything comes back except the deleted container's rules. Restarting
# the watcher changes nothing. Needs root (prints "skipped: needs root" otherwise).
set -Eeuo pipefail
# shellcheck source=tests/runtimes/lib.sh
source "$(dirname "$0")/lib.sh"

rt_require_root
rt_install_traps
RT_PACKAGES=(nftables iptables iproute2 iputils-ping python3)
rt_ensure_packages
for b in simplebridge ipam-host-local portmap cnm cnm-firewall; do
    [ -x "$RT_BIN_DIR/$b" ] || rt_fail "$RT_BIN_DIR/$b is missing: run 'cargo build --workspace --bins' first"
done
PY=/usr/bin/python3
[ -x "$PY" ] || PY="$(command -v python3)"
TRAFFIC="$RT_DIR/firewall-traffic.py"

SLOT=$(($$ % 200 + 20))
NET="cnmfw-$$"
BRIDGE="cnmfwb$$"
SUBNET="10.61.$SLOT.0/24"
UPLINK="cnmfwu$$"
HOSTIP="10.236.$SLOT.1"
CLIENTIP="10.236.$SLOT.2"
CLIENT="cnmfw-cli-$$"
C1="cnmfw-c1-$$" # publishes tcp 8080 -> 80 and udp 5353 -> 53
C2="cnmfw-c2-$$" # talks out through masquerade
C3="cnmfw-c3-$$" # publishes tcp 8082 -> 80; deleted while the rules are gone
C4="cnmfw-c4-$$" # spoofs its MAC
MAX_MS=1000
PASSED=0
FAILED=0

rt_make_tmp
rt_make_host_ns
T="$RT_TMP"
mkdir -p "$T/net" "$T/bin" "$T/cache" "$T/ipam"
for b in simplebridge ipam-host-local portmap; do ln -sf "$RT_BIN_DIR/$b" "$T/bin/$b"; done
STOP="$T/stop"
LOG="$T/probes.log"
: >"$LOG"
rt_defer touch "$STOP"

cat >"$T/net/$NET.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NET",
  "plugins": [
    {
      "type": "simplebridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "isDefaultGateway": true,
      "ipMasq": true,
      "macspoofchk": true,
      "ipam": {"type": "ipam-host-local", "ranges": [[{"subnet": "$SUBNET"}]], "dataDir": "$T/ipam"}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
  ]
}
EOF

ok() {
    PASSED=$((PASSED + 1))
    rt_log "ok: $*"
}
bad() {
    FAILED=$((FAILED + 1))
    rt_log "FAILED: $*"
}
now_ms() { date +%s%3N; }

# cnm_cli VERB CONTAINER [CAP_ARGS]: the cnm CLI (cnitool) inside the host namespace.
cnm_cli() {
    local verb=$1 ctr=$2 caps=${3:-}
    rt_in_host 60 env NETCONFPATH="$T/net" CNI_PATH="$T/bin" CNI_CACHE_DIR="$T/cache" \
        CNI_CONTAINERID="$ctr" CNI_IFNAME=eth0 CAP_ARGS="$caps" \
        "$RT_BIN_DIR/cnm" "$verb" "$NET" "/run/netns/$ctr"
}

# bg NAME NS CMD...: a background process inside namespace NS, stopped by PID at exit.
bg() {
    local name=$1 ns=$2
    shift 2
    nsenter --net="/run/netns/$ns" "$@" >>"$T/$name.out" 2>&1 &
    local pid=$!
    rt_defer kill_pid "$pid"
    echo "$pid" >"$T/$name.pid"
}
kill_pid() {
    kill "$1" 2>/dev/null || return 0
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$1" 2>/dev/null || true
}

# --- namespaces, the uplink, the containers ---------------------------------------------------
for ns in "$CLIENT" "$C1" "$C2" "$C3" "$C4"; do
    rt_run 10 ip netns add "$ns" || rt_fail "ip netns add $ns"
    rt_defer rt_run 20 ip netns del "$ns"
    rt_run 10 ip -n "$ns" link set lo up
done
rt_in_host 10 ip link add "$UPLINK" type veth peer name eth0 netns "$CLIENT" || rt_fail "uplink"
rt_in_host 10 ip addr add "$HOSTIP/24" dev "$UPLINK"
rt_in_host 10 ip link set "$UPLINK" up
rt_run 10 ip -n "$CLIENT" addr add "$CLIENTIP/24" dev eth0
rt_run 10 ip -n "$CLIENT" link set eth0 up
# The client has no route to the container subnet: replies reach a container only when
# its traffic was masqueraded.

rt_defer cnm_cli del "$C1"
cnm_cli add "$C1" '{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"},{"hostPort":5353,"containerPort":53,"protocol":"udp"}]}' >"$T/c1.json" ||
    rt_fail "cnm add $C1"
rt_defer cnm_cli del "$C2"
cnm_cli add "$C2" >"$T/c2.json" || rt_fail "cnm add $C2"
rt_defer cnm_cli del "$C3"
cnm_cli add "$C3" '{"portMappings":[{"hostPort":8082,"containerPort":80,"protocol":"tcp"}]}' >"$T/c3.json" ||
    rt_fail "cnm add $C3"
rt_defer cnm_cli del "$C4"
cnm_cli add "$C4" >"$T/c4.json" || rt_fail "cnm add $C4"
GW="$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["ips"][0]["gateway"])' "$T/c4.json")"
C4MAC="$(ip -n "$C4" -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')"
rt_log "firewall-reload: host netns $RT_HOSTNS ($HOSTIP), client $CLIENT ($CLIENTIP), network $NET $SUBNET gateway $GW"

# --- servers and traffic ----------------------------------------------------------------------
for c in "$C1" "$C3"; do bg "tcp-$c" "$c" "$PY" "$TRAFFIC" tcp-echo 80; done
bg "udp-$C1" "$C1" "$PY" "$TRAFFIC" udp-echo 53
bg "tcp-client" "$CLIENT" "$PY" "$TRAFFIC" tcp-echo 7777
sleep 0.5
SECS=300
bg probe-client-tcp "$CLIENT" "$PY" "$TRAFFIC" probe "$LOG" "$STOP" "$SECS" client-tcp tcp "$HOSTIP" 8080
bg probe-client-udp "$CLIENT" "$PY" "$TRAFFIC" probe "$LOG" "$STOP" "$SECS" client-udp udp "$HOSTIP" 5353
bg probe-host-tcp "$RT_HOSTNS" "$PY" "$TRAFFIC" probe "$LOG" "$STOP" "$SECS" host-tcp tcp "$HOSTIP" 8080
bg probe-host-udp "$RT_HOSTNS" "$PY" "$TRAFFIC" probe "$LOG" "$STOP" "$SECS" host-udp udp "$HOSTIP" 5353
bg probe-masq "$C2" "$PY" "$TRAFFIC" probe "$LOG" "$STOP" "$SECS" masq-tcp tcp "$CLIENTIP" 7777
KEEPSTOP="$T/keepstop"
rt_defer touch "$KEEPSTOP"
bg keep-in "$CLIENT" "$PY" "$TRAFFIC" keep "$LOG" "$KEEPSTOP" "$SECS" keep-published "$HOSTIP" 8080
bg keep-out "$C2" "$PY" "$TRAFFIC" keep "$LOG" "$KEEPSTOP" "$SECS" keep-masq "$CLIENTIP" 7777
PROBES=(client-tcp client-udp host-tcp host-udp masq-tcp)

# Everything works before anything is removed.
sleep 1
base="$(($(now_ms) - 800))"
for p in "${PROBES[@]}"; do
    n_ok="$(awk -v p="$p" -v b="$base" '$1 >= b && $2 == p && $3 == "ok"' "$LOG" | wc -l)"
    n_fail="$(awk -v p="$p" -v b="$base" '$1 >= b && $2 == p && $3 == "fail"' "$LOG" | wc -l)"
    if [ "$n_ok" -gt 0 ] && [ "$n_fail" -eq 0 ]; then ok "baseline $p ($n_ok new connections)"; else
        bad "baseline $p: $n_ok ok, $n_fail failed"; fi
done

# spoof_dropped: true when a frame from C4 with a foreign source MAC does not get through.
spoof_dropped() {
    local got=0
    ip -n "$C4" link set eth0 address 02:42:de:ad:be:ef
    ip -n "$C4" neigh flush dev eth0
    rt_in_host 5 ip neigh flush dev "$BRIDGE" || true
    ip netns exec "$C4" ping -c1 -W1 -q "$GW" >/dev/null 2>&1 && got=1
    ip -n "$C4" link set eth0 address "$C4MAC"
    ip -n "$C4" neigh flush dev eth0
    rt_in_host 5 ip neigh flush dev "$BRIDGE" || true
    [ "$got" -eq 0 ]
}
# genuine_passes: C4 with its own MAC reaches the gateway (bounded tries).
genuine_passes() {
    local i
    for i in 1 2 3; do ip netns exec "$C4" ping -c1 -W1 -q "$GW" >/dev/null 2>&1 && return 0; done
    return 1
}
spoof_dropped && ok "baseline: spoofed MAC dropped" || bad "baseline: spoofed MAC got through"
genuine_passes && ok "baseline: genuine MAC passes" || bad "baseline: genuine MAC dropped"

# rules_in_place: our port element, masquerade chain and spoof chain are all in the kernel.
rules_in_place() {
    local inet bridge
    inet="$(ip netns exec "$RT_HOSTNS" nft list table inet cnm 2>/dev/null)" || return 1
    bridge="$(ip netns exec "$RT_HOSTNS" nft list table bridge cnm 2>/dev/null)" || return 1
    grep -q "tcp . 8080" <<<"$inet" && grep -q "udp . 5353" <<<"$inet" &&
        grep -q "masquerade" <<<"$inet" && grep -q "hostports" <<<"$inet" &&
        grep -q "cnm-spoof" <<<"$bridge"
}

# wait_restored T0: poll (every 10 ms, at most 3 s) until the rules are back; print the ms.
wait_restored() {
    local t0=$1 i
    for ((i = 0; i < 300; i++)); do
        if rules_in_place; then
            echo $(($(now_ms) - t0))
            return 0
        fi
        sleep 0.01
    done
    echo never
    return 1
}

# check_gaps T0 WHAT: per probe, the gap in new connections after T0 (printed), each < 1 s.
check_gaps() {
    local t0=$1 what=$2 p res
    for p in "${PROBES[@]}"; do
        res="$("$PY" "$TRAFFIC" gap "$LOG" "$t0" "$p")"
        case "$res" in
        NOFAIL*) ok "$what: $p: no new connection failed (${res#NOFAIL } attempts)" ;;
        GAP*)
            read -r _ g f s <<<"$res"
            if [ "$g" -lt "$MAX_MS" ]; then ok "$what: $p: gap ${g} ms (first failure at +${f} ms, first success at +${s} ms)"; else
                bad "$what: $p: gap ${g} ms >= $MAX_MS ms (first failure at +${f} ms)"; fi
            ;;
        *) bad "$what: $p: new connections never came back ($res)" ;;
        esac
    done
}

# check_attachments WHAT: CHECK of every live attachment (simplebridge and portmap).
check_attachments() {
    local what=$1 c
    for c in "$C1" "$C2" "$C4"; do
        if cnm_cli check "$c" >/dev/null 2>"$T/check.err"; then ok "$what: cnm check $c"; else
            bad "$what: cnm check $c: $(cat "$T/check.err")"; fi
    done
}

OTHERS='table inet fwtest-others {
  chain c { type filter hook input priority 0; policy accept; tcp dport 22 counter accept comment "theirs"; }
  set s { type ipv4_addr; elements = { 192.0.2.1 } }
}'

WATCH_LOG="$T/watch.log"
start_watcher() {
    nsenter --net="/run/netns/$RT_HOSTNS" "$RT_BIN_DIR/cnm-firewall" --ipam-dir "$T/ipam" watch \
        >>"$WATCH_LOG" 2>&1 &
    WATCH_PID=$!
    rt_defer kill_pid "$WATCH_PID"
    # Subscribed once it says so.
    local i
    for ((i = 0; i < 100; i++)); do
        grep -q "watching nf_tables changes" "$WATCH_LOG" && return 0
        sleep 0.05
    done
    rt_fail "cnm-firewall watch did not start: $(cat "$WATCH_LOG")"
}

# --- 1. the watcher restores ------------------------------------------------------------------
start_watcher
sleep 0.3
rt_in_host 10 nft list table inet cnm-keep 2>/dev/null | grep "flags owner" >/dev/null &&
    ok "the watcher holds the owned table inet cnm-keep" || bad "no owned table inet cnm-keep"
for scenario in flush-ruleset delete-tables iptables-restore; do
    printf '%s\n' "$OTHERS" | rt_in_host 10 nft -f - || rt_fail "cannot add the others' table"
    others_before="$(rt_in_host 10 nft list table inet fwtest-others)"
    t0="$(now_ms)"
    case "$scenario" in
    flush-ruleset) rt_in_host 10 nft flush ruleset ;;
    delete-tables) rt_in_host 10 nft delete table inet cnm && rt_in_host 10 nft delete table bridge cnm ;;
    iptables-restore) printf '*filter\nCOMMIT\n*nat\nCOMMIT\n' | rt_in_host 10 iptables-nft-restore ;;
    esac
    took="$(wait_restored "$t0")" || true
    if [ "$took" != never ] && [ "$took" -lt "$MAX_MS" ]; then ok "$scenario: rules back after $took ms"; else
        bad "$scenario: rules back after $took ms (limit $MAX_MS ms)"; fi
    sleep 0.5
    check_gaps "$t0" "$scenario"
    if rules_in_place && spoof_dropped; then ok "$scenario: spoofed MAC dropped again"; else
        bad "$scenario: spoofed MAC got through after the restore"; fi
    genuine_passes && ok "$scenario: genuine MAC passes" || bad "$scenario: genuine MAC dropped"
    ip netns exec "$C2" ping -c1 -W1 -q "$CLIENTIP" >/dev/null && ok "$scenario: ping out through masquerade" ||
        bad "$scenario: ping out through masquerade failed"
    check_attachments "$scenario"
    if [ "$scenario" = flush-ruleset ]; then
        # The operator flushed the others' table too: it is not ours to bring back.
        rt_in_host 5 nft list table inet fwtest-others >/dev/null 2>&1 &&
            bad "$scenario: the others' table was re-created" || ok "$scenario: the others' table stays gone"
    else
        others_after="$(rt_in_host 10 nft list table inet fwtest-others)"
        [ "$others_after" = "$others_before" ] && ok "$scenario: the others' table untouched" ||
            bad "$scenario: the others' table changed"
        rt_in_host 10 nft delete table inet fwtest-others
    fi
done
rt_in_host 10 nft delete table ip filter 2>/dev/null || true
rt_in_host 10 nft delete table ip nat 2>/dev/null || true
grep -q "restore after" "$WATCH_LOG" && ok "the watcher logged its restores" || bad "no restore in the watcher's log"

# Existing connections lived through all three (the watcher's owned table keeps NAT's hooks).
check_kept() {
    local k line
    for k in "$@"; do
        line="$(grep " $k " "$LOG" | tail -n 1)" || true
        case "$line" in
        *" kept "*) ok "$k: the long-lived connection never broke (${line##* kept } lines echoed)" ;;
        *) bad "$k: ${line:-no result}" ;;
        esac
    done
}
touch "$KEEPSTOP"
sleep 0.5
check_kept keep-published keep-masq

# --- 2. the watcher stopped: explicit reload; a DEL while the rules are gone ------------------
kill_pid "$WATCH_PID"
sleep 0.2
rt_in_host 10 nft list table inet cnm-keep >/dev/null 2>&1 && bad "inet cnm-keep outlived the watcher" ||
    ok "inet cnm-keep went with the watcher"
# Without the watcher nothing holds NAT's hooks: established connections whose packets come
# while the rules are gone are reset (reported, not asserted: the documented limit).
KEEPSTOP2="$T/keepstop2"
rt_defer touch "$KEEPSTOP2"
bg keep-in2 "$CLIENT" "$PY" "$TRAFFIC" keep "$LOG" "$KEEPSTOP2" "$SECS" keep-published-unwatched "$HOSTIP" 8080
sleep 0.3
t0="$(now_ms)"
rt_in_host 10 nft flush ruleset
sleep 0.5
if rules_in_place; then bad "stopped watcher: the rules came back anyway"; else ok "stopped watcher: the rules stay gone"; fi
res="$("$PY" "$TRAFFIC" gap "$LOG" "$t0" client-tcp)"
case "$res" in NEVER*) ok "stopped watcher: new connections fail ($res)" ;; *) bad "stopped watcher: $res" ;; esac
cnm_cli del "$C3" || bad "cnm del $C3 while the rules are gone"
t1="$(now_ms)"
if rt_in_host 30 "$RT_BIN_DIR/cnm-firewall" --ipam-dir "$T/ipam" reload >"$T/reload.out" 2>&1; then
    ok "cnm-firewall reload after $(($(now_ms) - t1)) ms: $(tail -n 1 "$T/reload.out")"
else
    bad "cnm-firewall reload: $(cat "$T/reload.out")"
fi
rules_in_place && ok "reload: rules back" || bad "reload: rules missing"
inet="$(rt_in_host 10 nft list table inet cnm)"
if grep -q "$C3" <<<"$inet" || grep -q "8082" <<<"$inet"; then bad "reload re-created the deleted $C3's port mapping"; else
    ok "reload: nothing of the deleted $C3 came back"; fi
bridge="$(rt_in_host 10 nft list table bridge cnm)"
[ "$(grep -c "cnm-spoof" <<<"$bridge")" -eq 3 ] && ok "reload: three spoof checks (not $C3's)" ||
    bad "reload: spoof checks: $(grep "cnm-spoof" <<<"$bridge")"
sleep 0.5
check_gaps "$t1" "reload"
check_attachments "reload"
spoof_dropped && ok "reload: spoofed MAC dropped" || bad "reload: spoofed MAC got through"
genuine_passes || bad "reload: genuine MAC dropped"
second="$(rt_in_host 30 "$RT_BIN_DIR/cnm-firewall" reload | tail -n 1)"
case "$second" in *" 0 restored,"*"(0 batches)") ok "second reload writes nothing: $second" ;; *) bad "second reload: $second" ;; esac

# --- 3. the watcher again: its start restores nothing that is there ---------------------------
: >"$WATCH_LOG"
start_watcher
sleep 0.5
grep -q "restore after" "$WATCH_LOG" && bad "the restarted watcher rewrote rules: $(cat "$WATCH_LOG")" ||
    ok "the restarted watcher found everything in place"

touch "$STOP" "$KEEPSTOP2"
sleep 0.5
rt_log "without the watcher: $(grep " keep-published-unwatched " "$LOG" | tail -n 1 | cut -d' ' -f2-)"

echo "firewall-reload: watcher log:"
sed 's/^/  /' "$WATCH_LOG" >&2 || true
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]

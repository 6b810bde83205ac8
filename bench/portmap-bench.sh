#!/usr/bin/env bash
# portmap benchmark (issue 7), run by hand as root: our portmap (nftables, one
# batch) against the reference /usr/lib/cni/portmap (iptables), ADD and DEL of
# 5 TCP mappings with a fixed prevResult, `snat: true`.
#
# Every cycle runs both plugins, alternating which goes first; each run gets
# its own throwaway host namespace holding a bridge with the gateway address
# (the reference looks the container address up there to set route_localnet),
# plus a throwaway container namespace for CNI_NETNS. Both plugins are started
# the same way: `nsenter --net=/run/netns/<host> <plugin>`, timed from this
# script with PATH set to the usual system PATH for both (so each figure
# includes one nsenter + plugin exec; the "floor" row is `nsenter ... true`
# measured the same way). After each ADD the rules are
# verified (5 map elements in `inet cnm` for ours; 5 DNAT rules in
# iptables-save for the reference), and after each DEL that none is left;
# a failed or unverified run aborts the benchmark. iptables only ever runs
# inside the throwaway namespaces. Nothing is changed in the caller's namespace.
#
# Usage: bench/portmap-bench.sh [CYCLES]   (default 30, minimum 30)
# Env:   PORTMAP_OURS (default target/debug/portmap; falls back to
#        target/dist/portmap when only that exists), PORTMAP_REF
#        (default /usr/lib/cni/portmap).
# Output: a markdown table of medians, p95 and ratios ours/reference.
set -Eeuo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
CYCLES="${1:-30}"
OURS="${PORTMAP_OURS:-$REPO/target/debug/portmap}"
[ -n "${PORTMAP_OURS:-}" ] || [ -x "$OURS" ] || OURS="$REPO/target/dist/portmap"
REF="${PORTMAP_REF:-/usr/lib/cni/portmap}"
PREFIX="cnmpmb-$$"
BRIDGE="cnmpmb0"
GW="10.88.0.1"
CIP="10.88.0.2"
# Both plugins look nft/iptables up in PATH: give them the PATH a runtime
# service has, not this shell's (which may list toolchain shims first).
SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORK=""
NAMESPACES=()

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
    log "FAIL: $*"
    exit 1
}

cleanup() {
    local rc=$? n
    trap - EXIT
    trap '' INT TERM
    set +e
    for n in "${NAMESPACES[@]}"; do
        [ -e "/run/netns/$n" ] && timeout 20 ip netns del "$n"
    done
    [ -n "$WORK" ] && rm -rf -- "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" -eq 0 ] || {
    echo "skipped: needs root"
    exit 77
}
if ! [[ "$CYCLES" =~ ^[0-9]+$ ]] || [ "$CYCLES" -lt 30 ]; then
    die "CYCLES must be a number >= 30 (got '$CYCLES')"
fi
[ -x "$OURS" ] || die "our portmap $OURS is missing: cargo build -p portmap"
[ -x "$REF" ] || die "reference portmap $REF is missing (Debian package containernetworking-plugins)"
command -v iptables-save >/dev/null || die "iptables is missing: apt-get install -y iptables"
command -v nft >/dev/null || die "nft is missing: apt-get install -y nftables"
command -v jq >/dev/null || die "jq is missing: apt-get install -y jq"
[ -n "${EPOCHREALTIME:-}" ] || die "bash >= 5 is needed (EPOCHREALTIME)"

WORK="$(mktemp -d /tmp/cnmpmb.XXXXXX)"

# conf NETNS_PATH: the fixed request (5 mappings, prevResult with the bridge,
# the host veth and eth0 carrying $CIP).
conf() {
    cat <<EOF
{
  "cniVersion": "1.0.0",
  "name": "pmbench",
  "type": "portmap",
  "capabilities": {"portMappings": true},
  "snat": true,
  "runtimeConfig": {"portMappings": [
    {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
    {"hostPort": 8081, "containerPort": 81, "protocol": "tcp"},
    {"hostPort": 8082, "containerPort": 82, "protocol": "tcp"},
    {"hostPort": 8083, "containerPort": 83, "protocol": "tcp"},
    {"hostPort": 8443, "containerPort": 443, "protocol": "tcp"}
  ]},
  "prevResult": {
    "cniVersion": "1.0.0",
    "interfaces": [
      {"name": "$BRIDGE", "mac": "02:00:00:00:00:01"},
      {"name": "vethpmb0", "mac": "02:00:00:00:00:02"},
      {"name": "eth0", "mac": "02:00:00:00:00:03", "sandbox": "$1"}
    ],
    "ips": [{"address": "$CIP/24", "gateway": "$GW", "interface": 2}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "$GW"}]
  }
}
EOF
}

# setup NAME: host namespace NAME with a bridge carrying the gateway address,
# and container namespace NAME-c.
setup() {
    local h=$1
    NAMESPACES+=("$h" "$h-c")
    timeout 10 ip netns add "$h" || die "cannot create netns $h"
    timeout 10 ip netns add "$h-c" || die "cannot create netns $h-c"
    timeout 10 ip -n "$h" link set lo up || die "lo up in $h failed"
    timeout 10 ip -n "$h" link add "$BRIDGE" type bridge || die "cannot add bridge in $h"
    timeout 10 ip -n "$h" addr add "$GW/24" dev "$BRIDGE" || die "cannot address $BRIDGE in $h"
    timeout 10 ip -n "$h" link set "$BRIDGE" up || die "cannot set $BRIDGE up in $h"
}

teardown() {
    local h=$1
    timeout 20 ip netns del "$h" || log "could not delete netns $h"
    timeout 20 ip netns del "$h-c" || log "could not delete netns $h-c"
}

# now_us: wall clock in microseconds.
now_us() {
    local t=${EPOCHREALTIME/[.,]/}
    echo "$((10#$t))"
}

# invoke SIDE HOST CMD: run the plugin once, print the elapsed microseconds.
invoke() {
    local side=$1 h=$2 cmd=$3 bin t0 t1 rc=0
    [ "$side" = ours ] && bin=$OURS || bin=$REF
    conf "/run/netns/$h-c" >"$WORK/conf.json"
    t0=$(now_us)
    PATH=$SYS_PATH CNI_COMMAND=$cmd CNI_CONTAINERID="pmbench-$h" CNI_NETNS="/run/netns/$h-c" \
        CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
        timeout 30 nsenter --net="/run/netns/$h" "$bin" <"$WORK/conf.json" \
        >"$WORK/out.json" 2>"$WORK/err.txt" || rc=$?
    t1=$(now_us)
    [ "$rc" -eq 0 ] || die "$side $cmd in $h exited $rc: $(cat "$WORK/out.json" "$WORK/err.txt")"
    echo $((t1 - t0))
}

# rules SIDE HOST: how many of the 5 mappings are programmed in HOST.
rules() {
    local side=$1 h=$2
    if [ "$side" = ours ]; then
        timeout 10 nsenter --net="/run/netns/$h" nft -j list table inet cnm 2>/dev/null |
            jq '[.nftables[] | .map // empty | select(.name == "pm4any") | (.elem // [])[]] | length' ||
            echo 0
    else
        timeout 10 nsenter --net="/run/netns/$h" iptables-save -t nat 2>/dev/null |
            grep -c -- "-j DNAT --to-destination $CIP:" || true
    fi
}

# cycle SIDE N: one ADD + DEL in a fresh host namespace; appends the figures.
cycle() {
    local side=$1 n=$2 h="$PREFIX-$2-$1" add del got
    setup "$h"
    add=$(invoke "$side" "$h" ADD)
    got=$(rules "$side" "$h")
    [ "$got" -eq 5 ] || die "$side ADD in $h programmed $got of 5 mappings"
    del=$(invoke "$side" "$h" DEL)
    got=$(rules "$side" "$h")
    [ "$got" -eq 0 ] || die "$side DEL in $h left $got of 5 mappings"
    teardown "$h"
    [ "$n" -gt 0 ] || return 0 # warm-up
    echo "$add" >>"$WORK/$side-add"
    echo "$del" >>"$WORK/$side-del"
}

# floor N: nsenter + exec of /bin/true in a fresh host namespace, same path.
floor() {
    local h="$PREFIX-$1-floor" t0 t1
    setup "$h"
    t0=$(now_us)
    PATH=$SYS_PATH timeout 30 nsenter --net="/run/netns/$h" true || die "nsenter into $h failed"
    t1=$(now_us)
    teardown "$h"
    [ "$1" -gt 0 ] && echo $((t1 - t0)) >>"$WORK/floor"
    return 0
}

# stat FILE median|p95 (nearest rank), in ms with 2 decimals.
stat() {
    sort -n "$1" | awk -v q="$2" '{ v[NR] = $1 }
        END {
            if (q == "median") { x = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }
            else { r = int(0.95 * NR); if (r < 0.95 * NR) r++; x = v[r] }
            printf "%.2f", x / 1000 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

log "portmap bench: $CYCLES cycles (+1 warm-up) of ADD+DEL with 5 mappings; ours=$OURS ref=$REF"
for ((i = 0; i <= CYCLES; i++)); do
    if ((i % 2)); then
        cycle ref "$i"
        cycle ours "$i"
    else
        cycle ours "$i"
        cycle ref "$i"
    fi
    floor "$i"
done

om_add=$(stat "$WORK/ours-add" median) op_add=$(stat "$WORK/ours-add" p95)
rm_add=$(stat "$WORK/ref-add" median) rp_add=$(stat "$WORK/ref-add" p95)
om_del=$(stat "$WORK/ours-del" median) op_del=$(stat "$WORK/ours-del" p95)
rm_del=$(stat "$WORK/ref-del" median) rp_del=$(stat "$WORK/ref-del" p95)
fm=$(stat "$WORK/floor" median) fp=$(stat "$WORK/floor" p95)
r_add=$(ratio "$om_add" "$rm_add") r_del=$(ratio "$om_del" "$rm_del")
verdict() { awk -v r="$1" 'BEGIN { print (r <= 0.15) ? "met" : "NOT met" }'; }

cat <<EOF
| op (5 mappings, $CYCLES cycles) | ours median ms | ours p95 ms | reference median ms | reference p95 ms | ratio ours/ref (median) | ratio (p95) | target <= 0.15 |
|---|---|---|---|---|---|---|---|
| ADD | $om_add | $op_add | $rm_add | $rp_add | $r_add | $(ratio "$op_add" "$rp_add") | $(verdict "$r_add") |
| DEL | $om_del | $op_del | $rm_del | $rp_del | $r_del | $(ratio "$op_del" "$rp_del") | $(verdict "$r_del") |
| floor (nsenter + exec of true) | $fm | $fp | | | | | |
EOF

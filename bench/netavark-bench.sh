#!/usr/bin/env bash
# netavark benchmark (issue 19), run by hand as root: `netavark setup` and
# `netavark teardown` of one container, through the same netavark 2.1.0
# binary, invoked exactly as Podman 5 invokes it (tests/runtimes/netavark-lib.sh),
# on a network of our plugin (driver `cnm-netavark`) against a network
# of netavark's built-in `bridge` driver, in the same run, in one throwaway
# host namespace. Both networks do the same work: a bridge, a veth pair, the
# static address Podman's allocator chose, the default route, masquerade of
# the subnet in nftables (netavark's firewall driver: nftables), no ports.
# Ours pays one extra exec (netavark runs the plugin). netavark's config
# directory and the plugin's state are on a tmpfs, as /run is in production.
#
# Two phases, each CYCLES cycles alternating which driver goes first:
#  - "first container": the network has no other container, so setup creates
#    the bridge and teardown removes it (both drivers do);
#  - "busy network": another container stays on the network, the bridge stays.
# Every setup is checked (the status block has the static address).
#
# Usage: bench/netavark-bench.sh [CYCLES]   (default 30, at least 20)
# Env:   CNM_BIN_DIR (default: the first of target/dist (scripts/build-release.sh),
#        target/release, target/debug holding cnm-netavark); NETAVARK (default:
#        netavark on PATH or ~/.cargo/bin).
# Output: a markdown table of medians, p95 and the ratio ours / built-in.
set -uo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
CYCLES="${1:-30}"
[ "$CYCLES" -ge 20 ] 2>/dev/null || { echo "CYCLES must be a number >= 20" >&2; exit 2; }
if [ -z "${CNM_BIN_DIR:-}" ]; then
    # The shipped build first (scripts/build-release.sh: static, no loader).
    for d in target/dist target/release target/debug; do
        if [ -x "$REPO/$d/cnm-netavark" ]; then
            export CNM_BIN_DIR="$REPO/$d"
            break
        fi
    done
fi
# shellcheck source=tests/runtimes/lib.sh
source "$REPO/tests/runtimes/lib.sh"
# shellcheck source=tests/runtimes/netavark-lib.sh
source "$REPO/tests/runtimes/netavark-lib.sh"

rt_require_root
rt_install_traps
nv_find_netavark
rt_make_tmp
rt_make_host_ns
nv_setup
# As in production, netavark's config (Podman: /run/containers/networks) and
# the plugin's state (/run/cnm/netavark) are on a tmpfs: one mounted under
# the temp dir (unmounted with it at exit), used by both drivers alike.
mkdir -p "$RT_TMP/run"
mount -t tmpfs -o size=64m,mode=0700 nvbench "$RT_TMP/run" || rt_fail "cannot mount a tmpfs on $RT_TMP/run"
NV_STATE="$RT_TMP/run/nvstate" NV_CONFIG="$RT_TMP/run/nvconfig"
mkdir -p "$NV_STATE" "$NV_CONFIG"

P2=$((100 + $$ % 100))
P3=$(((($$ / 100) % 50) * 2))
SUB_O="10.$P2.$P3.0/24" O4="10.$P2.$P3"
SUB_B="10.$P2.$((P3 + 1)).0/24" B4="10.$P2.$((P3 + 1))"
ID_O="$(nv_id "bo$$")" ID_B="$(nv_id "bb$$")"

# Our network, completed by the plugin's create as Podman would have it.
cat >"$RT_TMP/ours.in" <<EOF
{"name": "ours", "id": "$ID_O", "driver": "$NV_DRIVER", "subnets": [{"subnet": "$SUB_O"}],
 "ipv6_enabled": false, "internal": false, "dns_enabled": false,
 "labels": {}, "options": {}, "ipam_options": {}}
EOF
nv_plugin 10 create <"$RT_TMP/ours.in" >"$RT_TMP/ours.json" || rt_fail "create failed: $(cat "$RT_TMP/ours.json")"
# netavark's own bridge network, as Podman 5 writes it.
cat >"$RT_TMP/builtin.json" <<EOF
{"name": "builtin", "id": "$ID_B", "driver": "bridge", "network_interface": "nvbr$$",
 "subnets": [{"subnet": "$SUB_B", "gateway": "$B4.1"}], "ipv6_enabled": false,
 "internal": false, "dns_enabled": false, "ipam_options": {"driver": "host-local"}}
EOF

declare -A NS
for n in ours builtin; do
    for c in bench anchor; do
        ns="nvb-$$-$n-$c"
        rt_run 10 ip netns add "$ns" || rt_fail "cannot create $ns"
        rt_defer rt_run 20 ip netns del "$ns"
        NS[$n-$c]="/run/netns/$ns"
    done
done
nv_opts cb$$ ours "$RT_TMP/ours.json" eth0 "[\"$O4.10\"]" >"$RT_TMP/ours-bench.json"
nv_opts ca$$ ours "$RT_TMP/ours.json" eth0 "[\"$O4.11\"]" >"$RT_TMP/ours-anchor.json"
nv_opts cb$$ builtin "$RT_TMP/builtin.json" eth0 "[\"$B4.10\"]" >"$RT_TMP/builtin-bench.json"
nv_opts ca$$ builtin "$RT_TMP/builtin.json" eth0 "[\"$B4.11\"]" >"$RT_TMP/builtin-anchor.json"

# Whatever happens, tear down what is set up (bounded; errors ignored).
teardown_all() {
    local n c
    for n in ours builtin; do
        for c in bench anchor; do
            nv 30 teardown "${NS[$n-$c]}" <"$RT_TMP/$n-$c.json" >/dev/null 2>&1
        done
    done
    # Teardowns of what is already gone may complain (netavark's own bridge).
    return 0
}
rt_defer teardown_all

now_us() { echo $(($(date +%s%N) / 1000)); }
declare -A SAMPLES
# one NET PHASE: one setup and one teardown, timed; the setup is checked.
one() {
    local n=$1 phase=$2 t0 t1 t2 want
    [ "$n" = ours ] && want="$O4.10/24" || want="$B4.10/24"
    t0=$(now_us)
    nv 60 setup "${NS[$n-bench]}" <"$RT_TMP/$n-bench.json" >"$RT_TMP/out" 2>&1 ||
        rt_fail "setup on $n failed: $(cat "$RT_TMP/out")"
    t1=$(now_us)
    grep -q "\"ipnet\":\"$want\"" "$RT_TMP/out" || rt_fail "setup on $n: no $want in $(cat "$RT_TMP/out")"
    nv 60 teardown "${NS[$n-bench]}" <"$RT_TMP/$n-bench.json" >"$RT_TMP/out" 2>&1 ||
        rt_fail "teardown on $n failed: $(cat "$RT_TMP/out")"
    t2=$(now_us)
    SAMPLES[$phase-$n-setup]+="$((t1 - t0)) "
    SAMPLES[$phase-$n-teardown]+="$((t2 - t1)) "
}
run_phase() {
    local phase=$1 c
    # One warm-up pair (page cache, first nft table).
    one ours warmup
    one builtin warmup
    for ((c = 0; c < CYCLES; c++)); do
        if ((c % 2 == 0)); then
            one ours "$phase"
            one builtin "$phase"
        else
            one builtin "$phase"
            one ours "$phase"
        fi
    done
}

run_phase first
for n in ours builtin; do
    nv 60 setup "${NS[$n-anchor]}" <"$RT_TMP/$n-anchor.json" >"$RT_TMP/out" 2>&1 ||
        rt_fail "anchor setup on $n failed: $(cat "$RT_TMP/out")"
done
run_phase busy
teardown_all
left="$(ip -n "$RT_HOSTNS" -o link show | awk -F': ' '{print $2}' | grep -v '^lo$' || true)"
[ -z "$left" ] || rt_fail "links left after the benchmark: $left"

stat_of() {
    # median and p95 in ms of the arguments (µs)
    printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {
        m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2;
        p = a[int(NR*0.95 + 0.999)]; printf "%.1f %.1f", m/1000, p/1000 }'
}
echo
echo "$("$NETAVARK" --version), $CYCLES cycles per phase, alternating; plugin $NV_PLUGIN_BIN; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| phase | operation | cnm plugin median (p95) | built-in bridge median (p95) | ratio (median) |"
echo "|---|---|---|---|---|"
for phase in first busy; do
    for op in setup teardown; do
        # shellcheck disable=SC2086
        read -r o o95 <<<"$(stat_of ${SAMPLES[$phase-ours-$op]})"
        # shellcheck disable=SC2086
        read -r b b95 <<<"$(stat_of ${SAMPLES[$phase-builtin-$op]})"
        label="first container"
        [ "$phase" = busy ] && label="busy network"
        printf '| %s | netavark %s | %s ms (%s) | %s ms (%s) | %.2fx |\n' "$label" "$op" "$o" "$o95" "$b" "$b95" \
            "$(awk -v a="$o" -v b="$b" 'BEGIN{print a/b}')"
    done
done

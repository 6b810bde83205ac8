#!/usr/bin/env bash
# CRI benchmark (issue 14), run by hand as root: how long containerd 1.6's
# CRI takes to create and then remove 110 pods (the kubelet's default maximum
# per node) with our plugins (simplebridge, ipam-host-local, portmap installed
# as bridge, host-local, portmap) against the reference plugins of the same
# names from /usr/lib/cni, the rest of the chain (reference bandwidth and
# firewall) and everything else identical.
#
# One containerd (tests/runtimes/cri-lib.sh: own root, state, socket, config,
# started with nsenter --net in a throwaway host namespace) serves every
# round; between rounds only the files in its CNI bin_dir are swapped, the
# bridge is deleted (each round starts from no bridge, no rules of a pod) and
# the reservations are checked to be gone. Rounds alternate which side goes
# first. Pods are created one after the other by tests/cri-client
# (RunPodSandbox + PodSandboxStatus each, as the kubelet does) and removed
# one after the other (StopPodSandbox + RemovePodSandbox); each phase is timed
# from this script. A round that does not end with 110 READY pods with
# distinct addresses, or leaves a reservation, veth or pod behind, aborts
# the benchmark.
#
# Usage: bench/cri-bench.sh [ROUNDS] [PODS]   (defaults 3 and 110)
# Output: per-round times and a markdown table of medians with the ratio
# ours/reference.
set -Eeuo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=tests/runtimes/lib.sh
source "$REPO/tests/runtimes/lib.sh"
# shellcheck source=tests/runtimes/cri-lib.sh
source "$REPO/tests/runtimes/cri-lib.sh"

ROUNDS="${1:-3}"
PODS="${2:-110}"
case "$ROUNDS$PODS" in *[!0-9]*) rt_fail "usage: $0 [ROUNDS] [PODS]" ;; esac
[ "$ROUNDS" -ge 1 ] && [ "$PODS" -ge 1 ] && [ "$PODS" -le 250 ] ||
    rt_fail "ROUNDS >= 1, PODS 1-250"

RT_PACKAGES+=(containernetworking-plugins nftables iptables)
rt_require_root
rt_install_traps
rt_ensure_packages
rt_require_binaries

SLOT=$(($$ % 200 + 16))
NET="cnmcrib-$$"
BRIDGE="cnmcrib$$"
POD_CIDR="10.236.$SLOT.0/24"
LABEL="cnm-bench=cri-$$"

rt_make_tmp
rt_make_host_ns
cri_init "$NET" "$BRIDGE"
STORE="$CRI_DATADIR/$NET"
cri_setup ours
cri 20 runtime-config --pod-cidr "$POD_CIDR"
cri_wait_network_ready true
rt_log "cri-bench: $(cri 20 version); $ROUNDS rounds x 2 sides x $PODS pods, host netns $RT_HOSTNS"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

declare -A CREATE REMOVE
# round SIDE: one create-all / remove-all cycle with SIDE's plugins.
round() {
    local side=$1 t0 t1 t2 out n distinct
    cri_bin_dir "$side"
    t0=$(now_ms)
    out="$(cri 900 run-many --count "$PODS" --prefix "b$side" --namespace bench \
        --label "$LABEL" --cgroup-parent "/$CRI_CGROUP")" || rt_fail "$side: creating $PODS pods failed"
    t1=$(now_ms)
    n="$(printf '%s\n' "$out" | grep -c .)"
    distinct="$(printf '%s\n' "$out" | awk '{print $2}' | sort -u | grep -c .)"
    [ "$n" -eq "$PODS" ] && [ "$distinct" -eq "$PODS" ] ||
        rt_fail "$side: $n pods, $distinct distinct addresses (want $PODS)"
    [ "$(rt_reservations "$STORE" | grep -c .)" -eq "$PODS" ] ||
        rt_fail "$side: reservations do not match $PODS pods"
    [ "$(cri 900 remove-all --label "$LABEL")" -eq "$PODS" ] || rt_fail "$side: removing the pods failed"
    t2=$(now_ms)
    [ -z "$(rt_reservations "$STORE")" ] || rt_fail "$side: reservations left after removal"
    [ -z "$(rt_bridge_ports "$BRIDGE")" ] || rt_fail "$side: veths left on $BRIDGE"
    [ -z "$(cri 30 list --label "$LABEL")" ] || rt_fail "$side: pods left"
    # Next round starts from no bridge (its address and per-network rules stay
    # with the bridge's owner otherwise).
    ip -n "$RT_HOSTNS" link del "$BRIDGE" 2>/dev/null || true
    CREATE[$side]+="$((t1 - t0)) "
    REMOVE[$side]+="$((t2 - t1)) "
    printf '%-9s create %6d ms  remove %6d ms\n' "$side" "$((t1 - t0))" "$((t2 - t1))"
}

for r in $(seq 1 "$ROUNDS"); do
    echo "round $r"
    if [ $((r % 2)) -eq 1 ]; then
        round ours
        round reference
    else
        round reference
        round ours
    fi
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
co="$(echo "${CREATE[ours]}" | median)"
cr="$(echo "${CREATE[reference]}" | median)"
ro="$(echo "${REMOVE[ours]}" | median)"
rr="$(echo "${REMOVE[reference]}" | median)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo
echo "| $PODS pods via containerd CRI (median of $ROUNDS) | ours | reference | ours/reference |"
echo "|---|---|---|---|"
echo "| create (RunPodSandbox + status, one after the other) | ${co} ms | ${cr} ms | $(ratio "$co" "$cr") |"
echo "| remove (StopPodSandbox + RemovePodSandbox) | ${ro} ms | ${rr} ms | $(ratio "$ro" "$rr") |"
echo "| total | $((co + ro)) ms | $((cr + rr)) ms | $(ratio $((co + ro)) $((cr + rr))) |"

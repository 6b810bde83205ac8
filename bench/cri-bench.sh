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
# from this script (wall time) and by the CPU time that containerd and
# everything it starts (shims, runc, the CNI plugins) used meanwhile: a
# cpuacct cgroup of its own (cgroup v1, or cpu.stat on v2), which is far less
# sensitive than wall time to other work on a shared machine. Ratios are
# taken per round (ours against the reference of the same round) and their
# median is reported, so a load trend across rounds does not bias them. A round that does not end with 110 READY pods with
# distinct addresses, or leaves a reservation, veth or pod behind, aborts
# the benchmark.
#
# Usage: bench/cri-bench.sh [ROUNDS] [PODS]   (defaults 3 and 110)
# Output: per-round wall and CPU times, and a markdown table of medians with
# the median per-round ratios ours/reference.
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
POD_CIDR="10.239.$SLOT.0/24"
LABEL="cnm-bench=cri-$$"

rt_make_tmp
rt_make_host_ns
cri_init "$NET" "$BRIDGE"
STORE="$CRI_DATADIR/$NET"
# containerd's own CPU accounting group (created before containerd starts, so
# its removal at exit runs after containerd has stopped).
CPU_CG="cnmcrib-cpu-$$"
if [ -d /sys/fs/cgroup/cpuacct ]; then
    CPU_DIR="/sys/fs/cgroup/cpuacct/$CPU_CG"
    cpu_ns() { cat "$CPU_DIR/cpuacct.usage"; }
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    CPU_DIR="/sys/fs/cgroup/$CPU_CG"
    cpu_ns() { echo $(($(sed -n 's/^usage_usec //p' "$CPU_DIR/cpu.stat") * 1000)); }
else
    rt_fail "no cpuacct hierarchy and no cgroup v2 at /sys/fs/cgroup"
fi
rt_track_new "$CPU_DIR"
mkdir "$CPU_DIR"
cri_setup ours
echo "$CRI_PID" >"$CPU_DIR/cgroup.procs" || rt_fail "cannot move containerd into $CPU_DIR"
cri 20 runtime-config --pod-cidr "$POD_CIDR"
cri_wait_network_ready true
rt_log "cri-bench: $(cri 20 version); $ROUNDS rounds x 2 sides x $PODS pods, host netns $RT_HOSTNS"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

declare -A CREATE REMOVE CPU_CREATE CPU_REMOVE
# round SIDE: one create-all / remove-all cycle with SIDE's plugins; sets
# the LAST_* figures (ms).
round() {
    local side=$1 t0 t1 t2 c0 c1 c2 out n distinct
    cri_bin_dir "$side"
    c0=$(cpu_ns)
    t0=$(now_ms)
    out="$(cri 900 run-many --count "$PODS" --prefix "b$side" --namespace bench \
        --label "$LABEL" --cgroup-parent "/$CRI_CGROUP")" || rt_fail "$side: creating $PODS pods failed"
    t1=$(now_ms)
    c1=$(cpu_ns)
    n="$(printf '%s\n' "$out" | grep -c .)"
    distinct="$(printf '%s\n' "$out" | awk '{print $2}' | sort -u | grep -c .)"
    [ "$n" -eq "$PODS" ] && [ "$distinct" -eq "$PODS" ] ||
        rt_fail "$side: $n pods, $distinct distinct addresses (want $PODS)"
    [ "$(rt_reservations "$STORE" | grep -c .)" -eq "$PODS" ] ||
        rt_fail "$side: reservations do not match $PODS pods"
    [ "$(cri 900 remove-all --label "$LABEL")" -eq "$PODS" ] || rt_fail "$side: removing the pods failed"
    t2=$(now_ms)
    c2=$(cpu_ns)
    [ -z "$(rt_reservations "$STORE")" ] || rt_fail "$side: reservations left after removal"
    [ -z "$(rt_bridge_ports "$BRIDGE")" ] || rt_fail "$side: veths left on $BRIDGE"
    [ -z "$(cri 30 list --label "$LABEL")" ] || rt_fail "$side: pods left"
    # Next round starts from no bridge (its address and per-network rules stay
    # with the bridge's owner otherwise).
    ip -n "$RT_HOSTNS" link del "$BRIDGE" 2>/dev/null || true
    LAST_CREATE[$side]=$((t1 - t0))
    LAST_REMOVE[$side]=$((t2 - t1))
    LAST_CPU_CREATE[$side]=$(((c1 - c0) / 1000000))
    LAST_CPU_REMOVE[$side]=$(((c2 - c1) / 1000000))
    printf '%-9s create %6d ms (cpu %6d ms)  remove %6d ms (cpu %6d ms)\n' "$side" \
        "${LAST_CREATE[$side]}" "${LAST_CPU_CREATE[$side]}" \
        "${LAST_REMOVE[$side]}" "${LAST_CPU_REMOVE[$side]}"
}
declare -A LAST_CREATE LAST_REMOVE LAST_CPU_CREATE LAST_CPU_REMOVE
R_WC="" R_WR="" R_WT="" R_CC="" R_CR="" R_CT="" # per-round ratios ours/reference
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }

for r in $(seq 1 "$ROUNDS"); do
    echo "round $r"
    if [ $((r % 2)) -eq 1 ]; then
        round ours
        round reference
    else
        round reference
        round ours
    fi
    for side in ours reference; do
        CREATE[$side]+="${LAST_CREATE[$side]} "
        REMOVE[$side]+="${LAST_REMOVE[$side]} "
        CPU_CREATE[$side]+="${LAST_CPU_CREATE[$side]} "
        CPU_REMOVE[$side]+="${LAST_CPU_REMOVE[$side]} "
    done
    R_WC+="$(ratio "${LAST_CREATE[ours]}" "${LAST_CREATE[reference]}") "
    R_WR+="$(ratio "${LAST_REMOVE[ours]}" "${LAST_REMOVE[reference]}") "
    R_WT+="$(ratio $((LAST_CREATE[ours] + LAST_REMOVE[ours])) $((LAST_CREATE[reference] + LAST_REMOVE[reference]))) "
    R_CC+="$(ratio "${LAST_CPU_CREATE[ours]}" "${LAST_CPU_CREATE[reference]}") "
    R_CR+="$(ratio "${LAST_CPU_REMOVE[ours]}" "${LAST_CPU_REMOVE[reference]}") "
    R_CT+="$(ratio $((LAST_CPU_CREATE[ours] + LAST_CPU_REMOVE[ours])) $((LAST_CPU_CREATE[reference] + LAST_CPU_REMOVE[reference]))) "
    echo "  ratios ours/reference this round: wall total $(echo "$R_WT" | awk '{print $NF}'), cpu total $(echo "$R_CT" | awk '{print $NF}')"
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m() { echo "$1" | median; }
echo
echo "$PODS pods through containerd's CRI, $ROUNDS rounds; figures are medians over rounds,"
echo "ratios the median of the per-round ratios ours/reference."
echo
echo "| phase | ours wall ms | reference wall ms | wall ours/ref | ours CPU ms | reference CPU ms | CPU ours/ref |"
echo "|---|---|---|---|---|---|---|"
echo "| create (RunPodSandbox + status, one after the other) | $(m "${CREATE[ours]}") | $(m "${CREATE[reference]}") | $(m "$R_WC") | $(m "${CPU_CREATE[ours]}") | $(m "${CPU_CREATE[reference]}") | $(m "$R_CC") |"
echo "| remove (StopPodSandbox + RemovePodSandbox) | $(m "${REMOVE[ours]}") | $(m "${REMOVE[reference]}") | $(m "$R_WR") | $(m "${CPU_REMOVE[ours]}") | $(m "${CPU_REMOVE[reference]}") | $(m "$R_CR") |"
echo "| create + remove | | | $(m "$R_WT") | | | $(m "$R_CT") |"

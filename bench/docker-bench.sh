#!/usr/bin/env bash
# Docker benchmark (issue 15), run by hand as root: `docker run -d` until the
# container runs, and `docker rm -f`, on a network of cnm-docker-plugin
# (driver and IPAM) against a network of Docker's built-in bridge driver, in
# the same private dockerd (20.10, started in a throwaway namespace exactly as
# tests/runtimes/docker.sh does; with --iptables=false the built-in bridge
# programs no firewall, and neither network publishes ports, so both do the
# same work: a bridge port, a veth moved into the container, addresses,
# routes). Cycles alternate which driver goes first. Every run is checked:
# the container is running with an address in its network's subnet.
#
# Usage: bench/docker-bench.sh [CYCLES]   (default 30)
# Env:   CNM_BIN_DIR (default target/release when it holds the plugin, else
#        target/debug).
# Output: a markdown table of medians, p95 and the ratio ours / built-in.
set -uo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
CYCLES="${1:-30}"
if [ -z "${CNM_BIN_DIR:-}" ]; then
    if [ -x "$REPO/target/release/cnm-docker-plugin" ]; then
        export CNM_BIN_DIR="$REPO/target/release"
    else
        export CNM_BIN_DIR="$REPO/target/debug"
    fi
fi
# shellcheck source=tests/runtimes/lib.sh
source "$REPO/tests/runtimes/lib.sh"
# shellcheck source=tests/runtimes/docker-lib.sh
source "$REPO/tests/runtimes/docker-lib.sh"

rt_require_root
rt_install_traps
PLUGIN_BIN="$RT_BIN_DIR/cnm-docker-plugin"
[ -x "$PLUGIN_BIN" ] || rt_fail "$PLUGIN_BIN is missing (cargo build --release -p cnm-docker-plugin)"
dk_ensure_docker

DK_NAME="cnmbench$$"
DK_CGROUP="cnmbench-$$"
dk_setup

start_plugin
start_dockerd
dk_build_image cnm-busybox:bench
dk 60 network create -d "$DK_NAME" --ipam-driver "$DK_NAME" --subnet 10.214.1.0/24 ours >/dev/null ||
    rt_fail "creating our network failed"
dk 60 network create -d bridge --subnet 10.214.2.0/24 builtin >/dev/null ||
    rt_fail "creating the built-in bridge network failed"
# One warm-up run each (image layers, first plugin activation).
for n in ours builtin; do
    dk 60 run -d --name "warm-$n" --network "$n" cnm-busybox:bench sleep 600 >/dev/null || rt_fail "warm-up on $n failed"
    dk 60 rm -f "warm-$n" >/dev/null
done

now_us() { echo $(($(date +%s%N) / 1000)); }
RUN_ours=() RM_ours=() RUN_builtin=() RM_builtin=()
one() {
    local n=$1 subnet=$2 t0 t1 t2 ip
    t0=$(now_us)
    dk 60 run -d --name "b-$n" --network "$n" cnm-busybox:bench sleep 600 >/dev/null || rt_fail "docker run on $n failed"
    t1=$(now_us)
    [ "$("${DOCKER[@]}" inspect -f '{{.State.Running}}' "b-$n")" = true ] || rt_fail "b-$n is not running"
    ip="$("${DOCKER[@]}" inspect -f "{{(index .NetworkSettings.Networks \"$n\").IPAddress}}" "b-$n")"
    rt_assert_in_subnet24 "$ip" "$subnet"
    t2=$(now_us)
    dk 60 rm -f "b-$n" >/dev/null || rt_fail "docker rm -f on $n failed"
    local t3
    t3=$(now_us)
    eval "RUN_$n+=($((t1 - t0)))"
    eval "RM_$n+=($((t3 - t2)))"
}
for ((c = 0; c < CYCLES; c++)); do
    if ((c % 2 == 0)); then
        one ours 10.214.1.0/24
        one builtin 10.214.2.0/24
    else
        one builtin 10.214.2.0/24
        one ours 10.214.1.0/24
    fi
done

stat_of() {
    # median and p95 in ms of the arguments (µs)
    printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {
        m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2;
        p = a[int(NR*0.95 + 0.999)]; printf "%.1f %.1f", m/1000, p/1000 }'
}
read -r run_o run_o95 <<<"$(stat_of "${RUN_ours[@]}")"
read -r run_b run_b95 <<<"$(stat_of "${RUN_builtin[@]}")"
read -r rm_o rm_o95 <<<"$(stat_of "${RM_ours[@]}")"
read -r rm_b rm_b95 <<<"$(stat_of "${RM_builtin[@]}")"
echo
echo "docker $(dk 10 version -f '{{.Server.Version}}'), $CYCLES cycles, alternating; plugin $PLUGIN_BIN; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| operation | cnm-docker-plugin median (p95) | built-in bridge median (p95) | ratio (median) |"
echo "|---|---|---|---|"
printf '| docker run -d (to running) | %s ms (%s) | %s ms (%s) | %.2fx |\n' "$run_o" "$run_o95" "$run_b" "$run_b95" \
    "$(awk -v a="$run_o" -v b="$run_b" 'BEGIN{print a/b}')"
printf '| docker rm -f | %s ms (%s) | %s ms (%s) | %.2fx |\n' "$rm_o" "$rm_o95" "$rm_b" "$rm_b95" \
    "$(awk -v a="$rm_o" -v b="$rm_b" 'BEGIN{print a/b}')"

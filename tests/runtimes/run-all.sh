#!/usr/bin/env bash
# Runs the real-runtime suites (Podman 4.3 with CNI, containerd 1.6 ctr --cni,
# containerd 1.6's CRI driven by tests/cri-client as a kubelet, Docker 20.10 on
# cnm-docker-plugin as a legacy socket plugin and as a managed plugin) on our
# plugins, and the firewall restore (cnm-firewall after nft flush ruleset & co.),
# each bounded by a timeout, and prints how
# long each took. The last line is "N passed, M failed"; the exit code is
# non-zero on failure. Needs root (prints "skipped: needs root" otherwise).
# Builds the plugin binaries first unless CNM_RT_SKIP_BUILD=1 (CNM_BIN_DIR
# overrides where they are).
# Usage: tests/runtimes/run-all.sh [podman] [containerd] [podman-portmap] [cri] [docker] [docker-managed]
#        [firewall-reload]
set -uo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/runtimes/lib.sh
source "$DIR/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: needs root"
    echo "0 passed, 0 failed"
    exit 0
fi

SUITES=("$@")
[ "${#SUITES[@]}" -gt 0 ] || SUITES=(podman containerd podman-portmap cri docker docker-managed firewall-reload)
SUITE_TIMEOUT="${CNM_RT_SUITE_TIMEOUT:-600}"

start=$SECONDS
rt_ensure_packages
if [ "${CNM_RT_SKIP_BUILD:-0}" != 1 ]; then
    if ! (cd "$RT_REPO" && timeout 1800 cargo build --workspace --bins); then
        echo "run-all: cargo build --workspace --bins failed" >&2
        echo "0 passed, ${#SUITES[@]} failed"
        exit 1
    fi
fi
echo "run-all: setup (packages, build) took $((SECONDS - start))s"

passed=0 failed=0 summary=()
for s in "${SUITES[@]}"; do
    script="$DIR/$s.sh"
    if [ ! -f "$script" ]; then
        echo "run-all: no suite $script" >&2
        failed=$((failed + 1))
        summary+=("FAIL $s (no such suite)")
        continue
    fi
    echo "=== $s"
    t0=$SECONDS
    rc=0
    timeout -k 30 "$SUITE_TIMEOUT" bash "$script" </dev/null || rc=$?
    took=$((SECONDS - t0))
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        summary+=("PASS $s (${took}s)")
    else
        failed=$((failed + 1))
        [ "$rc" -eq 124 ] && rc="timeout after ${SUITE_TIMEOUT}s"
        summary+=("FAIL $s (${took}s, exit $rc)")
    fi
done

echo "=== summary (total $((SECONDS - start))s)"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

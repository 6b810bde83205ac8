# shellcheck shell=bash
# Docker helpers shared by tests/runtimes/docker.sh and bench/docker-bench.sh:
# cnm-docker-plugin and a private dockerd (20.10) in the throwaway host
# namespace of lib.sh. Needs RT_TMP, RT_HOSTNS, SOCK, STATE, DOCKER_SOCK,
# DOCKER (array) and DK_CGROUP set by the caller.

# --- the plugin ---------------------------------------------------------------
PLUGIN_PID=""
start_plugin() {
    nsenter --net="/run/netns/$RT_HOSTNS" "$PLUGIN_BIN" --socket "$SOCK" --state-dir "$STATE" \
        >>"$RT_TMP/plugin.log" 2>&1 &
    PLUGIN_PID=$!
    local i
    for i in $(seq 100); do
        [ -S "$SOCK" ] && return 0
        kill -0 "$PLUGIN_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$RT_TMP/plugin.log" >&2
    rt_fail "the plugin did not start"
}
stop_plugin() {
    [ -n "$PLUGIN_PID" ] || return 0
    kill -TERM "$PLUGIN_PID" 2>/dev/null
    local i
    for i in $(seq 100); do
        kill -0 "$PLUGIN_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$PLUGIN_PID" 2>/dev/null
    wait "$PLUGIN_PID" 2>/dev/null
    PLUGIN_PID=""
}

# --- dockerd ------------------------------------------------------------------
DOCKERD_PID=""
# Extra dockerd arguments (e.g. --live-restore), set by the caller.
DK_DAEMON_ARGS=()
start_dockerd() {
    echo '{}' >"$RT_TMP/daemon.json"
    nsenter --net="/run/netns/$RT_HOSTNS" dockerd \
        --config-file "$RT_TMP/daemon.json" \
        --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
        --data-root "$RT_TMP/data" --exec-root "$RT_TMP/exec" \
        --pidfile "$RT_TMP/docker.pid" -H "unix://$DOCKER_SOCK" \
        --storage-driver vfs --cgroup-parent "$DK_CGROUP" --shutdown-timeout 2 \
        "${DK_DAEMON_ARGS[@]}" >>"$RT_TMP/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    local i
    for i in $(seq 150); do
        if timeout 5 "${DOCKER[@]}" info >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$DOCKERD_PID" 2>/dev/null || break
        sleep 0.2
    done
    tail -30 "$RT_TMP/dockerd.log" >&2
    rt_fail "dockerd did not start"
}
# stop_dockerd [--keep-tasks]: SIGTERM, then SIGKILL after 30 s; then every
# process left under our exec root (containerd, shims). With --keep-tasks the
# shims stay (a --live-restore dockerd leaves its containers and managed plugins
# running for the next dockerd to take over).
stop_dockerd() {
    local keep=0
    [ "${1:-}" = --keep-tasks ] && keep=1
    [ -n "$DOCKERD_PID" ] || return 0
    kill -TERM "$DOCKERD_PID" 2>/dev/null
    local i
    for i in $(seq 150); do
        kill -0 "$DOCKERD_PID" 2>/dev/null || break
        sleep 0.2
    done
    kill -KILL "$DOCKERD_PID" 2>/dev/null
    wait "$DOCKERD_PID" 2>/dev/null
    DOCKERD_PID=""
    # dockerd's own containerd and shims exit with it; anything left under our exec root is
    # killed by PID.
    local p
    for p in $(pgrep -f -- "$RT_TMP/exec" 2>/dev/null); do
        [ "$keep" = 1 ] && case "$(cat "/proc/$p/comm" 2>/dev/null)" in containerd-shim*) continue ;; esac
        kill -KILL "$p" 2>/dev/null
    done
}
remove_all_containers() {
    local ids
    ids="$(timeout 30 "${DOCKER[@]}" ps -aq 2>/dev/null)" || return 0
    # shellcheck disable=SC2086
    [ -n "$ids" ] && timeout 60 "${DOCKER[@]}" rm -f $ids >/dev/null 2>&1
    return 0
}

# dk SECS ARGS...: docker against our dockerd, bounded.
dk() {
    local secs=$1
    shift
    rt_run "$secs" "${DOCKER[@]}" "$@"
}

# dk_build_image TAG: import a busybox-static root file system (no registry).
dk_build_image() {
    local rootfs="$RT_TMP/rootfs" a
    mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/etc" "$rootfs/www"
    cp /bin/busybox "$rootfs/bin/busybox"
    for a in sh ping ping6 httpd wget ip sleep cat ls; do ln -sf busybox "$rootfs/bin/$a"; done
    echo "hello from cnm" >"$rootfs/www/index.html"
    tar -C "$rootfs" -c . | rt_run 120 "${DOCKER[@]}" import - "$1" >/dev/null ||
        rt_fail "docker import of the busybox rootfs failed"
}

# Install Debian's docker.io when missing, with a policy-rc.d so that apt
# starts no service (dockerd must never run in the machine's own namespaces).
dk_ensure_docker() {
    command -v dockerd >/dev/null && return 0
    local created=0 rc=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        created=1
    fi
    rt_run 600 env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || rc=$?
    [ "$rc" = 0 ] && { rt_run 900 env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends docker.io >&2 || rc=$?; }
    [ "$created" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || rt_fail "installing docker.io failed"
}

# dk_setup: the throwaway host namespace, temp dir, plugin socket and .spec
# file (DK_NAME, DK_CGROUP set by the caller) and the cleanups of everything
# dockerd and the plugin make outside the temp dir (removed at exit when they
# did not exist before; directories only when empty). cnm-nft's state of the
# namespace is cleared and removed by rt_make_host_ns. Sets SOCK, STATE, SPEC,
# DOCKER_SOCK, DOCKER (the client command) and DOCKER_CONFIG.
dk_setup() {
    rt_make_tmp
    rt_make_host_ns
    export DOCKER_CONFIG="$RT_TMP/docker-config"
    mkdir -p "$DOCKER_CONFIG"
    SOCK="$RT_TMP/$DK_NAME.sock"
    STATE="$RT_TMP/state"
    SPEC="/etc/docker/plugins/$DK_NAME.spec"
    DOCKER_SOCK="$RT_TMP/docker.sock"
    DOCKER=(docker -H "unix://$DOCKER_SOCK")
    rt_track_new /etc/docker /etc/docker/plugins "$SPEC" /etc/docker/key.json \
        /run/docker /run/docker/plugins /run/cnm /run/cnm/nft
    rt_track_cgroups "$DK_CGROUP"
    mkdir -p /etc/docker/plugins
    printf 'unix://%s\n' "$SOCK" >"$SPEC"
    rt_defer stop_plugin
    rt_defer stop_dockerd
    rt_defer remove_all_containers
}

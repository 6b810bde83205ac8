#!/usr/bin/env bash
# Docker (Debian docker.io, dockerd 20.10) with cnm-docker-plugin installed the
# Docker way: a managed plugin built by scripts/docker-managed-plugin.sh
# (config.json + rootfs), `docker plugin create/enable/disable/upgrade/rm`.
#
# Everything happens in a throwaway "host" namespace: dockerd (with its own
# containerd, which runs the plugin under runc with the host network of the
# namespace), a local registry (docker-registry, for `docker plugin upgrade`)
# and a client namespace for the published port. The plugin's state mount
# ("state", the host's /var/lib by default) is pointed at the test's temp dir
# with `docker plugin set`; its "run" mount is the machine's /run, as on a real
# host (nftables state under /run/cnm/nft/<namespace inode>-<cookie>, removed at
# exit).
#
# Scenarios: a plugin with a missing state mount source refuses to enable and
# leaves nothing; create + enable (the plugin runs in the namespace, socket
# 0600, /proc/sys writable, no mount leaks to the machine); a network with
# -d and --ipam-driver on the plugin; two containers ping each other; -p
# 8080:80 from a client namespace, the host's address and 127.0.0.1;
# masquerade out; `docker plugin disable` and `rm` refused while in use; an
# upgrade (disable -f, `docker plugin upgrade` from the registry, enable) with
# containers running: no ping lost, same plugin ID, the new rootfs runs, the
# state kept (a new container gets a new address, not one in use); the
# plugin removed with `rm -f` and created again (v1) with containers running,
# state kept the same way; dockerd
# restarted without live-restore (containers with --restart always come back
# on the plugin dockerd restarts before them) and with --live-restore
# (plugin and containers keep running, published port served throughout);
# then everything removed: containers, network, plugin disable + rm, and
# nothing left: no link, nftables element or chain, record, reservation,
# socket, plugin directory, cgroup, mount or process.
set -uo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/runtimes/lib.sh
source "$DIR/lib.sh"
# shellcheck source=tests/runtimes/docker-lib.sh
source "$DIR/docker-lib.sh"

rt_require_root
rt_install_traps

PLUGIN_BIN="$RT_BIN_DIR/cnm-docker-plugin"
[ -x "$PLUGIN_BIN" ] || rt_fail "$PLUGIN_BIN is missing: run 'cargo build -p cnm-docker-plugin' first"
dk_ensure_docker
for c in dockerd docker ctr curl docker-registry nft; do
    command -v "$c" >/dev/null || rt_fail "$c is missing (scripts/setup.sh installs it)"
done
[ -x /bin/busybox ] || rt_fail "/bin/busybox is missing (Debian package busybox-static)"

P="cnmmp$$"          # the plugin's name; Docker calls it $P:latest
DRIVER="$P:latest"   # what -d and --ipam-driver take (Docker 20.10 wants the tag)
REG="127.0.0.1:5000" # the registry, inside the host namespace
DK_CGROUP="cnmmp-$$"
NET=mpnet1
SUB=10.217.1.0/24
GW=10.217.1.1
EXT_HOST=10.217.9.1
EXT_CLIENT=10.217.9.2

root_snapshot() {
    ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
    ip -o addr show | awk '{print $2, $4}' | sort
}
ROOT_BEFORE="$(root_snapshot)"

# --- setup: namespaces, temp dir, what dockerd makes outside it ----------------------------
rt_make_tmp
rt_make_host_ns
# The machine's mounts, apart from temp dirs (ours and other tests') and
# namespace files: a plugin mount propagating back (e.g. over
# /run/docker/plugins) would show here.
host_mounts() { findmnt -rn -o TARGET | grep -v -e '^/tmp/' -e '^/run/netns/' | sort; }
MOUNTS_BEFORE="$(host_mounts)"
export DOCKER_CONFIG="$RT_TMP/docker-config"
mkdir -p "$DOCKER_CONFIG"
DOCKER_SOCK="$RT_TMP/docker.sock"
DOCKER=(docker -H "unix://$DOCKER_SOCK")
CTR=(ctr --address "$RT_TMP/exec/containerd/containerd.sock" -n plugins.moby)
STATE_SRC="$RT_TMP/varlib"
STATE="$STATE_SRC/cnm/docker"
mkdir -p "$STATE_SRC"
# dockerd 20.10 keeps plugin sockets in /run/docker/plugins/<id>/ whatever its exec root.
rt_track_new /etc/docker /etc/docker/key.json /run/docker /run/docker/plugins /run/cnm /run/cnm/nft
rt_track_cgroups "$DK_CGROUP"

PLUGIN_PIDS=()
REGISTRY_PID=""
stop_registry() {
    [ -n "$REGISTRY_PID" ] || return 0
    kill -TERM "$REGISTRY_PID" 2>/dev/null
    wait "$REGISTRY_PID" 2>/dev/null
    REGISTRY_PID=""
}
# Our plugins (force), then any plugin process seen that is still alive, then
# the plugin's cgroups (runc's, named after the plugin ID) if runc left them.
ID="" OLD_ID=""
remove_plugins() {
    local n p
    for n in "$P" "$REG/$P:v2"; do
        timeout 30 "${DOCKER[@]}" plugin rm -f "$n" >/dev/null 2>&1
    done
    for p in "${PLUGIN_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for n in "$OLD_ID" "$ID"; do
        if [ -n "$n" ]; then rt_rmdir_cgroups "$n"; fi
    done
    return 0
}
rt_defer stop_registry
rt_defer stop_dockerd
rt_defer remove_plugins
rt_defer remove_all_containers

# --- helpers ---------------------------------------------------------------------------------
records() { find "$STATE/$1" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l; }
container_ip() { "${DOCKER[@]}" inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"; }
host_links() { ip -n "$RT_HOSTNS" -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//'; }
plugin_id() { "${DOCKER[@]}" plugin inspect -f '{{.Id}}' "$1"; }
plugin_enabled() { "${DOCKER[@]}" plugin inspect -f '{{.Enabled}}' "$1" 2>/dev/null; }
# find_plugin_pid ID: PPID_NOW = the plugin's process (containerd's running task of
# the plugin ID; empty when none), recorded for the cleanup.
PPID_NOW=""
find_plugin_pid() {
    PPID_NOW="$(timeout 10 "${CTR[@]}" task ls 2>/dev/null | awk -v id="$1" '$1 == id && $3 == "RUNNING" {print $2}')"
    if [ -n "$PPID_NOW" ]; then PLUGIN_PIDS+=("$PPID_NOW"); fi
}
ping_from() {
    local c=$1 addr=$2 i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        timeout 5 "${DOCKER[@]}" exec "$c" ping -c 1 -W 1 "$addr" >/dev/null 2>&1 && return 0
        sleep 0.3
    done
    rt_fail "$c cannot ping $addr"
}
fetch() {
    # fetch NS URL: bounded retries until the page arrives.
    local ns=$1 url=$2 i out
    for i in $(seq 20); do
        out="$(nsenter --net="/run/netns/$ns" timeout 3 curl -s "$url" 2>/dev/null)"
        [ "$out" = "hello from cnm" ] && return 0
        sleep 0.3
    done
    rt_fail "no page from $url in $ns (got '$out')"
}
# wait_running N: until N containers run (bounded: dockerd restarts them itself).
wait_running() {
    local i n=0
    for i in $(seq 100); do
        n="$(timeout 10 "${DOCKER[@]}" ps -q 2>/dev/null | grep -c .)"
        [ "$n" = "$1" ] && return 0
        sleep 0.3
    done
    rt_fail "$n containers run, want $1: $(timeout 10 "${DOCKER[@]}" ps -a 2>&1 | tail -5)"
}
# ping_summary FILE: "<sent> <received>" from a ping's last lines (busybox or iputils).
ping_summary() { sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) \(packets \)\{0,1\}received.*/\1 \2/p' "$1"; }
assert_no_loss() {
    local what=$1 file=$2 sent="" recv=""
    read -r sent recv <<<"$(ping_summary "$file")"
    [ -n "$sent" ] || rt_fail "$what: no ping summary: $(tail -3 "$file")"
    { [ "$sent" -gt 0 ] && [ "$sent" = "$recv" ]; } || rt_fail "$what: $recv of $sent pings answered"
    rt_log "$what: $recv of $sent pings answered"
}

# --- the plugin directories: v1, and v2 (a marker in its rootfs) for the upgrade -----------------
bash "$RT_REPO/scripts/docker-managed-plugin.sh" --bin "$PLUGIN_BIN" --out "$RT_TMP/plugin-v1" >&2 ||
    rt_fail "scripts/docker-managed-plugin.sh failed"
bash "$RT_REPO/scripts/docker-managed-plugin.sh" --bin "$PLUGIN_BIN" --out "$RT_TMP/plugin-v2" >&2 ||
    rt_fail "scripts/docker-managed-plugin.sh failed"
echo "test build v2" >>"$RT_TMP/plugin-v2/rootfs/etc/cnm-docker-plugin.version"
for f in usr/sbin/cnm-docker-plugin usr/sbin/nft etc/cnm-docker-plugin.version; do
    [ -e "$RT_TMP/plugin-v1/rootfs/$f" ] || rt_fail "the rootfs lacks /$f"
done
jq_types="$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(" ".join(c["interface"]["types"]), c["interface"]["socket"], c["network"]["type"])' "$RT_TMP/plugin-v1/config.json")"
[ "$jq_types" = "docker.networkdriver/1.0 docker.ipamdriver/1.0 cnm.sock host" ] || rt_fail "config.json declares: $jq_types"

# --- dockerd, registry, v2 published --------------------------------------------------------------
start_dockerd
rt_log "dockerd $(dk 10 version -f '{{.Server.Version}}') is up"
cat >"$RT_TMP/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $RT_TMP/registry
http:
  addr: $REG
EOF
nsenter --net="/run/netns/$RT_HOSTNS" docker-registry serve "$RT_TMP/registry.yml" >>"$RT_TMP/registry.log" 2>&1 &
REGISTRY_PID=$!
for i in $(seq 50); do
    nsenter --net="/run/netns/$RT_HOSTNS" curl -sf -m 2 "http://$REG/v2/" >/dev/null 2>&1 && break
    kill -0 "$REGISTRY_PID" 2>/dev/null || rt_fail "the registry did not start: $(tail -5 "$RT_TMP/registry.log")"
    sleep 0.2
done
dk 120 plugin create "$REG/$P:v2" "$RT_TMP/plugin-v2" >/dev/null || rt_fail "plugin create (v2) failed"
dk 300 plugin push "$REG/$P:v2" >/dev/null || rt_fail "plugin push (v2) failed"
dk 30 plugin rm "$REG/$P:v2" >/dev/null || rt_fail "plugin rm (v2) failed"
rt_log "ok: v2 of the plugin is in the local registry"

# --- create, a bad mount source, enable --------------------------------------------------------------
dk 120 plugin create "$P" "$RT_TMP/plugin-v1" >/dev/null || rt_fail "docker plugin create failed"
ID="$(plugin_id "$P")"
[ "${#ID}" = 64 ] || rt_fail "plugin ID '$ID'"
dk 10 plugin set "$P" state.source="$RT_TMP/nosuchdir" || rt_fail "plugin set state.source failed"
out="$("${DOCKER[@]}" plugin enable "$P" 2>&1)" && rt_fail "the plugin enabled with a missing state mount source"
grep -q "nosuchdir" <<<"$out" || rt_fail "the enable error does not name the missing source: $out"
[ "$(plugin_enabled "$P")" = false ] || rt_fail "the plugin is enabled after a failed enable"
find_plugin_pid "$ID"
[ -z "$PPID_NOW" ] || rt_fail "a plugin process is left after a failed enable"
[ -e "/run/docker/plugins/$ID/cnm.sock" ] && rt_fail "a socket is left after a failed enable"
rt_log "ok: a missing mount source refused: $out"
dk 10 plugin set "$P" state.source="$STATE_SRC" || rt_fail "plugin set state.source failed"
dk 60 plugin enable "$P" >/dev/null || rt_fail "docker plugin enable failed: $(tail -5 "$RT_TMP/dockerd.log")"
[ "$(plugin_enabled "$P")" = true ] || rt_fail "the plugin is not enabled"
find_plugin_pid "$ID"
PID1="$PPID_NOW"
[ -n "$PID1" ] || rt_fail "no running task for the plugin"
[ "$(readlink "/proc/$PID1/ns/net")" = "net:[$RT_HOSTNS_INODE]" ] ||
    rt_fail "the plugin runs in $(readlink "/proc/$PID1/ns/net"), not in the host namespace $RT_HOSTNS_INODE"
PSOCK="/run/docker/plugins/$ID/cnm.sock"
[ "$(stat -c '%a %U' "$PSOCK" 2>/dev/null)" = "600 root" ] || rt_fail "socket $PSOCK: $(stat -c '%a %U' "$PSOCK" 2>&1)"
r="$(timeout 10 curl -s --unix-socket "$PSOCK" -X POST http://plugin/Plugin.Activate)"
case "$r" in *'"Implements":["NetworkDriver","IpamDriver"]'*) ;; *) rt_fail "Activate answered $r" ;; esac
mi="$(cat "/proc/$PID1/mountinfo")"
grep -q ' /proc/sys rw,' <<<"$mi" || rt_fail "/proc/sys is not writable in the plugin: $(grep ' /proc/sys ' <<<"$mi")"
touch "$STATE_SRC/probe-$$"
[ -e "/proc/$PID1/root/var/lib/probe-$$" ] && [ -d "$STATE/networks" ] ||
    rt_fail "the plugin's /var/lib is not $STATE_SRC, or it made no state there"
rm -f "$STATE_SRC/probe-$$"
[ "$(host_mounts)" = "$MOUNTS_BEFORE" ] ||
    rt_fail "mounts appeared in the machine's namespace: $(diff <(echo "$MOUNTS_BEFORE") <(host_mounts))"
rt_log "ok: created and enabled ($ID); pid $PID1 in the host namespace, socket 0600, /proc/sys writable, no mount leaked"

# --- a network on the plugin, containers, a published port -----------------------------------------------
dk 60 network create -d "$DRIVER" --ipam-driver "$DRIVER" --subnet "$SUB" --gateway "$GW" \
    -o mtu=1400 "$NET" >/dev/null || rt_fail "network create failed: $(tail -5 "$RT_TMP/dockerd.log")"
[ "$(records networks)" = 1 ] || rt_fail "the plugin recorded $(records networks) networks in $STATE, want 1"
NID="$(dk 10 network inspect -f '{{.Id}}' "$NET")"
BR="cnm-${NID:0:11}"
dk_build_image cnm-busybox:test
for c in c1 c2; do
    dk 60 run -d --restart always --stop-timeout 1 --name "$c" --network "$NET" cnm-busybox:test sleep 100000 >/dev/null ||
        rt_fail "run $c failed: $(tail -5 "$RT_TMP/dockerd.log")"
done
IP1="$(container_ip c1 "$NET")"
IP2="$(container_ip c2 "$NET")"
rt_assert_in_subnet24 "$IP1" "$SUB"
rt_assert_in_subnet24 "$IP2" "$SUB"
grep -q "mtu 1400" <<<"$(ip -n "$RT_HOSTNS" -o link show dev "$BR")" || rt_fail "bridge $BR is not mtu 1400"
ping_from c1 "$IP2"
ping_from c2 "$GW"
rt_log "ok: c1 ($IP1) and c2 ($IP2) talk on $NET"

CLI_NS="cnmrt-mpcli-$$"
rt_run 10 ip netns add "$CLI_NS" || rt_fail "cannot create $CLI_NS"
rt_defer rt_run 20 ip netns del "$CLI_NS"
rt_run 10 ip link add "mpext$$" netns "$RT_HOSTNS" type veth peer name eth0 netns "$CLI_NS" ||
    rt_fail "cannot create the outside veth"
ip -n "$RT_HOSTNS" addr add "$EXT_HOST/24" dev "mpext$$"
ip -n "$RT_HOSTNS" link set "mpext$$" up
ip -n "$CLI_NS" addr add "$EXT_CLIENT/24" dev eth0
ip -n "$CLI_NS" link set eth0 up
ip -n "$CLI_NS" link set lo up
ip netns exec "$RT_HOSTNS" sysctl -qw net.ipv4.ip_forward=1
dk 60 run -d --restart always --stop-timeout 1 --name web --network "$NET" -p 8080:80 cnm-busybox:test httpd -f -p 80 -h /www >/dev/null ||
    rt_fail "run -p 8080:80 failed: $(tail -5 "$RT_TMP/dockerd.log")"
IPW="$(container_ip web "$NET")"
fetch "$CLI_NS" "http://$EXT_HOST:8080/index.html"
fetch "$RT_HOSTNS" "http://$EXT_HOST:8080/index.html"
fetch "$RT_HOSTNS" "http://127.0.0.1:8080/index.html"
[ "$(ip netns exec "$RT_HOSTNS" cat "/proc/sys/net/ipv4/conf/$BR/route_localnet")" = 1 ] ||
    rt_fail "route_localnet of $BR is not 1 (the plugin could not write /proc/sys)"
ping_from web "$EXT_CLIENT"
rt_log "ok: -p 8080:80 from outside, the host's address and 127.0.0.1; masquerade out"

# --- disable and rm refused while in use ------------------------------------------------------------------
out="$("${DOCKER[@]}" plugin disable "$P" 2>&1)" && rt_fail "docker plugin disable succeeded while $NET uses the plugin"
grep -qi "in use" <<<"$out" || rt_fail "disable refused without saying why: $out"
out="$("${DOCKER[@]}" plugin rm "$P" 2>&1)" && rt_fail "docker plugin rm succeeded on an enabled plugin in use"
[ "$(plugin_enabled "$P")" = true ] || rt_fail "the plugin is no longer enabled"
kill -0 "$PID1" 2>/dev/null || rt_fail "the plugin process died"
ping_from c1 "$IP2"
rt_log "ok: disable refused ('${out##*: }'), plugin still serving"

# --- upgrade with containers running ----------------------------------------------------------------------
timeout 60 "${DOCKER[@]}" exec c1 ping -c 60 -i 0.2 "$IP2" >"$RT_TMP/ping-upgrade" 2>&1 &
bgping=$!
t0=$SECONDS
dk 60 plugin disable -f "$P" >/dev/null || rt_fail "plugin disable -f failed"
for i in $(seq 50); do kill -0 "$PID1" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID1" 2>/dev/null && rt_fail "the plugin process is alive after disable"
dk 300 plugin upgrade --grant-all-permissions --skip-remote-check "$P" "$REG/$P:v2" >/dev/null ||
    rt_fail "docker plugin upgrade failed: $(tail -5 "$RT_TMP/dockerd.log")"
src="$("${DOCKER[@]}" plugin inspect -f '{{range .Config.Mounts}}{{if eq .Name "state"}}{{.Source}}{{end}}{{end}}' "$P")"
rt_log "after the upgrade Docker has state.source=$src (an upgrade takes the new config's default: set it again)"
dk 10 plugin set "$P" state.source="$STATE_SRC" || rt_fail "plugin set after the upgrade failed"
dk 60 plugin enable "$P" >/dev/null || rt_fail "enable after the upgrade failed: $(tail -5 "$RT_TMP/dockerd.log")"
rt_log "plugin down for the upgrade: $((SECONDS - t0))s"
[ "$(plugin_id "$P")" = "$ID" ] || rt_fail "the upgrade changed the plugin ID"
find_plugin_pid "$ID"
PID2="$PPID_NOW"
[ -n "$PID2" ] && [ "$PID2" != "$PID1" ] || rt_fail "no new plugin process after the upgrade ($PID2)"
grep -q "test build v2" "/proc/$PID2/root/etc/cnm-docker-plugin.version" || rt_fail "the upgraded plugin does not run the v2 rootfs"
wait "$bgping"
assert_no_loss "c1 -> c2 during the upgrade" "$RT_TMP/ping-upgrade"
fetch "$CLI_NS" "http://$EXT_HOST:8080/index.html"
[ "$(records networks)" = 1 ] || rt_fail "the network record is gone after the upgrade"
dk 60 run -d --stop-timeout 1 --name c3 --network "$NET" -p 8081:80 cnm-busybox:test httpd -f -p 80 -h /www >/dev/null ||
    rt_fail "run c3 after the upgrade failed: $(tail -5 "$RT_TMP/dockerd.log")"
IP3="$(container_ip c3 "$NET")"
rt_assert_in_subnet24 "$IP3" "$SUB"
for used in "$GW" "$IP1" "$IP2" "$IPW"; do
    [ "$IP3" != "$used" ] || rt_fail "c3 got $IP3, already in use: the IPAM state was lost in the upgrade"
done
ping_from c3 "$IP1"
fetch "$CLI_NS" "http://$EXT_HOST:8081/index.html"
dk 30 rm -f c3 >/dev/null || rt_fail "rm c3 failed"
[ "$(rt_bridge_ports "$BR" | wc -l)" = 3 ] || rt_fail "want 3 ports on $BR after c3 left, got $(rt_bridge_ports "$BR" | wc -l)"
rt_log "ok: upgraded to v2 with containers running; state kept (c3 got $IP3)"

# --- removed and created again (here: back to v1) with containers running --------------------------------
dk 60 plugin rm -f "$P" >/dev/null || rt_fail "plugin rm -f failed"
for i in $(seq 50); do kill -0 "$PID2" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID2" 2>/dev/null && rt_fail "the plugin process is alive after rm -f"
[ -e "/run/docker/plugins/$ID" ] && rt_fail "/run/docker/plugins/$ID is left after rm -f"
OLD_ID="$ID"
dk 120 plugin create "$P" "$RT_TMP/plugin-v1" >/dev/null || rt_fail "docker plugin create (again) failed"
ID="$(plugin_id "$P")"
[ "$ID" != "$OLD_ID" ] || rt_fail "a new plugin got the old ID"
dk 10 plugin set "$P" state.source="$STATE_SRC" || rt_fail "plugin set failed"
dk 60 plugin enable "$P" >/dev/null || rt_fail "enable of the re-created plugin failed: $(tail -5 "$RT_TMP/dockerd.log")"
find_plugin_pid "$ID"
PID2="$PPID_NOW"
[ -n "$PID2" ] || rt_fail "no process for the re-created plugin"
grep -q "test build v2" "/proc/$PID2/root/etc/cnm-docker-plugin.version" && rt_fail "the re-created plugin runs the v2 rootfs"
ping_from c1 "$IP2"
dk 60 run -d --stop-timeout 1 --name c3 --network "$NET" cnm-busybox:test sleep 600 >/dev/null ||
    rt_fail "run c3 on the re-created plugin failed: $(tail -5 "$RT_TMP/dockerd.log")"
IP3B="$(container_ip c3 "$NET")"
for used in "$GW" "$IP1" "$IP2" "$IPW"; do
    [ "$IP3B" != "$used" ] || rt_fail "c3 got $IP3B, already in use: the state was lost with the removed plugin"
done
ping_from c3 "$IP2"
dk 30 rm -f c3 >/dev/null || rt_fail "rm c3 failed"
fetch "$CLI_NS" "http://$EXT_HOST:8080/index.html"
rt_log "ok: plugin removed (rm -f) and created again as v1 with containers running; state kept (c3 got $IP3B)"

# --- dockerd restarted (no live-restore): dockerd stops and restarts plugin and containers ------------------------
stop_dockerd
kill -0 "$PID2" 2>/dev/null && rt_fail "dockerd left the plugin running without --live-restore"
t0=$SECONDS
DK_DAEMON_ARGS=(--live-restore)
start_dockerd
wait_running 3
[ "$(plugin_enabled "$P")" = true ] || rt_fail "the plugin is not enabled after the dockerd restart"
find_plugin_pid "$ID"
PID3="$PPID_NOW"
[ -n "$PID3" ] || rt_fail "no plugin process after the dockerd restart"
IP1="$(container_ip c1 "$NET")"
IP2="$(container_ip c2 "$NET")"
IPW="$(container_ip web "$NET")"
ping_from c1 "$IP2"
fetch "$CLI_NS" "http://$EXT_HOST:8080/index.html"
rt_log "ok: dockerd restarted: plugin (pid $PID3) and the three containers back, port served again, $((SECONDS - t0))s"

# --- dockerd restarted with --live-restore: nothing stops -----------------------------------------------------------
nsenter --net="/run/netns/$RT_HOSTNS" ping -c 40 -i 0.2 -q "$IP1" >"$RT_TMP/ping-live" 2>&1 &
bgping=$!
stop_dockerd --keep-tasks
kill -0 "$PID3" 2>/dev/null || rt_fail "the plugin stopped with a --live-restore dockerd"
fails=0
for i in $(seq 10); do
    nsenter --net="/run/netns/$CLI_NS" timeout 3 curl -s "http://$EXT_HOST:8080/index.html" | grep -q "hello from cnm" ||
        fails=$((fails + 1))
    sleep 0.2
done
[ "$fails" = 0 ] || rt_fail "$fails of 10 fetches of the published port failed while dockerd was down"
start_dockerd
find_plugin_pid "$ID"
[ "$PPID_NOW" = "$PID3" ] || rt_fail "the plugin process changed across a --live-restore restart"
wait_running 3
wait "$bgping"
assert_no_loss "host -> c1 across the --live-restore restart" "$RT_TMP/ping-live"
ping_from c1 "$IP2"
dk 60 run -d --stop-timeout 1 --name c4 --network "$NET" cnm-busybox:test sleep 600 >/dev/null ||
    rt_fail "run c4 after the live restore failed: $(tail -5 "$RT_TMP/dockerd.log")"
ping_from c4 "$IP1"
rt_log "ok: --live-restore restart: plugin and containers kept running, port served while dockerd was down"

# --- remove everything ---------------------------------------------------------------------------------------------
remove_all_containers
[ -z "$(timeout 10 "${DOCKER[@]}" ps -aq)" ] || rt_fail "containers left"
dk 30 network rm "$NET" >/dev/null || rt_fail "network rm failed: $(tail -5 "$RT_TMP/dockerd.log")"
dk 60 plugin disable "$P" >/dev/null || rt_fail "plugin disable failed once nothing used it"
for i in $(seq 50); do kill -0 "$PID3" 2>/dev/null || break; sleep 0.1; done
dk 60 plugin rm "$P" >/dev/null || rt_fail "plugin rm failed"
for p in "${PLUGIN_PIDS[@]}"; do
    kill -0 "$p" 2>/dev/null && rt_fail "plugin process $p is still running"
done
[ -z "$(timeout 10 "${CTR[@]}" task ls -q 2>/dev/null)" ] || rt_fail "containerd still has plugin tasks"
[ -e "/run/docker/plugins/$ID" ] && rt_fail "/run/docker/plugins/$ID is left"
for id in "$OLD_ID" "$ID"; do
    [ -e "/run/docker/plugins/$id" ] && rt_fail "/run/docker/plugins/$id is left"
    [ -e "$RT_TMP/data/plugins/$id" ] && rt_fail "the plugin's directory $id is left in the data root"
    for h in /sys/fs/cgroup/*/; do
        [ -d "$h$id" ] && rt_fail "cgroup $h$id is left"
    done
done
left="$(host_links | grep -E '^(cnm-|veth)' || true)"
[ -z "$left" ] || rt_fail "links left in the host namespace: $left"
grep -q '10\.217\.1\.' <<<"$(ip -n "$RT_HOSTNS" -o addr show 2>/dev/null)" && rt_fail "addresses of $SUB left in the host namespace"
nft_out="$(ip netns exec "$RT_HOSTNS" nft -j list table inet cnm 2>/dev/null || true)"
grep -q '"elem"' <<<"$nft_out" && rt_fail "nftables elements left in table inet cnm"
grep -q 'masq-' <<<"$(ip netns exec "$RT_HOSTNS" nft list table inet cnm 2>/dev/null)" && rt_fail "masquerade chains left"
# Only our own tables, empty (their skeleton stays, as after the CNI plugins: docs/docker.md).
tables="$(ip netns exec "$RT_HOSTNS" nft list tables 2>/dev/null | grep -v -x -e 'table inet cnm' -e 'table bridge cnm' || true)"
[ -z "$tables" ] || rt_fail "nftables tables left that are not ours: $tables"
for k in networks endpoints pools; do
    [ "$(records $k)" = 0 ] || rt_fail "$(records $k) $k records left in $STATE"
done
# What docs/docker.md says stays: the record directories, host-local's lock and
# last_reserved_ip files and its owner index; no reservation.
left="$(find "$STATE/ipam" -path "$STATE/ipam/.cnm-index" -prune -o -type f ! -name lock ! -name 'last_reserved_ip.*' -print 2>/dev/null || true)"
[ -z "$left" ] || rt_fail "IPAM reservations left: $left"
NFT_STATE="$(rt_nft_state_dir)"
[ -n "$NFT_STATE" ] || rt_fail "no cnm-nft state under /run/cnm/nft for the host namespace: the plugin's /run is not the machine's"
left="$( (ls -A "$NFT_STATE" 2>/dev/null || true) | grep -v '\.lock$' || true)"
[ -z "$left" ] || rt_fail "cnm-nft state left in $NFT_STATE: $left"
[ "$(host_mounts)" = "$MOUNTS_BEFORE" ] ||
    rt_fail "the machine's mounts changed: $(diff <(echo "$MOUNTS_BEFORE") <(host_mounts))"
rt_log "ok: everything removed; no link, element, chain, record, reservation, socket, directory, cgroup, mount or process left"

stop_registry
stop_dockerd
ROOT_AFTER="$(root_snapshot)"
[ "$ROOT_BEFORE" = "$ROOT_AFTER" ] || rt_fail "the machine's own namespace changed: $(diff <(echo "$ROOT_BEFORE") <(echo "$ROOT_AFTER"))"
rt_log "PASS docker-managed"

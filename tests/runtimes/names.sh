#!/usr/bin/env bash
# Names for containers (issue 20) with Podman 4.3's CNI backend, inside a
# throwaway host namespace and a private mount namespace, twice: on our
# plugins (`dnsname` -> cnm-dnsname + cnm-resolver, `bridge` -> simplebridge,
# `host-local` -> ipam-host-local, our portmap) and, as the baseline, on the
# reference plugins with the original dnsname + dnsmasq
# (golang-github-containernetworking-plugin-dnsname). Both runs go through
# the same checks; the baseline's differences are printed, ours fail the test.
#
# - `podman network create` finds `dnsname` in the plugin directory and adds it;
# - from another container: `nslookup web`, `wget http://web/`, `--network-alias`;
#   name and alias with and without `dns.podman`, any case, UDP and TCP; PTR;
# - a container on another network is not visible; NXDOMAIN under the domain
#   in < 100 ms; other names forwarded to the test's own upstream (dnsmasq
#   `--no-resolv --address=/test.example/...` in its own namespace, which the
#   host's /etc/resolv.conf names inside the mount namespace: the machine's
#   file is never touched);
# - `podman rm` -> the name is gone right after; re-created with another
#   address -> the new one; resolver killed -> names back at the next ADD,
#   time printed;
# - garbage and oversized packets on UDP and TCP, 200 idle TCP connections:
#   the name server still answers over UDP and TCP;
# - (ours) 50 containers all resolvable; an internal network does not
#   forward; bad input to the plugin gives a CNI error;
# - `podman network rm` after the last container leaves no resolver process
#   and no file.
# Needs root; exits 77 when not root.
set -Eeuo pipefail
# shellcheck source=tests/runtimes/lib.sh
source "$(dirname "$0")/lib.sh"

rt_require_root
rt_install_traps
RT_PACKAGES+=(dnsmasq-base golang-github-containernetworking-plugin-dnsname containernetworking-plugins iptables python3)
rt_ensure_packages
rt_require_binaries
for b in cnm-dnsname cnm-resolver portmap; do
    [ -x "$RT_BIN_DIR/$b" ] || rt_fail "$RT_BIN_DIR/$b is missing: run 'cargo build --workspace --bins' first"
done
[ -x /usr/lib/cni/dnsname ] || rt_fail "/usr/lib/cni/dnsname (the original) is missing"
DNSQ="$RT_DIR/dnsq.py"
ABUSE="$RT_DIR/dns-abuse.py"
MANY="${CNM_NAMES_MANY:-50}"

SLOT=$(($$ % 100 + 1))
UPNS="cnmrt-up-$$"
UP_HOST="172.29.$SLOT.1"
UP_ADDR="172.29.$SLOT.2"
EXT_ADDR="192.0.2.99"
IMAGE="localhost/cnm-busybox-names:latest"
BASELINE_DIFFS=()

rt_make_tmp
rt_make_host_ns
HOST_KEY_INO="$(stat -L -c %i "/run/netns/$RT_HOSTNS")"
rt_defer rm -rf "/run/cnm/dns/$HOST_KEY_INO" "/run/cnm/dns/$HOST_KEY_INO"-*
rt_track_new /run/cnm/dns

# --- the upstream: dnsmasq in its own namespace, reached through a veth ----------
rt_run 10 ip netns add "$UPNS" || rt_fail "cannot create $UPNS"
rt_defer rt_run 20 ip netns del "$UPNS"
rt_run 10 ip -n "$UPNS" link set lo up
rt_run 10 ip -n "$RT_HOSTNS" link add "cnmupa$$" type veth peer name "cnmupb$$" netns "$UPNS" ||
    rt_fail "cannot create the upstream veth"
rt_run 10 ip -n "$RT_HOSTNS" addr add "$UP_HOST/30" dev "cnmupa$$"
rt_run 10 ip -n "$UPNS" addr add "$UP_ADDR/30" dev "cnmupb$$"
rt_run 10 ip -n "$RT_HOSTNS" link set "cnmupa$$" up
rt_run 10 ip -n "$UPNS" link set "cnmupb$$" up
UPPID_FILE="$RT_TMP/upstream.pid"
# Daemons and runtimes get no descriptor of ours beyond stdio (a lock file
# inherited from `flock FILE run-all.sh` would stay held by whatever outlives us).
nm_nofds() { "$@" 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; }
nm_nofds rt_run 10 nsenter --net="/run/netns/$UPNS" dnsmasq --no-resolv --no-hosts --bind-interfaces \
    --listen-address="$UP_ADDR" --except-interface=lo --address="/test.example/$EXT_ADDR" \
    --pid-file="$UPPID_FILE" --user=root --group=root --log-facility=/dev/null ||
    rt_fail "cannot start the upstream dnsmasq"
rt_defer nm_kill_pidfile "$UPPID_FILE"

nm_kill_pidfile() {
    local p
    [ -f "$1" ] || return 0
    p="$(cat "$1")"
    [ -n "$p" ] && kill "$p" 2>/dev/null
    return 0
}

# Every resolver / dnsmasq left in the host namespace (by PID; only ours live there).
nm_dns_pids() {
    local p
    for p in $(ip netns pids "$RT_HOSTNS" 2>/dev/null); do
        case "$(cat "/proc/$p/comm" 2>/dev/null)" in
        cnm-resolver | dnsmasq) echo "$p" ;;
        esac
    done
}
nm_kill_dns() {
    local p
    for p in $(nm_dns_pids); do kill -9 "$p" 2>/dev/null || true; done
}
rt_defer nm_kill_dns

# --- the mount namespace: /etc/resolv.conf names the upstream ----------------------
MNTDIR="$RT_TMP/mnt"
mkdir -p "$MNTDIR"
mount --bind "$MNTDIR" "$MNTDIR" && mount --make-private "$MNTDIR" || rt_fail "cannot prepare $MNTDIR"
rt_defer umount -l "$MNTDIR"
touch "$MNTDIR/ns"
unshare --mount="$MNTDIR/ns" --propagation slave true || rt_fail "cannot create the mount namespace"
rt_defer umount -l "$MNTDIR/ns"
printf 'nameserver %s\n' "$UP_ADDR" >"$RT_TMP/resolv.conf"
nsenter --mount="$MNTDIR/ns" mount --bind "$RT_TMP/resolv.conf" /etc/resolv.conf ||
    rt_fail "cannot bind the test's resolv.conf in the mount namespace"

# Everything Podman does happens in both namespaces.
rt_in_host() {
    local secs=$1
    shift
    rt_run "$secs" nsenter --mount="$MNTDIR/ns" --net="/run/netns/$RT_HOSTNS" "$@"
}

# --- two Podman setups ------------------------------------------------------------
# nm_podman_setup VARIANT PLUGINDIR...: state under $RT_TMP/<variant>.
nm_podman_setup() {
    local v=$1 d="$RT_TMP/$1" dirs
    shift
    mkdir -p "$d/root" "$d/runroot" "$d/tmp" "$d/net"
    dirs="$(printf '"%s",' "$@")"
    cat >"$d/containers.conf" <<EOF
[network]
network_backend = "cni"
cni_plugin_dirs = [${dirs%,}]
network_config_dir = "$d/net"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "none"
lock_type = "file"
runtime = "runc"
EOF
}

nm_podman() {
    local v=$1 secs=$2 d="$RT_TMP/$1"
    shift 2
    nm_nofds rt_in_host "$secs" env -u XDG_RUNTIME_DIR CONTAINERS_CONF="$d/containers.conf" \
        podman --network-backend cni --cni-config-dir "$d/net" \
        --root "$d/root" --runroot "$d/runroot" --tmpdir "$d/tmp" \
        --storage-driver vfs --runtime runc --runtime-flag "root=$d/runc" \
        --cgroup-manager cgroupfs --events-backend none "$@"
}

nm_remove_all() {
    local v=$1 ids id
    ids="$(nm_podman "$v" 30 ps -a -q --no-trunc 2>/dev/null)" || return 0
    [ -n "$ids" ] || return 0
    # shellcheck disable=SC2086
    nm_podman "$v" 120 rm -f -t 0 $ids >/dev/null 2>&1
    for id in $ids; do rt_rmdir_cgroups "libpod_parent/libpod-$id"; done
}

PLUG="$RT_TMP/plugins"
mkdir -p "$PLUG"
ln -sf "$RT_BIN_DIR/simplebridge" "$PLUG/bridge"
ln -sf "$RT_BIN_DIR/ipam-host-local" "$PLUG/host-local"
ln -sf "$RT_BIN_DIR/portmap" "$PLUG/portmap"
ln -sf "$RT_BIN_DIR/cnm-dnsname" "$PLUG/dnsname"
for p in loopback firewall tuning; do ln -sf "/usr/lib/cni/$p" "$PLUG/$p"; done
nm_podman_setup cnm "$PLUG"
nm_podman_setup ref /usr/lib/cni
rt_track_new /var/lib/containers /var/lib/containers/cache \
    /var/lib/containers/cache/blob-info-cache-v1.boltdb \
    /var/lib/cni /var/lib/cni/networks /var/lib/cni/networks/.cnm-index /var/lib/cni/results /run/runc \
    /run/containers /run/containers/cni /run/containers/cni/dnsname
rt_track_cgroups libpod_parent libpod_parent/conmon

# The image: busybox with nslookup, wget, httpd and a page.
nm_build_image() {
    local v=$1 rootfs="$RT_TMP/rootfs-$1" a
    mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/etc" "$rootfs/www"
    cp /bin/busybox "$rootfs/bin/busybox"
    for a in sh httpd wget nslookup sleep cat ip ls; do ln -sf busybox "$rootfs/bin/$a"; done
    echo "hello from web" >"$rootfs/www/index.html"
    tar -C "$rootfs" -c . | nm_podman "$v" 120 import - "$IMAGE" >/dev/null ||
        rt_fail "podman import failed ($v)"
}

# check VARIANT DESCRIPTION CMD...: ours fail the test, the baseline's are recorded.
check() {
    local v=$1 what=$2
    shift 2
    if "$@"; then
        rt_log "$v: ok: $what"
    elif [ "$v" = cnm ]; then
        rt_fail "cnm: $what"
    else
        rt_log "ref: DIFFERS: $what"
        BASELINE_DIFFS+=("$what")
    fi
}

# q NETNS SERVER NAME [TYPE] [--tcp]: dnsq.py inside a container's namespace
# (whose bind mount exists only in the mount namespace: entered first).
q() {
    local ns=$1
    shift
    timeout 10 nsenter --mount="$MNTDIR/ns" nsenter --net="$ns" python3 "$DNSQ" "$@" 2>&1 || true
}
answers_are() { # answers_are WANT LINE
    [[ "$2" == *"answers=$1 "* ]]
}
is_nxdomain() { [[ "$1" == rcode=NXDOMAIN* ]]; }
ms_of() { sed -n 's/.* ms=\([0-9.]*\).*/\1/p' <<<"$1"; }
under_ms() { # under_ms LINE LIMIT
    awk -v m="$(ms_of "$1")" -v l="$2" 'BEGIN { exit !(m != "" && m < l) }'
}

ip_of() {
    local v=$1 c=$2 net=$3
    nm_podman "$v" 30 inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$c"
}
sandbox_of() {
    nm_podman "$1" 30 inspect -f '{{.NetworkSettings.SandboxKey}}' "$2"
}

# The running name server of a variant's network (pid), if any.
server_pid() {
    local v=$1 net=$2 f
    if [ "$v" = cnm ]; then
        for f in /run/cnm/dns/"$HOST_KEY_INO"-*/resolver.pid; do
            [ -f "$f" ] && sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$f" | head -1
        done
    else
        f="/run/containers/cni/dnsname/$net/pidfile"
        [ -f "$f" ] && cat "$f"
    fi
    return 0
}

run_ctr() { # run_ctr VARIANT NAME NETWORK [podman run args...] -- CMD...
    local v=$1 name=$2 net=$3
    shift 3
    nm_podman "$v" 120 run -d --name "$name" --network "$net" \
        --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 "$@" >/dev/null ||
        rt_fail "$v: podman run $name failed"
}

scenario() {
    local v=$1 base=$2
    local A="cnmrt-nm-$v-a-$$" B="cnmrt-nm-$v-b-$$"
    local SA="10.$base.$SLOT.0/24" SB="10.$((base + 1)).$SLOT.0/24"
    local GA="10.$base.$SLOT.1"
    local WEB="web-$v-$$" CLI="cli-$v-$$" LONE="lonely-$v-$$" ALIAS="webalias-$v-$$"
    local d="$RT_TMP/$v" line t0 t1 n rc

    rt_log "=== $v: networks $A ($SA), $B ($SB)"
    rt_defer rm -rf "/var/lib/cni/networks/$A" "/var/lib/cni/networks/$B" \
        "/var/lib/cni/networks/.cnm-index/$A" "/var/lib/cni/networks/.cnm-index/$B" \
        "/run/containers/cni/dnsname/$A" "/run/containers/cni/dnsname/$B"
    rt_defer nm_remove_all "$v"
    nm_build_image "$v"
    nm_podman "$v" 30 network create --subnet "$SA" "$A" >/dev/null ||
        rt_fail "$v: podman network create $A failed"
    nm_podman "$v" 30 network create --subnet "$SB" "$B" >/dev/null ||
        rt_fail "$v: podman network create $B failed"
    grep -q '"type": "dnsname"' "$d/net/$A.conflist" ||
        rt_fail "$v: podman did not add dnsname to $A: $(cat "$d/net/$A.conflist")"
    rt_log "$v: podman network create added dnsname"

    run_ctr "$v" "$WEB" "$A" --network-alias "$ALIAS" "$IMAGE" httpd -f -p 80 -h /www
    run_ctr "$v" "$CLI" "$A" "$IMAGE" sleep 600
    run_ctr "$v" "$LONE" "$B" "$IMAGE" sleep 600
    local WEB_IP CLI_NS LONE_NS
    WEB_IP="$(ip_of "$v" "$WEB" "$A")"
    CLI_NS="$(sandbox_of "$v" "$CLI")"
    LONE_NS="$(sandbox_of "$v" "$LONE")"
    rt_log "$v: $WEB is $WEB_IP; asking from $CLI ($CLI_NS)"

    # As users do, from inside the client container.
    line="$(nm_podman "$v" 30 exec "$CLI" nslookup "$WEB" 2>&1 || true)"
    check "$v" "nslookup $WEB finds $WEB_IP ($(tr '\n' ' ' <<<"$line"))" grep -q "$WEB_IP" <<<"$line"
    # (no -T: it crashes Debian's busybox-static 1.35 wget; nm_podman bounds it)
    line="$(nm_podman "$v" 30 exec "$CLI" wget -q -O - "http://$WEB/" 2>&1 || true)"
    check "$v" "wget http://$WEB/ gets the page ($line)" grep -q "hello from web" <<<"$line"
    line="$(nm_podman "$v" 30 exec "$CLI" nslookup "$ALIAS" 2>&1 || true)"
    check "$v" "nslookup $ALIAS (--network-alias) finds $WEB_IP" grep -q "$WEB_IP" <<<"$line"
    line="$(nm_podman "$v" 30 exec "$CLI" cat /etc/resolv.conf 2>&1 || true)"
    check "$v" "the container's resolv.conf names $GA and searches dns.podman" \
        bash -c '[[ "$1" == *"nameserver $2"* && "$1" == *dns.podman* ]]' _ "$line" "$GA"

    # Precisely, from the client's namespace.
    line="$(q "$CLI_NS" "$GA" "$WEB.dns.podman")"
    check "$v" "$WEB.dns.podman A: $line" answers_are "$WEB_IP" "$line"
    line="$(q "$CLI_NS" "$GA" "${WEB^^}")"
    check "$v" "${WEB^^} (upper case) A: $line" answers_are "$WEB_IP" "$line"
    line="$(q "$CLI_NS" "$GA" "$ALIAS.dns.podman" A --tcp)"
    check "$v" "$ALIAS.dns.podman over TCP: $line" answers_are "$WEB_IP" "$line"
    line="$(q "$CLI_NS" "$GA" "$WEB_IP" PTR)"
    check "$v" "PTR $WEB_IP: $line" answers_are "$WEB.dns.podman" "$line"
    line="$(q "$CLI_NS" "$GA" "$LONE.dns.podman")"
    check "$v" "$LONE (other network) is not visible: $line" is_nxdomain "$line"
    line="$(q "$LONE_NS" "10.$((base + 1)).$SLOT.1" "$WEB.dns.podman")"
    check "$v" "$WEB is not visible from $LONE: $line" is_nxdomain "$line"
    line="$(q "$CLI_NS" "$GA" "nosuch-$$.dns.podman")"
    check "$v" "NXDOMAIN under the domain: $line" is_nxdomain "$line"
    check "$v" "NXDOMAIN in < 100 ms ($(ms_of "$line") ms)" under_ms "$line" 100
    line="$(q "$CLI_NS" "$GA" "www.test.example")"
    check "$v" "www.test.example forwarded upstream: $line" answers_are "$EXT_ADDR" "$line"
    # Bad packets on UDP and TCP and 200 idle TCP connections: still answers.
    line="$(timeout 60 nsenter --mount="$MNTDIR/ns" nsenter --net="$CLI_NS" python3 "$ABUSE" "$GA" "$WEB.dns.podman" "$WEB_IP" 200 2>&1)" &&
        rc=0 || rc=$?
    rt_log "$v: $(tr '\n' ';' <<<"$line")"
    check "$v" "still answers UDP and TCP after bad packets, with 200 idle TCP connections" test "$rc" -eq 0
    check "$v" "the name server survived the bad packets" test -n "$(server_pid "$v" "$A")" -a -d "/proc/$(server_pid "$v" "$A" | head -1)"

    # Removed: gone right after `podman rm` returns; re-created: the new address.
    nm_podman "$v" 60 rm -f -t 0 "$WEB" >/dev/null || rt_fail "$v: podman rm $WEB failed"
    line="$(q "$CLI_NS" "$GA" "$WEB.dns.podman")"
    check "$v" "$WEB gone right after podman rm: $line" is_nxdomain "$line"
    local NEW_IP="10.$base.$SLOT.200"
    run_ctr "$v" "$WEB" "$A" --ip "$NEW_IP" --network-alias "$ALIAS" "$IMAGE" httpd -f -p 80 -h /www
    line="$(q "$CLI_NS" "$GA" "$WEB.dns.podman")"
    check "$v" "re-created $WEB answers $NEW_IP: $line" answers_are "$NEW_IP" "$line"

    # The name server killed: back at the next ADD, nothing lost.
    local pid
    pid="$(server_pid "$v" "$A" | head -1)"
    [ -n "$pid" ] || rt_fail "$v: no name server pid found"
    kill -9 "$pid"
    for n in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    line="$(q "$CLI_NS" "$GA" "$WEB.dns.podman" A --timeout 1)"
    rt_log "$v: with the name server killed: $line"
    t0=$(date +%s%N)
    run_ctr "$v" "kick-$v-$$" "$A" "$IMAGE" sleep 600
    t1=$(date +%s%N)
    line="$(q "$CLI_NS" "$GA" "$WEB.dns.podman")"
    check "$v" "names back after the kill, at the next ADD ($(((t1 - t0) / 1000000)) ms podman run): $line" \
        answers_are "$NEW_IP" "$line"
    line="$(q "$CLI_NS" "$GA" "$ALIAS.dns.podman")"
    check "$v" "no record lost: $ALIAS: $line" answers_are "$NEW_IP" "$line"
    line="$(q "$CLI_NS" "$GA" "$LONE.dns.podman" A)"
    check "$v" "no record lost: $LONE still invisible: $line" is_nxdomain "$line"
    line="$(q "$LONE_NS" "10.$((base + 1)).$SLOT.1" "$LONE.dns.podman")"
    check "$v" "no record lost: $LONE on $B: $line" bash -c '[[ "$1" == "rcode=NOERROR answers=10.$2."* ]]' _ "$line" "$((base + 1))"

    if [ "$v" = cnm ]; then
        local i bad=0
        t0=$SECONDS
        for i in $(seq "$MANY"); do
            run_ctr "$v" "many$i-$$" "$A" "$IMAGE" sleep 600
        done
        rt_log "$v: $MANY containers started in $((SECONDS - t0)) s"
        for i in $(seq "$MANY"); do
            line="$(q "$CLI_NS" "$GA" "many$i-$$.dns.podman")"
            [[ "$line" == *"rcode=NOERROR answers=10.$base.$SLOT."* ]] || {
                rt_log "many$i-$$: $line"
                bad=$((bad + 1))
            }
        done
        check "$v" "$MANY containers all resolvable ($bad not)" test "$bad" -eq 0
        nm_internal "$v"
        nm_bad_input
    fi

    # Everything removed: no process, no file.
    nm_remove_all "$v"
    nm_podman "$v" 60 network rm -f "$A" "$B" >/dev/null || rt_fail "$v: podman network rm failed"
    sleep 0.2
    check "$v" "no name server process left ($(nm_dns_pids | tr '\n' ' '))" test -z "$(nm_dns_pids)"
    if [ "$v" = cnm ]; then
        check "$v" "no file left under /run/cnm/dns ($(echo /run/cnm/dns/"$HOST_KEY_INO"-* 2>/dev/null))" \
            bash -c '! compgen -G "/run/cnm/dns/$1-*" >/dev/null' _ "$HOST_KEY_INO"
    else
        check "$v" "no file left under /run/containers/cni/dnsname/$A" test ! -e "/run/containers/cni/dnsname/$A"
    fi
}

# An internal network (hand-written: Podman's --internal has no gateway on the
# bridge, so no name server can listen there): names yes, forwarding no.
nm_internal() {
    local v=$1 NET="cnmrt-nm-int-$$" S="10.249.$SLOT.0/24" G="10.249.$SLOT.1" line ns
    cat >"$RT_TMP/$v/net/$NET.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "$NET",
  "plugins": [
    {"type": "bridge", "bridge": "cnmnmi$$", "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$S", "gateway": "$G"}]],
              "dataDir": "$RT_TMP/ipam-int"}},
    {"type": "dnsname", "domainName": "dns.podman", "internal": true, "capabilities": {"aliases": true}}
  ]
}
EOF
    run_ctr "$v" "inside1-$$" "$NET" "$IMAGE" sleep 600
    run_ctr "$v" "inside2-$$" "$NET" "$IMAGE" sleep 600
    ns="$(sandbox_of "$v" "inside1-$$")"
    line="$(q "$ns" "$G" "inside2-$$.dns.podman")"
    check "$v" "internal network: names answer: $line" bash -c '[[ "$1" == "rcode=NOERROR answers=10.249."* ]]' _ "$line"
    line="$(q "$ns" "$G" "www.test.example")"
    check "$v" "internal network: not forwarded: $line" bash -c '[[ "$1" == rcode=REFUSED* ]]' _ "$line"
    nm_podman "$v" 60 rm -f -t 0 "inside1-$$" "inside2-$$" >/dev/null
}

# The plugin called directly with bad input: CNI errors, nothing left behind.
nm_bad_input() {
    local out base='"cniVersion": "0.4.0", "name": "cnmrt-bad-'$$'", "type": "dnsname"'
    local prev='"prevResult": {"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "10.250.0.2/24"}]}'
    plugin() {
        rt_in_host 10 env CNI_COMMAND=ADD CNI_CONTAINERID=bad1 CNI_NETNS=/proc/self/ns/net \
            CNI_IFNAME=eth0 CNI_PATH="$PLUG" CNI_ARGS="$2" "$RT_BIN_DIR/cnm-dnsname" <<<"$1" 2>/dev/null |
            tr -s ' \n' ' ' || true
    }
    out="$(plugin "{$base, $prev}" "K8S_POD_NAME=x")"
    check cnm "no domainName: code 7 ($out)" bash -c '[[ "$1" == *"\"code\": 7"* && "$1" == *"missing domainName"* ]]' _ "$out"
    out="$(plugin "{$base, \"domainName\": \"dns.podman\"}" "K8S_POD_NAME=x")"
    check cnm "no prevResult: code 7 ($out)" bash -c '[[ "$1" == *"must be called as chained plugin"* ]]' _ "$out"
    out="$(plugin "{$base, \"domainName\": \"dns.podman\", \"prevResult\": {\"ips\": 5}}" "K8S_POD_NAME=x")"
    check cnm "bad prevResult: code 6 ($out)" bash -c '[[ "$1" == *"\"code\": 6"* ]]' _ "$out"
    out="$(plugin "{$base, \"domainName\": \"dns.podman\", $prev, \"runtimeConfig\": {\"aliases\": {\"cnmrt-bad-$$\": [\"no such\"]}}}" "K8S_POD_NAME=x")"
    check cnm "illegal alias: code 7 ($out)" bash -c '[[ "$1" == *"invalid alias"* ]]' _ "$out"
}

scenario cnm 243
scenario ref 246

if [ "${#BASELINE_DIFFS[@]}" -gt 0 ]; then
    rt_log "the baseline (dnsname + dnsmasq) differs in ${#BASELINE_DIFFS[@]} check(s):"
    printf '  - %s\n' "${BASELINE_DIFFS[@]}" >&2
fi
echo "PASS names"

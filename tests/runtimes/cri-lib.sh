# shellcheck shell=bash
# containerd 1.6 as a Kubernetes node's CRI runtime, for tests/runtimes/cri.sh
# and bench/cri-bench.sh. Sourced after lib.sh (uses its cleanup stack, temp
# dir and throwaway host namespace).
#
# What it sets up, all under $RT_TMP/cri unless said otherwise:
# - a CNI bin_dir laid out as a node operator would: our plugins copied under
#   the drop-in names (simplebridge -> bridge, ipam-host-local -> host-local,
#   portmap -> portmap) plus the reference plugins we do not replace
#   (bandwidth, firewall, loopback); or, for the benchmark's yardstick, the
#   reference bridge/host-local/portmap;
# - a conf_template chaining bridge (host-local IPAM over the node's pod
#   CIDRs), portmap, the reference bandwidth and firewall; containerd renders
#   it into conf_dir when the client sends UpdateRuntimeConfig;
# - a pause image built offline from busybox-static as a docker-archive tar
#   by hand, imported with `ctr -n k8s.io images import`;
# - containerd with the CRI plugin enabled, its own root, state, socket,
#   runc root and config, started with `nsenter --net` in the host namespace,
#   pod network namespaces pinned under its state dir.
#
# Outside $RT_TMP: the runc shim sockets (/run/containerd/s), libcni's result
# cache (/var/lib/cni/results) and the pods' cgroups under a parent named for
# this run; all recorded with rt_track_new and removed at exit.

CRI_NETWORK=""      # CNI network name in the rendered conflist
CRI_BRIDGE=""       # bridge the template names
CRI_DIR=""          # $RT_TMP/cri
CRI_SOCK=""         # containerd's socket
CRI_PID=""          # containerd's PID while it runs
CRI_CGROUP=""       # pods' cgroup parent (relative to every hierarchy)
CRI_DATADIR=""      # host-local dataDir
# The client is a test binary: with CNM_BIN_DIR pointing at release plugins
# it is still taken from the debug build.
CRI_CLIENT="$RT_BIN_DIR/cri-client"
[ -x "$CRI_CLIENT" ] || CRI_CLIENT="$RT_REPO/target/debug/cri-client"
CRI_IMAGE="localhost/cnm-pause:cri"
CRI_RESULTS=/var/lib/cni/results

# cri_init NAME BRIDGE: directories, names and what is tracked for cleanup.
cri_init() {
    CRI_NETWORK=$1
    CRI_BRIDGE=$2
    CRI_DIR="$RT_TMP/cri"
    CRI_SOCK="$CRI_DIR/containerd.sock"
    CRI_DATADIR="$CRI_DIR/ipam"
    CRI_CGROUP="cnmcri-$$"
    mkdir -p "$CRI_DIR"/{root,state,opt,runc,bin,net.d,ipam}
    [ -x "$CRI_CLIENT" ] ||
        rt_fail "$CRI_CLIENT is missing: run 'cargo build --workspace --bins' first"
    rt_track_new /run/containerd /run/containerd/s /var/lib/cni "$CRI_RESULTS"
    rt_track_cgroups "$CRI_CGROUP"
    rt_defer cri_kill_shims
}

# cri_bin_dir ours|reference: the CNI bin_dir a node operator lays out.
cri_bin_dir() {
    local dir="$CRI_DIR/bin" p
    rm -f "$dir"/*
    case "$1" in
    ours)
        for p in simplebridge ipam-host-local portmap; do
            [ -x "$RT_BIN_DIR/$p" ] ||
                rt_fail "$RT_BIN_DIR/$p is missing: run 'cargo build --workspace --bins' first"
        done
        install -m 0755 "$RT_BIN_DIR/simplebridge" "$dir/bridge"
        install -m 0755 "$RT_BIN_DIR/ipam-host-local" "$dir/host-local"
        install -m 0755 "$RT_BIN_DIR/portmap" "$dir/portmap"
        ;;
    reference)
        for p in bridge host-local portmap; do
            install -m 0755 "/usr/lib/cni/$p" "$dir/$p"
        done
        ;;
    *) rt_fail "cri_bin_dir: ours or reference, not '$1'" ;;
    esac
    for p in bandwidth firewall loopback; do
        [ -x "/usr/lib/cni/$p" ] ||
            rt_fail "/usr/lib/cni/$p is missing (Debian package containernetworking-plugins)"
        install -m 0755 "/usr/lib/cni/$p" "$dir/$p"
    done
}

# The conf_template: Go text/template over containerd 1.6's .PodCIDRRanges
# (every pod CIDR of the node, one host-local range set each) and .Routes
# (a default route per family).
cri_write_template() {
    cat >"$CRI_DIR/cni.template" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CRI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CRI_BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$CRI_DATADIR",
        "ranges": [{{range \$i, \$range := .PodCIDRRanges}}{{if \$i}}, {{end}}[{"subnet": "{{\$range}}"}]{{end}}],
        "routes": [{{range \$i, \$route := .Routes}}{{if \$i}}, {{end}}{"dst": "{{\$route}}"}{{end}}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true},
    {"type": "bandwidth", "capabilities": {"bandwidth": true}},
    {"type": "firewall"}
  ]
}
EOF
}

cri_write_config() {
    local d="$CRI_DIR"
    cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = []

[grpc]
  address = "$CRI_SOCK"

[ttrpc]
  address = "$CRI_SOCK.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CRI_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # The pause container asks for oom_score_adj -998; lowering it below
  # containerd's own needs CAP_SYS_RESOURCE, which a sandboxed CI lacks.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$d/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$d/bin"
    conf_dir = "$d/net.d"
    conf_template = "$d/cni.template"
    max_conf_num = 1
EOF
}

# The pause image: busybox-static in a one-layer docker-archive, entrypoint a
# shell that sleeps and exits on SIGTERM/SIGINT.
cri_build_pause_image() {
    local d="$CRI_DIR/image" rootfs="$CRI_DIR/image/rootfs" a layer_sum cfg_sum
    mkdir -p "$d/layer" "$rootfs/bin" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" \
        "$rootfs/etc" "$rootfs/tmp"
    cp /bin/busybox "$rootfs/bin/busybox"
    for a in sh sleep; do
        ln -sf busybox "$rootfs/bin/$a"
    done
    tar -C "$rootfs" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
        -cf "$d/layer/layer.tar" . || rt_fail "cannot tar the pause rootfs"
    layer_sum="$(sha256sum "$d/layer/layer.tar" | cut -d' ' -f1)"
    cat >"$d/config.json" <<EOF
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z",
 "config":{"Env":["PATH=/bin"],"WorkingDir":"/",
  "Entrypoint":["/bin/sh","-c","trap 'exit 0' TERM INT; sleep 2147483647 & wait"]},
 "rootfs":{"type":"layers","diff_ids":["sha256:$layer_sum"]},
 "history":[{"created":"1970-01-01T00:00:00Z","created_by":"cnm-rs tests/runtimes/cri-lib.sh"}]}
EOF
    cfg_sum="$(sha256sum "$d/config.json" | cut -d' ' -f1)"
    mv "$d/config.json" "$d/$cfg_sum.json"
    printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer/layer.tar"]}]\n' \
        "$cfg_sum" "$CRI_IMAGE" >"$d/manifest.json"
    tar -C "$d" -cf "$CRI_DIR/pause.tar" manifest.json "$cfg_sum.json" layer/layer.tar ||
        rt_fail "cannot write the pause image archive"
}

# cri SECS ARGS...: the CRI client, bounded.
cri() {
    local secs=$1
    shift
    rt_run "$secs" "$CRI_CLIENT" --socket "$CRI_SOCK" --timeout "$secs" "$@"
}

cri_start() {
    nsenter --net="/run/netns/$RT_HOSTNS" containerd --config "$CRI_DIR/config.toml" \
        >>"$CRI_DIR/containerd.log" 2>&1 &
    CRI_PID=$!
    local i
    for i in $(seq 1 80); do
        timeout 5 "$CRI_CLIENT" --socket "$CRI_SOCK" --timeout 5 version >/dev/null 2>&1 && break
        kill -0 "$CRI_PID" 2>/dev/null ||
            rt_fail "containerd exited at start: $(tail -5 "$CRI_DIR/containerd.log")"
        [ "$i" -eq 80 ] && rt_fail "containerd's CRI did not answer on $CRI_SOCK within 40s"
        sleep 0.5
    done
}

# Stop containerd (TERM, then KILL after 15s); the shims of running pods stay.
cri_stop() {
    local pid=$CRI_PID deadline=$((SECONDS + 15))
    [ -n "$pid" ] || return 0
    CRI_PID=""
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        rt_log "containerd $pid still running 15s after TERM: killing it"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

# At exit: remove every pod while containerd still answers, stop it.
cri_shutdown() {
    if [ -n "$CRI_PID" ] && kill -0 "$CRI_PID" 2>/dev/null; then
        cri 300 remove-all >/dev/null || rt_log "cleanup: remove-all failed"
    fi
    cri_stop
}

# PIDs of the runc shims of this containerd (their command line names our
# socket, which no other process's does), and the pause processes under them.
cri_shim_pids() {
    local p
    for p in /proc/[0-9]*; do
        if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "-address $CRI_SOCK "; then
            echo "${p#/proc/}"
        fi
    done
}

# Last resort at exit: shims left behind (containerd died with pods running)
# are killed by PID, with the processes they started.
cri_kill_shims() {
    local pid kids
    for pid in $(cri_shim_pids); do
        kids="$(cat /proc/"$pid"/task/*/children 2>/dev/null)"
        rt_log "cleanup: killing leftover shim $pid (children: ${kids:-none})"
        # shellcheck disable=SC2086
        kill -KILL $kids "$pid" 2>/dev/null
    done
    return 0
}

# Everything set up and containerd running, with the pause image imported and
# the bin dir of KIND (ours|reference).
cri_setup() {
    local kind=$1
    cri_bin_dir "$kind"
    cri_write_template
    cri_write_config
    cri_build_pause_image
    rt_defer cri_shutdown
    cri_start
    rt_run 120 ctr -a "$CRI_SOCK" -n k8s.io images import "$CRI_DIR/pause.tar" >/dev/null ||
        rt_fail "ctr images import of the pause image failed"
}

# cri_wait_network_ready true|false: poll the NetworkReady condition (the CNI
# config watcher is asynchronous).
cri_wait_network_ready() {
    local want=$1 i
    for i in $(seq 1 50); do
        [ "$(cri 10 network-ready)" = "$want" ] && return 0
        sleep 0.2
    done
    rt_fail "NetworkReady did not become $want within 10s"
}

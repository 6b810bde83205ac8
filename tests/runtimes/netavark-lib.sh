# shellcheck shell=bash
# netavark helpers shared by tests/runtimes/netavark.sh and
# bench/netavark-bench.sh: the real netavark 2.1.0 (scripts/setup.sh installs
# it with cargo install) invoked exactly as Podman 5 invokes it,
#   netavark --config <dir> --rootless false --plugin-directory <dir> setup <netns>
# with the NetworkOptions JSON on stdin, inside the throwaway host namespace
# of lib.sh (nsenter --net) and a private mount namespace whose
# /run/sysctl.d is a tmpfs (netavark's bridge persists sysctls there; the
# machine's must stay untouched). Our plugin is in <RT_TMP>/plugins under the
# driver name `cnm-netavark` (as `make install` installs it), its state in <RT_TMP>/nvstate.
# Needs RT_TMP and RT_HOSTNS (lib.sh) set by the caller.

NV_PLUGIN_BIN="${CNM_NETAVARK_BIN:-$RT_BIN_DIR/cnm-netavark}"
NV_DRIVER=cnm-netavark
NETAVARK="${NETAVARK:-}"

# nv_find_netavark: NETAVARK is netavark 2.1.0, or fail saying how to get it.
nv_find_netavark() {
    if [ -z "$NETAVARK" ]; then
        NETAVARK="$(command -v netavark || true)"
        [ -n "$NETAVARK" ] || NETAVARK="${CARGO_HOME:-$HOME/.cargo}/bin/netavark"
    fi
    [ -x "$NETAVARK" ] ||
        rt_fail "netavark is missing: scripts/setup.sh installs it (cargo install netavark --version 2.1.0 --locked)"
    local v
    v="$("$NETAVARK" --version 2>&1)"
    [ "$v" = "netavark 2.1.0" ] || rt_fail "$NETAVARK is '$v', want netavark 2.1.0"
    [ -x "$NV_PLUGIN_BIN" ] || rt_fail "$NV_PLUGIN_BIN is missing: cargo build -p cnm-netavark"
}

# nv_setup: plugin directory, netavark's config directory, the plugin's state.
nv_setup() {
    NV_PLUGINS="$RT_TMP/plugins"
    NV_CONFIG="$RT_TMP/nvconfig"
    NV_STATE="$RT_TMP/nvstate"
    mkdir -p "$NV_PLUGINS" "$NV_CONFIG" "$NV_STATE"
    ln -sf "$NV_PLUGIN_BIN" "$NV_PLUGINS/$NV_DRIVER"
    # The mount point of the private tmpfs (an empty directory, removed at
    # exit when this run made it).
    rt_track_new /run/sysctl.d
    mkdir -p /run/sysctl.d
}

# nv_exec CMD...: CMD in the host namespace and a private mount namespace
# with /run/sysctl.d on a tmpfs, with the environment netavark and the
# plugin get from Podman (no D-Bus: netavark must not find a firewalld).
nv_exec() {
    nsenter --net="/run/netns/$RT_HOSTNS" unshare -m --propagation private \
        sh -c 'mount -t tmpfs nvsysctl /run/sysctl.d && exec "$@"' nv \
        env DBUS_SYSTEM_BUS_ADDRESS= CNM_NETAVARK_STATE_DIR="$NV_STATE" "$@"
}

# nv SECS setup|teardown NETNS_PATH < NetworkOptions JSON: netavark as Podman
# runs it; stdout is netavark's (the status blocks, or {"error"}).
nv() {
    local secs=$1 cmd=$2 ns=$3
    timeout -k 5 "$secs" nsenter --net="/run/netns/$RT_HOSTNS" unshare -m --propagation private \
        sh -c 'mount -t tmpfs nvsysctl /run/sysctl.d && exec "$@"' nv \
        env DBUS_SYSTEM_BUS_ADDRESS= CNM_NETAVARK_STATE_DIR="$NV_STATE" \
        "$NETAVARK" --config "$NV_CONFIG" --rootless false --plugin-directory "$NV_PLUGINS" \
        "$cmd" "$ns"
}

# nv_plugin SECS ARGS... < JSON: our plugin run directly (as Podman runs its
# `create`), in the host namespace.
nv_plugin() {
    local secs=$1
    shift
    timeout -k 5 "$secs" nsenter --net="/run/netns/$RT_HOSTNS" \
        env CNM_NETAVARK_STATE_DIR="$NV_STATE" "$NV_PLUGIN_BIN" "$@"
}

# nv_id SEED: a 64-hex network id (Podman's shape) derived from SEED.
nv_id() { printf '%s' "$1" | sha256sum | cut -c1-64; }

# nv_opts CID NETNAME NETFILE IFNAME STATIC_IPS_JSON [MAC] [PORTS_JSON]:
# Podman's NetworkOptions for one container on one network.
nv_opts() {
    local cid=$1 name=$2 netfile=$3 ifname=$4 ips=$5 mac=${6:-} ports=${7:-null}
    local macfield=""
    [ -n "$mac" ] && macfield=", \"static_mac\": \"$mac\""
    cat <<EOF
{"container_id": "$cid", "container_name": "ctr-$cid", "port_mappings": $ports,
 "networks": {"$name": {"interface_name": "$ifname", "static_ips": $ips, "aliases": ["$cid"]$macfield}},
 "network_info": {"$name": $(cat "$netfile")}}
EOF
}

# nv_json_get FILE PYEXPR: evaluate a Python expression on the JSON in FILE
# (bound to `j`); prints the result.
nv_json_get() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# nv_plugin_input FILE: the plugin's own setup/teardown input (netavark's
# NetworkPluginExec) for the first network of the NetworkOptions in FILE, as
# netavark builds it.
nv_plugin_input() {
    python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
nets = j["networks"]
name, opts = (next(iter(nets.items())) if isinstance(nets, dict)
              else (nets[0]["name"], {k: v for k, v in nets[0].items() if k != "name"}))
print(json.dumps({"container_id": j["container_id"], "container_name": j["container_name"],
                  "port_mappings": j.get("port_mappings"), "network": j["network_info"][name],
                  "network_options": opts}))' "$1"
}

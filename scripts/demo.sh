#!/usr/bin/env bash
# The main job: build the plugins and show a real container network end to
# end, without touching the machine's own network namespace:
#   - a throwaway "host" namespace where the plugins run,
#   - two throwaway container namespaces joined to the network of
#     conf-examples/10-simplebridge.conflist (through the `cnm` CLI),
#   - their addresses, a ping between them and to the gateway,
#   - DEL and removal of everything, leaving the machine as it was.
# Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root" >&2; exit 1; }

PROFILE="${PROFILE:-release}"
if [ "$PROFILE" = release ]; then
    bash scripts/build-release.sh
    BIN="$PWD/target/dist"
else
    cargo build -p simplebridge -p ipam-host-local -p cnm
    BIN="$PWD/target/debug"
fi

id=$$
HOST="cnm-demo-host-$id"
C1="cnm-demo-c1-$id"
C2="cnm-demo-c2-$id"
WORK="$(mktemp -d /tmp/cnm-demo.XXXXXX)"
cleanup() {
    set +e
    if [ -n "${ADDED:-}" ]; then
        for c in $ADDED; do run_cnm del "$c" >/dev/null 2>&1; done
    fi
    for ns in "$C1" "$C2" "$HOST"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# The example network, with its state kept in the demo's own folder.
mkdir -p "$WORK/net.d" "$WORK/bin" "$WORK/cache"
python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
conf = json.load(open("conf-examples/10-simplebridge.conflist"))
conf["plugins"][0]["ipam"]["dataDir"] = work + "/ipam"
json.dump(conf, open(work + "/net.d/10-simplebridge.conflist", "w"), indent=2)
PY
ln -s "$BIN/simplebridge" "$BIN/ipam-host-local" "$WORK/bin/"
[ -x /usr/lib/cni/loopback ] && ln -s /usr/lib/cni/loopback "$WORK/bin/"

for ns in "$HOST" "$C1" "$C2"; do ip netns add "$ns"; done
ip -n "$HOST" link set lo up

run_cnm() { # verb container
    NETCONFPATH="$WORK/net.d" CNI_PATH="$WORK/bin" CNI_CACHE_DIR="$WORK/cache" \
        nsenter --net="/run/netns/$HOST" "$BIN/cnm" "$1" cnm-bridge "/run/netns/$2"
}

echo "== ADD: two containers join network cnm-bridge (bridge cnm0, 10.22.0.0/16)"
ADDED=""
for c in "$C1" "$C2"; do
    run_cnm add "$c" > "$WORK/$c.json"
    ADDED="$ADDED $c"
    addr=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["ips"][0]["address"])' "$WORK/$c.json")
    echo "$c: eth0 $addr"
done
ip -n "$C1" -br addr show eth0
ip -n "$C2" -br addr show eth0
ip -n "$C1" route
IP2=$(ip -n "$C2" -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1)
echo "== ping $C1 -> $C2 ($IP2)"
ip netns exec "$C1" ping -c 3 -W 1 "$IP2"
echo "== ping $C1 -> gateway 10.22.0.1"
ip netns exec "$C1" ping -c 1 -W 1 10.22.0.1
echo "== CHECK"
for c in $ADDED; do run_cnm check "$c" && echo "$c: ok"; done
echo "== DEL"
for c in $ADDED; do run_cnm del "$c" && echo "$c: deleted"; done
ADDED=""
# Reservations are the address-named files of the network's store folder.
left=$(find "$WORK/ipam/cnm-bridge" -maxdepth 1 -type f ! -name lock ! -name 'last_reserved_ip.*' | wc -l)
echo "reservations left: $left"
[ "$left" -eq 0 ]
echo "== demo ok: everything is removed on exit"

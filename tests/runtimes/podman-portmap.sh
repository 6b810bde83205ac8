#!/usr/bin/env bash
# Podman 4.3 (CNI backend) publishes container ports with `-p` on a
# simplebridge + portmap network made of our plugins, inside a throwaway host
# namespace. Container A runs busybox httpd published as host port 8080,
# container B another one as 8081. Checked:
# - the host namespace fetches A's page through the bridge gateway address,
#   through a second host address (a veth in the host namespace) and through 127.0.0.1;
# - B fetches A's page through the host address (hairpin), and A its own;
# - `nft -j list table inet cnm` holds A's and B's mapping elements, tagged
#   with their container IDs;
# - after `podman rm -f A` A's elements are gone, port 8080 no longer answers,
#   and B's elements and page are untouched; after removing B nothing of ours
#   is left in the maps.
# Needs root; exits 77 when not root.
set -Eeuo pipefail
# shellcheck source=tests/runtimes/lib.sh
source "$(dirname "$0")/lib.sh"

rt_require_root
rt_install_traps
RT_PACKAGES+=(nftables)
rt_ensure_packages
rt_require_binaries
[ -x "$RT_BIN_DIR/portmap" ] ||
    rt_fail "$RT_BIN_DIR/portmap is missing: run 'cargo build --workspace --bins' first"
command -v jq >/dev/null || rt_fail "jq is needed to read 'nft -j' output"

SLOT=$(($$ % 120 + 1))
NET="cnmrt-pm-$$"
BRIDGE="cnmrtm$$"
SUBNET="10.233.$SLOT.0/24"
GW="10.233.$SLOT.1"
UPLINK="cnmrtu$$"
UPLINK_PEER="cnmrtv$$"
HOSTADDR="10.234.$SLOT.1"
CA="cnmrt-$$-web-a"
CB="cnmrt-$$-web-b"
PAGE_A="cnm portmap page A $$"
PAGE_B="cnm portmap page B $$"

rt_make_tmp
rt_make_host_ns
rt_podman_setup
ln -sf "$RT_BIN_DIR/portmap" "$RT_TMP/podman/plugins/portmap"
DATADIR="$RT_TMP/ipam"

cat >"$RT_TMP/podman/net/$NET.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NET",
  "plugins": [
    {
      "type": "simplebridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "isDefaultGateway": true,
      "hairpinMode": true,
      "ipam": {
        "type": "ipam-host-local",
        "ranges": [[{"subnet": "$SUBNET", "gateway": "$GW"}]],
        "dataDir": "$DATADIR"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
  ]
}
EOF

# A second host address, the way a host's own uplink address would be used:
# on one end of a veth pair whose both ends stay in the host namespace (the
# dummy link type may be unavailable when modules cannot be loaded).
rt_in_host 10 ip link add "$UPLINK" type veth peer name "$UPLINK_PEER" ||
    rt_fail "cannot add veth pair $UPLINK/$UPLINK_PEER in $RT_HOSTNS"
rt_in_host 10 ip addr add "$HOSTADDR/32" dev "$UPLINK" || rt_fail "cannot add $HOSTADDR to $UPLINK"
rt_in_host 10 ip link set "$UPLINK" up || rt_fail "cannot set $UPLINK up"
rt_in_host 10 ip link set "$UPLINK_PEER" up || rt_fail "cannot set $UPLINK_PEER up"
rt_log "podman-portmap: network $NET, bridge $BRIDGE, subnet $SUBNET, host address $HOSTADDR, host netns $RT_HOSTNS, tmp $RT_TMP"

rt_build_image
for x in a b; do
    mkdir -p "$RT_TMP/www-$x"
done
printf '%s\n' "$PAGE_A" >"$RT_TMP/www-a/index.html"
printf '%s\n' "$PAGE_B" >"$RT_TMP/www-b/index.html"

rt_defer rt_podman_remove_all
run_web() {
    local name=$1 hostport=$2 www=$3
    rt_podman 120 run -d --name "$name" --network "$NET" -p "$hostport:80" \
        -v "$www:/www:ro" --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
        "$RT_IMAGE" httpd -f -p 80 -h /www >/dev/null || rt_fail "podman run $name (-p $hostport:80) failed"
}
run_web "$CA" 8080 "$RT_TMP/www-a"
run_web "$CB" 8081 "$RT_TMP/www-b"

ip_of() {
    rt_podman 30 inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$1"
}
id_of() { rt_podman 30 inspect -f '{{.Id}}' "$1"; }
IPA="$(ip_of "$CA")" || rt_fail "podman inspect $CA failed"
IPB="$(ip_of "$CB")" || rt_fail "podman inspect $CB failed"
IDA="$(id_of "$CA")" || rt_fail "podman inspect $CA failed"
IDB="$(id_of "$CB")" || rt_fail "podman inspect $CB failed"
rt_assert_in_subnet24 "$IPA" "$SUBNET"
rt_assert_in_subnet24 "$IPB" "$SUBNET"
rt_log "podman-portmap: $CA has $IPA (8080), $CB has $IPB (8081)"

# fetch_host URL EXPECTED: busybox wget from the host namespace.
fetch_host() {
    local url=$1 want=$2 got
    got="$(rt_in_host 5 busybox wget -q -O - "$url")" ||
        rt_fail "host namespace: wget $url failed"
    [ "$got" = "$want" ] || rt_fail "host namespace: wget $url returned '$got', expected '$want'"
}
# fetch_in CONTAINER URL EXPECTED: busybox wget inside a container.
fetch_in() {
    local c=$1 url=$2 want=$3 got
    got="$(rt_podman 30 exec "$c" busybox timeout 5 busybox wget -q -O - "$url")" ||
        rt_fail "$c: wget $url failed"
    [ "$got" = "$want" ] || rt_fail "$c: wget $url returned '$got', expected '$want'"
}

# httpd needs a moment to listen: wait on the container address directly.
ready=0
for _ in $(seq 1 25); do
    if rt_in_host 5 busybox wget -q -O /dev/null "http://$IPA:80/" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.2
done
[ "$ready" = 1 ] || rt_fail "httpd in $CA ($IPA:80) never answered"

fetch_host "http://$GW:8080/" "$PAGE_A"
fetch_host "http://$HOSTADDR:8080/" "$PAGE_A"
fetch_host "http://127.0.0.1:8080/" "$PAGE_A"
fetch_host "http://$HOSTADDR:8081/" "$PAGE_B"
rt_log "podman-portmap: host namespace -> $GW:8080, $HOSTADDR:8080, 127.0.0.1:8080, $HOSTADDR:8081 ok"
fetch_in "$CB" "http://$HOSTADDR:8080/" "$PAGE_A"
fetch_in "$CB" "http://$GW:8080/" "$PAGE_A"
fetch_in "$CA" "http://$HOSTADDR:8080/" "$PAGE_A"
rt_log "podman-portmap: hairpin ($CB -> host:8080, $CA -> its own host:8080) ok"

# Elements of our port maps in the host namespace, one line each:
# "map<TAB>key json<TAB>value json<TAB>comment".
pm_elements() {
    rt_in_host 10 nft -j list table inet cnm |
        jq -r '.nftables[] | (.map // .set // empty) | select(.name | startswith("pm")) | . as $m
          | (.elem // [])[]
          | (if type == "array" then {k: .[0], v: .[1]} else {k: ., v: null} end)
          | [$m.name, ((.k.elem.val // .k) | tojson), (.v | tojson), (.k.elem.comment // "")]
          | @tsv'
}
ELEMS="$(pm_elements)" || rt_fail "nft -j list table inet cnm failed in $RT_HOSTNS"
rt_log "podman-portmap: port-map elements:"$'\n'"$ELEMS"
# has_mapping PORT IP ID: pm4any maps tcp . PORT to IP . 80, tagged with ID.
has_mapping() {
    printf '%s\n' "$ELEMS" | awk -F'\t' -v k="{\"concat\":[\"tcp\",$1]}" \
        -v v="{\"concat\":[\"$2\",80]}" -v id="$3" \
        '$1 == "pm4any" && $2 == k && $3 == v && index($4, "," id ",") { found = 1 }
         END { exit !found }'
}
# Elements tagged with container ID $1.
tagged_lines() { printf '%s\n' "$ELEMS" | awk -F'\t' -v id="$1" 'index($4, "," id ",")' | sort; }
tagged() { tagged_lines "$1" | grep -c . || true; }
has_mapping 8080 "$IPA" "$IDA" || rt_fail "no pm4any element tcp . 8080 -> $IPA . 80 tagged with $IDA"
has_mapping 8081 "$IPB" "$IDB" || rt_fail "no pm4any element tcp . 8081 -> $IPB . 80 tagged with $IDB"
B_BEFORE="$(tagged_lines "$IDB")"

rt_podman 60 rm -f -t 0 "$CA" >/dev/null || rt_fail "podman rm -f $CA failed"
rt_rmdir_cgroups "libpod_parent/libpod-$IDA"
ELEMS="$(pm_elements)" || rt_fail "nft -j list table inet cnm failed in $RT_HOSTNS"
[ "$(tagged "$IDA")" -eq 0 ] || rt_fail "elements of $CA left after podman rm: $(tagged "$IDA")"
B_AFTER="$(tagged_lines "$IDB")"
[ "$B_BEFORE" = "$B_AFTER" ] ||
    rt_fail "$CB's elements changed when $CA was removed: before '$B_BEFORE', after '$B_AFTER'"
if rt_in_host 5 busybox wget -q -O - "http://$HOSTADDR:8080/" >/dev/null 2>&1; then
    rt_fail "host port 8080 still answers after podman rm $CA"
fi
fetch_host "http://$HOSTADDR:8081/" "$PAGE_B"
rt_log "podman-portmap: $CA removed, its mapping gone, $CB's untouched and serving"

rt_podman 60 rm -f -t 0 "$CB" >/dev/null || rt_fail "podman rm -f $CB failed"
rt_rmdir_cgroups "libpod_parent/libpod-$IDB"
ELEMS="$(pm_elements)" || rt_fail "nft -j list table inet cnm failed in $RT_HOSTNS"
[ -z "$ELEMS" ] || rt_fail "port-map elements left after removing both containers: $ELEMS"
if compgen -G "/var/lib/cni/results/$NET-*" >/dev/null; then
    rt_fail "libcni result cache left for $NET: $(echo /var/lib/cni/results/"$NET"-*)"
fi
echo "PASS podman-portmap"

#!/usr/bin/env bash
# Blocks on one host and one etcd member, with small blocks (/28: 13
# addresses each) so they fill up: the agent claims the next block before
# the held ones run out; a full block's next ADD lands in the next block;
# with etcd unreachable ADD works until the held blocks are full, then
# fails with code 11 and says why; etcd back, claims resume; explicit
# release of a block (refused while in use); GC of the empty blocks of
# hosts whose lease is gone (never a live host's, never a used block).
# Last line: `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/multihost/lib.sh
mh_init
cargo build -q -p simpleoverlay -p cnm-node-agent || exit 1
mh_add_host 1
export MH_ENDPOINTS MH_NETWORK="name=ov1,subnet=10.214.0.0/24,vni=4214,block=28"
MH_ENDPOINTS="$(mh_etcd_endpoints 1)"
mh_etcd_start 1 || { mh_check "etcd healthy" false; mh_summary; exit 1; }
mh_agent_start 1 --min-free 4
blocks() { python3 -c 'import json,sys;print(" ".join(json.load(open(sys.argv[1]))["blocks"]))' "$MH_DIR/h1/state/ov1.json" 2>/dev/null; }
nblocks() { [ "$(blocks | wc -w)" = "$1" ]; }
mh_check "one block at start" mh_wait 15 nblocks 1
first="$(blocks)"
k=0
add() { k=$((k + 1)); mh_container 1 "x$k"; }
ok=1
for _ in $(seq 1 10); do add || ok=0; done
mh_check "10 ADDs in the first block" [ "$ok" = 1 ]
mh_check "3 left (< min-free 4): the agent claims the next block" mh_wait 10 nblocks 2
second="$(blocks | awk '{print $2}')"
in_block() { python3 -c 'import ipaddress,sys;sys.exit(0 if ipaddress.ip_address(sys.argv[1]) in ipaddress.ip_network(sys.argv[2]) else 1)' "$1" "$2"; }
ok=1
for _ in 1 2 3; do add && in_block "$MH_CIP" "$first" || ok=0; done
mh_check "the first block fills up (13 addresses)" [ "$ok" = 1 ]
next_lands() { add && in_block "$MH_CIP" "$second"; }
mh_check "the next ADD lands in the next block ($second)" next_lands

echo "== etcd unreachable"
mh_stop "$MH_ETCD_PID_1"
ok=1
for _ in $(seq 1 12); do add || ok=0; done
mh_check "ADD keeps working until the held blocks are full" [ "$ok" = 1 ]
full_err() {
    local out
    ip netns add "${MH_P}cfull"
    MH_NS+=("${MH_P}cfull")
    out="$(mh_cni 1 ADD full "/run/netns/${MH_P}cfull")"
    grep -q '"code": 11' <<<"$out" && grep -q 'no free address in the 2 block(s)' <<<"$out" &&
        ! ip -n "${MH_P}cfull" link show eth0 >/dev/null 2>&1 || { echo "$out" >&2; return 1; }
}
mh_check "full: code 11, saying why, nothing left in the container" full_err
del_one() { mh_cni 1 DEL x1 "/run/netns/${MH_P}cx1" >/dev/null; }
mh_check "DEL without etcd" del_one
refill() { mh_cni 1 ADD full "/run/netns/${MH_P}cfull" >/dev/null; }
mh_check "the released address is used again" refill
warned() { grep -q "etcd is unreachable" "$MH_DIR/agent1.log"; }
mh_check "the agent logs that it cannot claim" mh_wait 5 warned

echo "== etcd back"
mh_etcd_member 1 "e1=http://$(mh_ip 1):2380" new
mh_check "etcd healthy again" mh_etcd_wait_healthy 1
mh_check "the agent claims a third block" mh_wait 20 nblocks 3
third="$(blocks | awk '{print $3}')"
third_lands() { add && in_block "$MH_CIP" "$third"; }
mh_check "ADD works again, in the third block" third_lands

echo "== release"
cnmd_cmd() {
    mh_run 1 "${CNMD:-target/debug/cnmd}" "$@" --host h1 --underlay-ip "$(mh_ip 1)" \
        --etcd-endpoints "$MH_ENDPOINTS" --network "$MH_NETWORK" \
        --state-dir "$MH_DIR/h1/state" --data-dir "$MH_DIR/h1/store"
}
refused_in_use() { ! cnmd_cmd release-block --block "$third" 2>"$MH_DIR/rel.err" && grep -q "still in use" "$MH_DIR/rel.err"; }
mh_check "releasing a block in use is refused" refused_in_use
refused_kept() { blocks | grep -qw "$third"; }
mh_check "and the block stays in the state file" refused_kept
mh_cni 1 DEL "x$k" "/run/netns/${MH_P}cx$k" >/dev/null
# Free 5 addresses in the second block, so the agent needs no new block
# (it would claim the lowest free one: the block released below).
for i in 20 21 22 23 24; do mh_cni 1 DEL "x$i" "/run/netns/${MH_P}cx$i" >/dev/null; done
sleep 1
released() {
    local keys
    cnmd_cmd release-block --block "$third" >/dev/null || return 1
    keys="$(mh_etcdctl 1 get --keys-only --prefix /cnm/v1/blocks/ov1/)" || return 1
    grep -q "${first%/*}-" <<<"$keys" && ! grep -q "${third%/*}-" <<<"$keys"
}
mh_check "an empty block is released explicitly (agent running)" released
# The agent's periodic resync (every 10 ticks of 200 ms) must not bring it back.
sleep 3
stays_out() {
    local keys
    keys="$(mh_etcdctl 1 get --keys-only --prefix /cnm/v1/blocks/ov1/)" || return 1
    ! blocks | grep -qw "$third" && ! grep -q "${third%/*}-" <<<"$keys"
}
mh_check "it stays out of the state file and of etcd" stays_out
mh_stop "$MH_AGENT_PID_1"

echo "== GC"
mh_agent_start 1 --min-free 4
mh_add_host 2
mh_add_host 3
mh_agent_start 2 --min-free 4
mh_agent_start 3 --min-free 4
holds() { mh_etcdctl 1 get --prefix /cnm/v1/blocks/ov1/ --print-value-only | grep -q "\"host\":\"h$1\""; }
both_hold() { holds 2 && holds 3; }
mh_check "hosts 2 and 3 hold blocks" mh_wait 15 both_hold
mh_check "ADD on host 2" mh_container 2 g2
used_reported() { mh_etcdctl 1 get --prefix /cnm/v1/blocks/ov1/ --print-value-only | grep -q '"host":"h2","used":1'; }
mh_check "host 2's agent reports its block's usage" mh_wait 10 used_reported
gc() { cnmd_cmd gc-blocks; }
nothing_live() { gc | grep -q "released 0 block"; }
mh_check "GC leaves the blocks of live hosts" nothing_live
kill -KILL "$MH_AGENT_PID_2" "$MH_AGENT_PID_3"
# (An etcdctl failure must not pass for "gone".)
leases_gone() {
    local keys
    keys="$(mh_etcdctl 1 get --prefix --keys-only /cnm/v1/hosts/)" || return 1
    grep -q h1 <<<"$keys" && ! grep -qE "h2|h3" <<<"$keys"
}
mh_check "the killed agents' leases expire" mh_wait 15 leases_gone
gc_dead() {
    local out
    local vals
    out="$(gc)"
    vals="$(mh_etcdctl 1 get --prefix /cnm/v1/blocks/ov1/ --print-value-only)" &&
        grep -q "released 1 block" <<<"$out" && ! grep -q '"host":"h3"' <<<"$vals" &&
        grep -q '"host":"h2"' <<<"$vals" ||
        { echo "   gc: $out; blocks: $(mh_etcdctl 1 get --prefix /cnm/v1/blocks/ov1/ --print-value-only | tr '\n' ' ')" >&2; return 1; }
}
mh_check "GC releases the dead host's empty block, not the used one" gc_dead
mh_summary

#!/usr/bin/env bash
# Syscall profile of one steady-state ADD and DEL of target/dist/simplebridge
# (ipam-host-local in-process), in throwaway namespaces. Root. Run by hand:
#   bash bench/profile.sh [false|true (ipMasq)] [outdir]
# Writes strace -c -f summaries and -f traces of netlink/process/file syscalls.
set -euo pipefail
masq=${1:-false}
out=${2:-/tmp/cnm-profile}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/dist
[ -x "$bin/simplebridge" ] || { echo "build first: bash scripts/build-release.sh" >&2; exit 1; }
command -v strace >/dev/null || { echo "strace not installed" >&2; exit 1; }
net=cnmprof-$$
host=$net-host; cont=$net-cont; data=$(mktemp -d)
# Our masquerade marker for this network (/run/cnm/nft/masq-<fnv1a64(name)>).
marker=/run/cnm/nft/$(python3 -c 'import sys
h=0xcbf29ce484222325
for b in sys.argv[1].encode(): h=((h^b)*0x100000001b3)&(2**64-1)
print("masq-%016x"%h)' "$net")
cleanup() {
  ip netns del "$host" 2>/dev/null || true
  ip netns del "$cont" 2>/dev/null || true
  rm -rf "$data"; rm -f "$marker"
}
trap cleanup EXIT INT TERM
ip netns add "$host"; ip netns add "$cont"
mkdir -p "$out"
conf=$(printf '{"cniVersion":"1.0.0","name":"%s","type":"simplebridge","bridge":"cnmb0","isGateway":true,"ipMasq":%s,"ipam":{"type":"ipam-host-local","ranges":[[{"subnet":"10.88.0.0/16"}]],"routes":[{"dst":"0.0.0.0/0"}],"dataDir":"%s"}}' "$net" "$masq" "$data")
plugin() { # CMD ID [wrapper...]: the plugin runs in the host netns (ip netns exec)
  local cmd=$1 id=$2; shift 2
  echo "$conf" | ip netns exec "$host" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND="$cmd" \
    CNI_CONTAINERID="$id" CNI_NETNS="/run/netns/$cont" CNI_IFNAME=eth0 CNI_PATH="$bin" "$@" "$bin/simplebridge"
}
ops=sendmsg,recvmsg,sendto,recvfrom,clone,clone3,execve,openat,flock,setns,unshare,wait4,mmap,munmap
# Warm up: the first ADD creates the bridge (and the masquerade rule).
plugin ADD warm >/dev/null; plugin DEL warm >/dev/null
plugin ADD prof strace -c -w -f -o "$out/ADD-masq-$masq.summary" >/dev/null
plugin DEL prof strace -c -w -f -o "$out/DEL-masq-$masq.summary" >/dev/null
plugin ADD trace strace -f -e trace=$ops -o "$out/ADD-masq-$masq.trace" >/dev/null
plugin DEL trace strace -f -e trace=$ops -o "$out/DEL-masq-$masq.trace" >/dev/null
# The very first ADD of a network (bridge creation, nft when ipMasq) for comparison.
plugin DEL trace >/dev/null 2>&1 || true
ip netns exec "$host" ip link del cnmb0
rm -f "$marker"
plugin ADD first strace -c -w -f -o "$out/ADD-first-masq-$masq.summary" >/dev/null
plugin DEL first >/dev/null
echo "written to $out"

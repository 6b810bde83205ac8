#!/usr/bin/env bash
# The harness itself: three hosts on an underlay bridge, three etcd members
# inside them; writes survive one member being killed; everything is gone at
# the end. Last line: `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/multihost/lib.sh
mh_init
for n in 1 2 3; do mh_add_host "$n"; done

underlay_ping() { mh_run 1 ping -c1 -W2 "$(mh_ip 3)" >/dev/null; }
# Every listening TCP socket of host 1 is on its underlay address.
only_underlay() {
    local socks
    socks="$(mh_run 1 ss -ltnH | awk '{print $4}')"
    [ -n "$socks" ] && ! grep -qv "^$(mh_ip 1):" <<<"$socks"
}
get_without_1() {
    [ "$(MH_ENDPOINTS="$(mh_etcd_endpoints 2 3)" mh_etcdctl 2 get --print-value-only /cnm-smoke/a)" = 1 ]
}
mh_check "hosts reach each other over the underlay" underlay_ping
mh_etcd_start 1 2 3 || { mh_check "etcd cluster healthy" false; mh_summary; exit 1; }
mh_check "etcd cluster healthy" true
mh_check "etcd listens only on the underlay address" only_underlay
put_a() { mh_etcdctl 1 put /cnm-smoke/a 1 >/dev/null; }
mh_check "put through member 1" put_a
mh_stop "$MH_ETCD_PID_1"
mh_check "get through the others with member 1 down" get_without_1
mh_summary

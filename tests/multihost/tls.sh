#!/usr/bin/env bash
# etcd with TLS and client certificates (one member): an agent with the
# right CA and a client certificate registers; one that cannot verify the
# server's certificate (another CA) refuses it and never registers; one
# without a client certificate is refused by etcd. Last line: `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/multihost/lib.sh
mh_init
command -v openssl >/dev/null || { echo "multihost: openssl not found (run scripts/setup.sh)" >&2; exit 1; }
cargo build -q -p cnm-node-agent || exit 1
for n in 1 2 3; do mh_add_host "$n"; done

# A CA, a server certificate for 10.213.0.11, a client certificate, and a
# second CA the server's certificate does not chain to.
pki="$MH_DIR/pki"
mkdir -p "$pki"
(
    cd "$pki"
    for ca in ca other-ca; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -subj "/CN=cnm-test-$ca" -keyout "$ca-key.pem" -out "$ca.pem"
    done
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=etcd" \
        -keyout server-key.pem -out server.csr
    printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$(mh_ip 1)" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
        -extfile server.ext -out server.pem
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=cnmd" \
        -keyout client-key.pem -out client.csr
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
        -extfile client.ext -out client.pem
) >"$MH_DIR/openssl.log" 2>&1 || { cat "$MH_DIR/openssl.log" >&2; mh_check "certificates made" false; mh_summary; exit 1; }

export MH_ETCD_TLS=1 MH_ENDPOINTS
MH_ENDPOINTS="https://$(mh_ip 1):2379"
mh_etcd_start 1 || { mh_check "etcd (TLS) healthy" false; mh_summary; exit 1; }
mh_check "etcd (TLS, client certificates) healthy" true

registered() { mh_etcdctl 1 get --keys-only "/cnm/v1/hosts/h$1" | grep -q "h$1"; }
# Host 1 registered (so the query works) and host N not.
not_registered() { mh_wait 5 registered 1 && ! registered "$1"; }
cnmd_on() {
    local n="$1"
    shift
    mkdir -p "$MH_DIR/h$n"
    mh_bg "$n" "$MH_DIR/agent$n.log" "${CNMD:-target/debug/cnmd}" --host "h$n" --underlay-ip "$(mh_ip "$n")" \
        --etcd-endpoints "$MH_ENDPOINTS" --network "$MH_NETWORK" --state-dir "$MH_DIR/h$n/state" \
        --data-dir "$MH_DIR/h$n/store" --lease-ttl 3 --tick-ms 200 "$@"
}
cnmd_on 1 --etcd-cacert "$pki/ca.pem" --etcd-cert "$pki/client.pem" --etcd-key "$pki/client-key.pem"
mh_check "the right CA and a client certificate: registered" mh_wait 15 registered 1

cnmd_on 2 --etcd-cacert "$pki/other-ca.pem" --etcd-cert "$pki/client.pem" --etcd-key "$pki/client-key.pem"
bad_ca_pid=$MH_LAST_PID
cnmd_on 3 --etcd-cacert "$pki/ca.pem"
sleep 4
mh_check "a server certificate it cannot verify: not registered" not_registered 2
says_why() { grep -qiE "certificate|UnknownIssuer|tls|handshake" "$MH_DIR/agent2.log"; }
mh_check "and it logs why" says_why
no_devices() { ! mh_run 2 ip link show cnmb4214 >/dev/null 2>&1; }
mh_check "and created nothing" no_devices
still_running() { kill -0 "$bad_ca_pid"; }
mh_check "and keeps retrying (it does not crash)" still_running
mh_check "no client certificate: not registered" not_registered 3
mh_summary

#!/usr/bin/env bash
# Installs what building, the demo and the tests need on a fresh Debian machine.
# Needs root. The Rust toolchain (cargo >= 1.89) must already be on PATH.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -ne 0 ]; then echo "setup.sh: run as root" >&2; exit 1; fi
apt-get update
# The tests start their own dockerd and etcd members inside throwaway
# namespaces: the packaged services must never start (dockerd in the
# machine's own namespaces would create docker0 and firewall rules). A
# policy-rc.d refuses service starts during the install; an existing policy
# is kept, ours is removed afterwards.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
fi
trap '[ "$own_policy" = 1 ] && rm -f "$policy"' EXIT
# Packages whose service must not run: remember which were already installed
# (a developer's own docker/containerd/etcd are left alone).
was_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
fresh=()
for p in docker.io containerd etcd-server docker-registry; do was_installed "$p" || fresh+=("$p"); done
apt-get install -y --no-install-recommends \
    iproute2 nftables iputils-ping util-linux procps kmod \
    containernetworking-plugins busybox-static strace ca-certificates podman runc containerd \
    iptables curl python3 docker.io jq make \
    etcd-server etcd-client protobuf-compiler libprotobuf-dev openssl iperf3 \
    docker-registry
# Names (issue 20): the original dnsname plugin + dnsmasq (the baseline of
# tests/runtimes/names.sh; dnsmasq-base has no service), aardvark-dns and
# dnsperf (bench/dns-bench.sh).
apt-get install -y --no-install-recommends \
    dnsmasq-base golang-github-containernetworking-plugin-dnsname aardvark-dns dnsperf
# Installed just now: their services stay off (the policy kept them from
# starting; disabled so a reboot does not start them either).
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    for p in "${fresh[@]}"; do
        case "$p" in
            docker.io) units=(docker.service docker.socket) ;;
            containerd) units=(containerd.service) ;;
            etcd-server) units=(etcd.service) ;;
            docker-registry) units=(docker-registry.service) ;;
        esac
        systemctl disable --now "${units[@]}" >/dev/null 2>&1 || true
    done
fi
if ! command -v cargo >/dev/null; then
    echo "setup.sh: cargo (Rust >= 1.89) is needed on PATH; Debian's own cargo is too old" >&2
    exit 1
fi
# netavark 2.1.0 (Podman 5's network stack; Debian 12 has only 1.4): the
# netavark plugin's tests run it. Built from crates.io (needs
# protobuf-compiler, installed above); about 6 minutes of CPU, 11 minutes on
# two busy cores. Skipped when it is there already.
NETAVARK_BIN="${CARGO_HOME:-$HOME/.cargo}/bin/netavark"
if [ "$("$NETAVARK_BIN" --version 2>/dev/null)" != "netavark 2.1.0" ]; then
    cargo install netavark --version 2.1.0 --locked
fi
# cargo-fuzz for scripts/fuzz.sh (the bounded fuzzing run of the test command).
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
echo "setup.sh: done"
